"""Optimisation: layer-wise parameter groups, the merging optimizer factory, the schedules."""

import math

import pytest
import torch
from skorch import NeuralNet
from torch import nn

from sktransfer.backbones import Block
from sktransfer.training import MergedGroups, one_cycle, param_groups, warmup_cosine

pytestmark = pytest.mark.usefixtures("one_thread")

N_BLOCKS = 4


class Trunk(nn.Module):
    """Four linear blocks and a final norm that belongs to no block."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(*(nn.Linear(3, 3) for _ in range(N_BLOCKS)))
        self.norm = nn.LayerNorm(3)

    def forward(self, x):
        return self.norm(self.layers(x))


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = Trunk()


class Network(nn.Module):
    """The names BackboneNetwork gives its parameters: ``encoder.trunk.*`` and ``head.*``."""

    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        return self.head(self.encoder.trunk(x))


BLOCKS = [Block(f"layer{i}", (f"layers.{i}.weight", f"layers.{i}.bias"), f"layers.{i}") for i in range(N_BLOCKS)]


def freeze(module, n_trainable, all_trunk=False):
    """What BackboneNetwork.set_trainable does: the top blocks and the head train."""
    names = {name for block in BLOCKS[N_BLOCKS - n_trainable :] if n_trainable for name in block.params}
    for name, param in module.encoder.trunk.named_parameters():
        param.requires_grad_(all_trunk or name in names)
    return module


def rates(groups):
    return {pattern: settings["lr"] for pattern, settings in groups}


def skorch_optimizer(module, groups, optimizer=torch.optim.SGD, lr=1.0, **kwargs):
    """The optimizer skorch builds from ``optimizer__param_groups`` (fnmatch patterns, first match wins)."""
    net = NeuralNet(module, criterion=nn.MSELoss, optimizer=MergedGroups(optimizer), lr=lr,
                    optimizer__param_groups=groups, **kwargs)
    args, kw = net.get_params_for_optimizer("optimizer", module.named_parameters())
    return net.optimizer(*args, **kw)


def test_layer_wise_rates_decay_from_the_top():
    groups = param_groups(Network(), BLOCKS, 2, lr=1.0, lr_decay=0.5, all_trunk=False)
    assert rates(groups) == {
        "encoder.trunk.layers.3.weight": 0.5, "encoder.trunk.layers.3.bias": 0.5,  # top block: lr * decay
        "encoder.trunk.layers.2.weight": 0.25, "encoder.trunk.layers.2.bias": 0.25,  # next: lr * decay**2
        "encoder.trunk.*": 0.0,  # everything else of the trunk: frozen
    }
    assert groups[-1] == ("encoder.trunk.*", {"lr": 0.0, "weight_decay": 0.0})  # the catch-all comes last


def test_frozen_blocks_are_left_to_the_catch_all():
    for n in range(N_BLOCKS + 1):
        groups = param_groups(Network(), BLOCKS, n, lr=1e-3, lr_decay=0.8, all_trunk=False)
        named = {pattern for pattern, _ in groups[:-1]}
        assert len(named) == 2 * n
        assert all(f"encoder.trunk.layers.{i}.weight" not in named for i in range(N_BLOCKS - n))
        expected = sorted(1e-3 * 0.8**k for k in range(1, n + 1))
        assert sorted({s["lr"] for _, s in groups[:-1]}) == pytest.approx(expected)


def test_all_trunk_gives_the_rest_the_lowest_rate():
    groups = param_groups(Network(), BLOCKS, 2, lr=1.0, lr_decay=0.5, all_trunk=True)
    lr = rates(groups)
    lowest = 0.5**N_BLOCKS
    for name in ["layers.0.weight", "layers.1.bias", "norm.weight", "norm.bias"]:  # frozen blocks, and no block
        assert lr["encoder.trunk." + name] == lowest
    assert lr["encoder.trunk.layers.3.weight"] == 0.5 and lr["encoder.trunk.layers.2.weight"] == 0.25
    assert len(groups) == len(list(Trunk().parameters())) + 1  # each parameter once, then the catch-all


@pytest.mark.parametrize("all_trunk", [False, True])
def test_trunk_weight_decay(all_trunk):
    plain = param_groups(Network(), BLOCKS, 2, lr=1.0, lr_decay=0.5, all_trunk=all_trunk)
    assert all("weight_decay" not in s for _, s in plain[:-1])  # the optimizer's own weight decay applies
    l2sp = param_groups(Network(), BLOCKS, 2, lr=1.0, lr_decay=0.5, all_trunk=all_trunk, trunk_weight_decay=0.0)
    assert all(s["weight_decay"] == 0.0 for _, s in l2sp)
    assert [(p, s["lr"]) for p, s in l2sp] == [(p, s["lr"]) for p, s in plain]
    custom = param_groups(Network(), BLOCKS, 1, lr=1.0, lr_decay=0.5, all_trunk=all_trunk, trunk_weight_decay=0.3)
    assert all(s["weight_decay"] == 0.3 for _, s in custom[:-1]) and custom[-1][1]["weight_decay"] == 0.0


def test_merged_groups_one_per_setting():
    a, b, c, d, frozen = (nn.Parameter(torch.zeros(2)) for _ in range(5))
    frozen.requires_grad_(False)
    opt = MergedGroups(torch.optim.AdamW)([
        {"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.1, "weight_decay": 0.0}, {"params": [c], "lr": 0.1},
        {"params": [frozen], "lr": 0.0, "weight_decay": 0.0}, [d],
    ], lr=0.5, weight_decay=0.01)
    assert isinstance(opt, torch.optim.AdamW)
    found = [([id(p) for p in g["params"]], g["lr"], g["weight_decay"]) for g in opt.param_groups]
    assert found == [([id(a), id(c)], 0.1, 0.01), ([id(b)], 0.1, 0.0), ([id(d)], 0.5, 0.01)]


def test_merged_groups_keep_a_zero_rate_group_that_can_train():
    trainable, frozen = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1), requires_grad=False)
    opt = MergedGroups(torch.optim.SGD)([{"params": [trainable, frozen], "lr": 0.0}], lr=0.1)
    assert len(opt.param_groups) == 1 and len(opt.param_groups[0]["params"]) == 2


def test_merged_groups_through_skorch_one_group_per_block():
    module = freeze(Network(), 2)
    groups = param_groups(module, BLOCKS, 2, lr=1.0, lr_decay=0.5, all_trunk=False)
    opt = skorch_optimizer(module, groups, lr=1.0)
    # The frozen catch-all is left out; the head falls into skorch's default group, at lr.
    assert sorted(g["lr"] for g in opt.param_groups) == [0.25, 0.5, 1.0]
    params = {id(p) for g in opt.param_groups for p in g["params"]}
    assert params == {id(p) for p in module.parameters() if p.requires_grad}
    assert {len(g["params"]) for g in opt.param_groups} == {2}  # weight and bias of one block (or the head)


def test_the_optimizer_steps_each_block_at_its_rate():
    torch.manual_seed(0)
    module = freeze(Network(), 2)
    opt = skorch_optimizer(module, param_groups(module, BLOCKS, 2, lr=0.1, lr_decay=0.5, all_trunk=False), lr=0.1)
    before = {name: p.detach().clone() for name, p in module.named_parameters()}
    module(torch.randn(8, 3)).square().mean().backward()
    grads = {name: None if p.grad is None else p.grad.clone() for name, p in module.named_parameters()}
    opt.step()
    expected_lr = {"head": 0.1, "encoder.trunk.layers.3": 0.05, "encoder.trunk.layers.2": 0.025}
    for name, param in module.named_parameters():
        owner = next((prefix for prefix in expected_lr if name.startswith(prefix + ".")), None)
        if owner is None:  # frozen: no gradient, no move
            assert grads[name] is None and torch.equal(param, before[name]), name
        else:
            assert grads[name].abs().sum() > 0, name
            torch.testing.assert_close(param.detach(), before[name] - expected_lr[owner] * grads[name])


def test_all_trunk_through_skorch_trains_every_parameter():
    module = freeze(Network(), 2, all_trunk=True)
    opt = skorch_optimizer(module, param_groups(module, BLOCKS, 2, lr=1.0, lr_decay=0.5, all_trunk=True), lr=1.0)
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(module.parameters()))
    assert sorted(g["lr"] for g in opt.param_groups) == [0.5**N_BLOCKS, 0.25, 0.5, 1.0]


def record(optimizer, scheduler, steps):
    """Each group's rate before each of ``steps`` optimizer steps, and after the last."""
    seen = []
    for _ in range(steps):
        seen.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    seen.append([g["lr"] for g in optimizer.param_groups])
    return seen


def two_groups(lr_a=1.0, lr_b=0.1):
    return torch.optim.SGD([{"params": [nn.Parameter(torch.zeros(1))], "lr": lr_a},
                            {"params": [nn.Parameter(torch.zeros(1))], "lr": lr_b}], lr=lr_a)


def expected_warmup_cosine(t, total, warmup):
    if t < warmup:
        return (t + 1) / (warmup + 1)
    return (1 + math.cos(math.pi * (t - warmup) / (total - warmup))) / 2


@pytest.mark.parametrize("total, warmup", [(20, 5), (10, 2), (7, 0), (12, 1)])
def test_warmup_cosine(total, warmup):
    opt = two_groups()
    seen = record(opt, warmup_cosine(opt, total_steps=total, warmup_steps=warmup), total)
    for t, (a, b) in enumerate(seen):
        assert a == pytest.approx(expected_warmup_cosine(t, total, warmup), abs=1e-9), t
        assert b == pytest.approx(a * 0.1, abs=1e-12)  # each group follows its own peak
    a = [row[0] for row in seen]
    assert a[warmup] == pytest.approx(1.0)  # the peak, reached when the warm-up ends
    assert all(x < y for x, y in zip(a[:warmup], a[1 : warmup + 1]))  # rises over the warm-up
    assert all(x > y for x, y in zip(a[warmup:], a[warmup + 1 :]))  # then only falls
    assert a[-1] == pytest.approx(0.0, abs=1e-12)  # to zero at total_steps
    steps = [y - x for x, y in zip(a[:warmup], a[1 : warmup + 1])]
    assert steps == pytest.approx([1 / (warmup + 1)] * warmup)  # in equal steps


def test_warmup_longer_than_the_run_is_cut_short():
    opt = two_groups()
    seen = record(opt, warmup_cosine(opt, total_steps=5, warmup_steps=10), 5)
    assert [row[0] for row in seen] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 0.0])


def test_warmup_cosine_without_warmup_starts_at_the_peak():
    opt = two_groups()
    scheduler = warmup_cosine(opt, total_steps=4, warmup_steps=0)
    assert isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR)
    assert [row[0] for row in record(opt, scheduler, 4)] == pytest.approx([1.0, 0.853553, 0.5, 0.146447, 0.0], abs=1e-6)


@pytest.mark.parametrize("total, pct", [(10, 0.3), (40, 0.1), (20, 0.25)])
def test_one_cycle_peaks_at_each_groups_rate(total, pct):
    opt = two_groups(lr_a=0.5, lr_b=0.02)
    seen = record(opt, one_cycle(opt, total_steps=total, pct_start=pct), total - 1)
    for group, peak in enumerate([0.5, 0.02]):
        curve = [row[group] for row in seen]
        assert max(curve) == pytest.approx(peak)
        assert curve.index(max(curve)) == round(pct * total) - 1
        assert curve[0] == pytest.approx(peak / 25)  # torch's div_factor
        assert curve[-1] < peak / 1000  # annealed to nearly zero
    assert all(a / b == pytest.approx(25.0) for a, b in seen)  # the groups keep their ratio throughout


def test_schedules_accept_what_skorch_passes():
    # skorch's LRScheduler calls policy(optimizer, last_epoch=len(net.history) - 1, **kwargs): -1 for a new net.
    opt = two_groups()
    warmup_cosine(opt, total_steps=10, warmup_steps=2, last_epoch=-1)
    assert opt.param_groups[0]["lr"] == pytest.approx(1 / 3)
    opt = two_groups()
    one_cycle(opt, total_steps=8, pct_start=0.25, last_epoch=-1)
    assert opt.param_groups[0]["lr"] == pytest.approx(1 / 25)
