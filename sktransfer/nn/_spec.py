"""ArchSpec: what a fitted network is, so that it can be rebuilt, pickled, exported and explained.

A fitted estimator keeps its trained :class:`BackboneNetwork` and the spec it
was built from. Pickles and exported files hold the spec and one state dict;
loading rebuilds the network from the spec (the backbone's *structure*, no
weight file, no network) and loads the state dict. This module is the one
place that builds a network from a spec.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .._device import cpu_copy
from ..backbones import build_backbone
from ._text_encoder import make_encoder
from ._heads import make_head, probe_head
from ._network import BackboneNetwork

__all__ = ["ARCHITECTURE_PARAMS", "ArchSpec"]

#: Estimator parameters that fix the network's shape: warm start needs them unchanged.
ARCHITECTURE_PARAMS = ("backbone", "weights", "pooling", "hidden_units", "layer", "image_size")


@dataclass(frozen=True)
class ArchSpec:
    """The architecture of a network over a backbone (read-only).

    Parameters
    ----------
    backbone : str, Backbone or torch.nn.Module
        The estimator's ``backbone`` parameter.
    weights : str or None
        The estimator's ``weights`` parameter.
    pooling : str
    layer : object
        The estimator's ``layer`` parameter, as given.
    layers : list of int or None
        The blocks the head reads (None: the trunk's final output).
    hidden_units : tuple of int
    dropout : float
    image_size : tuple of int
        ``(H, W)`` the network resizes its input to.
    image_size_param : object
        The estimator's ``image_size`` parameter, as given.
    n_features, n_outputs : int
        The head's input and output widths.
    probe_head : bool
        Whether the head is the probe's (a fixed standardisation, then a linear layer).
    blocks : tuple of Block
        The backbone's blocks the network runs (up to the highest one the head reads).
    name : str
        The backbone's name.

    Examples
    --------
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer.nn import ArchSpec
    >>> bb = get_backbone("timm/test_resnet", weights=None)
    >>> spec = ArchSpec(backbone="timm/test_resnet", weights=None, pooling="avg", layer=None, layers=None,
    ...                 hidden_units=(), dropout=0.0, image_size=(32, 32), image_size_param=32,
    ...                 n_features=bb.feature_dim, n_outputs=3, probe_head=False, blocks=tuple(bb.blocks),
    ...                 name=bb.name)
    >>> import torch
    >>> spec.build_network().eval()(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 3])
    >>> ArchSpec.from_dict(spec.to_dict()) == spec
    True
    """

    backbone: object
    weights: object
    pooling: str
    layer: object
    layers: object
    hidden_units: tuple
    dropout: float
    image_size: tuple
    image_size_param: object
    n_features: int
    n_outputs: int
    probe_head: bool
    blocks: tuple
    name: str

    def build_network(self, backbone=None, head=None):
        """The network: ``backbone`` (default: its structure, randomly initialised) and ``head`` (default: new)."""
        if backbone is None:
            backbone = build_backbone(self.backbone, None)  # structure only: the weights come from a state dict
        encoder = make_encoder(backbone, self.image_size, self.layers, self.pooling)
        if head is None:
            if self.probe_head:  # buffers and weights come from the state dict
                head = probe_head(self.n_features, self.n_outputs)
            else:
                head = make_head(self.n_features, self.n_outputs, self.hidden_units, self.dropout)
        return BackboneNetwork(encoder, head)

    def load_network(self, state_dict):
        """The network rebuilt from this spec with the trained ``state_dict`` loaded, in eval mode."""
        module = self.build_network()
        module.load_state_dict(state_dict)
        return module.train(False)

    def changed_params(self, params):
        """Names of :data:`ARCHITECTURE_PARAMS` whose value in ``params`` differs from this spec's."""
        given = {"image_size": self.image_size_param}
        return [name for name in ARCHITECTURE_PARAMS
                if not _same(given.get(name, getattr(self, name)), params[name])]

    def on_cpu(self):
        """This spec with a CPU copy of a ``backbone`` module that lives on another device."""
        return dataclasses.replace(self, backbone=cpu_copy(self.backbone))

    def to_dict(self):
        """Plain data (strings, numbers, lists): everything but the blocks, which :meth:`from_dict` rebuilds."""
        # A backbone pre-trained further (SelfSupervisedPretrainer) has its base's structure, and the
        # state dict exported beside this spec holds every weight: the base's name rebuilds it.
        backbone = getattr(self.backbone, "structure_name", self.backbone)
        if not isinstance(backbone, str):
            raise ValueError(
                "export_weights needs a named backbone (e.g. 'efficientnet_lite0', 'timm/<model>'); this model's "
                f"backbone is a {type(self.backbone).__name__} object, which only a pickle can carry.")
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "blocks"}
        return {**fields, "backbone": backbone}

    @classmethod
    def from_dict(cls, data):
        """The inverse of :meth:`to_dict` (lists back to tuples; the blocks from the backbone's structure)."""
        data = dict(data)
        for name in ("image_size", "hidden_units"):
            data[name] = tuple(data[name])
        n_used = None if data["layers"] is None else max(data["layers"]) + 1
        blocks = build_backbone(data["backbone"], None).blocks
        return cls(**data, blocks=tuple(blocks[:n_used]))


def _same(a, b):
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return tuple(a) == tuple(b)
    return a is b
