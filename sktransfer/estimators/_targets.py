"""TargetSpec: how a task encodes ``y`` and how the network's outputs become predictions.

A fitted network's outputs mean different things per task, and this module is
the one place that knows it, so that ``predict``, the explanations and the
deletion check read them the same way:

- single-label classifier (``"softmax"``): one logit per class in ``classes_``;
- multi-label classifier (``"sigmoid"``): one logit per label (``classes_ = 0..n_labels-1``);
- regressor (``"regression"``): one standardised output per target column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.metrics import r2_score

from .._validation import UNLABELED, unlabeled_mask

__all__ = ["TargetSpec", "encode_labels", "encode_values"]


@dataclass(frozen=True, eq=False)
class TargetSpec:
    """What a fitted network's outputs are (read-only): the task's kind, labels and target scaling.

    Parameters
    ----------
    kind : {"softmax", "sigmoid", "regression"}
    labels : ndarray
        What an output is called: ``classes_`` for classifiers, the output
        indices for a regressor.
    mean, scale : ndarray or None
        A regressor's standardisation of ``y`` (its outputs are standardised).
    one_d : bool, default=True
        Whether a regressor's ``y`` was 1-D (its predictions are then 1-D).

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.estimators._targets import encode_labels
    >>> targets, spec = encode_labels(np.array(["cat", "dog", "cat", -1], dtype=object))
    >>> targets.tolist(), spec.kind, spec.labels.tolist(), spec.n_outputs
    ([0, 1, 0, -1], 'softmax', ['cat', 'dog'], 2)
    >>> spec.predict(np.array([[0.0, 2.0]])).tolist()
    ['dog']
    """

    kind: str
    labels: np.ndarray
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    one_d: bool = True

    @property
    def n_outputs(self):
        """Width of the head's output."""
        return len(self.labels)

    @property
    def multilabel(self):
        """Whether ``y`` was a 0/1 indicator matrix (one sigmoid output per label)."""
        return self.kind == "sigmoid"

    # ------------------------------------------------------------------ outputs -> predictions

    def proba(self, logits):
        """Class probabilities (multi-label: each label's own)."""
        logits = np.asarray(logits, dtype=np.float64)
        return expit(logits) if self.multilabel else softmax(logits, axis=1)

    def log_proba(self, logits):
        """Logarithm of :meth:`proba`, computed stably."""
        logits = np.asarray(logits, dtype=np.float64)
        return log_expit(logits) if self.multilabel else log_softmax(logits, axis=1)

    def decision(self, logits):
        """scikit-learn's ``decision_function``: for two classes, the logit of ``labels[1]`` minus ``labels[0]``."""
        logits = np.asarray(logits, dtype=np.float64)
        if self.n_outputs == 2 and not self.multilabel:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict(self, outputs):
        """Labels (multi-label: a 0/1 indicator matrix), or targets in the units of ``y``."""
        if self.kind == "regression":
            values = np.asarray(outputs, dtype=np.float64) * self.scale + self.mean
            return values.ravel() if self.one_d else values
        if self.multilabel:
            return (np.asarray(outputs) > 0).astype(np.int64)
        return self.labels[np.asarray(outputs).argmax(axis=1)]

    def quality(self, outputs, targets):
        """The task's score of ``outputs`` against encoded ``targets`` (higher is better).

        Accuracy (multi-label: over every image-label pair), or R^2 for a
        regressor; int8 is checked with it against the float network.
        """
        outputs, targets = np.asarray(outputs, dtype=np.float64), np.asarray(targets)
        if self.kind == "softmax":
            return float(np.mean(outputs.argmax(axis=1) == targets))
        if self.kind == "sigmoid":
            return float(np.mean((outputs > 0) == (targets > 0.5)))
        return float(r2_score(targets.reshape(outputs.shape), outputs))

    # ------------------------------------------------------------------ one target per image (explanations)

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
        if self.kind == "regression":
            return np.full(len(outputs), np.nan)
        return self.proba(outputs)[np.arange(len(outputs)), index]

    def prediction(self, outputs, index):
        """The predicted label (single-label), the 0/1 decision on the target label (multi-label), or the
        predicted value of the target output in the units of ``y`` (regressor)."""
        if self.kind == "softmax":
            return self.predict(outputs)
        outputs = np.asarray(outputs, dtype=np.float64)
        picked = outputs[np.arange(len(outputs)), index]
        if self.kind == "sigmoid":
            return (picked > 0).astype(np.int64)
        return picked * self.scale[index] + self.mean[index]

    # ------------------------------------------------------------------ plain data (export_weights)

    def to_dict(self):
        """Plain data: arrays as (values, dtype) pairs."""
        arrays = {k: getattr(self, k) for k in ("labels", "mean", "scale")}
        return {"kind": self.kind, "one_d": self.one_d,
                **{k: None if v is None else {"values": v.tolist(), "dtype": v.dtype.str} for k, v in arrays.items()}}

    @classmethod
    def from_dict(cls, data):
        """The inverse of :meth:`to_dict`."""
        arrays = {k: None if data[k] is None else np.asarray(data[k]["values"], dtype=np.dtype(data[k]["dtype"]))
                  for k in ("labels", "mean", "scale")}
        return cls(kind=data["kind"], one_d=data["one_d"], **arrays)


def encode_labels(y, owner="The classifier"):
    """Class indices of ``y`` (-1 kept for unlabelled rows) and the spec; a 2-D ``y`` is multi-label.

    Raises a ValueError, naming ``owner``, when fewer than two classes are labelled.
    """
    if y.ndim == 2:
        return y.astype(np.float32), TargetSpec("sigmoid", np.arange(y.shape[1]))
    labeled = ~unlabeled_mask(y)
    classes, y_index = np.unique(y[labeled], return_inverse=True)
    if len(classes) < 2:
        unlabeled = "" if labeled.all() else (
            f" ({int((~labeled).sum())} images are marked -1, unlabelled; if -1 is a class, recode it)")
        raise ValueError(
            f"{owner} needs samples of at least 2 classes in y; got {len(classes)} class(es): {classes.tolist()}{unlabeled}. "
            "A classifier can't train when only one class is present."
        )
    targets = np.full(len(y), UNLABELED, dtype=np.int64)
    targets[labeled] = y_index
    return targets, TargetSpec("softmax", classes)


def encode_values(y, counts=None):
    """``y`` standardised per column (float32, 2-D) and the spec that un-standardises the outputs.

    ``counts`` (whole-number sample weights) weigh the mean and spread as
    that many copies of each row would.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.estimators._targets import encode_values
    >>> z, spec = encode_values(np.array([-1e200, 0.0, 1e200]))  # squares would overflow float64
    >>> [round(float(v), 3) for v in z.ravel()], bool(np.allclose(spec.predict(z), [-1e200, 0.0, 1e200]))
    ([-1.225, 0.0, 1.225], True)
    """
    y2 = y.reshape(len(y), -1)
    mean = np.average(y2, axis=0, weights=counts)
    # The spread, computed on y over its largest magnitude: the squares of values beyond 1e154 overflow.
    magnitude = np.abs(y2 - mean).max(axis=0)
    magnitude[magnitude == 0] = 1.0
    scale = np.sqrt(np.average(((y2 - mean) / magnitude) ** 2, axis=0, weights=counts)) * magnitude
    scale[scale == 0] = 1.0  # a constant target stays constant
    spec = TargetSpec("regression", np.arange(y2.shape[1]), mean, scale, one_d=y.ndim == 1)
    return ((y2 - mean) / scale).astype(np.float32), spec


def _key(label):
    """Labels compare as Python scalars, so 3, np.int64(3) and 3.0 name the same class."""
    return label.item() if isinstance(label, np.generic) else label
