import numpy as np
import pytest
import torch
from PIL import Image

from sktransfer._tensors import to_float_images
from sktransfer.images import as_image_set, iter_arrays


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


def test_iter_arrays_gives_numpy_channels_last(digits):
    images = as_image_set(digits[0][:3], input_shape=(8, 8))
    (batch,) = list(iter_arrays(images, 10, (16, 16), channels=1))
    assert batch.shape == (3, 16, 16, 1) and batch.dtype == np.float32
