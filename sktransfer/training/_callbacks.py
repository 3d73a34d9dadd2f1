"""skorch callbacks of the fine-tuning recipe: gradual unfreezing, learning-rate records, divergence."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import accuracy_score
from skorch.callbacks import Callback

from .._validation import UNLABELED
from ..backbones import block_params, top_blocks

__all__ = ["GradualUnfreeze", "RecordLR", "StopOnDivergence", "labeled_accuracy", "subset_accuracy"]


def subset_accuracy(net, X, y):
    """skorch scoring of multi-label epochs: every label right (the 0/1 targets arrive as float tensors)."""
    return accuracy_score(np.asarray(y) > 0.5, net.predict(X).astype(bool))


def labeled_accuracy(net, X, y):
    """skorch scoring of single-label epochs, over the labelled rows (training batches may hold ``y == -1``)."""
    y = np.asarray(y)
    labeled = y != UNLABELED
    return accuracy_score(y[labeled], net.predict(X)[labeled])


class GradualUnfreeze(Callback):
    """Unfreeze one more block every ``every`` epochs, from the top, up to ``n_max``.

    The first ``every`` epochs train the head only. Records
    ``trainable_blocks`` in the history of each epoch.
    """

    def __init__(self, blocks, n_max, every, all_trunk=False):
        self.blocks = blocks
        self.n_max = n_max
        self.every = every
        self.all_trunk = all_trunk

    def on_train_begin(self, net, **kwargs):
        self.first_epoch_ = len(net.history)

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history) - 1 - self.first_epoch_
        n = min(self.n_max, epoch // self.every)
        names = block_params(top_blocks(self.blocks, n))
        net.module_.set_trainable(names, all_trunk=self.all_trunk and n == self.n_max)
        net.history.record("trainable_blocks", n)


class RecordLR(Callback):
    """Record the head's learning rate (the highest of all groups) as ``lr``, and ``n_steps``, each epoch."""

    def on_epoch_begin(self, net, **kwargs):
        self.steps_ = 0

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        self.steps_ += bool(training)

    def on_epoch_end(self, net, **kwargs):
        net.history.record("lr", max(group["lr"] for group in net.optimizer_.param_groups))
        net.history.record("n_steps", self.steps_)


class StopOnDivergence(Callback):
    """Fail at the first training step whose loss is not finite (NaN or inf), with a ValueError.

    A diverged network predicts one class (or NaN) for every image; failing
    keeps the estimator's previous state instead of a model that only looks
    fitted.

    Examples
    --------
    >>> import torch
    >>> from types import SimpleNamespace
    >>> from sktransfer.training import StopOnDivergence
    >>> net = SimpleNamespace(lr=1e6, history=[{}])
    >>> StopOnDivergence().on_batch_end(net, training=True, loss=torch.tensor(float("nan")))
    Traceback (most recent call last):
    ...
    ValueError: training diverged: the loss became nan in epoch 1 (lr=1000000.0). Lower lr (e.g. 10x), or look for extreme values in the images or targets; the estimator keeps its previous state.
    """

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        if training and loss is not None and not bool(torch.isfinite(torch.as_tensor(loss)).all()):
            raise ValueError(
                f"training diverged: the loss became {float(torch.as_tensor(loss).detach())} in epoch {len(net.history)} (lr={net.lr}). "
                "Lower lr (e.g. 10x), or look for extreme values in the images or targets; the estimator keeps "
                "its previous state."
            )
