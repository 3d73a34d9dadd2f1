"""Batch augmentation on the device: the presets, BatchAugment's parts, resolve_augment."""

import pytest
import torch

from sktransfer.nn import PRESETS, BatchAugment, resolve_augment

pytestmark = pytest.mark.usefixtures("one_thread")


def seeded(augment, x, seed):
    torch.manual_seed(seed)
    return augment(x.clone())


def ramp(n=16, channels=1, h=24, w=32):
    """Images whose value grows from 0.1 at the left edge to 0.9 at the right, equal down each column."""
    row = torch.linspace(0.1, 0.9, w)
    return row.expand(n, channels, h, w).contiguous()


def band(n=16, h=32, w=24):
    """Images with a bright horizontal band, equal along each row."""
    x = torch.full((n, 1, h, w), 0.2)
    x[:, :, h // 2 - 3 : h // 2 + 3] = 0.8
    return x


def test_presets_are_the_documented_ones():
    assert set(PRESETS) == {"light", "strong", "photo", "domain"}
    assert PRESETS["domain"] == {**PRESETS["strong"], "channel_shuffle": True, "invert_p": 0.5}
    assert "rotate" not in PRESETS["light"] and "shear" not in PRESETS["light"]
    assert PRESETS["strong"]["rotate"] > 0
    for name, settings in PRESETS.items():
        # A mirrored glyph is another glyph (or none): only photographs are flipped.
        assert any("flip" in key for key in settings) == (name == "photo")
        BatchAugment(**settings)  # every key is a parameter


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("dtype, channels, size", [(torch.float32, 3, (20, 28)), (torch.float64, 1, (16, 16))])
def test_presets_keep_shape_dtype_and_range(preset, dtype, channels, size):
    x = torch.rand(6, channels, *size, dtype=dtype)
    x[0] = 1.0  # brightness up to 1.3 must be clamped back
    before = x.clone()
    out = seeded(resolve_augment(preset), x, 0)
    assert out.shape == x.shape and out.dtype == dtype
    assert out.min() >= 0 and out.max() <= 1
    assert torch.isfinite(out).all()
    assert not torch.equal(out, before)
    torch.testing.assert_close(x, before, rtol=0, atol=0)  # the input is left alone


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_same_seed_same_output_other_seed_other_output(preset):
    augment, x = resolve_augment(preset), torch.rand(4, 3, 16, 16)
    torch.testing.assert_close(seeded(augment, x, 7), seeded(augment, x, 7), rtol=0, atol=0)
    assert not torch.allclose(seeded(augment, x, 7), seeded(augment, x, 8))


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_parameters_are_drawn_per_image(preset):
    # torchvision's v2 transforms draw one set for the whole batch; here copies of one image differ.
    x = torch.rand(1, 3, 16, 16).expand(8, 3, 16, 16).contiguous()
    out = seeded(resolve_augment(preset), x, 0)
    assert all(not torch.allclose(out[0], out[i]) for i in range(1, 8))


def test_none_and_default_settings_are_identity():
    assert resolve_augment(None) is None
    x = torch.rand(3, 3, 12, 10)
    torch.testing.assert_close(BatchAugment()(x.clone()), x, rtol=0, atol=0)
    # Each part switched off by its neutral value.
    off = BatchAugment(scale=(1.0, 1.0), translate=0, rotate=0, shear=0, brightness=0, contrast=0, erase_p=0,
                       channel_shuffle=False, invert_p=0)
    torch.testing.assert_close(off(x.clone()), x, rtol=0, atol=0)


@pytest.mark.parametrize("preset", ["light", "strong"])
def test_presets_never_flip(preset):
    # Zoom, shift, small rotations and shears, positive brightness and contrast factors: the left of
    # every image stays darker than its right.
    out = seeded(resolve_augment(preset), ramp(), 0)
    columns = out.mean(dim=(1, 2))  # (n, w)
    quarter = columns.shape[1] // 4
    assert (columns[:, :quarter].mean(1) < columns[:, -quarter:].mean(1)).all()


def test_light_never_rotates_or_shears():
    # Without rotation or shear, the warp is separable: an image equal along each row stays so.
    out = seeded(resolve_augment("light"), band(), 0)
    torch.testing.assert_close(out, out[..., :1].expand_as(out), rtol=0, atol=1e-5)
    # and the band moved or changed size in some images: the preset does shift and zoom.
    assert not torch.allclose(out[..., 0], band()[..., 0], atol=0.05)


def test_rotation_tilts_rows():
    out = seeded(BatchAugment(rotate=12.0), band(), 0)
    spread = (out - out[..., :1]).abs().amax(dim=(1, 2, 3))
    assert (spread > 0.05).sum() >= 12  # nearly every image is tilted (angles are uniform in +-12 degrees)
    torch.testing.assert_close(seeded(BatchAugment(rotate=0.0), band(), 0), band(), rtol=0, atol=1e-6)


def test_translate_only_shifts():
    x = ramp(n=32, w=64)
    out = seeded(BatchAugment(translate=0.1), x, 0)
    # Each row is the ramp shifted by at most 10% of the side (with the edge value repeated).
    shift = (out[:, 0, 0] - x[:, 0, 0]).mean(1) / (0.8 / 63)  # in pixels, from the ramp's slope
    assert shift.abs().max() <= 0.1 * 64 + 0.5
    assert shift.abs().max() > 1 and (shift > 0).any() and (shift < 0).any()


def test_zoom_in_stretches_the_ramp():
    x = ramp(n=8, w=64)
    out = seeded(BatchAugment(scale=(1.5, 1.5)), x, 0)
    slope = (out[:, 0, 0, 40] - out[:, 0, 0, 24]) / 16
    torch.testing.assert_close(slope, torch.full((8,), 0.8 / 63 / 1.5), rtol=1e-3, atol=1e-6)


def test_brightness_scales_each_image_within_its_range():
    x = torch.full((64, 1, 4, 4), 0.5)
    out = seeded(BatchAugment(brightness=0.2), x, 0)
    per_image = out.flatten(1)
    assert torch.equal(per_image.amin(1), per_image.amax(1))  # one factor per image
    assert per_image.min() >= 0.5 * 0.8 - 1e-6 and per_image.max() <= 0.5 * 1.2 + 1e-6
    assert per_image[:, 0].std() > 0.02


def test_contrast_keeps_each_image_mean():
    x = 0.25 + 0.5 * torch.rand(16, 3, 8, 8)  # no clamping at 1 - 0.3 .. 1 + 0.3
    out = seeded(BatchAugment(contrast=0.3), x, 0)
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), rtol=0, atol=1e-5)
    ratio = (out - out.mean(dim=(1, 2, 3), keepdim=True)).std(dim=(1, 2, 3)) / x.std(dim=(1, 2, 3))
    assert ratio.min() >= 0.7 - 1e-4 and ratio.max() <= 1.3 + 1e-4 and ratio.std() > 0.05


def test_invert():
    x = torch.rand(5, 3, 6, 6)
    torch.testing.assert_close(BatchAugment(invert_p=1.0)(x.clone()), 1 - x, rtol=0, atol=1e-7)
    batch = x.repeat(13, 1, 1, 1)
    out = seeded(BatchAugment(invert_p=0.5), batch, 0)
    inverted = [torch.allclose(o, 1 - xi, atol=1e-7) for o, xi in zip(out, batch)]
    kept = [torch.equal(o, xi) for o, xi in zip(out, batch)]
    assert all(i or k for i, k in zip(inverted, kept))  # the whole image or nothing
    assert 10 <= sum(inverted) <= 55  # about half of 65


def test_channel_shuffle_permutes_colour_channels():
    values = torch.tensor([0.1, 0.5, 0.9])
    x = values.view(1, 3, 1, 1).expand(32, 3, 4, 4).contiguous()
    out = seeded(BatchAugment(channel_shuffle=True), x, 0)
    orders = set()
    for image in out:
        channel_values = image[:, 0, 0]
        assert torch.equal(image, channel_values.view(3, 1, 1).expand(3, 4, 4))
        assert torch.equal(channel_values.sort().values, values)
        orders.add(tuple(channel_values.tolist()))
    assert len(orders) >= 3
    grey = torch.rand(4, 1, 4, 4)
    torch.testing.assert_close(BatchAugment(channel_shuffle=True)(grey.clone()), grey, rtol=0, atol=0)


def test_erasing_fills_one_rectangle_with_the_mean_colour():
    x = torch.rand(8, 3, 20, 20)
    out = seeded(BatchAugment(erase_p=1.0, erase_area=(0.1, 0.1)), x, 0)
    mean = x.mean(dim=(2, 3), keepdim=True)
    for image, original, colour in zip(out, x, mean):
        changed = (image != original).any(0)
        rows, cols = changed.nonzero(as_tuple=True)
        assert 10 <= changed.sum() <= 80  # about 10% of 400 pixels
        box = changed[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert box.all()  # one solid rectangle
        torch.testing.assert_close(image[:, changed], colour.view(3, 1).expand(3, int(changed.sum())))
    untouched = seeded(BatchAugment(erase_p=0.0), x, 0)
    torch.testing.assert_close(untouched, x, rtol=0, atol=0)


def test_uint8_is_refused():
    with pytest.raises(TypeError, match="float images"):
        BatchAugment(brightness=0.1)(torch.zeros(1, 1, 4, 4, dtype=torch.uint8))


def test_resolve_augment():
    light = resolve_augment("light")
    assert isinstance(light, BatchAugment) and light is not resolve_augment("light")
    assert (light.scale, light.translate, light.brightness) == (PRESETS["light"]["scale"], 0.08, 0.15)
    assert light.rotate == 0.0 and light.erase_p == 0.0
    domain = resolve_augment("domain")
    assert domain.channel_shuffle and domain.invert_p == 0.5 and "invert_p=0.5" in repr(domain)
    assert "invert_p" not in repr(light)

    def custom(batch):
        return batch

    assert resolve_augment(custom) is custom
    with pytest.raises(ValueError, match="'light', 'strong', 'photo', 'domain'"):
        resolve_augment("flip")
    with pytest.raises(ValueError, match="not a preset"):
        resolve_augment("none")
    with pytest.raises(TypeError, match="got int"):
        resolve_augment(3)


def test_flips_and_saturation():
    from sktransfer.nn._augment import BatchAugment, resolve_augment

    x = torch.rand(6, 3, 16, 16)
    assert torch.equal(BatchAugment(hflip=1.0)(x.clone()), x.flip(-1))
    assert torch.equal(BatchAugment(hflip=0.0, saturation=0.0)(x.clone()), x)
    half = BatchAugment(hflip=0.5)(x.clone())
    flipped = [bool(torch.equal(h, f)) for h, f in zip(half, x.flip(-1))]
    assert all(f or torch.equal(h, o) for f, h, o in zip(flipped, half, x))
    gray = torch.rand(4, 1, 16, 16).expand(4, 3, 16, 16).contiguous()
    torch.testing.assert_close(BatchAugment(saturation=0.9)(gray.clone()), gray)  # no colour to scale
    colour = torch.rand(64, 3, 16, 16) * 0.2 + 0.4  # never clamped: gray +- 0.2 * 1.5
    changed = BatchAugment(saturation=0.5)(colour.clone())
    assert not torch.allclose(changed, colour)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    torch.testing.assert_close((changed * luma).sum(1), (colour * luma).sum(1))  # brightness kept
    photo = resolve_augment("photo")
    assert photo.hflip == 0.5 and photo.rotate == 0 and photo.erase_p == 0
