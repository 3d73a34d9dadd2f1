"""``sample_weight`` of the network estimators: whole-number weights, trained as repeated images.

scikit-learn defines an integer weight ``k`` as the image counted ``k`` times
(``check_sample_weight_equivalence``). The network estimators train exactly
that: the rows of the training split (and of the validation split) are
repeated, so the probe, the loss, the batches and the epochs all see an image
of weight 2 twice, and an image of weight 0 never. Weights that are not whole
numbers have no such meaning for mini-batch training and are refused.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

__all__ = ["check_fit_params", "repeat_rows", "sample_counts", "validation_split"]


def sample_counts(sample_weight, n_images, owner):
    """``sample_weight`` as int64 counts (None: every image once), or a ValueError that names the fix.

    Weights that are all equal are the same fit as no weights (losses are
    means), whatever their value.

    Examples
    --------
    >>> from sktransfer.estimators._weights import sample_counts
    >>> sample_counts([1, 2, 0], 3, "FineTunedClassifier").tolist(), sample_counts([0.5] * 3, 3, "x")
    ([1, 2, 0], None)
    >>> sample_counts([0.5, 1.0, 2.0], 3, "FineTunedClassifier")
    Traceback (most recent call last):
    ...
    ValueError: FineTunedClassifier takes whole-number sample_weight (an image of weight k trains as k copies of it); got 0.5. Round the weights, or for class imbalance use class_weight ('balanced' or a dict).
    """
    if sample_weight is None:
        return None
    try:
        weights = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"sample_weight must hold numbers, one per image; got {type(sample_weight).__name__}.") from None
    if weights.ndim == 0:
        weights = np.full(n_images, float(weights))
    if weights.shape != (n_images,):
        raise ValueError(f"sample_weight has shape {weights.shape}; pass one weight per image, shape ({n_images},).")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("sample_weight holds NaN, infinite or negative values; every weight must be a finite "
                         "number >= 0 (0 leaves the image out).")
    if not weights.any():
        raise ValueError("every sample_weight is zero: no image is left to train on.")
    if np.all(weights == weights[0]):
        return None
    if not np.all(weights == np.round(weights)):
        bad = weights[weights != np.round(weights)][0]
        raise ValueError(
            f"{owner} takes whole-number sample_weight (an image of weight k trains as k copies of it); got "
            f"{bad:g}. Round the weights, or for class imbalance use class_weight ('balanced' or a dict)."
        )
    return weights.astype(np.int64)


def repeat_rows(rows, counts):
    """Each row of ``rows`` repeated by its count (None: ``rows`` as they are).

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.estimators._weights import repeat_rows
    >>> repeat_rows(np.array([0, 2]), np.array([3, 1, 2])).tolist()
    [0, 0, 0, 2, 2]
    """
    if rows is None or counts is None:
        return rows
    return np.repeat(rows, counts[rows])


def check_fit_params(owner, fit_params):
    """Raise a TypeError for keywords ``fit`` does not take, naming the estimator that does.

    Examples
    --------
    >>> from sktransfer.estimators._weights import check_fit_params
    >>> check_fit_params("FineTunedClassifier", {"sample_domain": [1, -1]})
    Traceback (most recent call last):
    ...
    TypeError: FineTunedClassifier.fit() takes no sample_domain: domains are DomainAdaptiveClassifier's (skada's convention); to train on the source images only, pass them alone.
    """
    for name in fit_params:
        if name == "sample_domain":
            raise TypeError(f"{owner}.fit() takes no sample_domain: domains are DomainAdaptiveClassifier's "
                            "(skada's convention); to train on the source images only, pass them alone.")
        raise TypeError(f"{owner}.fit() got an unexpected keyword argument {name!r}; it takes X, y and "
                        "sample_weight (estimator settings go to the constructor or set_params).")


def validation_split(labeled_idx, fraction, stratify, rng):
    """``(train_idx, valid_idx)`` of the labelled rows ``labeled_idx`` (sorted), or ``(labeled_idx, None)``.

    ``stratify`` is the labels of those rows, or None; a split that cannot be
    made is a ValueError that names the fix.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.estimators._weights import validation_split
    >>> train, valid = validation_split(np.arange(10), 0.2, None, np.random.RandomState(0))
    >>> len(train), len(valid)
    (8, 2)
    """
    if not fraction:
        return labeled_idx, None
    try:
        train_idx, valid_idx = train_test_split(labeled_idx, test_size=fraction, stratify=stratify,
                                                random_state=int(rng.randint(2**31 - 1)))
    except ValueError as exc:
        what = "a stratified split" if stratify is not None else "a split"
        raise ValueError(
            f"validation_fraction={fraction} cannot make {what} of {len(labeled_idx)} labelled images ({exc}). Use "
            "a larger fraction or validation_fraction=None."
        ) from exc
    return np.sort(train_idx), np.sort(valid_idx)
