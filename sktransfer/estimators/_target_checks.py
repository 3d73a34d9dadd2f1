"""Checks of ``y`` and of the parameters that name its classes, before anything is encoded or trained.

Each raises a ValueError (or warns) that names the problem and the fix, so a
bad ``y`` never reaches numpy, scikit-learn or torch as something they
report in their own words.
"""

from __future__ import annotations

import math
import warnings
from numbers import Real

import numpy as np
import torch
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d

from .._validation import as_label_array, is_unlabeled, unlabeled_mask
from ..images import check_n_features_in

__all__ = ["check_class_weight", "check_criterion_weights", "check_labels", "check_values", "labelled_rows_to_score"]


def check_labels(y, owner="The classifier", warn_unlabeled=True):
    """``y`` of a classifier, checked: one label per image (-1: unlabelled) or a 0/1 indicator matrix.

    Raises a ValueError, naming ``owner`` and the fix, for missing labels,
    mixed label types, a list of label lists, a 2-D ``y`` that is not an
    indicator matrix, or no labelled image. With ``warn_unlabeled``, warns
    when fewer images are marked -1 (unlabelled) than are labelled: -1 is
    then more likely a class than the unlabelled marker.

    Examples
    --------
    >>> from sktransfer.estimators._target_checks import check_labels
    >>> check_labels(["cat", "dog", -1, -1, -1]).tolist()
    ['cat', 'dog', -1, -1, -1]
    >>> check_labels([0, 1, float("nan")])
    Traceback (most recent call last):
    ...
    ValueError: y has 1 missing label (NaN, None or pd.NA), at rows [2]: drop those images, or mark an image without a label by -1 (unlabelled).
    """
    # Label types are read before numpy would turn a list of numbers and strings into strings.
    flat = isinstance(y, (list, tuple)) or (getattr(y, "dtype", None) == object and getattr(y, "ndim", 1) == 1)
    labels = y
    y = _as_array(y)
    _check_missing(y)
    # The -1 of an unlabelled image may sit among string labels (scikit-learn's convention).
    kinds = sorted({_label_kind(v) for v in labels if not is_unlabeled(v)}) if flat and y.ndim == 1 else []
    if len(kinds) > 1:  # numpy would turn them all into strings, or fail to sort them
        raise ValueError(f"y mixes label types ({', '.join(kinds)}); use one type for every label, "
                         "e.g. [str(v) for v in y] (and -1, the int, for unlabelled images).")
    if y.ndim == 2 and y.shape[1] > 1:
        if type_of_target(y) != "multilabel-indicator":
            raise ValueError(
                f"{owner} got a 2-D y of shape {tuple(y.shape)} that is not a 0/1 indicator matrix. Pass "
                "one label per image as a 1-D y, or several labels per image as a 0/1 matrix with one "
                "column per label (scikit-learn's multi-label convention); for continuous targets use "
                "FineTunedRegressor."
            )
        return y
    y = column_or_1d(y, warn=True)
    labeled = ~unlabeled_mask(y)
    if not labeled.any():
        raise ValueError(
            f"every label in y is -1, which marks an unlabelled image: {owner} needs labelled images of at "
            "least 2 classes besides the unlabelled ones."
        )
    if y.dtype.kind in "US" and np.any(y == "-1"):
        warnings.warn('y holds the string "-1", which is taken as a class: an unlabelled image is marked '
                      "by the int -1 (pass y as an object array to mix it with strings).", UserWarning,
                      stacklevel=5)
    n_unlabeled = int((~labeled).sum())
    if warn_unlabeled and 0 < n_unlabeled < int(labeled.sum()):
        warnings.warn(
            f"y marks {n_unlabeled} images with -1, fewer than the {int(labeled.sum())} labelled ones: -1 "
            "marks an unlabelled image (scikit-learn's semi-supervised convention), which trains without a "
            "label. If -1 is a class, recode y (e.g. y + 1, or strings).", UserWarning, stacklevel=5)
    check_classification_targets(y[labeled])
    return y


def check_values(y, owner="The regressor"):
    """``y`` of a regressor as float64, 1-D (one target) or 2-D (one column per target), every value finite.

    Examples
    --------
    >>> from sktransfer.estimators._target_checks import check_values
    >>> check_values([1, 2.5, True]).tolist()
    [1.0, 2.5, 1.0]
    >>> check_values(["a", "b"])
    Traceback (most recent call last):
    ...
    ValueError: The regressor needs numeric targets; y holds 'a' (str). For labels use FineTunedClassifier.
    """
    y = _as_array(y)
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D (one target) or 2-D (one column per target); got shape {tuple(y.shape)}.")
    if y.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {owner} got complex targets; pass real numbers (e.g. "
                         "np.abs(y), or y.real and y.imag as two columns).")
    if y.dtype.kind not in "biuf":
        _check_missing(y, what="target")
        bad = [v for v in y.ravel().tolist() if isinstance(v, (str, bytes)) or not isinstance(v, Real)]
        if bad:
            raise ValueError(f"{owner} needs numeric targets; y holds {bad[0]!r} ({type(bad[0]).__name__}). For "
                             "labels use FineTunedClassifier.")
    y = y.astype(np.float64)
    finite = np.isfinite(y)
    if not finite.all():
        rows = np.flatnonzero(~finite.reshape(len(y), -1).all(axis=1))
        what = "NaN" if np.isnan(y).any() else "infinite values"
        raise ValueError(f"y holds {what} at rows {rows[:10].tolist()}{' ...' if len(rows) > 10 else ''}: drop "
                         "those images or impute their targets (every target must be a finite number).")
    if len(y) == 0 or (y.ndim == 2 and y.shape[1] == 0):
        raise ValueError(f"{owner} got y of shape {y.shape}: no targets; pass at least one target per image.")
    return y


def check_class_weight(class_weight, labels):
    """Raise a ValueError when a ``class_weight`` dict names a class that is not in ``labels`` or holds a
    weight that is not a finite number >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.estimators._target_checks import check_class_weight
    >>> check_class_weight({"cat": 2.0}, np.array(["cat", "dog"]))
    >>> check_class_weight({"0": 2.0}, np.array([0, 1]))
    Traceback (most recent call last):
    ...
    ValueError: class_weight names '0', which is not a class of y; the classes are [0, 1] ('0' is not 0: key the dict by the labels as y holds them).
    """
    if not isinstance(class_weight, dict):
        return
    known = {(v.item() if isinstance(v, np.generic) else v) for v in labels.tolist()}
    for key, weight in class_weight.items():
        plain = key.item() if isinstance(key, np.generic) else key
        if plain not in known:
            same_text = [v for v in known if str(v) == str(plain)]
            hint = f" ({key!r} is not {same_text[0]!r}: key the dict by the labels as y holds them)" if same_text else ""
            raise ValueError(f"class_weight names {key!r}, which is not a class of y; the classes are "
                             f"{labels.tolist()[:20]}{hint}.")
        if isinstance(weight, bool) or not isinstance(weight, (Real, np.number)) or not (
                math.isfinite(weight) and weight >= 0):
            raise ValueError(f"class_weight[{key!r}] = {weight!r}; a class weight must be a finite number >= 0 "
                             "(1 is the default weight, 0 ignores the class).")


def check_criterion_weights(nested, spec):
    """``criterion__weight`` / ``criterion__pos_weight`` (nested skorch parameters): a 1-D tensor of one finite
    weight >= 0 per class (per label, multi-label), or a clear error before torch's.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sktransfer.estimators._target_checks import check_criterion_weights
    >>> from sktransfer.estimators._targets import encode_labels
    >>> _, spec = encode_labels(np.array([0, 1, 2]))
    >>> check_criterion_weights({"criterion__weight": torch.ones(3)}, spec)
    >>> check_criterion_weights({"criterion__weight": torch.ones(5)}, spec)
    Traceback (most recent call last):
    ...
    ValueError: criterion__weight has shape (5,); the loss needs one weight per class of y: 3, in the order of classes_ [0, 1, 2].
    """
    what = "label" if spec.multilabel else "class"
    for key in ("criterion__weight", "criterion__pos_weight"):
        if key not in nested:
            continue
        value = nested[key]
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{key} is a {type(value).__name__}; pass a float tensor, e.g. "
                            f"torch.tensor({[1.0] * min(spec.n_outputs, 3)}...).")
        if tuple(value.shape) != (spec.n_outputs,):
            raise ValueError(f"{key} has shape {tuple(value.shape)}; the loss needs one weight per {what} of y: "
                             f"{spec.n_outputs}, in the order of classes_ {spec.labels.tolist()[:20]}.")
        if not bool(torch.isfinite(value).all()) or bool((value < 0).any()):
            raise ValueError(f"{key} holds {value.tolist()[:10]}; every weight must be a finite number >= 0.")


def _as_array(y):
    """``y`` as a numpy array; pandas' nullable arrays become object arrays (their pd.NA kept)."""
    if isinstance(y, (list, tuple)) and any(isinstance(v, (list, tuple, set, np.ndarray)) for v in y):
        lengths = {len(v) if isinstance(v, (list, tuple, set, np.ndarray)) else None for v in y}
        if len(lengths) > 1:
            raise ValueError(
                "y holds a list of labels per image, of different lengths (multi-label y); turn it into a 0/1 "
                "indicator matrix with sklearn.preprocessing.MultiLabelBinarizer().fit_transform(y).")
    if hasattr(y, "detach") and hasattr(y, "numpy"):  # a torch tensor
        y = y.detach().cpu().numpy()
    y = as_label_array(y)
    if not isinstance(y, np.ndarray):  # pandas Series and extension arrays
        dtype = getattr(y, "dtype", None)
        y = np.asarray(y, dtype=object if getattr(dtype, "kind", "O") == "O" or _nullable(dtype) else None)
    return y


def _nullable(dtype):
    """Whether ``dtype`` is one of pandas' nullable dtypes (Int64, boolean, string...), whose NA numpy can't hold."""
    return type(dtype).__module__.startswith("pandas") and dtype.kind != "M"


def _check_missing(y, what="label"):
    """Raise a ValueError naming the rows of NaN, None or pd.NA labels."""
    if y.dtype.kind == "f":
        missing = np.isnan(y).reshape(len(y), -1).any(axis=1)
    elif y.dtype == object:
        missing = np.fromiter((_is_missing(v) for v in y.reshape(len(y), -1)[:, 0]), dtype=bool, count=len(y))
    else:
        return
    if missing.any():
        rows = np.flatnonzero(missing)
        fix = "mark an image without a label by -1 (unlabelled)" if what == "label" else "impute their targets"
        raise ValueError(f"y has {len(rows)} missing {what}{'s' if len(rows) > 1 else ''} (NaN, None or pd.NA), "
                         f"at rows {rows[:10].tolist()}{' ...' if len(rows) > 10 else ''}: drop those images, "
                         f"or {fix}.")


def _is_missing(value):
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def _label_kind(value):
    """What a label is, for the mixed-types check: numbers of any kind count as one."""
    if isinstance(value, (str, np.str_)):
        return "str"
    if isinstance(value, (Real, np.number)) and not isinstance(value, (bool, np.bool_)):
        return "number"
    return type(value).__name__


def labelled_rows_to_score(estimator, X, y, sample_weight):
    """``(X, y, sample_weight)`` without the rows labelled -1, for a fitted single-label classifier's ``score``.

    Unlabelled rows have nothing to score; labels never seen in fit are refused.
    """
    y = column_or_1d(as_label_array(y))
    labeled = ~unlabeled_mask(y)
    if not labeled.all():
        if not labeled.any():
            raise ValueError("every label in y is -1 (unlabelled): there is nothing to score; pass labelled images.")
        check_n_features_in(estimator, X)
        X = estimator._inputs(X).subset(np.flatnonzero(labeled))
        y = y[labeled]
        sample_weight = None if sample_weight is None else np.asarray(sample_weight)[labeled]
    unseen = np.setdiff1d(np.unique(y), estimator.classes_)
    if len(unseen):
        raise ValueError(
            f"y contains labels never seen in fit: {unseen.tolist()[:10]}; the model only predicts "
            f"classes_={estimator.classes_.tolist()[:20]}. Score on data with known labels, or refit with them."
        )
    return X, y, sample_weight
