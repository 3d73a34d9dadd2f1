"""Scorers for data with unlabelled images (``y == -1``), for ``GridSearchCV`` and ``cross_val_score``.

With few labels, or none in the target domain, the usual scorers cannot
see the images that matter: scikit-learn's ``"accuracy"`` would count every
``-1`` as a wrong prediction. These scorers are plain callables
``scorer(estimator, X, y)``, as ``scoring=`` accepts, and greater is better.

Both also take skada's ``sample_domain`` (positive: source, negative:
target) and then score the target images only. They request it from
scikit-learn's metadata routing, as skada's scorers do, so
``cross_validate(..., params={"sample_domain": domains})`` sends each test
fold's domains to them (``sklearn.set_config(enable_metadata_routing=True)``;
importing skada turns it on); ``set_score_request(sample_domain=False)``
declines it.
"""

from __future__ import annotations

import functools

import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.utils.metadata_routing import MetadataRequest
from sklearn.utils.validation import column_or_1d

from ._inputs import take_rows
from ._validation import as_label_array, target_domain_mask, unlabeled_mask

__all__ = ["labeled_accuracy_scorer", "prediction_entropy_scorer"]


class _RoutedScorer:
    """A scorer function that scikit-learn's metadata routing sends ``sample_domain`` to.

    A plain function cannot request metadata (``get_routing_for_object`` finds
    no requests on it), so a routed ``sample_domain`` would never reach it.
    Requested by default, as skada's scorers request it: a user who routes
    domains means the scorer to see them.
    """

    def __init__(self, func, name):
        functools.update_wrapper(self, func)  # docstring (and its doctest), signature
        self.__name__ = self.__qualname__ = name  # the function keeps its own name: it pickles by it
        self._sample_domain = True

    def __call__(self, estimator, X, y=None, sample_domain=None):
        return self.__wrapped__(estimator, X, y, sample_domain=sample_domain)

    def __repr__(self):
        return f"sktransfer.metrics.{self.__name__}"

    def get_metadata_routing(self):
        """The metadata this scorer requests: ``sample_domain``, for ``score`` (scikit-learn's routing API)."""
        request = MetadataRequest(owner=self.__name__)
        request.score.add_request(param="sample_domain", alias=self._sample_domain)
        return request

    def set_score_request(self, *, sample_domain=True):
        """Whether metadata routing sends ``sample_domain`` here (True), or not (False, None), or an alias (str).

        This changes the module's scorer for the whole session: change a copy
        (``copy.deepcopy``) to change one search only.
        """
        if not (sample_domain is None or isinstance(sample_domain, (bool, str))):
            raise TypeError(f"sample_domain must be True, False, None or an alias (str); got {sample_domain!r}.")
        self._sample_domain = sample_domain
        return self


def _target_rows(X, sample_domain):
    """Mask of the target images (``sample_domain < 0``), checked against ``X``; some must be there."""
    target = target_domain_mask(sample_domain, X)
    if not target.any():
        raise ValueError("sample_domain marks no target images (negative) among the images scored: the scorer "
                         "scores the target only. Split so that every test fold holds target images (skada's "
                         "SourceTargetShuffleSplit does), or leave sample_domain out to score every image.")
    return target


def _unlabeled(X, y):
    """``y`` as an array and the mask of its -1 entries; a 2-D (multi-label indicator) ``y`` has none."""
    if hasattr(X, "__len__") and hasattr(y, "__len__") and len(X) != len(y):
        raise ValueError(f"X has {len(X)} images but y has {len(y)} labels; pass one label per image "
                         "(-1 for an unlabelled one).")
    y = as_label_array(y)
    if getattr(y, "ndim", 1) == 2 and y.shape[1] > 1:  # multi-label: no -1 marker exists there
        y = np.asarray(y)
        return y, np.zeros(len(y), dtype=bool)
    y = column_or_1d(y)
    return y, unlabeled_mask(y)


def _final_step(estimator):
    """The estimator that makes the predictions: a Pipeline's last step, a search's best estimator."""
    estimator = getattr(estimator, "best_estimator_", estimator)
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def _is_multilabel(estimator, proba):
    """Whether the columns of ``proba`` are independent labels' probabilities rather than one distribution.

    The estimator says so when it can (sktransfer's ``target_spec_``, OneVsRestClassifier's ``multilabel_``);
    otherwise rows that do not sum to 1 cannot be one distribution over classes.
    """
    final = _final_step(estimator)
    spec = getattr(final, "target_spec_", None)
    if spec is not None:
        return bool(spec.multilabel)
    if getattr(final, "multilabel_", False):
        return True
    return not np.allclose(proba.sum(axis=1), 1.0, atol=1e-3)


def _entropy(proba, multilabel):
    """Entropy of each row in nats: of the one distribution, or the sum of each label's binary entropy."""
    if not multilabel:
        p = np.clip(proba, 1e-12, 1.0)
        return -np.sum(p * np.log(p), axis=1)
    p = np.clip(proba, 1e-12, 1.0 - 1e-12)
    return -np.sum(p * np.log(p) + (1.0 - p) * np.log1p(-p), axis=1)


def _row_entropies(estimator, X):
    """Entropy of each image's prediction, whatever shape ``predict_proba`` answers in."""
    proba = estimator.predict_proba(X)
    if isinstance(proba, list):  # scikit-learn's multi-output classifiers: one distribution per output
        return sum(_entropy(np.asarray(p, dtype=np.float64), multilabel=False) for p in proba)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2:
        raise ValueError(f"predict_proba of {type(estimator).__name__} returned an array of shape {proba.shape}; "
                         "prediction_entropy_scorer needs one row of class probabilities per image.")
    if not np.isfinite(proba).all():
        raise ValueError(f"predict_proba of {type(estimator).__name__} returned NaN or infinite probabilities, "
                         "so no entropy can be measured; check that the model trained (a finite loss) and that "
                         "its settings (e.g. tta) are valid.")
    return _entropy(proba, _is_multilabel(estimator, proba))


def _prediction_entropy(estimator, X, y=None, sample_domain=None):
    """Minus the mean entropy of the predicted class probabilities on the unlabelled images: needs no labels.

    The images scored are the target images when ``sample_domain`` is given
    (negative domains, whatever their labels), else those with ``y == -1``
    (the target domain, or the unlabelled pool); all of ``X`` when ``y`` is
    None or has no -1. Lower
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

    **Multi-label models** (a 0/1 indicator ``y``; each column of
    ``predict_proba`` is one label's own probability ``p_j``): the entropy
    of an image is the sum of its labels' binary entropies,
    ``sum_j -(p_j log p_j + (1 - p_j) log(1 - p_j))``; every image is scored,
    as multi-label ``y`` has no -1 marker. For scikit-learn's multi-output
    classifiers (``predict_proba`` returns one array per output), it is the
    sum of the outputs' entropies.

    Parameters
    ----------
    estimator : fitted classifier with ``predict_proba``
    X : images
        Images in any form the estimator takes (pandas rows are taken by
        position, whatever their index).
    y : array-like of shape (n_images,) or (n_images, n_labels), default=None
        Labels, -1 for unlabelled images; only used to find those.
    sample_domain : array-like of int of shape (n_images,), default=None
        skada's convention: positive for a source image, negative for a
        target image. Given, only the target images are scored (``y`` is
        then not read). Routed by scikit-learn's metadata routing.

    Returns
    -------
    score : float
        ``-mean(sum(-p * log p))`` in nats (multi-label: the binary
        entropies above); 0 is the highest possible.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.metrics import prediction_entropy_scorer
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> clf = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> round(prediction_entropy_scorer(clf, X, [0, -1, -1, 1]), 3)  # the two middle images only
    -0.665
    >>> round(prediction_entropy_scorer(clf, X, [0, 0, 1, 1], sample_domain=[1, -2, -2, 1]), 3)  # skada's way
    -0.665
    """
    if sample_domain is not None:
        target = np.flatnonzero(_target_rows(X, sample_domain))
        return float(-np.mean(_row_entropies(estimator, take_rows(X, target))))
    if y is not None:
        _, unlabeled = _unlabeled(X, y)
        if unlabeled.any():
            X = take_rows(X, np.flatnonzero(unlabeled))
    return float(-np.mean(_row_entropies(estimator, X)))


prediction_entropy_scorer = _RoutedScorer(_prediction_entropy, "prediction_entropy_scorer")


def _labeled_accuracy(estimator, X, y, sample_domain=None):
    """Accuracy on the labelled images only (``y != -1``); the unlabelled ones are not predicted.

    With ``sample_domain``, on the labelled *target* images only (negative
    domains): the accuracy that matters in domain adaptation, when a few
    target images keep their labels.

    For a multi-label ``y`` (a 0/1 indicator matrix, which has no -1
    marker) it is the subset accuracy over every image: all labels right.

    Parameters
    ----------
    estimator : fitted classifier
    X : images
        Pandas rows are taken by position, whatever their index.
    y : array-like of shape (n_images,) or (n_images, n_labels)
        Labels, -1 for unlabelled images.
    sample_domain : array-like of int of shape (n_images,), default=None
        skada's convention: positive for a source image, negative for a
        target image. Given, only labelled target images are scored. Routed
        by scikit-learn's metadata routing.

    Returns
    -------
    score : float

    Raises
    ------
    ValueError
        When every label (of the target images, with ``sample_domain``) is -1.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.metrics import labeled_accuracy_scorer
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> clf = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> labeled_accuracy_scorer(clf, X, [0, -1, -1, 1])
    1.0
    >>> round(labeled_accuracy_scorer(clf, X, [0, 0, 0, 1], sample_domain=[1, -1, -1, -1]), 3)  # target only
    0.667
    """
    y, unlabeled = _unlabeled(X, y)
    where = ""
    if sample_domain is not None:  # source images are not scored: as if unlabelled
        unlabeled = unlabeled | ~_target_rows(X, sample_domain)
        where = " of the target images (sample_domain < 0)"
    if unlabeled.all():
        raise ValueError(f"every label{where} in y is -1 (unlabelled): no accuracy to measure. Score with "
                         "prediction_entropy_scorer, or keep some labelled images in each test fold.")
    labeled = ~unlabeled
    return float(accuracy_score(y[labeled].tolist() if y.dtype == object else y[labeled],
                                estimator.predict(take_rows(X, np.flatnonzero(labeled)))))


labeled_accuracy_scorer = _RoutedScorer(_labeled_accuracy, "labeled_accuracy_scorer")
