"""Scorers for data with unlabelled images (``y == -1``), for ``GridSearchCV`` and ``cross_val_score``.

With few labels, or none in the target domain, the usual scorers cannot
see the images that matter: scikit-learn's ``"accuracy"`` would count every
``-1`` as a wrong prediction. These scorers are plain callables
``scorer(estimator, X, y)``, as ``scoring=`` accepts, and greater is better.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.utils.validation import column_or_1d

from ._validation import as_label_array, unlabeled_mask

__all__ = ["labeled_accuracy_scorer", "prediction_entropy_scorer"]

def _unlabeled(y):
    """``y`` as a 1-D array and the mask of its -1 entries."""
    y = column_or_1d(as_label_array(y))
    return y, unlabeled_mask(y)


def _rows(X, rows):
    """Rows of ``X`` (an array, a tensor, a list of images or paths)."""
    if hasattr(X, "shape") and hasattr(X, "__getitem__"):
        return X[np.flatnonzero(rows)]
    return [X[i] for i in np.flatnonzero(rows)]


def prediction_entropy_scorer(estimator, X, y=None):
    """Minus the mean entropy of the predicted class probabilities on the unlabelled images: needs no labels.

    The images scored are those with ``y == -1`` (the target domain, or the
    unlabelled pool); all of ``X`` when ``y`` is None or has no -1. Lower
    entropy means more confident predictions there, which, among models
    that classify the labelled images about equally well, tends to go with
    better accuracy on the unlabelled ones (Morerio et al., ICLR 2018, used
    it to choose domain-adaptation hyperparameters).

    **Caveats.** Confidence is not accuracy: a model can be confidently
    wrong, and one that maps every target image to a single class has zero
    entropy. Use it to compare variants of one method (a weight, a
    learning rate), not methods that differ in how confident they are built
    to be; check the candidates' accuracy on labelled images too
    (:func:`labeled_accuracy_scorer`, e.g. with multi-metric scoring), and
    keep a few labelled target images to confirm the final choice when you
    can.

    Parameters
    ----------
    estimator : fitted classifier with ``predict_proba``
    X : images
        Images in any form the estimator takes.
    y : array-like of shape (n_images,), default=None
        Labels, -1 for unlabelled images; only used to find those.

    Returns
    -------
    score : float
        ``-mean(sum(-p * log p))`` in nats; 0 is the highest possible.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.metrics import prediction_entropy_scorer
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> clf = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> round(prediction_entropy_scorer(clf, X, [0, -1, -1, 1]), 3)  # the two middle images only
    -0.665
    """
    if y is not None:
        _, unlabeled = _unlabeled(y)
        if unlabeled.any():
            X = _rows(X, unlabeled)
    proba = np.clip(np.asarray(estimator.predict_proba(X), dtype=np.float64), 1e-12, 1.0)
    return float(np.mean(np.sum(proba * np.log(proba), axis=1)))


def labeled_accuracy_scorer(estimator, X, y):
    """Accuracy on the labelled images only (``y != -1``); the unlabelled ones are not predicted.

    Parameters
    ----------
    estimator : fitted classifier
    X : images
    y : array-like of shape (n_images,)
        Labels, -1 for unlabelled images.

    Returns
    -------
    score : float

    Raises
    ------
    ValueError
        When every label is -1.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.metrics import labeled_accuracy_scorer
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> clf = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> labeled_accuracy_scorer(clf, X, [0, -1, -1, 1])
    1.0
    """
    y, unlabeled = _unlabeled(y)
    if unlabeled.all():
        raise ValueError("every label in y is -1 (unlabelled): no accuracy to measure. Score with "
                         "prediction_entropy_scorer, or keep some labelled images in each test fold.")
    labeled = ~unlabeled
    return float(accuracy_score(y[labeled].tolist() if y.dtype == object else y[labeled],
                                estimator.predict(_rows(X, labeled))))
