"""What an explanation explains: the target of each image, the score to differentiate, the reported value.

A fitted network's outputs mean different things per task; this module is
the one place that knows it, so the explanation and the deletion check read
them the same way:

- single-label classifier: one logit per class in ``classes_``;
- multi-label classifier: one logit per label (``classes_ = 0..n_labels-1``);
- regressor: one standardised output per target column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import is_classifier


@dataclass(frozen=True)
class TaskView:
    """How to read a fitted estimator's network outputs.

    Parameters
    ----------
    kind : {"softmax", "sigmoid", "regression"}
    labels : ndarray
        What a target is called: ``classes_`` for classifiers, the output
        indices for a regressor.
    mean, scale : ndarray or None
        A regressor's standardisation of ``y`` (outputs are standardised).
    """

    kind: str
    labels: np.ndarray
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    @classmethod
    def of(cls, estimator):
        """The view of a fitted classifier or regressor built on ``BackboneNetworkEstimator``."""
        if is_classifier(estimator):
            kind = "sigmoid" if getattr(estimator, "_multilabel", False) else "softmax"
            return cls(kind, np.asarray(estimator.classes_))
        return cls("regression", np.arange(np.size(estimator._y_mean)), np.asarray(estimator._y_mean, dtype=np.float64),
                   np.asarray(estimator._y_scale, dtype=np.float64))

    def resolve(self, target, n):
        """Output index of each of ``n`` images' target (int64 array), or None: each image's prediction.

        ``target`` is None, one label for every image, or one label per image.
        """
        if target is None:
            if self.kind == "regression" and len(self.labels) > 1:
                raise ValueError(f"the regressor has {len(self.labels)} outputs; pass target= the index of the "
                                 f"one to explain (0..{len(self.labels) - 1}).")
            return None
        values = np.asarray(target, dtype=object)
        if values.ndim == 0:
            values = np.full(n, values.item(), dtype=object)
        elif values.ndim != 1 or len(values) != n:
            raise ValueError(f"target has shape {values.shape}; pass one label for all {n} images or one label "
                             f"per image (shape ({n},)).")
        index = {_key(label): i for i, label in enumerate(self.labels.tolist())}
        unknown = [v for v in values.tolist() if _key(v) not in index]
        if unknown:
            what = "output indices" if self.kind == "regression" else "classes_"
            raise ValueError(f"target {unknown[0]!r} is not one of the {what} {self.labels.tolist()[:20]}; pass "
                             "one of them, or target=None to explain each image's prediction.")
        return np.array([index[_key(v)] for v in values.tolist()], dtype=np.int64)

    def predicted(self, outputs):
        """The output index a ``target=None`` explains: the top class (output 0 for a regressor)."""
        if self.kind == "regression":
            return np.zeros(len(outputs), dtype=np.int64)
        return np.asarray(outputs).argmax(axis=1).astype(np.int64)

    def score(self, outputs, index):
        """The differentiable score of each image's target, from outputs ``(B, K)`` (torch).

        Single-label classifiers: the target's log-odds against the other
        classes (its logit minus the log-sum-exp of the others). Unlike the
        raw logit it gives no credit to evidence that every class shares
        (a background), and unlike the probability it does not saturate for
        confident predictions. Multi-label: the label's logit (its log-odds).
        Regressors: the (standardised) output.
        """
        picked = outputs.gather(1, index[:, None])[:, 0]
        if self.kind != "softmax":
            return picked
        others = outputs.masked_fill(torch.nn.functional.one_hot(index, outputs.shape[1]).bool(), float("-inf"))
        return picked - torch.logsumexp(others, dim=1)

    def probability(self, outputs, index):
        """Probability of each image's target (numpy); NaN for a regressor."""
        outputs = np.asarray(outputs, dtype=np.float64)
        picked = outputs[np.arange(len(outputs)), index]
        if self.kind == "softmax":
            shifted = outputs - outputs.max(axis=1, keepdims=True)
            return np.exp(picked - outputs.max(axis=1)) / np.exp(shifted).sum(axis=1)
        if self.kind == "sigmoid":
            return 1.0 / (1.0 + np.exp(-picked))
        return np.full(len(outputs), np.nan)

    def prediction(self, outputs, index):
        """The predicted label (single-label), the 0/1 decision on the target label (multi-label), or the
        predicted value of the target output in the units of ``y`` (regressor)."""
        outputs = np.asarray(outputs, dtype=np.float64)
        if self.kind == "softmax":
            return self.labels[outputs.argmax(axis=1)]
        picked = outputs[np.arange(len(outputs)), index]
        if self.kind == "sigmoid":
            return (picked > 0).astype(np.int64)
        return picked * self.scale[index] + self.mean[index]


def _key(label):
    """Labels compare as Python scalars, so 3, np.int64(3) and 3.0 name the same class."""
    return label.item() if isinstance(label, np.generic) else label
