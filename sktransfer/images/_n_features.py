"""``n_features_in_`` for images: set and checked only when ``X`` is a flattened 2-D array.

scikit-learn's ``n_features_in_`` counts the columns of a 2-D ``X``; images
given any other way have no such number, so the attribute is left absent.
"""

from __future__ import annotations

import numpy as np

from ._kinds import _is_pandas, _item_kind, _pandas_to_numpy


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
    """Columns of a 2-D ``X``: a 2-D array or DataFrame, or a list of flat rows of numbers (``X.tolist()``); else None."""
    if _is_pandas(X):
        X = _pandas_to_numpy(X)  # a DataFrame of flattened images has columns, as its array does
    if isinstance(X, np.ndarray):
        return X.shape[1] if X.ndim == 2 else None
    if isinstance(X, (list, tuple)) and X and isinstance(X[0], (list, tuple)):
        row = X[0]
        if row and all(_item_kind(v) == "number" for v in row[:1]):
            return len(row)
    return None
