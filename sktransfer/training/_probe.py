"""The linear probe: which blocks a head reads, and a converged linear head.

The fine-tuned estimators start from a linear probe (LP-FT, Kumar et al.,
ICLR 2022): on features the frozen backbone computes once, a scikit-learn
linear model is fitted to convergence (``LogisticRegression`` with L-BFGS for
classes, one per label for multi-label, ``RidgeCV`` for regression), and its
weights become the head.
With the backbone frozen that *is* the model, whatever ``max_epochs`` says.

Which blocks to read is data-dependent: the final ImageNet features suit
photographs, mid-level blocks (edges, strokes) suit small glyphs (measured on
digits at 32 px, 5 labels per class: final 0.61, mid-level blocks 0.92). With
labels at hand the probe chooses by cross-validation, which costs one pass of
the frozen backbone and a few fits of a linear model.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.history import History
from torch import nn

from ..nn import FeatureScaler

__all__ = ["ProbeResult", "TaskProbe", "run_probe", "choose_layers", "fit_label_probe", "fit_multilabel_probe",
           "fit_probe", "fit_ridge_probe", "logistic_probe", "multilabel_probe", "ridge_probe"]

#: L-BFGS iterations of the probe: enough to converge on standardised features.
PROBE_MAX_ITER = 1000


def logistic_probe(C, class_weight=None, standardize=True):
    """The classification probe: ``StandardScaler`` + L2 ``LogisticRegression`` (L-BFGS).

    ``standardize=False`` makes the scaler the identity: the logistic regression reads the features as they
    are (normalised sentence embeddings, :data:`sktransfer._auto.STANDARDIZE_TEXT_PROBE`).
    """
    return make_pipeline(StandardScaler(with_mean=standardize, with_std=standardize),
                         LogisticRegression(C=C, max_iter=PROBE_MAX_ITER, class_weight=class_weight))


def multilabel_probe(C):
    """The multi-label probe: one logistic regression per label (a constant label predicts its constant)."""
    return make_pipeline(StandardScaler(),
                         OneVsRestClassifier(LogisticRegression(C=C, max_iter=PROBE_MAX_ITER)))


#: Ridge penalties ``probe_alpha="auto"`` chooses among, by efficient leave-one-out CV.
RIDGE_ALPHAS = tuple(np.logspace(-2, 4, 13))


def ridge_probe(alpha="auto"):
    """The regression probe: ``StandardScaler`` + ridge (``RidgeCV`` over ``RIDGE_ALPHAS`` when "auto")."""
    alphas = RIDGE_ALPHAS if alpha == "auto" else (float(alpha),)
    return make_pipeline(StandardScaler(), RidgeCV(alphas=alphas))


def _to_torch(scaler, coef, intercept):
    """A fitted scaler and linear map as ``(FeatureScaler, nn.Linear)``."""
    coef = np.atleast_2d(coef)
    linear = nn.Linear(coef.shape[1], coef.shape[0])
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(coef, dtype=torch.float32))
        linear.bias.copy_(torch.as_tensor(np.ravel(intercept), dtype=torch.float32))
    width = coef.shape[1]
    mean = np.zeros(width) if scaler.mean_ is None else scaler.mean_  # an identity scaler (standardize=False)
    scale = np.ones(width) if scaler.scale_ is None else scaler.scale_
    return FeatureScaler(mean, scale), linear


def choose_layers(features, y, *, make_probe, stratify=True, cv=3, random_state=0):
    """Pick the candidate whose probe has the best cross-validated score.

    Parameters
    ----------
    features : dict of str to ndarray of shape (n_samples, n_features)
        Features of the training images for each candidate, in preference
        order (ties go to the first).
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
    make_probe : callable
        Returns a fresh probe (a scikit-learn estimator; its ``score`` is used).
    stratify : bool, default=True
        Stratified folds (single-label classification).
    cv : int, default=3
        Folds, fewer when a class (or the set) has fewer images; with fewer
        than 2 nothing can be validated and the first candidate wins.
    random_state : int, default=0

    Returns
    -------
    name : str
    scores : dict of str to float
        Mean cross-validated score of each candidate (NaN when not validated).

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.training._probe import choose_layers, logistic_probe
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 10)
    >>> good = y[:, None] + 0.1 * rng.normal(size=(20, 3))
    >>> choose_layers({"noise": rng.normal(size=(20, 3)), "good": good}, y, make_probe=lambda: logistic_probe(1.0))[0]
    'good'
    """
    names = list(features)
    smallest = int(np.unique(y, return_counts=True)[1].min()) if stratify else len(y)
    n_splits = min(int(cv), smallest)
    if len(names) == 1 or n_splits < 2:
        return names[0], {name: float("nan") for name in names}
    splitter = StratifiedKFold if stratify else KFold
    folds = splitter(n_splits=n_splits, shuffle=True, random_state=random_state)
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # a label constant within a fold
        for name in names:
            scores[name] = float(cross_val_score(make_probe(), features[name], y, cv=folds).mean())
    best = max(names, key=lambda name: (scores[name], -names.index(name)))
    return best, scores


def fit_probe(features, y, n_classes, *, C=1.0, class_weight=None, standardize=True):
    """Fit ``StandardScaler`` + ``LogisticRegression`` and return it as torch layers.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Class indices in ``0..n_classes-1`` (every class present).
    n_classes : int
    C : float, default=1.0
        Inverse L2 strength, as in ``LogisticRegression``.
    class_weight : dict, "balanced" or None, default=None
    standardize : bool, default=True
        Whether the features are standardised first (else the scaler is the identity).

    Returns
    -------
    scaler : FeatureScaler
        The standardisation, as fixed buffers.
    linear : torch.nn.Linear
        ``n_features -> n_classes`` logits equal (up to float32 rounding and a
        constant per row) to the fitted model's decision function, so that
        softmax gives its ``predict_proba``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sktransfer.training._probe import fit_probe
    >>> X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(int)
    >>> scaler, linear = fit_probe(X, y, 2)
    >>> logits = linear(scaler(torch.from_numpy(X)))
    >>> bool((logits.argmax(1).numpy() == y).mean() > 0.9)
    True
    """
    model = logistic_probe(C, class_weight, standardize)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features, y)
    coef, intercept = model[1].coef_, model[1].intercept_
    if n_classes == 2:  # one decision value z; logits (-z/2, z/2) give softmax = sigmoid(z)
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return _to_torch(model[0], coef, intercept)


def fit_multilabel_probe(features, Y, *, C=1.0):
    """Fit :func:`multilabel_probe` and return it as torch layers whose outputs are per-label logits.

    A label that is constant in ``Y`` gets a zero weight and the logit of its
    (smoothed) frequency, so its sigmoid stays on the side it was seen on.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sktransfer.training._probe import fit_multilabel_probe
    >>> X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    >>> Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0, np.zeros(40)]).astype(int)
    >>> scaler, linear = fit_multilabel_probe(X, Y)
    >>> logits = linear(scaler(torch.from_numpy(X)))
    >>> ((logits > 0).int().numpy() == Y).mean(axis=0).round(1)
    array([1., 1., 1.])
    """
    model = multilabel_probe(C)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # "label not present": handled below
        model.fit(features, Y)
    n, width = features.shape
    coef = np.zeros((Y.shape[1], width))
    intercept = np.zeros(Y.shape[1])
    for k, est in enumerate(model[1].estimators_):
        if hasattr(est, "coef_"):
            coef[k], intercept[k] = est.coef_[0], est.intercept_[0]
        else:
            rate = (Y[:, k].sum() + 0.5) / (n + 1)
            intercept[k] = np.log(rate / (1 - rate))
    return _to_torch(model[0], coef, intercept)


def fit_label_probe(features, targets, n_outputs, *, multilabel, C=1.0, class_weight=None, standardize=True):
    """A classifier's probe (:func:`fit_probe`, or :func:`fit_multilabel_probe` for 0/1 indicator targets)
    and its training record: ``(FeatureScaler, nn.Linear, {"train_loss", "train_acc"})``.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.training import fit_label_probe
    >>> X = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> fit_label_probe(X, y, 2, multilabel=False)[2]["train_acc"] > 0.9
    True
    """
    if multilabel:
        scaler, linear = fit_multilabel_probe(features, targets, C=C)
    else:
        scaler, linear = fit_probe(features, targets, n_outputs, C=C, class_weight=class_weight,
                                   standardize=standardize)
    with torch.no_grad():
        logits = linear(scaler(torch.from_numpy(features)))
        target = torch.as_tensor(targets)
        if multilabel:
            loss = nn.functional.binary_cross_entropy_with_logits(logits, target)
            acc = float(((logits > 0).float() == target).all(dim=1).float().mean())
        else:
            loss = nn.functional.cross_entropy(logits, target)
            acc = float((logits.argmax(1) == target).float().mean())
    return scaler, linear, {"train_loss": float(loss), "train_acc": acc}


def fit_ridge_probe(features, y, *, alpha="auto"):
    """Fit :func:`ridge_probe` on (standardised) targets and return it as torch layers.

    Returns
    -------
    scaler : FeatureScaler
    linear : torch.nn.Linear
        ``n_features -> n_targets``.
    alpha : float
        The penalty used (chosen by leave-one-out CV when "auto").

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sktransfer.training._probe import fit_ridge_probe
    >>> X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    >>> y = (X @ [1.0, -2.0, 0.5])[:, None]
    >>> scaler, linear, alpha = fit_ridge_probe(X, y)
    >>> bool(torch.allclose(linear(scaler(torch.from_numpy(X))), torch.as_tensor(y, dtype=torch.float32), atol=0.1))
    True
    """
    model = ridge_probe(alpha).fit(features, y)
    scaler, linear = _to_torch(model[0], model[1].coef_, model[1].intercept_)
    return scaler, linear, float(model[1].alpha_)


@dataclass(frozen=True)
class TaskProbe:
    """A task's probe: ``make()`` a fresh scikit-learn model (scored by CV to choose the blocks),
    ``fit(features, targets)`` -> ``(FeatureScaler, nn.Linear, history record)``, whether to stratify the
    folds, and their seed."""

    make: object
    fit: object
    stratify: bool
    seed: int


@dataclass(frozen=True)
class ProbeResult:
    """What the probe found: the chosen candidate, each candidate's CV score, the head's layers, a history."""

    name: str
    scores: dict
    scaler: object
    linear: object
    history: object


def run_probe(task_probe, encoders, encode, targets):
    """Features of the training images for each candidate encoder; the best by CV; the probe fitted on it.

    ``encoders`` maps each candidate's name to its :class:`~sktransfer.nn.ImageEncoder` (they share one
    trunk, already on the device); ``encode(encoder)`` returns the training images' features.

    Examples
    --------
    See :class:`~sktransfer.FineTunedClassifier`, whose ``fit`` starts with it.
    """
    start = time.perf_counter()
    features = {name: encode(encoder) for name, encoder in encoders.items()}
    name, scores = choose_layers(features, targets, make_probe=task_probe.make, stratify=task_probe.stratify,
                                 random_state=task_probe.seed)
    scaler, linear, record = task_probe.fit(features[name], targets)
    history = History()
    history.new_epoch()
    history.record("epoch", 1)
    for key, value in record.items():
        history.record(key, value)
    history.record("n_steps", 0)
    history.record("dur", time.perf_counter() - start)
    return ProbeResult(name, scores, scaler, linear, history)
