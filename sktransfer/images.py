"""Turn what users hold into batches of uint8 image tensors.

Everything an estimator accepts as ``X`` goes through :func:`as_image_set`,
which validates it once and returns an :class:`ImageSet`: a read-only,
indexable view that yields ``uint8`` tensors batch by batch. Files are read
lazily, one batch at a time, so a list of paths never sits in memory whole.

Accepted inputs
---------------
- numpy arrays ``(N, H, W)`` or ``(N, H, W, C)`` with ``C`` in 1, 3, 4;
- flattened numpy arrays ``(N, H*W[*C])`` together with ``input_shape``;
- nested Python lists of numbers, e.g. ``X.tolist()`` of any array above
  (read exactly as that array);
- ``torch.Tensor`` ``(N, C, H, W)`` (or ``(N, H, W)``);
- lists of PIL images or of ``(H, W[, C])`` arrays, sizes may differ;
- lists, arrays or pandas Series of file paths.

Pixel values, by type:

- ``uint8``, and other integer types, in 0..255;
- floats in [0, 1];
- ``bool``: binary images, ``False`` is black (0) and ``True`` white (255);
- ``uint16`` arrays and tensors are 16-bit images: 0..65535 is scaled to
  0..255 (divided by 257, rounded), whatever the values, so that
  ``np.asarray(Image.open(path))`` and ``path`` give the same pixels. A
  ``uint16`` array holding 8-bit pixels needs ``X.astype(np.uint8)`` (a
  ``UserWarning`` says so when a uint16 array holds no value above 255).

PIL images and files keep their meaning: 16-bit modes (``I;16``, ``I;16B``...,
and 16-bit PNG or TIFF files) are scaled to 8 bits (divided by 257), never
clipped. Mode ``I`` (32-bit integers, which older Pillow versions also give
for 16-bit PNG files) is read per image: values in 0..255 as 8-bit pixels,
values up to 65535 as a 16-bit range (divided by 257); other values are an
error. Mode ``F`` (32-bit floats) is read per image too: values in [0, 1] are
scaled by 255, values in [0, 255] taken as 8-bit pixels; others are an error.
Mode ``1`` is binary (0 or 255).

RGBA becomes RGB (alpha dropped); grayscale stays one channel here and is
repeated to three on the device when the backbone wants three.

Refused, with a message saying what to do instead: ``numpy.ma`` masked arrays
(the mask would be ignored: fill it first, ``X.filled(0)``), object arrays of
numbers, missing paths (None, NaN), directories given as image files, and
image files larger than ``PIL.Image.MAX_IMAGE_PIXELS`` (Pillow's
decompression-bomb guard).
"""

from __future__ import annotations

import math
import numbers
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ._tensors import to_float_images

__all__ = ["ImageSet", "as_image_set", "check_n_features_in", "iter_arrays", "record_n_features_in"]

_PATH_TYPES = (str, os.PathLike)


class ImageSet:
    """A validated, lazily loaded collection of images.

    Build one with :func:`as_image_set`; do not call the constructor directly.

    Parameters
    ----------
    loader : callable
        ``loader(indices) -> uint8 tensor (B, C, H, W) or list of (C, H, W)``.
    n_images : int
        Number of images.
    kind : str
        Where the images come from: ``"array"``, ``"tensor"``, ``"list"`` or
        ``"paths"``.
    channels : int or None
        Channels per image when known without reading files.
    image_shape : tuple of int or None
        ``(H, W)`` when every image has the same size and it is known up front.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.images import as_image_set
    >>> images = as_image_set(np.zeros((5, 8, 8), dtype=np.uint8))
    >>> len(images), images.image_shape
    (5, (8, 8))
    >>> next(images.iter_batches(batch_size=4)).shape
    torch.Size([4, 1, 8, 8])
    """

    def __init__(self, loader, n_images, kind, channels, image_shape):
        self._loader = loader
        self.n_images = n_images
        self.kind = kind
        self.channels = channels
        self.image_shape = image_shape

    def __len__(self):
        return self.n_images

    def load(self, indices):
        """Load the images at ``indices`` (a sequence of ints) as uint8."""
        return self._loader(np.asarray(indices, dtype=np.int64))

    def subset(self, indices):
        """The images at ``indices``, as an :class:`ImageSet` that loads them lazily too.

        Examples
        --------
        >>> import numpy as np
        >>> from sktransfer.images import as_image_set
        >>> images = as_image_set(np.arange(4, dtype=np.uint8).reshape(4, 1, 1))
        >>> images.subset([3, 1]).load([0, 1]).flatten().tolist()
        [3, 1]
        """
        indices = np.asarray(indices, dtype=np.int64)
        return ImageSet(lambda idx: self._loader(indices[idx]), len(indices), self.kind, self.channels,
                        self.image_shape)

    def typical_shape(self):
        """``(H, W)`` of the images, or of the first one when their sizes differ or are unknown.

        What size-dependent defaults (``image_size="auto"``, ``layer="auto"``)
        look at; reads one file at most.
        """
        if self.image_shape is not None:
            return tuple(self.image_shape)
        first = self.load([0])
        return tuple((first[0] if isinstance(first, list) else first[0]).shape[-2:])

    def iter_batches(self, batch_size, indices=None, prefetch=None):
        """Yield batches of uint8 images in order.

        Parameters
        ----------
        batch_size : int
            Images per batch.
        indices : array-like of int, default=None
            Subset and order of images; all images when None.
        prefetch : bool, default=None
            Read the next batch in a background thread while the current one
            is used. Defaults to True for file paths, where decoding is the
            bottleneck, and False otherwise.

        Yields
        ------
        batch : torch.Tensor or list of torch.Tensor
            ``uint8`` tensor ``(B, C, H, W)`` when the images share a size,
            else a list of ``(C, H, W)`` tensors.
        """
        if indices is None:
            indices = np.arange(self.n_images)
        chunks = [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
        if prefetch is None:
            prefetch = self.kind == "paths"
        if not prefetch or len(chunks) < 2:
            for chunk in chunks:
                yield self.load(chunk)
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self.load, chunks[0])
            for chunk in chunks[1:]:
                batch = pending.result()
                pending = pool.submit(self.load, chunk)
                yield batch
            yield pending.result()


def as_image_set(X, *, input_shape=None) -> ImageSet:
    """Validate ``X`` and wrap it as an :class:`ImageSet`.

    Parameters
    ----------
    X : array-like, torch.Tensor, nested list, list of PIL images or list of paths
        The images; see the module docstring for the accepted forms and how
        each pixel type (bool, 16-bit, PIL modes) is read.
    input_shape : tuple of int, default=None
        ``(H, W)`` or ``(H, W, C)`` of each image when ``X`` is a flattened
        2-D array ``(N, H*W*C)``, e.g. ``(8, 8)`` for scikit-learn's digits.

    Returns
    -------
    images : ImageSet
        Never a copy of the data (except for nested lists, which become one
        array): batches are converted as they are read, and ``X`` itself is
        never modified.

    Raises
    ------
    ValueError, TypeError
        With a message naming the problem and how to fix it.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer.images import as_image_set
    >>> X = load_digits().data / 16.0
    >>> as_image_set(X, input_shape=(8, 8)).image_shape
    (8, 8)

    A bool array is a binary image: True is white.

    >>> import numpy as np
    >>> batch = as_image_set(np.eye(3, dtype=bool)[None]).load([0])
    >>> batch[0, 0].tolist()
    [[255, 0, 0], [0, 255, 0], [0, 0, 255]]
    """
    if isinstance(X, ImageSet):
        return X
    if input_shape is not None:
        input_shape = _check_input_shape(input_shape)
    if isinstance(X, torch.Tensor):
        return _from_tensor(X)
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            "Sparse data was passed for X, but dense data is required: images are "
            "dense arrays. Convert with X.toarray()."
        )
    if isinstance(X, np.ma.MaskedArray):
        raise _masked_error("X")
    if isinstance(X, _PATH_TYPES):
        raise _single_path_error(X)
    if _is_pandas(X):
        X = X.to_numpy()
    elif isinstance(X, numbers.Number):
        X = np.asarray(X)  # a Python scalar: reported as one below
    elif not isinstance(X, (np.ndarray, list, tuple)) and hasattr(X, "__array__"):
        X = np.asarray(X)  # array-likes (xarray, dask, numpy scalars...) become numpy
    if isinstance(X, np.ndarray):
        if X.ndim == 0:
            raise _scalar_error(X)
        if X.dtype.kind in "biuf":
            return _from_array(X, input_shape)
        if X.dtype.kind == "O":
            X = _from_object_array(X)
        elif X.dtype.kind in "US":
            if X.ndim != 1:
                raise ValueError(
                    f"An array of file paths must be 1-D; got shape {X.shape}. "
                    "Pass X.ravel() or a list of paths."
                )
            X = list(X)
        elif X.dtype.kind == "c":
            raise ValueError(
                "Complex data not supported: images are real numbers (uint8 or floats in [0, 1]). "
                "Pass the magnitude np.abs(X) or the real part X.real, scaled to [0, 1]."
            )
        else:
            raise TypeError(
                f"X has dtype {X.dtype}; expected numbers (images) or strings (file paths). "
                "Pass a numeric array: uint8 pixels 0..255 or floats in [0, 1]."
            )
    if isinstance(X, (list, tuple)):
        return _from_list(X, input_shape)
    raise TypeError(
        f"Cannot read images from {type(X).__name__}. Pass a numpy array "
        "(N, H, W[, C]), a torch tensor (N, C, H, W), a list of PIL images, "
        "or a list of file paths."
    )


def _is_pandas(X):
    return type(X).__module__.startswith("pandas") and hasattr(X, "to_numpy")


def _check_input_shape(input_shape):
    """Return ``input_shape`` as a tuple of 2 or 3 positive ints (C in 1, 3, 4), or raise."""
    example = "e.g. input_shape=(8, 8) for scikit-learn's digits or (32, 32, 3) for small RGB images"
    if not isinstance(input_shape, (tuple, list, np.ndarray)) or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, (bool, np.bool_)) for s in np.ravel(input_shape)
    ):
        raise TypeError(
            f"input_shape must be a tuple of ints (H, W) or (H, W, C); got {input_shape!r}. "
            f"Pass the shape of one image, {example}."
        )
    shape = tuple(int(s) for s in np.ravel(input_shape))
    if len(shape) not in (2, 3) or min(shape) < 1 or (len(shape) == 3 and shape[2] not in (1, 3, 4)):
        raise ValueError(
            f"input_shape={shape} is not an image shape: it must be (H, W) or (H, W, C) with positive "
            f"H and W and C in 1, 3, 4. Pass the shape of one image, {example}."
        )
    return shape


# --------------------------------------------------------------------------- messages shared by several forms


def _masked_error(what):
    return TypeError(
        f"{what} is a numpy masked array (numpy.ma): images have no mask, and reading it would silently "
        f"use the hidden values under the mask. Fill the masked pixels first, e.g. {what}.filled(0) "
        f"(or {what}.filled(255) for white), then pass that plain array."
    )


def _single_path_error(path):
    path = str(os.fspath(path))  # str(): numpy's str_ would show as np.str_('...')
    if os.path.isdir(path):
        return TypeError(
            f"X is a single folder path {path!r}, not images. Pass a list of its image files, e.g. "
            f"sorted(glob.glob(os.path.join({path!r}, '*.png'))); a folder with one sub-folder per class "
            "is a dataset for `sktransfer benchmark` (or sktransfer.benchmark.load_dataset)."
        )
    return TypeError(f"X is a single path {path!r}; pass a list of paths, e.g. [{path!r}], even for one image.")


def _scalar_error(X):
    value = X.item()
    if isinstance(value, _PATH_TYPES):
        return _single_path_error(value)
    return ValueError(
        f"X must be images, got a scalar ({value!r}, dtype {X.dtype}). Pass an array of images "
        "(N, H, W) or (N, H, W, C), a torch tensor (N, C, H, W), a list of PIL images or a list of file paths."
    )


def _missing_error(where, item):
    return ValueError(
        f"{where} is missing ({item!r}) where an image or a file path was expected. Drop missing entries "
        "first, e.g. paths = [p for p in paths if isinstance(p, str)] or series.dropna() for pandas."
    )


def _is_missing(item):
    """None, NaN (float or numpy), pandas NA/NaT: a hole in a list or column of paths."""
    if item is None or type(item).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(item, (float, np.floating)) and math.isnan(item)


# --------------------------------------------------------------------------- arrays


def _is_16bit(dtype):
    return dtype.kind == "u" and dtype.itemsize == 2


def _float_range_error(what, lo, hi, integral):
    """The message for floats outside [0, 1]: what was found and what to divide by."""
    if lo < 0.0:
        return ValueError(
            f"Negative values in data passed to {what}: it holds floats in [{lo:g}, {hi:g}], but float images "
            f"must lie in [0, 1] (integer images in 0..255); min found = {lo:g}. Rescale to [0, 1] first, "
            "e.g. (X - X.min()) / (X.max() - X.min())."
        )
    hints = []
    if hi <= 1.001:
        hints.append("np.clip(X, 0, 1) if the excess is rounding error")
    if integral and hi <= 16.0:
        hints.append("X / 16.0 for scikit-learn's digits (0..16)")
    if hi <= 255.0:
        hints.append("X / 255.0 for pixels 0..255")
        if integral:
            hints.append("or X.astype(np.uint8)")
    hints.append("X / X.max() otherwise")
    return ValueError(
        f"{what} holds floats in [{lo:g}, {hi:g}], but float images must lie in [0, 1] (integer images "
        f"in 0..255); max found = {hi:g}. Divide by 255 or by the max: {', '.join(hints)}."
    )


def _int_range_error(what, lo, hi):
    lead = f"Negative values in data passed to {what}: it" if lo < 0 else what
    sixteen = (
        " If they are 16-bit pixels, X.astype(np.uint16) reads them as such (0..65535, divided by 257)."
        if lo >= 0 and hi <= 65535 else ""
    )
    return ValueError(
        f"{lead} holds integers in [{lo}, {hi}], but integer images must lie in 0..255 (floats in [0, 1]). "
        f"Rescale to floats in [0, 1] (e.g. (X - X.min()) / (X.max() - X.min())) or to uint8.{sixteen}"
    )


def _check_values(values, what):
    """Check the pixel range of a whole numeric array, once, up front."""
    if values.size == 0 or values.dtype.kind == "b":
        return  # every bool is a valid pixel
    if _is_16bit(values.dtype):  # every uint16 is a valid 16-bit pixel, but 8-bit pixels stored as uint16 are likely
        hi = int(values.max())
        if 0 < hi <= 255:
            warnings.warn(
                f"{what} is uint16 with values up to {hi} only: uint16 is read as 16-bit (0..65535, divided by "
                "257), so these images come out nearly black. If they hold 8-bit pixels, pass X.astype(np.uint8).",
                UserWarning,
                stacklevel=4,
            )
        return
    if values.dtype.kind == "f":
        _require_finite(values, f"{what} contains NaN or infinity; images must be finite. Replace them first, "
                                "e.g. np.nan_to_num(X, nan=0.0, posinf=1.0, neginf=0.0).")
        lo, hi = float(values.min()), float(values.max())
        if lo < 0.0 or hi > 1.0:
            raise _float_range_error(what, lo, hi, bool(np.all(np.mod(values, 1) == 0)))
    elif values.dtype.kind in "iu" and values.dtype != np.uint8:
        lo, hi = int(values.min()), int(values.max())
        if lo < 0 or hi > 255:
            raise _int_range_error(what, lo, hi)


def _to_uint8(values):
    """Convert a validated numeric array (any supported dtype) to uint8."""
    if values.dtype == np.uint8:
        return values
    if values.dtype.kind == "b":
        return values.astype(np.uint8) * np.uint8(255)  # binary images: True is white
    if values.dtype.kind == "f":
        return np.rint(values * 255.0).astype(np.uint8)
    if _is_16bit(values.dtype):
        # round(v / 257): 257 maps 0..255 onto 0..65535 exactly (255 * 257 = 65535).
        return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return values.astype(np.uint8)


def _channels_last_shape(shape, what):
    """Check an (H, W) or (H, W, C) image shape and return (H, W, C)."""
    if len(shape) == 2:
        shape = (*shape, 1)
    if len(shape) != 3 or shape[2] not in (1, 3, 4):
        if len(shape) == 3 and shape[0] in (1, 3, 4):
            hint = " It looks channels-first (C, H, W): move the channels last, e.g. X.transpose(0, 2, 3, 1)."
        elif len(shape) == 3 and shape[2] == 2:
            hint = " Two channels are usually gray + alpha: keep the gray one, e.g. X[..., 0]."
        elif len(shape) == 3:
            hint = " Keep 1 or 3 of its channels, e.g. X[..., :3], or reshape X to one image per row."
        else:
            hint = " Reshape X to one image per row."
        raise ValueError(
            f"{what} has image shape {tuple(shape)}; expected (H, W) or (H, W, C) with C in 1, 3, 4.{hint}"
        )
    if shape[0] < 1 or shape[1] < 1:
        raise ValueError(
            f"{what} holds empty images: image shape {tuple(shape)} has no pixels. Images need a height "
            "and a width of at least 1 pixel; drop the empty images or check how X was built."
        )
    return tuple(int(s) for s in shape)


def _from_array(X, input_shape):
    if X.ndim == 0:
        raise _scalar_error(X)
    if X.shape[0] == 0:
        raise ValueError(f"X is empty (shape {X.shape}); at least one image is needed. Pass a non-empty X.")
    if X.ndim == 1:
        raise ValueError(
            f"X is 1-D (shape {X.shape}). Pass one image per row: X.reshape(1, -1) "
            "for a single flattened image, with input_shape."
        )
    if X.ndim > 4:
        # Checked before input_shape, which is not what is wrong with a 5-D X.
        ones = tuple(a for a in range(1, X.ndim) if X.shape[a] == 1)
        hint = f" Drop its axes of size 1 with np.squeeze(X, axis={ones})." if len(ones) >= X.ndim - 4 else (
            " For several images per sample (e.g. video frames), reshape to one image per row, "
            "X.reshape(-1, *X.shape[-3:])."
        )
        raise ValueError(
            f"X has {X.ndim} dimensions (shape {X.shape}); images are (N, H, W), (N, H, W, C) with C in "
            f"1, 3, 4, or flattened (N, H*W*C) with input_shape.{hint}"
        )
    if X.ndim == 2:
        X = _unflatten(X, input_shape)
    elif input_shape is not None and tuple(X.shape[1:3]) != tuple(input_shape[:2]):
        raise ValueError(
            f"input_shape={tuple(input_shape)} does not match X of shape {X.shape}; "
            "input_shape is only needed for flattened (N, H*W*C) arrays: drop it or fix it."
        )
    h, w, c = _channels_last_shape(X.shape[1:], "X")
    _check_values(X, "X")

    def load(idx):
        batch = _to_uint8(X[idx]).reshape(len(idx), h, w, c)
        if c == 4:
            batch = batch[..., :3]
        # permute is a view; contiguous() makes the one copy we need anyway.
        return torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).contiguous()

    return ImageSet(load, len(X), "array", min(c, 3), (h, w))


def _unflatten(X, input_shape):
    n_features = X.shape[1]
    if n_features == 0:
        raise ValueError(
            f"X has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required: images have pixels. "
            "Pass images with at least one pixel."
        )
    side = math.isqrt(n_features)
    square = f"input_shape=({side}, {side})" if side * side == n_features else None
    if input_shape is None:
        hint = f" such as {square}" if square else ""
        raise ValueError(
            f"X is a 2-D array of shape {X.shape}: flattened images need "
            f"input_shape=(H, W) or (H, W, C){hint}."
        )
    shape = _channels_last_shape(tuple(input_shape), "input_shape")
    if math.prod(shape) != n_features:
        hint = f" Pass input_shape with H * W * C = {n_features}" + (f", e.g. {square}." if square else ".")
        raise ValueError(
            f"input_shape={tuple(input_shape)} holds {math.prod(shape)} values per image, "
            f"but X has {n_features} columns.{hint}"
        )
    return X.reshape(len(X), *shape)


def _from_object_array(X):
    """An object array: a column of paths (returned as a list), or a clear error.

    Object arrays come from pandas columns and ``np.array(..., dtype=object)``;
    they are read as file paths, so numbers in them are reported, never taken
    for paths.
    """
    first = {}
    flat = X.ravel()
    for i, item in enumerate(flat):
        first.setdefault(_item_kind(item), i)

    def where(i):
        return "X[" + ", ".join(str(int(j)) for j in np.unravel_index(i, X.shape)) + "]"

    if "missing" in first:
        raise _missing_error(where(first["missing"]), flat[first["missing"]])
    if "number" in first:
        i = first["number"]
        if len(first) == 1:
            raise TypeError(
                f"X is an object array (dtype=object, shape {X.shape}) holding numbers, e.g. "
                f"{where(i)} = {flat[i]!r}; object arrays are read as file paths. Pass a numeric dtype array "
                "instead: X.astype(np.uint8) for pixels 0..255 or X.astype(np.float32) for floats in [0, 1]."
            )
        other = next(k for k in first if k != "number")
        j = first[other]
        raise TypeError(
            f"X is an object array mixing numbers ({where(i)} = {flat[i]!r}) and {other}s ({where(j)} = "
            f"{flat[j]!r}): X holds either images (a numeric array) or file paths, not both. Pass only "
            "the file paths (e.g. the path column of a table, df['path']) or only the pixels as a "
            "numeric array (X.astype(np.float32))."
        )
    if X.ndim != 1:
        raise ValueError(
            f"An array of file paths must be 1-D; got shape {X.shape}. Pass X.ravel() or a list of paths."
        )
    return list(X)


def _from_tensor(X):
    if X.ndim == 0:
        raise ValueError(
            f"X must be images, got a scalar tensor ({X.item()!r}). Pass a tensor (N, C, H, W) of images."
        )
    if X.ndim == 3:
        X = X[:, None]
    if X.ndim != 4 or X.shape[0] == 0:
        raise ValueError(
            f"A tensor X must be (N, C, H, W) or (N, H, W) with N >= 1; got shape {tuple(X.shape)} "
            f"({X.ndim} dimensions). Reshape it to one image per row, e.g. X.reshape(-1, *X.shape[-3:])."
        )
    if X.shape[1] not in (1, 3, 4):
        raise ValueError(
            f"Tensor X has {X.shape[1]} channels (shape {tuple(X.shape)}); tensors are "
            "(N, C, H, W) with C in 1, 3, 4. Use X.permute(0, 3, 1, 2) for channels-last."
        )
    if X.shape[2] < 1 or X.shape[3] < 1:
        raise ValueError(
            f"Tensor X holds empty images (shape {tuple(X.shape)}): height and width must be at least 1. "
            "Drop the empty images or check how X was built."
        )
    if X.is_complex():
        raise TypeError(
            f"Tensor X has dtype {X.dtype}; expected uint8, integers, bool or floats in [0, 1]. "
            "Pass X.abs() or X.real, scaled to [0, 1]."
        )
    X = X.detach()
    _check_tensor_values(X)
    c = int(X.shape[1])

    def load(idx):
        batch = X[torch.from_numpy(idx).to(X.device)].cpu()
        if batch.dtype.is_floating_point:
            batch = batch.mul(255.0).round_().to(torch.uint8)
        elif batch.dtype == torch.bool:
            batch = batch.to(torch.uint8).mul_(255)  # binary images: True is white
        elif batch.dtype == torch.uint16:
            batch = batch.to(torch.int32).add_(128).div_(257, rounding_mode="floor").to(torch.uint8)
        else:
            batch = batch.to(torch.uint8)
        return batch[:, :3].contiguous() if c == 4 else batch.contiguous()

    return ImageSet(load, len(X), "tensor", min(c, 3), tuple(X.shape[2:]))


def _check_tensor_values(X):
    if X.dtype in (torch.bool, torch.uint8, torch.uint16):
        return  # every value is a valid pixel (uint16: a 16-bit image)
    if X.dtype.is_floating_point:
        if not torch.isfinite(X).all():
            raise ValueError(
                "X contains NaN or infinity; images must be finite. Replace them first, "
                "e.g. torch.nan_to_num(X, nan=0.0, posinf=1.0, neginf=0.0)."
            )
        lo, hi = float(X.min()), float(X.max())
        if lo < 0.0 or hi > 1.0:
            raise _float_range_error("X", lo, hi, bool((X == X.round()).all()))
    else:
        wide = X.to(torch.int64) if X.dtype in (torch.uint32, torch.uint64) else X  # min/max need signed
        lo, hi = int(wide.min()), int(wide.max())
        if lo < 0 or hi > 255:
            raise _int_range_error("X", lo, hi)


# --------------------------------------------------------------------------- lists


def _from_list(X: Sequence, input_shape):
    if len(X) == 0:
        raise ValueError("X is an empty list; at least one image is needed. Pass a non-empty list.")
    first = {}
    for i, item in enumerate(X):
        first.setdefault(_item_kind(item), i)
    if "missing" in first:
        raise _missing_error(f"X[{first['missing']}]", X[first["missing"]])
    if "masked" in first:
        raise _masked_error(f"X[{first['masked']}]")
    if len(first) > 1:
        detail = ", ".join(f"{k} (e.g. X[{i}])" for k, i in sorted(first.items()))
        raise TypeError(
            f"X mixes item types: {detail}. Pass one kind of image per X: all file paths, all PIL "
            "images or all arrays."
        )
    kind, bad = first.popitem()
    if kind == "path":
        return _from_paths(X)
    if kind == "pil":
        return _from_pil_list(X)
    if kind == "array":
        return _from_array_list(X)
    if kind == "nested":
        return _from_nested(X, input_shape)
    hint = ""
    if kind == "number":
        hint = (" A flat list of numbers is one flattened image: pass [X] with input_shape, "
                "or an array np.asarray(X).reshape(1, H, W).")
    elif kind == "Tensor":
        hint = " Stack tensors into one: torch.stack(X), (N, C, H, W)."
    elif kind == "bytes":
        hint = " Decode byte paths first: [p.decode() for p in X]."
    raise TypeError(
        f"X[{bad}] is a {type(X[bad]).__name__}; list items must be PIL images, "
        f"numpy arrays (H, W[, C]) or file paths.{hint}"
    )


def _item_kind(item):
    if isinstance(item, _PATH_TYPES):
        return "path"
    if _is_missing(item):
        return "missing"
    if isinstance(item, np.ma.MaskedArray):
        return "masked"
    if isinstance(item, np.ndarray):
        return "array"
    if isinstance(item, (list, tuple)):
        return "nested"
    if isinstance(item, (numbers.Number, np.bool_)):
        return "number"
    if type(item).__module__.startswith("PIL.") and hasattr(item, "convert"):
        return "pil"
    return type(item).__name__


def _from_nested(X, input_shape):
    """Nested Python lists of numbers (``X.tolist()``): read as the array they came from."""
    try:
        arr = np.asarray(X)
    except ValueError:  # ragged: images of different sizes, one array each
        arr = None
    if arr is not None and arr.dtype.kind in "biuf":
        return _from_array(arr, input_shape)
    if arr is not None and arr.dtype.kind != "O":
        raise TypeError(
            f"X is a nested list of {arr.dtype} values, not numbers. Images are numbers: pass pixels "
            "(uint8 0..255 or floats in [0, 1]), or a flat list of file paths."
        )
    items = []
    for i, item in enumerate(X):
        try:
            part = np.asarray(item)
        except ValueError:
            part = None
        if part is None or part.dtype.kind not in "biuf":
            raise TypeError(
                f"X[{i}] is a nested list that is not a rectangular grid of numbers (H, W) or (H, W, C). "
                "Pass each image as equal-length rows of numbers, or as a numpy array."
            )
        items.append(part)
    return _from_array_list(items)


def _pil_to_uint8(img, origin):
    """Decode one PIL image to a uint8 array (H, W) or (H, W, 3), keeping what its mode means.

    ``convert("L")`` would clip 16-bit and float images to 0..255 (a [0, 1]
    float image comes out black), so those modes are scaled here instead; see
    the module docstring for the rules.
    """
    mode = img.mode
    if mode in ("L", "RGB"):
        return np.asarray(img, dtype=np.uint8)
    if mode == "1":
        return np.asarray(img.convert("L"))  # 0 or 255
    if mode in ("LA", "La"):
        return np.asarray(img)[..., 0]  # gray without alpha
    if mode.startswith("I;16"):
        return _to_uint8(np.asarray(img).astype(np.uint16))  # any byte order to native, then / 257
    if mode in ("I", "F"):
        values = np.asarray(img)
        if values.size == 0:
            return values.astype(np.uint8)
        return _int32_image(values, origin) if mode == "I" else _float32_image(values, origin)
    try:
        return np.asarray(img.convert("RGB"))
    except ValueError as exc:
        raise ValueError(
            f"{origin} has PIL mode {mode!r}, which Pillow cannot convert to RGB ({exc}). Convert it "
            "yourself first (e.g. to 'RGB' or 'L') and pass the result."
        ) from exc


def _int32_image(values, origin):
    """PIL mode ``I``: 8-bit when all values fit 0..255, else a 16-bit range (/ 257)."""
    lo, hi = int(values.min()), int(values.max())
    if lo < 0 or hi > 65535:
        raise ValueError(
            f"{origin} is a PIL mode 'I' (32-bit integer) image with values in [{lo}, {hi}]: neither 8-bit "
            "(0..255) nor 16-bit (0..65535) pixels. Rescale it first, e.g. to floats in [0, 1]: "
            "a = np.asarray(img); (a - a.min()) / (a.max() - a.min())."
        )
    if hi <= 255:
        return values.astype(np.uint8)
    return _to_uint8(values.astype(np.uint16))


def _require_finite(values, message):
    if not np.isfinite(values).all():
        raise ValueError(message)


def _float32_image(values, origin):
    """PIL mode ``F``: [0, 1] scaled by 255, [0, 255] taken as 8-bit pixels."""
    _require_finite(values, f"{origin} is a PIL mode 'F' (float) image holding NaN or infinity. Replace them "
                            "first, e.g. Image.fromarray(np.nan_to_num(np.asarray(img))).")
    lo, hi = float(values.min()), float(values.max())
    if lo < 0.0 or hi > 255.0:
        raise ValueError(
            f"{origin} is a PIL mode 'F' (float) image with values in [{lo:g}, {hi:g}]: neither [0, 1] nor "
            "0..255 pixels. Rescale it first, e.g. to [0, 1]: a = np.asarray(img); "
            "(a - a.min()) / (a.max() - a.min())."
        )
    return np.rint(values * 255.0 if hi <= 1.0 else values).astype(np.uint8)


def _pil_to_tensor(img, origin):
    """Decode one PIL image to a (C, H, W) uint8 tensor with C in 1, 3."""
    arr = _pil_to_uint8(img, origin)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.size == 0:
        raise ValueError(f"{origin} is an empty image (size {img.size}); drop it from X.")
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def _stack_if_uniform(tensors):
    shapes = {tuple(t.shape) for t in tensors}
    return torch.stack(tensors) if len(shapes) == 1 else list(tensors)


def _from_pil_list(X):
    images = list(X)  # a shallow copy, so a caller appending later changes nothing

    def load(idx):
        return _stack_if_uniform([_pil_to_tensor(images[i], f"X[{i}]") for i in idx])

    return ImageSet(load, len(images), "list", None, _common_size(im.size[::-1] for im in images))


def _from_array_list(X):
    images = list(X)
    for i, arr in enumerate(images):
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"X[{i}] has dtype {arr.dtype}; images are numbers. Pass uint8 pixels 0..255 or floats in [0, 1]."
            )
        _channels_last_shape(arr.shape, f"X[{i}]")
        _check_values(arr, f"X[{i}]")

    def load(idx):
        out = []
        for i in idx:
            arr = _to_uint8(images[i])
            arr = arr[:, :, None] if arr.ndim == 2 else arr[:, :, :3]
            out.append(torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).contiguous())
        return _stack_if_uniform(out)

    channels = {1 if a.ndim == 2 else min(a.shape[2], 3) for a in images}
    channels = channels.pop() if len(channels) == 1 else None
    return ImageSet(load, len(images), "list", channels, _common_size(a.shape[:2] for a in images))


class _ImageTooLargeError(ValueError):
    """An image file above ``PIL.Image.MAX_IMAGE_PIXELS``; a ValueError, told apart by callers that list files."""


def _bomb_error(path, where, detail):
    """Pillow's decompression-bomb guard, with the file and the way to allow it."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    return _ImageTooLargeError(
        f"Image file {path!r}{where} is too large to open safely: {detail}, more than "
        f"PIL.Image.MAX_IMAGE_PIXELS = {limit:,} pixels, so Pillow refuses it as a possible decompression bomb "
        "(a small file that would fill memory when decoded). If you trust the file, allow it with "
        "`PIL.Image.MAX_IMAGE_PIXELS = None` (no limit) or a larger number before fitting; else remove it "
        "or resize it."
    )


def _open_image(path, where=""):
    """``PIL.Image.open`` (lazy: the header only) with Pillow's size guard as a ValueError naming the file.

    Pillow raises ``DecompressionBombError`` above twice ``MAX_IMAGE_PIXELS``
    and only warns between once and twice; both are refused here, with the
    file name, so a huge file is never decoded by surprise.
    """
    from PIL import Image

    try:
        img = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # the warning under -W error
        claimed = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow: "Image size (400000000 pixels) exceeds..."
        detail = f"its header claims {int(claimed.group(1)):,} pixels" if claimed else str(exc).rstrip(".")
        raise _bomb_error(path, where, detail) from exc
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and img.size[0] * img.size[1] > limit:
        w, h = img.size
        img.close()
        raise _bomb_error(path, where, f"its header claims {w}x{h} = {w * h:,} pixels")
    return img


def _from_paths(X):
    paths = [str(os.fspath(p)) for p in X]  # str(): numpy's str_ items would show as np.str_('...')
    for i, path in enumerate(paths):
        if path == "":
            raise ValueError(f"X[{i}] is an empty string, not a file path. Drop it, or pass the image's path.")
        if os.path.isdir(path):
            raise ValueError(
                f"X[{i}]: {path!r} is a directory, not an image file. Pass the image files in it, e.g. "
                f"sorted(glob.glob(os.path.join({path!r}, '*.png'))); a folder with one sub-folder per class "
                "is a dataset for `sktransfer benchmark` (or sktransfer.benchmark.load_dataset)."
            )
        if not os.path.isfile(path):
            raise ValueError(
                f"X[{i}]: image file not found: {path!r}. Check the path; relative paths are taken "
                f"from the working directory {os.getcwd()!r}."
            )

    def load(idx):
        from PIL import UnidentifiedImageError

        out = []
        for i in idx:
            try:
                with _open_image(paths[i], f" (X[{i}])") as img:
                    out.append(_pil_to_tensor(img, f"{paths[i]!r} (X[{i}])"))
            except (UnidentifiedImageError, OSError) as exc:
                raise ValueError(
                    f"Cannot read image file {paths[i]!r} (X[{i}]): {exc}. Re-save it in a format Pillow "
                    "reads (PNG, JPEG...) or remove it from X."
                ) from exc
        return _stack_if_uniform(out)

    return ImageSet(load, len(paths), "paths", None, None)


def _common_size(sizes):
    sizes = {tuple(int(s) for s in size) for size in sizes}
    return sizes.pop() if len(sizes) == 1 else None


def iter_arrays(images: ImageSet, batch_size: int, size, channels) -> Iterator[np.ndarray]:
    """Yield float32 numpy batches ``(B, H, W, C)`` in [0, 1], resized on CPU.

    For classical pipelines (HOG, raw pixels) that work on numpy arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.images import as_image_set, iter_arrays
    >>> images = as_image_set(np.zeros((3, 8, 8), dtype=np.uint8))
    >>> next(iter_arrays(images, 2, (16, 16), channels=1)).shape
    (2, 16, 16, 1)
    """
    for batch in images.iter_batches(batch_size):
        x = to_float_images(batch, size, channels=channels)
        yield x.permute(0, 2, 3, 1).numpy()


# --------------------------------------------------------------------------- n_features_in_


def record_n_features_in(estimator, X):
    """Set ``n_features_in_`` for a flattened 2-D ``X`` (its columns); remove it otherwise.

    scikit-learn's ``n_features_in_`` means columns of a 2-D array. Images given
    as ``(N, H, W[, C])`` arrays, lists or paths have no such number, so the
    attribute is absent rather than misleading.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from sktransfer.images import record_n_features_in
    >>> est = BaseEstimator()
    >>> record_n_features_in(est, np.zeros((3, 64)))
    >>> est.n_features_in_
    64
    """
    columns = _n_columns(X)
    if columns is not None:
        estimator.n_features_in_ = columns
    elif hasattr(estimator, "n_features_in_"):
        del estimator.n_features_in_


def check_n_features_in(estimator, X):
    """Raise scikit-learn's error when a 2-D ``X`` has another width than in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from sktransfer.images import check_n_features_in, record_n_features_in
    >>> est = BaseEstimator()
    >>> record_n_features_in(est, np.zeros((3, 64)))
    >>> check_n_features_in(est, np.zeros((2, 64)))  # fine
    """
    expected = getattr(estimator, "n_features_in_", None)
    columns = _n_columns(X)
    if expected is not None and columns is not None and columns != expected:
        raise ValueError(
            f"X has {columns} features, but {type(estimator).__name__} is expecting "
            f"{expected} features as input. Pass flattened images of the size seen in fit, "
            "or refit on the new size."
        )


def _n_columns(X):
    """Columns of a 2-D ``X``: a 2-D array, or a list of flat rows of numbers (``X.tolist()``); else None."""
    if isinstance(X, np.ndarray):
        return X.shape[1] if X.ndim == 2 else None
    if isinstance(X, (list, tuple)) and X and isinstance(X[0], (list, tuple)):
        row = X[0]
        if row and all(_item_kind(v) == "number" for v in row[:1]):
            return len(row)
    return None
