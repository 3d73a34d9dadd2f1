"""The network of one fit: the pretrained backbone, the blocks the head reads, and the head (LP-FT).

:func:`build_network` reads the estimator's architecture parameters, runs the
probe when the head starts from it (``schedule="lp-ft"``) or when ``layer=``
leaves a choice, and returns the network with the :class:`~sktransfer.nn.ArchSpec`
it is rebuilt from.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from .._auto import auto_image_size, layer_candidates
from .._device import on_device
from .._validation import check_hidden_units, resolve_image_size
from ..backbones import block_indices, build_backbone
from ..nn import ArchSpec, feature_width, make_encoder, make_head, probe_head
from ..training import TaskProbe, encode_images, run_probe
from ._contrastive_fit import resolve_schedule

__all__ = ["BuiltNetwork", "build_network", "warm_network"]


@dataclass
class BuiltNetwork:
    """A network ready to train: the module, its :class:`~sktransfer.nn.ArchSpec`, the probe's result (or None)."""

    module: object
    arch: ArchSpec
    probe: object


def build_network(estimator, data, spec, device, cv_seed):
    """The pretrained backbone and a head: the probe's (LP-FT) or a new one (``"ft"``, or hidden layers).

    Examples
    --------
    See :class:`~sktransfer.FineTunedClassifier`, whose ``fit`` calls it.
    """
    hidden = check_hidden_units(estimator.hidden_units)
    backbone = _build_backbone(estimator.backbone, estimator.weights)
    if backbone.modality == "text":
        image_size = ()  # texts are not resized: each batch pads to its longest text
    elif estimator.image_size == "auto":
        image_size = auto_image_size(data.images.typical_shape(), backbone.input_size)
    else:
        image_size = resolve_image_size(estimator.image_size, backbone)
    candidates = _layer_candidates(estimator.layer, backbone, image_size)
    # The probe initialises linear heads (LP-FT) and is the whole model with a frozen backbone.
    use_probe = not hidden and resolve_schedule(estimator, spec) in ("lp-ft", "contrastive")
    probe = None
    if use_probe or len(candidates) > 1:
        probe = _probe(estimator, backbone, image_size, candidates, data, spec, device, cv_seed)
        layers = candidates[probe.name]
    else:
        layers = next(iter(candidates.values()))
    n_features = feature_width(make_encoder(backbone, image_size, layers, estimator.pooling))
    # The network runs up to the highest block the head reads; the blocks above it never run.
    n_used = len(backbone.blocks) if layers is None else max(layers) + 1
    arch = ArchSpec(backbone=estimator.backbone, weights=estimator.weights, pooling=estimator.pooling,
                    layer=estimator.layer, layers=layers, hidden_units=hidden, dropout=float(estimator.dropout),
                    image_size=image_size, image_size_param=estimator.image_size, n_features=n_features,
                    n_outputs=spec.n_outputs, probe_head=use_probe, blocks=tuple(backbone.blocks[:n_used]),
                    name=backbone.name)
    if use_probe:
        head = probe_head(n_features, spec.n_outputs, probe.scaler, probe.linear)
    else:
        head = make_head(n_features, spec.n_outputs, hidden, float(estimator.dropout))
        probe = None if probe is None else _without_history(probe)
    return BuiltNetwork(arch.build_network(backbone, head), arch, probe)


def _build_backbone(backbone, weights):
    """The backbone, or a TypeError when a user's module cannot take images (torch's shape error, explained)."""
    try:
        return build_backbone(backbone, weights)
    except RuntimeError as exc:
        if not isinstance(backbone, torch.nn.Module):
            raise
        raise TypeError(
            f"backbone={type(backbone).__name__} cannot take images: a module backbone maps (N, C, H, W) float "
            f"images to feature maps (N, D, h, w) or features (N, D), and a test image failed ({exc}). Pass a "
            "convolutional network (e.g. a torchvision model without its classifier), a registered name, or "
            "Backbone.from_module(module, in_chans=..., input_size=...)."
        ) from exc


def warm_network(estimator):
    """``warm_start``: a copy of the fitted network, if the architecture parameters still match it."""
    changed = estimator.arch_spec_.changed_params(estimator.get_params(deep=False))
    if changed:
        raise ValueError(
            f"warm_start=True continues the fitted network, but {', '.join(changed)} changed since "
            "it was fitted; set warm_start=False to start from the pretrained backbone."
        )
    module = copy.deepcopy(estimator.module_)
    for layer in module.head.modules():
        if isinstance(layer, torch.nn.Dropout):
            layer.p = float(estimator.dropout)
    return BuiltNetwork(module, estimator.arch_spec_, None)


def _layer_candidates(layer, backbone, image_size):
    """The block sets to choose among: ``layer="auto"``'s candidates, or the one ``layer=`` names."""
    if layer == "auto" and backbone.modality == "text":
        return {"final": None}  # the sentence embedding the language model was trained to give
    if layer == "auto":
        return layer_candidates(len(backbone.blocks), image_size)
    layers = block_indices(backbone.blocks, layer, backbone.name)
    return {"final": None} if layers is None else {"given": sorted(set(layers))}


def _probe(estimator, backbone, image_size, candidates, data, spec, device, cv_seed):
    """The probe on the training rows, over every candidate (one round trip: they share the trunk)."""
    train_targets = data.targets[data.train_idx]
    task_probe = TaskProbe(make=lambda: estimator._make_probe(spec),
                           fit=lambda features, targets: estimator._fit_probe(features, targets, spec),
                           stratify=estimator._stratify(train_targets) is not None, seed=cv_seed)

    def encode(encoder):
        return encode_images(encoder.to(device), data.images, device, batch_size=estimator.batch_size,
                             verbose=estimator.verbose, indices=data.train_idx)

    with on_device(backbone.trunk, device):
        encoders = {name: make_encoder(backbone, image_size, layers, estimator.pooling)
                    for name, layers in candidates.items()}
        return run_probe(task_probe, encoders, encode, train_targets)


def _without_history(probe):
    """The probe's choice of blocks and scores, without the model: a new head trains from scratch."""
    return type(probe)(probe.name, probe.scores, probe.scaler, probe.linear, None)
