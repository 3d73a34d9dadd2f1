"""as_image_set: the one entry point, which sends ``X`` to the reader for its form.

Refuses up front what is no image at all (sparse matrices, masked arrays,
a single path, scalars, complex or non-numeric dtypes), turns pandas and
other array-likes into numpy, and hands arrays, tensors and lists to their
modules.
"""

from __future__ import annotations

import array
import numbers

import numpy as np
import torch

from ._arrays import _check_input_shape, _from_array, _from_object_array, _path_column
from ._kinds import _PATH_TYPES, _is_pandas, _item_kind, _pandas_to_numpy
from ._lists import _from_list
from ._messages import _masked_error, _scalar_error, _single_path_error
from ._set import ImageSet
from ._tensor_input import _from_tensor


def as_image_set(X, *, input_shape=None) -> ImageSet:
    """Validate ``X`` and wrap it as an :class:`ImageSet`.

    Parameters
    ----------
    X : array-like, torch.Tensor, nested list, list of PIL images or list of paths
        The images; see :mod:`sktransfer.images` for the accepted forms and how
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
        X = _pandas_to_numpy(X)  # rows by position from here on, whatever the index
    elif isinstance(X, numbers.Number):
        X = np.asarray(X)  # a Python scalar: reported as one below
    elif isinstance(X, (memoryview, array.array)) or (
        not isinstance(X, (np.ndarray, list, tuple)) and hasattr(X, "__array__")
    ):
        X = np.asarray(X)  # array-likes (xarray, dask, numpy scalars, buffers...) become numpy
    if isinstance(X, np.ndarray):
        if X.ndim == 0:
            raise _scalar_error(X)
        if X.dtype.kind in "biuf":
            return _from_array(X, input_shape)
        if X.dtype.kind == "O":
            X = _from_object_array(X)
        elif X.dtype.kind in "US":
            X = _path_column(X)
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
        f"or a list of file paths.{_container_hint(X)}"
    )


def _container_hint(X):
    """What to pass instead of a container the dispatch does not read (said after the generic message)."""
    if _item_kind(X) == "pil":
        return " X is a single PIL image: pass a list, [img], even for one image."
    if isinstance(X, (bytes, bytearray)):
        return (" Bytes are no image: for an encoded file (PNG, JPEG...), save it to a file and pass its path, "
                "or pass [PIL.Image.open(io.BytesIO(X))].")
    if isinstance(X, (set, frozenset)):
        return " A set has no order, so images could not be matched with y: pass a list, e.g. sorted(X)."
    if isinstance(X, dict):
        return " For a dict of images, pass list(X.values()) (and y in the same order)."
    if hasattr(X, "__iter__"):  # generators, map, deque, range, dict views: their items may well be images
        return f" To read the items of this {type(X).__name__}, pass list(X)."
    return ""
