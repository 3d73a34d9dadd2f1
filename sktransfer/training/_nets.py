"""skorch nets: the loop is skorch's; the L2-SP penalty joins the loss through ``get_loss``.

Each task picks the skorch class that already speaks its outputs (a
classifier's accuracy, a regressor's R², thresholded multi-label logits) and
mixes in :class:`L2SPMixin` and :class:`InterruptMixin`.
"""

from __future__ import annotations

import contextlib
import signal
import threading

import numpy as np
from skorch import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from torch import nn

__all__ = ["ClassifierNet", "InterruptMixin", "L2SPMixin", "MultiLabelLoss", "MultiLabelNet", "RegressorNet"]


class InterruptMixin:
    """Tell a real Ctrl-C from skorch's own way of stopping, which both raise ``KeyboardInterrupt``.

    skorch ends training quietly on ``KeyboardInterrupt``: its callbacks
    (``EarlyStopping``) raise it to stop, and a Ctrl-C raises it too. While
    training runs in the main thread, a SIGINT handler records whether the
    user pressed Ctrl-C; ``interrupted_`` is True only then, and the estimator
    decides (``on_interrupt``) whether to raise it again or keep the weights.
    """

    interrupted_ = False

    def fit_loop(self, *args, **kwargs):
        with _recording_sigint() as pressed:
            try:
                return super().fit_loop(*args, **kwargs)
            except KeyboardInterrupt:
                self.interrupted_ = pressed()
                raise


@contextlib.contextmanager
def _recording_sigint():
    """Yield a function that says whether SIGINT arrived in the block (main thread only)."""
    pressed = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False  # signals reach the main thread only: no Ctrl-C can land here
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        pressed.append(True)
        if callable(previous):
            previous(signum, frame)  # Python's default handler raises KeyboardInterrupt
        if previous != signal.SIG_IGN:
            # Another library's handler (a notebook's, a cluster client's) may only log or set a flag:
            # a Ctrl-C during fit still stops the fit.
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(pressed)
    finally:
        signal.signal(signal.SIGINT, previous)


class L2SPMixin:
    """An optional L2-SP penalty in the training loss of a skorch net.

    L2-SP (Li, Grandvalet & Davoine, ICML 2018) adds
    ``l2sp / 2 * ||w - w0||^2`` over the trainable trunk parameters, where
    ``w0`` are their values when training starts (the pretrained weights):
    it regularises toward what the backbone already knows rather than
    toward zero, as weight decay does.

    Parameters
    ----------
    *args, **kwargs
        As for the skorch net it is mixed into.
    l2sp : float, default=0.0
        Strength of the penalty; 0 disables it.
    """

    def __init__(self, *args, l2sp=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.l2sp = l2sp

    def initialize_module(self, *args, **kwargs):
        super().initialize_module(*args, **kwargs)
        trunk = self.module_.encoder.trunk
        self.start_weights_ = {name: p.detach().clone() for name, p in trunk.named_parameters()} if self.l2sp else {}
        return self

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if training and self.l2sp:
            penalty = sum(((p - self.start_weights_[name]) ** 2).sum()
                          for name, p in self.module_.encoder.trunk.named_parameters() if p.requires_grad)
            loss = loss + 0.5 * self.l2sp * penalty
        return loss


class ClassifierNet(InterruptMixin, L2SPMixin, NeuralNetClassifier):
    """skorch's ``NeuralNetClassifier`` (logits, ``CrossEntropyLoss``) with L2-SP."""


class RegressorNet(InterruptMixin, L2SPMixin, NeuralNetRegressor):
    """skorch's ``NeuralNetRegressor`` (standardised targets, MSE or Huber loss) with L2-SP."""


class MultiLabelNet(InterruptMixin, L2SPMixin, NeuralNet):
    """A skorch ``NeuralNet`` for multi-label logits (``BCEWithLogitsLoss``) with L2-SP.

    Built with ``predict_nonlinearity=None``, its ``predict_proba`` returns
    the logits and its ``predict`` thresholds each at 0 (probability 0.5).
    """

    def predict(self, X):
        return (self.predict_proba(X) > 0).astype(np.int64)


class MultiLabelLoss(nn.BCEWithLogitsLoss):
    """``BCEWithLogitsLoss`` with label smoothing: each 0/1 target ``t`` becomes ``t * (1 - s) + s / 2``.

    Parameters
    ----------
    label_smoothing : float, default=0.0
    **kwargs
        As for ``torch.nn.BCEWithLogitsLoss`` (e.g. ``pos_weight``).

    Examples
    --------
    >>> import torch
    >>> from sktransfer.training._nets import MultiLabelLoss
    >>> logits, target = torch.zeros(1, 2), torch.tensor([[1.0, 0.0]])
    >>> round(float(MultiLabelLoss(label_smoothing=0.2)(logits, target)), 4)  # log(2) at logit 0, whatever s
    0.6931
    """

    def __init__(self, label_smoothing=0.0, **kwargs):
        super().__init__(**kwargs)
        self.label_smoothing = float(label_smoothing)

    def forward(self, input, target):
        target = target * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        return super().forward(input, target)
