"""Turn what users hold into batches of uint8 image tensors.

Everything an estimator accepts as ``X`` goes through :func:`as_image_set`,
which validates it once and returns an :class:`ImageSet`: a read-only,
indexable view that yields ``uint8`` tensors batch by batch. Files are read
lazily, one batch at a time, so a list of paths never sits in memory whole.

Accepted inputs
---------------
- numpy arrays ``(N, H, W)`` or ``(N, H, W, C)`` with ``C`` in 1, 3, 4;
- flattened numpy arrays ``(N, H*W[*C])`` together with ``input_shape``;
- ``torch.Tensor`` ``(N, C, H, W)`` (or ``(N, H, W)``);
- lists of PIL images or of ``(H, W[, C])`` arrays, sizes may differ;
- lists, arrays or pandas Series of file paths.

Pixel values are ``uint8`` in 0..255, integers in 0..255, or floats in
[0, 1]. RGBA becomes RGB (alpha dropped); grayscale stays one channel here
and is repeated to three on the device when the backbone wants three.
"""

from __future__ import annotations

import math
import os
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
    source : object
        The object the images came from, used as the cache key.

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

    def __init__(self, loader, n_images, kind, channels, image_shape, source):
        self._loader = loader
        self.n_images = n_images
        self.kind = kind
        self.channels = channels
        self.image_shape = image_shape
        self.source = source

    def __len__(self):
        return self.n_images

    def load(self, indices):
        """Load the images at ``indices`` (a sequence of ints) as uint8."""
        return self._loader(np.asarray(indices, dtype=np.int64))

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
    X : array-like, torch.Tensor, list of PIL images or list of paths
        The images; see the module docstring for the accepted forms.
    input_shape : tuple of int, default=None
        ``(H, W)`` or ``(H, W, C)`` of each image when ``X`` is a flattened
        2-D array ``(N, H*W*C)``, e.g. ``(8, 8)`` for scikit-learn's digits.

    Returns
    -------
    images : ImageSet
        Never a copy of the data: batches are converted as they are read, and
        ``X`` itself is never modified.

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
    """
    if isinstance(X, ImageSet):
        return X
    if isinstance(X, torch.Tensor):
        return _from_tensor(X)
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            "Sparse data was passed for X, but dense data is required: images are "
            "dense arrays. Convert with X.toarray()."
        )
    if _is_pandas(X):
        X = X.to_numpy()
    elif not isinstance(X, (np.ndarray, list, tuple)) and hasattr(X, "__array__"):
        X = np.asarray(X)  # array-likes (xarray, dask, ...) become numpy
    if isinstance(X, np.ndarray) and X.dtype.kind in "biuf":
        return _from_array(X, input_shape)
    if isinstance(X, np.ndarray) and X.dtype.kind in "USO":
        if X.ndim != 1:
            raise ValueError(
                f"An array of file paths must be 1-D; got shape {X.shape}. "
                "Pass X.ravel() or a list of paths."
            )
        X = list(X)
    if isinstance(X, np.ndarray) and X.dtype.kind == "c":
        raise ValueError("Complex data not supported: images are real numbers (uint8 or floats in [0, 1]).")
    if isinstance(X, np.ndarray):
        raise TypeError(f"X has dtype {X.dtype}; expected numbers (images) or strings (file paths).")
    if isinstance(X, (list, tuple)):
        return _from_list(X, input_shape)
    raise TypeError(
        f"Cannot read images from {type(X).__name__}. Pass a numpy array "
        "(N, H, W[, C]), a torch tensor (N, C, H, W), a list of PIL images, "
        "or a list of file paths."
    )


def _is_pandas(X):
    return type(X).__module__.startswith("pandas") and hasattr(X, "to_numpy")


# --------------------------------------------------------------------------- arrays


def _check_values(values, what):
    """Check the pixel range of a whole numeric array, once, up front."""
    if values.size == 0:
        return
    if values.dtype.kind == "f":
        if not np.isfinite(values).all():
            raise ValueError(f"{what} contains NaN or infinity; images must be finite.")
        lo, hi = float(values.min()), float(values.max())
        if lo < 0.0 or hi > 1.0:
            hint = "X / 255.0" if hi <= 255.0 and lo >= 0.0 else "(X - X.min()) / (X.max() - X.min())"
            if hi <= 16.0 and lo >= 0.0:
                hint = "X / 16.0 for scikit-learn's digits, or X / X.max()"
            lead = f"Negative values in data passed to {what}: it" if lo < 0 else what
            raise ValueError(
                f"{lead} holds floats in [{lo:g}, {hi:g}], but float images must lie in "
                f"[0, 1]. Rescale first, e.g. {hint}, or pass uint8 pixels 0..255."
            )
    elif values.dtype.kind in "iu" and values.dtype != np.uint8:
        lo, hi = int(values.min()), int(values.max())
        if lo < 0 or hi > 255:
            lead = f"Negative values in data passed to {what}: it" if lo < 0 else what
            raise ValueError(
                f"{lead} holds integers in [{lo}, {hi}], but integer images must lie in "
                "0..255. Rescale to floats in [0, 1] or to uint8."
            )


def _to_uint8(values):
    """Convert a validated numeric array (any supported dtype) to uint8."""
    if values.dtype == np.uint8:
        return values
    if values.dtype.kind == "f":
        return np.rint(values * 255.0).astype(np.uint8)
    return values.astype(np.uint8)


def _channels_last_shape(shape, what):
    """Check an (H, W) or (H, W, C) image shape and return (H, W, C)."""
    if len(shape) == 2:
        shape = (*shape, 1)
    if len(shape) != 3 or shape[2] not in (1, 3, 4):
        raise ValueError(
            f"{what} has image shape {tuple(shape)}; expected (H, W) or (H, W, C) with C in 1, 3, 4."
        )
    return tuple(int(s) for s in shape)


def _from_array(X, input_shape):
    if X.ndim == 0 or X.shape[0] == 0:
        raise ValueError(f"X is empty (shape {X.shape}); at least one image is needed.")
    if X.ndim == 1:
        raise ValueError(
            f"X is 1-D (shape {X.shape}). Pass one image per row: X.reshape(1, -1) "
            "for a single flattened image, with input_shape."
        )
    if X.ndim == 2:
        X = _unflatten(X, input_shape)
    elif input_shape is not None and tuple(X.shape[1:3]) != tuple(input_shape[:2]):
        raise ValueError(
            f"input_shape={tuple(input_shape)} does not match X of shape {X.shape}; "
            "input_shape is only needed for flattened (N, H*W*C) arrays."
        )
    if X.ndim not in (3, 4):
        raise ValueError(
            f"X has {X.ndim} dimensions (shape {X.shape}); expected (N, H, W), "
            "(N, H, W, C) or flattened (N, H*W*C) with input_shape."
        )
    h, w, c = _channels_last_shape(X.shape[1:], "X")
    _check_values(X, "X")

    def load(idx):
        batch = _to_uint8(X[idx]).reshape(len(idx), h, w, c)
        if c == 4:
            batch = batch[..., :3]
        # permute is a view; contiguous() makes the one copy we need anyway.
        return torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).contiguous()

    return ImageSet(load, len(X), "array", min(c, 3), (h, w), X)


def _unflatten(X, input_shape):
    n_features = X.shape[1]
    if n_features == 0:
        raise ValueError(f"X has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required: images have pixels.")
    if input_shape is None:
        side = math.isqrt(n_features)
        hint = f" such as input_shape=({side}, {side})" if side * side == n_features else ""
        raise ValueError(
            f"X is a 2-D array of shape {X.shape}: flattened images need "
            f"input_shape=(H, W) or (H, W, C){hint}."
        )
    shape = _channels_last_shape(tuple(input_shape), "input_shape")
    if math.prod(shape) != n_features:
        raise ValueError(
            f"input_shape={tuple(input_shape)} holds {math.prod(shape)} values per image, "
            f"but X has {n_features} columns."
        )
    return X.reshape(len(X), *shape)


def _from_tensor(X):
    if X.ndim == 3:
        X = X[:, None]
    if X.ndim != 4 or X.shape[0] == 0:
        raise ValueError(f"A tensor X must be (N, C, H, W) with N >= 1; got shape {tuple(X.shape)}.")
    if X.shape[1] not in (1, 3, 4):
        raise ValueError(
            f"Tensor X has {X.shape[1]} channels (shape {tuple(X.shape)}); tensors are "
            "(N, C, H, W) with C in 1, 3, 4. Use X.permute(0, 3, 1, 2) for channels-last."
        )
    if X.dtype == torch.bool or X.is_complex():
        raise TypeError(f"Tensor X has dtype {X.dtype}; expected uint8, integers or floats in [0, 1].")
    X = X.detach()
    _check_tensor_values(X)
    c = int(X.shape[1])

    def load(idx):
        batch = X[torch.from_numpy(idx).to(X.device)].cpu()
        if batch.dtype.is_floating_point:
            batch = batch.mul(255.0).round_().to(torch.uint8)
        else:
            batch = batch.to(torch.uint8)
        return batch[:, :3].contiguous() if c == 4 else batch.contiguous()

    return ImageSet(load, len(X), "tensor", min(c, 3), tuple(X.shape[2:]), X)


def _check_tensor_values(X):
    if X.dtype.is_floating_point:
        if not torch.isfinite(X).all():
            raise ValueError("X contains NaN or infinity; images must be finite.")
        lo, hi = float(X.min()), float(X.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"X holds floats in [{lo:g}, {hi:g}], but float images must lie in [0, 1]. "
                "Rescale first, e.g. X / 255.0, or pass uint8 pixels 0..255."
            )
    elif X.dtype != torch.uint8:
        lo, hi = int(X.min()), int(X.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"X holds integers in [{lo}, {hi}]; integer images must lie in 0..255.")


# --------------------------------------------------------------------------- lists


def _from_list(X: Sequence, input_shape):
    if len(X) == 0:
        raise ValueError("X is an empty list; at least one image is needed.")
    kinds = {_item_kind(item) for item in X}
    if len(kinds) > 1:
        first = {k: next(i for i, item in enumerate(X) if _item_kind(item) == k) for k in kinds}
        detail = ", ".join(f"{k} (e.g. X[{i}])" for k, i in sorted(first.items()))
        raise TypeError(f"X mixes item types: {detail}. Pass one kind of image per X.")
    kind = kinds.pop()
    if kind == "path":
        return _from_paths(X)
    if kind == "pil":
        return _from_pil_list(X)
    if kind == "array":
        return _from_array_list(X)
    bad = next(i for i, item in enumerate(X) if _item_kind(item) == kind)
    raise TypeError(
        f"X[{bad}] is a {type(X[bad]).__name__}; list items must be PIL images, "
        "numpy arrays (H, W[, C]) or file paths."
    )


def _item_kind(item):
    if isinstance(item, _PATH_TYPES):
        return "path"
    if isinstance(item, np.ndarray):
        return "array"
    if type(item).__module__.startswith("PIL.") and hasattr(item, "convert"):
        return "pil"
    return type(item).__name__


def _pil_to_tensor(img, origin):
    """Decode one PIL image to a (C, H, W) uint8 tensor with C in 1, 3."""
    if img.mode not in ("L", "RGB"):
        img = img.convert("L" if img.mode in ("1", "I", "I;16", "F", "LA") else "RGB")
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.size == 0:
        raise ValueError(f"{origin} is an empty image (size {img.size}).")
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def _stack_if_uniform(tensors):
    shapes = {tuple(t.shape) for t in tensors}
    return torch.stack(tensors) if len(shapes) == 1 else list(tensors)


def _from_pil_list(X):
    images = list(X)  # a shallow copy, so a caller appending later changes nothing

    def load(idx):
        return _stack_if_uniform([_pil_to_tensor(images[i], f"X[{i}]") for i in idx])

    return ImageSet(load, len(images), "list", None, _common_size(im.size[::-1] for im in images), images)


def _from_array_list(X):
    images = list(X)
    for i, arr in enumerate(images):
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"X[{i}] has dtype {arr.dtype}; images are numbers.")
        _channels_last_shape(arr.shape, f"X[{i}]")
        if arr.size == 0:
            raise ValueError(f"X[{i}] is an empty image (shape {arr.shape}).")
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
    return ImageSet(load, len(images), "list", channels, _common_size(a.shape[:2] for a in images), images)


def _from_paths(X):
    paths = [os.fspath(p) for p in X]
    for i, path in enumerate(paths):
        if not os.path.isfile(path):
            raise ValueError(f"X[{i}]: image file not found: {path!r}.")

    def load(idx):
        from PIL import Image, UnidentifiedImageError

        out = []
        for i in idx:
            try:
                with Image.open(paths[i]) as img:
                    out.append(_pil_to_tensor(img, paths[i]))
            except (UnidentifiedImageError, OSError) as exc:
                raise ValueError(f"Cannot read image file {paths[i]!r} (X[{i}]): {exc}") from exc
        return _stack_if_uniform(out)

    return ImageSet(load, len(paths), "paths", None, None, paths)


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
    if isinstance(X, np.ndarray) and X.ndim == 2:
        estimator.n_features_in_ = X.shape[1]
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
    if expected is not None and isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] != expected:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{expected} features as input."
        )
