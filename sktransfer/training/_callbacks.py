"""skorch callbacks of the fine-tuning recipe: gradual unfreezing, learning-rate records."""

from __future__ import annotations

from skorch.callbacks import Callback

from ..backbones import block_params, top_blocks

__all__ = ["GradualUnfreeze", "RecordLR"]


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
