"""The pieces FineTunedClassifier hands to skorch: module, data, iterators, callbacks.

Nothing here is public. The estimator in ``_finetune.py`` composes them:

- :class:`FineTuneModule` is :class:`~sktransfer._encoder.ImageEncoder`
  plus a head, with freezing by block and frozen parts kept in eval mode;
- :class:`BatchData` and :class:`BatchIterator` feed skorch uint8 image
  batches (or cached features) that are already on the device;
- :func:`param_groups`, :func:`lr_lambda` and :class:`GradualUnfreeze`
  implement layer-wise learning rates, warm-up + cosine and gradual unfreezing.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from torch import nn

from ._device import autocast
from ._encoder import batch_to_device


def make_head(n_features, n_classes, hidden_units=(), dropout=0.0):
    """``[Dropout -> Linear -> ReLU] * len(hidden_units) -> Dropout -> Linear``.

    Dropout layers are only inserted when ``dropout > 0``.

    Examples
    --------
    >>> from sktransfer._training import make_head
    >>> make_head(16, 3, hidden_units=(8,), dropout=0.2)
    Sequential(
      (0): Dropout(p=0.2, inplace=False)
      (1): Linear(in_features=16, out_features=8, bias=True)
      (2): ReLU()
      (3): Dropout(p=0.2, inplace=False)
      (4): Linear(in_features=8, out_features=3, bias=True)
    )
    """
    layers = []
    width = int(n_features)
    for units in list(hidden_units) + [n_classes]:
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(width, int(units)))
        width = int(units)
        layers.append(nn.ReLU())
    layers.pop()  # no activation after the logits
    return nn.Sequential(*layers)


class FineTuneModule(nn.Module):
    """An :class:`ImageEncoder` and a classification head, trainable from the top.

    ``forward`` takes uint8 (or [0, 1] float) images ``(B, C, H, W)`` on the
    device and returns float32 logits. A 2-D input is taken as features the
    encoder already computed (the frozen-backbone shortcut) and goes to the
    head only. In training mode, ``augment`` (if set) is applied to the
    resized [0, 1] images before normalisation; in eval mode never.

    Parameters
    ----------
    encoder : ImageEncoder
    head : torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> from sktransfer._encoder import ImageEncoder
    >>> from sktransfer._training import FineTuneModule, make_head
    >>> from sktransfer.backbones import get_backbone
    >>> bb = get_backbone("timm/test_resnet", weights=None)
    >>> module = FineTuneModule(ImageEncoder(bb, (32, 32)), make_head(bb.feature_dim, 3))
    >>> module.set_trainable(bb.trainable_parameters(1))
    >>> module.eval()(torch.zeros(2, 1, 8, 8, dtype=torch.uint8)).shape
    torch.Size([2, 3])
    """

    def __init__(self, encoder, head):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.frozen_modules = []
        # Plain attribute, not a sub-module: it has no state to save.
        object.__setattr__(self, "augment", None)

    @property
    def image_size(self):
        return self.encoder.image_size

    @property
    def in_chans(self):
        return self.encoder.in_chans

    def set_trainable(self, names, all_trunk=False):
        """Train the trunk parameters in ``names`` (or all with ``all_trunk``) and the head.

        Every sub-module of the trunk whose parameters are all frozen is then
        kept in eval mode by :meth:`train`: BatchNorm running statistics and
        dropout of frozen blocks behave as at inference.
        """
        names = set(names)
        for name, param in self.encoder.trunk.named_parameters():
            param.requires_grad_(all_trunk or name in names)
        for param in self.head.parameters():
            param.requires_grad_(True)
        self.frozen_modules = _maximal_frozen_modules(self.encoder.trunk)
        if self.training:
            self.train()

    def train(self, mode=True):
        super().train(mode)
        if mode:
            for name in self.frozen_modules:
                self.encoder.trunk.get_submodule(name).eval()
        return self

    def forward(self, x):
        if x.ndim == 2:  # features cached by encode_batches: the head only
            features = x
        else:
            if self.training and self.augment is not None:
                x = self._augmented(x)
            with autocast(x.device):
                features = self.encoder(x)
        with torch.autocast(x.device.type, enabled=False):  # fp32 logits, also under an outer autocast
            return self.head(features.float())

    def _augmented(self, x):
        x = self.encoder.to_unit_range(x)
        out = self.augment(x)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            raise ValueError(
                f"augment must return a tensor of the batch's shape {tuple(x.shape)}; got "
                f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}."
            )
        return out.float().clamp(0.0, 1.0)


def _maximal_frozen_modules(root):
    """Names of the largest sub-modules of ``root`` whose parameters are all frozen."""
    frozen = []

    def visit(name, module):
        params = list(module.parameters())
        if params and not any(p.requires_grad for p in params):
            frozen.append(name)
            return
        for child_name, child in module.named_children():
            visit(f"{name}.{child_name}" if name else child_name, child)

    visit("", root)
    return frozen


# --------------------------------------------------------------------------- data


class BatchData(torch.utils.data.Dataset):
    """Rows ``indices`` of an :class:`ImageSet` (or of a feature tensor) with labels.

    skorch treats it as a ready dataset; :class:`BatchIterator` reads it
    batch by batch. ``y`` and a feature tensor live on ``device`` already.
    """

    def __init__(self, source, indices, y, *, device, image_size, channels, rng):
        self.source = source
        self.indices = np.asarray(indices, dtype=np.int64)
        self.y = y
        self.device = device
        self.image_size = image_size
        self.channels = channels
        self.rng = rng

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        """One ``(x, y)`` pair; training reads whole batches through :class:`BatchIterator`."""
        single = BatchData(self.source, self.indices[i : i + 1], self.y, device=self.device,
                           image_size=self.image_size, channels=self.channels, rng=self.rng)
        x, y = next(iter(BatchIterator(single, batch_size=1)))
        return x[0], y[0]


class BatchIterator:
    """What skorch calls ``iterator_train`` / ``iterator_valid``: yields ``(X, y)`` on the device.

    Images cross to the device as uint8 (pinned and asynchronous on CUDA)
    and are converted there. When training, the order is reshuffled on each
    pass with the dataset's generator, and a last batch of a single image is
    left out (BatchNorm cannot train on one value per channel).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sktransfer._training import BatchData, BatchIterator
    >>> from sktransfer.images import as_image_set
    >>> images = as_image_set(np.zeros((5, 8, 8), dtype=np.uint8))
    >>> data = BatchData(images, np.arange(5), torch.arange(5), device=torch.device("cpu"),
    ...                  image_size=(8, 8), channels=1, rng=np.random.default_rng(0))
    >>> [tuple(x.shape) for x, y in BatchIterator(data, batch_size=2, shuffle=True)]
    [(2, 1, 8, 8), (2, 1, 8, 8)]
    """

    def __init__(self, dataset, batch_size, shuffle=False, drop_single=None):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_single = shuffle if drop_single is None else drop_single

    def _order(self):
        data = self.dataset
        order = data.indices
        if self.shuffle:
            order = order[data.rng.permutation(len(order))]
        if self.drop_single and len(order) > 1 and len(order) % self.batch_size == 1:
            order = order[:-1]
        return order

    def __len__(self):
        return math.ceil(len(self._order()) / self.batch_size)

    def __iter__(self):
        data = self.dataset
        order = self._order()
        device = data.device
        if isinstance(data.source, torch.Tensor):  # cached features, already on the device
            for start in range(0, len(order), self.batch_size):
                idx = torch.from_numpy(order[start : start + self.batch_size]).to(device)
                yield data.source[idx], data.y[idx]
            return
        batches = data.source.iter_batches(self.batch_size, indices=order)
        for start, batch in zip(range(0, len(order), self.batch_size), batches):
            x = batch_to_device(batch, device, data.image_size, data.channels)
            idx = torch.from_numpy(order[start : start + self.batch_size]).to(device)
            yield x, data.y[idx]


# --------------------------------------------------------------------------- optimisation


def param_groups(module, blocks, n_trainable, lr, lr_decay, all_trunk, trunk_weight_decay=None):
    """skorch ``optimizer__param_groups``: layer-wise learning rates, frozen parameters at 0.

    The head trains at ``lr``; the k-th trainable block from the top at
    ``lr * lr_decay**k`` (k = 1 for the top block). Trunk parameters that
    belong to no block (only trained with ``trainable_blocks="all"``) get
    the lowest rate. Frozen parameters are put in a group with ``lr=0`` and
    no weight decay: they never receive gradients, so they never move.
    ``trunk_weight_decay`` (when not None) overrides the optimizer's weight
    decay for trunk parameters: L2-SP pulls them toward their pretrained
    values instead of toward zero.

    Examples
    --------
    >>> from sktransfer._encoder import ImageEncoder
    >>> from sktransfer._training import FineTuneModule, make_head, param_groups
    >>> from sktransfer.backbones import get_backbone
    >>> bb = get_backbone("timm/test_resnet", weights=None)
    >>> module = FineTuneModule(ImageEncoder(bb, (32, 32)), make_head(bb.feature_dim, 2))
    >>> groups = param_groups(module, bb.blocks, 2, lr=1e-3, lr_decay=0.5, all_trunk=False)
    >>> sorted({g["lr"] for _, g in groups})
    [0.0, 0.00025, 0.0005]
    """
    prefix = "encoder.trunk."
    extra = {} if trunk_weight_decay is None else {"weight_decay": trunk_weight_decay}
    groups = []
    seen = set()
    for k, block in enumerate(reversed(blocks[len(blocks) - n_trainable :] if n_trainable else []), start=1):
        for name in block.params:
            groups.append((prefix + name, {"lr": lr * lr_decay**k, **extra}))
            seen.add(name)
    if all_trunk:
        lowest = lr * lr_decay ** max(len(blocks), 1)
        for name, _ in module.encoder.trunk.named_parameters():
            if name not in seen:
                groups.append((prefix + name, {"lr": lowest, **extra}))
    groups.append((prefix + "*", {"lr": 0.0, "weight_decay": 0.0}))
    return groups


class MergedGroups:
    """Optimizer factory that merges skorch's param groups with equal settings.

    skorch makes one group per ``param_groups`` pattern, here one per
    parameter; merged, the optimizer keeps one group per learning rate (one
    per block), which keeps per-step overhead low and lets multi-tensor
    kernels batch the updates. Groups whose parameters are all frozen with a
    learning rate of zero are left out.

    Parameters
    ----------
    optimizer : callable
        The optimizer class, e.g. ``torch.optim.AdamW``.

    Examples
    --------
    >>> import torch
    >>> from sktransfer._training import MergedGroups
    >>> a, b, c = (torch.nn.Parameter(torch.zeros(1)) for _ in range(3))
    >>> opt = MergedGroups(torch.optim.AdamW)([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.1},
    ...                                        {"params": [c], "lr": 0.05}], lr=0.1)
    >>> [(len(g["params"]), g["lr"]) for g in opt.param_groups]
    [(2, 0.1), (1, 0.05)]
    """

    def __init__(self, optimizer):
        self.optimizer = optimizer

    def __call__(self, params, **kwargs):
        merged = {}
        for group in params:
            group = dict(group) if isinstance(group, dict) else {"params": group}
            group_params = list(group.pop("params"))
            if group.get("lr") == 0 and not any(p.requires_grad for p in group_params):
                continue
            key = repr(sorted(group.items()))
            merged.setdefault(key, {**group, "params": []})["params"].extend(group_params)
        return self.optimizer(list(merged.values()), **kwargs)


def one_cycle(optimizer, total_steps, pct_start, last_epoch=-1):
    """torch's ``OneCycleLR`` with each group's own learning rate as its peak."""
    max_lr = [group["lr"] for group in optimizer.param_groups]
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=max(int(total_steps), 1),
                                               pct_start=pct_start, last_epoch=last_epoch)


def lr_lambda(total_steps, warmup_steps):
    """Multiplier of each group's learning rate at optimizer step ``t``.

    A linear warm-up over ``warmup_steps``, then a cosine decay to zero at
    ``total_steps``.

    Examples
    --------
    >>> from sktransfer._training import lr_lambda
    >>> factor = lr_lambda(total_steps=10, warmup_steps=2)
    >>> [round(factor(t), 2) for t in range(10)]
    [0.33, 0.67, 1.0, 0.96, 0.85, 0.69, 0.5, 0.31, 0.15, 0.04]
    """
    warmup_steps = min(int(warmup_steps), max(int(total_steps) - 1, 0))
    total_steps = max(int(total_steps), 1)

    def factor(step):
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = min((step - warmup_steps) / max(total_steps - warmup_steps, 1), 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


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
        names = [p for block in self.blocks[len(self.blocks) - n :] for p in block.params] if n else []
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


class FineTuneNet(NeuralNetClassifier):
    """skorch's ``NeuralNetClassifier`` with an optional L2-SP penalty in the training loss.

    L2-SP (Li, Grandvalet & Davoine, ICML 2018) adds
    ``l2sp / 2 * ||w - w0||^2`` over the trainable trunk parameters, where
    ``w0`` are their values when training starts (the pretrained weights):
    it regularises toward what the backbone already knows rather than
    toward zero, as weight decay does.

    Parameters
    ----------
    *args, **kwargs
        As for ``NeuralNetClassifier``.
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
