import numpy as np
import pytest
import torch
from PIL import Image

from sktransfer._tensors import to_float_images
from sktransfer.images import as_image_set


def first_batch(X, **kw):
    return next(as_image_set(X, **kw).iter_batches(batch_size=1000))


def test_flattened_digits_need_and_use_input_shape(digits):
    X, _ = digits
    with pytest.raises(ValueError, match=r"input_shape=\(8, 8\)"):
        as_image_set(X)
    batch = first_batch(X[:5], input_shape=(8, 8))
    assert batch.shape == (5, 1, 8, 8) and batch.dtype == torch.uint8
    np.testing.assert_array_equal(batch[:, 0].numpy(), np.rint(X[:5].reshape(5, 8, 8) * 255))


def test_wrong_input_shape_is_named(digits):
    X, _ = digits
    with pytest.raises(ValueError, match=r"input_shape=\(7, 7\) holds 49 values.*64 columns"):
        as_image_set(X, input_shape=(7, 7))


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_channels_last_arrays(photos, channels):
    img = photos[0][:40, :50]
    if channels == 1:
        arr = img[..., 0][None]
    elif channels == 3:
        arr = img[None]
    else:
        arr = np.concatenate([img, np.full(img.shape[:2] + (1,), 7, np.uint8)], axis=2)[None]
    batch = first_batch(arr)
    assert batch.shape == (1, min(channels, 3), 40, 50)
    # RGBA becomes RGB by dropping alpha; pixel values are kept exactly.
    expected = arr[0] if channels == 1 else arr[0][..., :3]
    np.testing.assert_array_equal(batch[0].permute(1, 2, 0).numpy().reshape(expected.shape), expected)


def test_float_uint8_and_int_inputs_agree(photos):
    img = photos[0][:16, :16][None]
    as_uint8 = first_batch(img)
    np.testing.assert_array_equal(first_batch(img / 255.0), as_uint8)
    np.testing.assert_array_equal(first_batch(img.astype(np.int64)), as_uint8)
    np.testing.assert_array_equal(first_batch(torch.from_numpy(img).permute(0, 3, 1, 2)), as_uint8)


def test_input_is_never_modified(digits):
    X = digits[0][:10].copy()
    before = X.copy()
    list(as_image_set(X, input_shape=(8, 8)).iter_batches(4))
    np.testing.assert_array_equal(X, before)


def test_pil_lists_of_different_sizes(photos):
    pils = [Image.fromarray(p) for p in photos] + [Image.fromarray(photos[0]).convert("L")]
    images = as_image_set(pils)
    assert images.image_shape is None
    batch = images.load([0, 1, 2])
    assert isinstance(batch, list) and [tuple(t.shape) for t in batch] == [(3, 300, 451), (3, 400, 600), (1, 300, 451)]
    out = to_float_images(batch, (32, 32), channels=3)
    assert out.shape == (3, 3, 32, 32) and 0 <= float(out.min()) and float(out.max()) <= 1


def test_paths_are_read_lazily_and_in_order(image_files):
    paths, _ = image_files
    images = as_image_set(paths)
    assert images.kind == "paths"
    batches = list(images.iter_batches(5))  # prefetching in a thread
    assert [len(b) for b in batches] == [5, 5, 2]
    stacked = torch.cat(batches)
    np.testing.assert_array_equal(stacked[3, 0].numpy(), np.asarray(Image.open(paths[3])))


def test_pandas_series_of_paths(image_files):
    pd = pytest.importorskip("pandas")
    paths, _ = image_files
    assert len(as_image_set(pd.Series(paths))) == 12


def test_missing_and_unreadable_files_are_named(image_files, tmp_path):
    paths, _ = image_files
    with pytest.raises(ValueError, match=r"X\[1\]: image file not found: '.*nope.png'"):
        as_image_set([paths[0], str(tmp_path / "nope.png")])
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image at all")
    images = as_image_set([paths[0], str(bad)])
    with pytest.raises(ValueError, match="Cannot read image file .*broken.png"):
        images.load([0, 1])


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.zeros((0, 8, 8)), ValueError, "empty"),
        ([], ValueError, "empty"),
        (np.zeros(5), ValueError, "1-D"),
        (np.zeros((2, 3, 4, 5, 6)), ValueError, "5 dimensions"),
        (np.zeros((2, 8, 8, 2)), ValueError, r"C in 1, 3, 4"),
        (np.full((2, 8, 8), np.nan), ValueError, "NaN or infinity"),
        (np.full((2, 8, 8), 3.0), ValueError, r"X / 16.0"),
        (np.full((2, 8, 8), 200.0), ValueError, r"X / 255.0"),
        (np.full((2, 8, 8), -1.0), ValueError, "Negative values"),
        (np.full((2, 8, 8), 300, dtype=np.int32), ValueError, "0..255"),
        (np.zeros((2, 8, 8), dtype=complex), ValueError, "Complex"),
        ([np.zeros((8, 8)), "a.png"], TypeError, "mixes item types"),
        ([1, 2], TypeError, "list items must be"),
        ({"a": 1}, TypeError, "Cannot read images from dict"),
        (torch.zeros(2, 5, 8, 8), ValueError, "channels"),
        (torch.full((2, 3, 8, 8), 2.0), ValueError, r"\[0, 1\]"),
    ],
)
def test_bad_inputs_get_clear_errors(X, error, match):
    with pytest.raises(error, match=match):
        as_image_set(X)


def test_sparse_input_is_refused():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="toarray"):
        as_image_set(sparse.csr_matrix(np.eye(4)))


def test_resize_is_antialiased():
    # A 1-pixel checkerboard averages to grey when shrunk with antialiasing;
    # plain bilinear sampling would keep extreme values.
    board = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)
    out = to_float_images(torch.from_numpy(board)[None, None], (8, 8))
    assert torch.allclose(out, torch.full_like(out, 0.5), atol=0.05)


# ----------------------------------------------------------------------------- pixel types (issue 13)

#: 16-bit values and what they are in 8 bits: round(v / 257), 257 mapping 0..255 onto 0..65535 exactly.
SIXTEEN = np.array([[0, 128, 129, 257], [385, 386, 32896, 65535]], dtype=np.uint16)
SIXTEEN_AS_8 = np.array([[0, 0, 1, 1], [1, 2, 128, 255]], dtype=np.uint8)
BINARY = np.array([[True, False, True], [False, False, True]])


def _save(tmp, name, image):
    image.save(tmp / name)
    return str(tmp / name)


def _gray(values):
    """What a one-channel image reads as: (1, 1, H, W) uint8."""
    return np.asarray(values, dtype=np.uint8)[None, None]


@pytest.mark.parametrize(
    "make, expected",
    [
        # bool: binary images, True is white (not 1 on a 0..255 scale)
        pytest.param(lambda t: BINARY[None], _gray(BINARY * 255), id="bool-array"),
        pytest.param(lambda t: np.repeat(BINARY[None, :, :, None], 3, axis=3),
                     np.repeat(_gray(BINARY * 255), 3, axis=1), id="bool-rgb-array"),
        pytest.param(lambda t: torch.from_numpy(BINARY)[None, None], _gray(BINARY * 255), id="bool-tensor"),
        pytest.param(lambda t: [BINARY], _gray(BINARY * 255), id="list-of-bool-arrays"),
        pytest.param(lambda t: BINARY[None].tolist(), _gray(BINARY * 255), id="nested-bools"),
        pytest.param(lambda t: [Image.fromarray(BINARY)], _gray(BINARY * 255), id="pil-mode-1"),
        pytest.param(lambda t: [_save(t, "b.png", Image.fromarray(BINARY))], _gray(BINARY * 255), id="1-bit-png"),
        # 16 bits: scaled by 257, not clipped
        pytest.param(lambda t: SIXTEEN[None], _gray(SIXTEEN_AS_8), id="uint16-array"),
        pytest.param(lambda t: SIXTEEN[None].astype(">u2"), _gray(SIXTEEN_AS_8), id="uint16-big-endian-array"),
        pytest.param(lambda t: torch.from_numpy(SIXTEEN.astype(np.int32)).to(torch.uint16)[None, None],
                     _gray(SIXTEEN_AS_8), id="uint16-tensor"),
        pytest.param(lambda t: [Image.fromarray(SIXTEEN)], _gray(SIXTEEN_AS_8), id="pil-I;16"),
        pytest.param(lambda t: [Image.frombytes("I;16B", (4, 2), SIXTEEN.astype(">u2").tobytes())],
                     _gray(SIXTEEN_AS_8), id="pil-I;16B"),
        pytest.param(lambda t: [Image.fromarray(SIXTEEN.astype(np.int32))], _gray(SIXTEEN_AS_8), id="pil-I-16-bit"),
        pytest.param(lambda t: [Image.fromarray(np.array([[0, 7], [200, 255]], np.int32))],
                     _gray([[0, 7], [200, 255]]), id="pil-I-8-bit"),
        pytest.param(lambda t: [_save(t, "s.png", Image.fromarray(SIXTEEN))], _gray(SIXTEEN_AS_8), id="16-bit-png"),
        pytest.param(lambda t: [_save(t, "s.tif", Image.fromarray(SIXTEEN))], _gray(SIXTEEN_AS_8), id="16-bit-tiff"),
        # floats: [0, 1] scaled by 255 (not black), 0..255 kept
        pytest.param(lambda t: [Image.fromarray(np.array([[0.0, 0.5], [1.0, 0.25]], np.float32))],
                     _gray([[0, 128], [255, 64]]), id="pil-F-0-1"),
        pytest.param(lambda t: [Image.fromarray(np.array([[0.0, 7.0], [200.0, 255.0]], np.float32))],
                     _gray([[0, 7], [200, 255]]), id="pil-F-0-255"),
        pytest.param(lambda t: [_save(t, "f.tif", Image.fromarray(np.array([[0.0, 0.5], [1.0, 0.25]], np.float32)))],
                     _gray([[0, 128], [255, 64]]), id="float-tiff-0-1"),
        # gray + alpha, palettes with alpha
        pytest.param(lambda t: [Image.fromarray(np.dstack([SIXTEEN_AS_8, np.full((2, 4), 9, np.uint8)]), "LA")],
                     _gray(SIXTEEN_AS_8), id="pil-LA"),
        pytest.param(lambda t: [Image.fromarray(np.dstack([SIXTEEN_AS_8, np.full((2, 4), 255, np.uint8)]),
                                                "LA").convert("La")], _gray(SIXTEEN_AS_8), id="pil-La"),
        pytest.param(lambda t: [Image.new("PA", (2, 1), (3, 255))], None, id="pil-PA"),
    ],
)
def test_pixel_types_are_read_as_what_they_mean(make, expected, tmp_path):
    X = make(tmp_path)
    batch = first_batch(X)
    if expected is None:  # palette: whatever RGB Pillow's palette gives, three channels
        assert batch.shape == (1, 3, 1, 2) and batch.dtype == torch.uint8
        return
    np.testing.assert_array_equal(batch.numpy(), expected)


def test_a_16_bit_file_and_its_array_read_the_same(tmp_path):
    path = _save(tmp_path, "s.png", Image.fromarray(SIXTEEN))
    as_array = np.asarray(Image.open(path))
    assert as_array.dtype == np.uint16
    np.testing.assert_array_equal(first_batch([path]), first_batch(as_array[None]))


@pytest.mark.parametrize(
    "X, kw",
    [
        pytest.param(np.arange(2 * 5 * 6, dtype=np.uint8).reshape(2, 5, 6), {}, id="N-H-W-uint8"),
        pytest.param(np.linspace(0, 1, 2 * 4 * 4 * 3).reshape(2, 4, 4, 3), {}, id="N-H-W-C-floats"),
        pytest.param(np.arange(3 * 16).reshape(3, 16) % 256, {"input_shape": (4, 4)}, id="N-D-ints-input-shape"),
        pytest.param(np.eye(4, dtype=bool)[None].repeat(2, 0), {}, id="N-H-W-bool"),
    ],
)
def test_nested_lists_read_as_the_array_they_came_from(X, kw):
    np.testing.assert_array_equal(first_batch(X.tolist(), **kw), first_batch(X, **kw))
    np.testing.assert_array_equal(first_batch(tuple(X.tolist()), **kw), first_batch(X, **kw))


def test_ragged_nested_lists_read_as_a_list_of_arrays():
    small, large = np.zeros((2, 3), np.uint8), np.full((4, 5), 9, np.uint8)
    batch = as_image_set([small.tolist(), large.tolist()]).load([0, 1])
    assert [tuple(t.shape) for t in batch] == [(1, 2, 3), (1, 4, 5)]
    np.testing.assert_array_equal(batch[1][0].numpy(), large)


def test_float_message_just_above_one_does_not_contradict_itself():
    with pytest.raises(ValueError) as info:
        as_image_set(np.full((1, 4, 4), 1.01))
    message = str(info.value)
    assert "max found = 1.01" in message and "Divide by 255 or by the max" in message
    assert "X / 16" not in message  # dividing 1.01 by 16 would be wrong advice


def test_bomb_refused_also_under_warnings_as_errors(tmp_path):
    """Pillow only warns between MAX_IMAGE_PIXELS and twice that; with -W error the warning is raised: same error."""
    import warnings

    from PIL import Image as PILImage

    path = tmp_path / "big.png"
    Image.new("L", (40, 40)).save(path)
    limit = PILImage.MAX_IMAGE_PIXELS
    try:
        PILImage.MAX_IMAGE_PIXELS = 1000  # 1600 pixels: in the warning range
        images = as_image_set([str(path)])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ValueError, match=r"big\.png.*too large.*MAX_IMAGE_PIXELS = None"):
                images.load([0])
        PILImage.MAX_IMAGE_PIXELS = None  # the documented way to allow it
        assert images.load([0]).shape == (1, 1, 40, 40)
    finally:
        PILImage.MAX_IMAGE_PIXELS = limit


def test_uint16_array_of_8_bit_values_warns_and_names_the_fix():
    X = np.full((1, 4, 4), 200, np.uint16)
    with pytest.warns(UserWarning, match=r"uint16 with values up to 200.*nearly black.*X\.astype\(np\.uint8\)"):
        batch = first_batch(X)
    assert int(batch.max()) == 1  # read as 16-bit, as documented: 200 / 257 rounds to 1
    np.testing.assert_array_equal(first_batch(X.astype(np.uint8)), np.full((1, 1, 4, 4), 200))
