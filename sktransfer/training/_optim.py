"""Optimisation: parameter groups with layer-wise rates, the optimizer factory, schedules."""

from __future__ import annotations

import contextlib
import inspect

import torch

from ..backbones import top_blocks

__all__ = ["MergedGroups", "one_cycle", "optimizer_keywords", "param_groups", "scaled_rates", "warmup_cosine"]


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
    >>> from sktransfer.nn._encoder import ImageEncoder
    >>> from sktransfer.nn._heads import make_head
    >>> from sktransfer.nn._network import BackboneNetwork
    >>> from sktransfer.training._optim import param_groups
    >>> from sktransfer.backbones import get_backbone
    >>> bb = get_backbone("timm/test_resnet", weights=None)
    >>> module = BackboneNetwork(ImageEncoder(bb, (32, 32)), make_head(bb.feature_dim, 2))
    >>> groups = param_groups(module, bb.blocks, 2, lr=1e-3, lr_decay=0.5, all_trunk=False)
    >>> sorted({g["lr"] for _, g in groups})
    [0.0, 0.00025, 0.0005]
    """
    prefix = "encoder.trunk."
    extra = {} if trunk_weight_decay is None else {"weight_decay": trunk_weight_decay}
    groups = []
    seen = set()
    for k, block in enumerate(reversed(top_blocks(blocks, n_trainable)), start=1):
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
    >>> from sktransfer.training._optim import MergedGroups
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
            if "lr" in kwargs:  # skorch's default group (the head) carries no lr of its own
                group.setdefault("lr", kwargs["lr"])
            key = repr(sorted(group.items()))
            merged.setdefault(key, {**group, "params": []})["params"].extend(group_params)
        if self.optimizer is torch.optim.LBFGS:
            # torch's own error would come from inside LBFGS (one group only; flat views of the gradients).
            raise ValueError(
                "optimizer=LBFGS is not supported: a full-batch quasi-Newton method takes one learning rate for "
                "every parameter (fine-tuning has one per block) and flat views of the gradients, which the "
                "channels-last convolution weights do not give. Use a first-order optimizer: torch.optim.AdamW "
                "(the default), SGD, RMSprop, Rprop..."
            )
        try:
            return self.optimizer(list(merged.values()), **kwargs)
        except (TypeError, ValueError) as exc:  # torch's own checks of its settings (a negative lr, eps...)
            name = getattr(self.optimizer, "__name__", repr(self.optimizer))
            raise ValueError(f"optimizer={name} refused its settings ({exc}); check lr, weight_decay and the "
                             "optimizer__* parameters, or pass a torch.optim.Optimizer class.") from exc


def optimizer_keywords(optimizer):
    """The keyword arguments ``optimizer`` (a class or factory) takes, or None when it takes any (``**kwargs``).

    Examples
    --------
    >>> import torch
    >>> from sktransfer.training import optimizer_keywords
    >>> "momentum" in optimizer_keywords(torch.optim.SGD), "weight_decay" in optimizer_keywords(torch.optim.Rprop)
    (True, False)
    """
    try:
        signature = inspect.signature(optimizer)
    except (TypeError, ValueError):  # a builtin or C callable: nothing to check against
        return None
    params = list(signature.parameters.values())
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params[1:] if p.kind is not inspect.Parameter.VAR_POSITIONAL}


def one_cycle(optimizer, total_steps, pct_start, last_epoch=-1):
    """torch's ``OneCycleLR`` with each group's own learning rate as its peak."""
    max_lr = [group["lr"] for group in optimizer.param_groups]
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=max(int(total_steps), 1),
                                               pct_start=pct_start, last_epoch=last_epoch)


def warmup_cosine(optimizer, total_steps, warmup_steps, last_epoch=-1):
    """torch's ``SequentialLR``: a linear warm-up over ``warmup_steps``, then a cosine decay to zero.

    Each group's rate at optimizer step ``t < warmup_steps`` is its peak times
    ``(t + 1) / (warmup_steps + 1)``, then follows ``CosineAnnealingLR`` down
    to zero at ``total_steps``. ``last_epoch`` is what skorch passes (-1 for a
    new net).

    Examples
    --------
    >>> import torch
    >>> from sktransfer.training._optim import warmup_cosine
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> schedule = warmup_cosine(opt, total_steps=10, warmup_steps=2)
    >>> rates = []
    >>> for _ in range(10):
    ...     rates.append(round(opt.param_groups[0]["lr"], 2))
    ...     opt.step()
    ...     schedule.step()
    >>> rates
    [0.33, 0.67, 1.0, 0.96, 0.85, 0.69, 0.5, 0.31, 0.15, 0.04]
    """
    warmup_steps = min(int(warmup_steps), max(int(total_steps) - 1, 0))
    total_steps = max(int(total_steps), 1)
    scheduler = torch.optim.lr_scheduler
    cosine = scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps - warmup_steps, 1), eta_min=0.0,
                                         last_epoch=last_epoch)
    if not warmup_steps:
        return cosine
    warmup = scheduler.LinearLR(optimizer, start_factor=1 / (warmup_steps + 1), end_factor=1.0,
                                total_iters=warmup_steps, last_epoch=last_epoch)
    return scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps], last_epoch=last_epoch)


@contextlib.contextmanager
def scaled_rates(optimizer):
    """Yield ``scale(factor)``, which sets each group's rate to its rate on entry times ``factor``.

    The loops outside skorch (the contrastive and self-supervised stages)
    schedule their rates with it; on exit, however the loop ended (Ctrl-C
    included), the rates on entry come back and the gradients are cleared.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.training import scaled_rates
    >>> optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> with scaled_rates(optimizer) as scale:
    ...     scale(0.5)
    ...     optimizer.param_groups[0]["lr"]
    0.05
    >>> optimizer.param_groups[0]["lr"]
    0.1
    """
    base = [group["lr"] for group in optimizer.param_groups]

    def scale(factor):
        for group, lr in zip(optimizer.param_groups, base):
            group["lr"] = lr * factor

    try:
        yield scale
    finally:
        scale(1.0)
        optimizer.zero_grad(set_to_none=True)
