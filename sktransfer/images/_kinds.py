"""What kind of thing one item of ``X`` is: a path, a PIL image, an array, a number, a hole.

Small predicates used by the dispatch, by lists and object arrays (to
refuse mixed or missing items with a message naming the first one) and by
``n_features_in_`` (to tell a row of numbers from a row of images).
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np


_PATH_TYPES = (str, os.PathLike)


def _is_pandas(X):
    return type(X).__module__.startswith("pandas") and hasattr(X, "to_numpy")


def _pandas_to_numpy(X):
    """A pandas object as numpy: rows by position (never by index label), nullable numbers as numbers.

    ``to_numpy`` gives object arrays for nullable dtypes (``Int64``, ``Float32``,
    ``boolean``), which would be read as paths; their missing values become NaN,
    which the pixel check then names.
    """
    dtypes = [X.dtype] if hasattr(X, "dtype") else list(X.dtypes)  # a Series or Index; a DataFrame
    numeric = [getattr(d, "numpy_dtype", None) for d in dtypes]
    if not dtypes or not all(d is not None and d.kind in "biuf" for d in numeric):
        return X.to_numpy()
    values = X.to_numpy(dtype=np.float64, na_value=np.nan)  # not X.isna(): it consolidates the user's frame
    if np.isnan(values).any():
        return values
    return X.to_numpy(dtype=np.result_type(*numeric))


def _is_missing(item):
    """None, NaN (float or numpy), pandas NA/NaT: a hole in a list or column of paths."""
    if item is None or type(item).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(item, (float, np.floating)) and math.isnan(item)


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
    if isinstance(item, bytes):  # numpy's bytes_ too (an "S" array of byte paths)
        return "bytes"
    if type(item).__module__.startswith("PIL.") and hasattr(item, "convert"):
        return "pil"
    return type(item).__name__
