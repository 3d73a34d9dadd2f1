"""The linear probe: which blocks a head reads, and a converged logistic-regression head.

:class:`~sktransfer.FineTunedClassifier` starts fine-tuning from a linear
probe (LP-FT, Kumar et al., ICLR 2022): on features the frozen backbone
computes once, scikit-learn's ``LogisticRegression`` (full-batch L-BFGS with
an L2 penalty) is fitted to convergence, and its weights become the head.
With the backbone frozen that *is* the model, whatever ``max_epochs`` says.

Which blocks to read is data-dependent: the final ImageNet features suit
photographs, mid-level blocks (edges, strokes) suit small glyphs (measured on
digits at 32 px, 5 labels per class: final 0.61, mid-level blocks 0.92). With
labels at hand the probe chooses by cross-validation, which costs one pass of
the frozen backbone and a few fits of a linear model.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

__all__ = ["FeatureScaler", "choose_layers", "fit_probe", "mid_blocks"]

#: L-BFGS iterations of the probe: enough to converge on standardised features.
PROBE_MAX_ITER = 1000


def mid_blocks(n_blocks):
    """The mid-level blocks of a backbone with ``n_blocks`` blocks (three around the middle).

    Examples
    --------
    >>> from sktransfer._probe import mid_blocks
    >>> mid_blocks(8)
    [3, 4, 5]
    >>> mid_blocks(3)
    [1]
    """
    n = int(n_blocks)
    return sorted({max(1, n // 2 - 1), n // 2, max(1, min(n - 2, n // 2 + 1))} & set(range(n)))


#: Below this input side (pixels) ``layer="auto"`` does not offer the final features to
#: fine-tuning: a stride-32 backbone's last map is then 1x1 or 2x2, whose BatchNorm
#: statistics differ wildly between small training batches and inference. Measured on
#: digits, 5 per class: fine-tuning from a final-layer probe collapsed to 0.24 accuracy at
#: 32 px and to 0.43 on one of two seeds at 64 px; from mid-level blocks 0.95-0.96.
MIN_SIDE_FOR_FINAL = 128


def layer_candidates(n_blocks, image_size=None):
    """``{"final": None, "mid": [...]}``: the block sets ``layer="auto"`` chooses among.

    Examples
    --------
    >>> from sktransfer._probe import layer_candidates
    >>> layer_candidates(8, (224, 224))
    {'final': None, 'mid': [3, 4, 5]}
    >>> layer_candidates(8, (64, 64))
    {'mid': [3, 4, 5]}
    """
    candidates = {"final": None}
    mid = mid_blocks(n_blocks)
    if mid and mid != [n_blocks - 1]:
        candidates["mid"] = mid
        if image_size is not None and min(image_size) < MIN_SIDE_FOR_FINAL:
            del candidates["final"]
    return candidates


def _probe_pipeline(C, class_weight=None):
    return make_pipeline(StandardScaler(),
                         LogisticRegression(C=C, max_iter=PROBE_MAX_ITER, class_weight=class_weight))


def choose_layers(features, y, *, C=1.0, cv=3, random_state=0):
    """Pick the candidate whose probe has the best cross-validated accuracy.

    Parameters
    ----------
    features : dict of str to ndarray of shape (n_samples, n_features)
        Features of the training images for each candidate, in preference
        order (ties go to the first).
    y : ndarray of shape (n_samples,)
    C : float, default=1.0
        Inverse L2 strength of the probe.
    cv : int, default=3
        Folds, fewer when a class has fewer images; with fewer than 2 images
        in some class nothing can be validated and the first candidate wins.
    random_state : int, default=0

    Returns
    -------
    name : str
    scores : dict of str to float
        Mean cross-validated accuracy of each candidate (NaN when not validated).

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer._probe import choose_layers
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 10)
    >>> good = y[:, None] + 0.1 * rng.normal(size=(20, 3))
    >>> choose_layers({"noise": rng.normal(size=(20, 3)), "good": good}, y)[0]
    'good'
    """
    names = list(features)
    n_splits = min(int(cv), int(np.unique(y, return_counts=True)[1].min()))
    if len(names) == 1 or n_splits < 2:
        return names[0], {name: float("nan") for name in names}
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name in names:
            scores[name] = float(cross_val_score(_probe_pipeline(C), features[name], y, cv=folds).mean())
    best = max(names, key=lambda name: (scores[name], -names.index(name)))
    return best, scores


def fit_probe(features, y, n_classes, *, C=1.0, class_weight=None):
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
    >>> from sktransfer._probe import fit_probe
    >>> X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(int)
    >>> scaler, linear = fit_probe(X, y, 2)
    >>> logits = linear(scaler(torch.from_numpy(X)))
    >>> bool((logits.argmax(1).numpy() == y).mean() > 0.9)
    True
    """
    model = _probe_pipeline(C, class_weight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features, y)
    std, logreg = model[0], model[1]
    coef, intercept = logreg.coef_, logreg.intercept_
    if n_classes == 2:  # one decision value z; logits (-z/2, z/2) give softmax = sigmoid(z)
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    linear = nn.Linear(features.shape[1], n_classes)
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(coef, dtype=torch.float32))
        linear.bias.copy_(torch.as_tensor(intercept, dtype=torch.float32))
    return FeatureScaler(std.mean_, std.scale_), linear


class FeatureScaler(nn.Module):
    """``(x - mean) / scale`` with fixed buffers: the probe's standardisation inside the head.

    Keeping it in front of the head (rather than folding it into the weights)
    keeps the head's gradients well scaled while fine-tuning.

    Parameters
    ----------
    mean, scale : array-like of shape (n_features,)

    Examples
    --------
    >>> import torch
    >>> from sktransfer._probe import FeatureScaler
    >>> FeatureScaler([1.0, 2.0], [2.0, 4.0])(torch.tensor([[3.0, 6.0]]))
    tensor([[1., 1.]])
    """

    def __init__(self, mean, scale):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean), dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(np.asarray(scale), dtype=torch.float32))

    def forward(self, x):
        return (x - self.mean) / self.scale
