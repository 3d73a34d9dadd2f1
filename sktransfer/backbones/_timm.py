"""Any timm model as a backbone: ``"timm/<model>[.<pretrained tag>]"``.

timm loads pretrained weights itself, as safetensors or with
``torch.load(..., weights_only=True)`` (this module has no ``torch.load`` of
its own); a cached file that holds more than tensors is refused with
:func:`~sktransfer.backbones._torchvision.unsafe_weights`'s message.
"""

from __future__ import annotations

import os
import pickle

from torch import nn

from ._errors import weights_unavailable
from ._builder import blocks_from_groups
from ._contract import Backbone
from ._registry import register_backbone


class TimmTrunk(nn.Module):
    """Runs a timm model's ``forward_features`` (everything before pooling)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.forward_features(x)


def create_timm_model(model_name, pretrained, **kwargs):
    """``timm.create_model`` without a classifier, with dynamic image size where supported."""
    import timm

    try:
        return timm.create_model(model_name, pretrained=pretrained, num_classes=0, dynamic_img_size=True, **kwargs)
    except TypeError as exc:  # only ViT-style models take dynamic_img_size
        if "dynamic_img_size" not in str(exc):
            raise
        return timm.create_model(model_name, pretrained=pretrained, num_classes=0, **kwargs)


def backbone_from_timm_model(model, name, weights):
    """Wrap an instantiated timm model (classifier removed) as a :class:`Backbone`."""
    from timm.data import resolve_model_data_config
    from timm.models import group_parameters

    trunk = TimmTrunk(model)
    cfg = model.pretrained_cfg or {}
    head = _forward_head_prefixes(cfg)
    groups = group_parameters(model, model.group_matcher(coarse=True))
    ordered = [[f"model.{p}" for p in groups[k] if not p.startswith(head)] for k in sorted(groups)]
    ordered = [group for group in ordered if group]
    for param_name, param in model.named_parameters():  # not `name`: that is the backbone's
        if param_name.startswith(head):  # used by forward_head only: never trained, not a block
            param.requires_grad_(False)
    channels_last = getattr(model, "output_fmt", "NCHW") == "NHWC"
    data_config = resolve_model_data_config(model)  # timm's own reading of input size, mean and std
    return Backbone(
        name=name,
        trunk=trunk,
        blocks=blocks_from_groups([("stem" if i == 0 else None, p) for i, p in enumerate(ordered)], trunk,
                                  prefix="model.", channels_last=channels_last),
        feature_dim=int(model.num_features),
        input_size=tuple(data_config["input_size"][1:]),
        mean=tuple(data_config["mean"]),
        std=tuple(data_config["std"]),
        in_chans=int(data_config["input_size"][0]),
        weights=weights,
        channels_last_output=channels_last,
    )


def _forward_head_prefixes(cfg):
    """Parameter-name prefixes of the parts timm runs in ``forward_head``, not ``forward_features``.

    E.g. ConvNeXt's ``head.norm`` (the classifier is ``head.fc``) or a ViT's
    ``fc_norm``: the trunk's output never passes through them.
    """
    prefixes = ["fc_norm.", "head_norm."]
    classifier = cfg.get("classifier") or ""
    if "." in classifier:
        prefixes.append(classifier.rsplit(".", 1)[0] + ".")
    return tuple(prefixes)


def _cache_dir():
    from huggingface_hub.constants import HF_HUB_CACHE

    return HF_HUB_CACHE


def build_timm(name, weights):
    """Builder for ``timm/<model>``: random init with ``weights=None``."""
    import timm

    model_name = name.split("/", 1)[1]
    if weights not in ("default", None):
        raise ValueError(
            f"weights={weights!r} is not valid for timm backbones; pass 'default' or None, "
            "and choose a pretrained tag in the name, e.g. 'timm/resnet50.a1_in1k'."
        )
    base = model_name.split(".", 1)[0]
    if not timm.is_model(base):
        raise ValueError(f"timm has no model {base!r}; list_backbones('timm/{base[:4]}*') lists similar ones.")
    pretrained = weights == "default"
    if pretrained and not _weights_cached(model_name):
        _check_hub_reachable(name, model_name)  # one request: huggingface_hub would retry for ~45 s offline
    try:
        model = create_timm_model(model_name, pretrained)
    except (OSError, RuntimeError, ValueError, pickle.UnpicklingError) as exc:
        if not pretrained or "timm has no" in str(exc):
            raise
        if isinstance(exc, pickle.UnpicklingError) or "weights_only" in str(exc):
            # The weights are cached but hold more than tensors: say so, not "could not be downloaded".
            # (Imported here: at module level it would register torchvision before timm.)
            from ._torchvision import unsafe_weights

            raise unsafe_weights(name, _cached_weights(model_name), exc) from exc
        predownload = f"python -c \"import timm; timm.create_model('{model_name}', pretrained=True)\""
        raise weights_unavailable(name, f"{_cache_dir()} (HF_HUB_CACHE) or {os.path.join(_torch_hub(), 'checkpoints')}",
                                  predownload, exc) from exc
    return backbone_from_timm_model(model, name, weights)


def _cached_weights(model_name):
    """Where timm caches ``model_name``'s pretrained weights: its Hugging Face cache folder, else the torch hub file."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name)
    if cfg is not None and cfg.hf_hub_id:
        return os.path.join(_cache_dir(), "models--" + cfg.hf_hub_id.replace("/", "--"))
    url = getattr(cfg, "url", None) or ""
    return os.path.join(_torch_hub(), "checkpoints", os.path.basename(url)) if url else _cache_dir()


def _weights_cached(model_name):
    """Whether timm will find ``model_name``'s weights without the network: a local file, the torch hub
    checkpoint of its URL, or a downloaded snapshot of its Hugging Face repository."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name)
    if cfg is None:
        return False
    if cfg.file and os.path.isfile(cfg.file):
        return True
    if cfg.url and os.path.isfile(os.path.join(_torch_hub(), "checkpoints", os.path.basename(cfg.url))):
        return True
    if not cfg.hf_hub_id:
        return False
    snapshots = os.path.join(_cache_dir(), "models--" + cfg.hf_hub_id.split("@")[0].replace("/", "--"), "snapshots")
    return any(files for _, _, files in os.walk(snapshots))


def _check_hub_reachable(name, model_name):
    """Ask the Hugging Face hub once, without retries, for the weights' file; unreachable: the clear error now.

    Offline, ``huggingface_hub`` retries every file timm asks for with a
    growing back-off (about 23 s each, two files): a user without a network
    would wait ~45 s for the error. One request tells. When the hub answers
    (even "no such file"), timm's own download path runs as before.
    """
    import huggingface_hub
    from huggingface_hub.utils import HfHubHTTPError
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name)
    if cfg is None or not cfg.hf_hub_id:
        return  # weights from a URL: torch.hub makes a single attempt of its own
    repo, _, revision = cfg.hf_hub_id.partition("@")
    url = huggingface_hub.hf_hub_url(repo, cfg.hf_hub_filename or "model.safetensors", revision=revision or None)
    try:
        huggingface_hub.get_hf_file_metadata(url, timeout=huggingface_hub.constants.HF_HUB_ETAG_TIMEOUT)
    except HfHubHTTPError:
        return  # the hub answered: the network is there
    except Exception as exc:  # connection refused, no DNS, timeout, HF_HUB_OFFLINE: no network to wait for
        predownload = f"python -c \"import timm; timm.create_model('{model_name}', pretrained=True)\""
        raise weights_unavailable(name, f"{_cache_dir()} (HF_HUB_CACHE) or "
                                        f"{os.path.join(_torch_hub(), 'checkpoints')}", predownload, exc) from exc


def _torch_hub():
    import torch

    return torch.hub.get_dir()


def _list_timm_models():
    import timm

    return timm.list_models()


build_timm.list_models = _list_timm_models
register_backbone("timm", build_timm, prefix=True)
