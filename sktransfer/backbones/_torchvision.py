"""Any torchvision classification model as a backbone: ``"torchvision/<model>"``.

torchvision models have no common "features" API, so each family gets a small
recipe that cuts the classifier off and names the blocks. Weights load through
torchvision's own weights enums and ``torch.hub`` cache, with
``weights_only=True``: a file planted in the cache is refused, never run.
"""

from __future__ import annotations

import os
import pickle
import re
from collections import OrderedDict

import torch
from torch import nn

from ._errors import WeightsUnavailableError, weights_unavailable
from ._builder import blocks_from_groups, infer_feature_dim
from ._contract import IMAGENET_MEAN, IMAGENET_STD, Backbone
from ._registry import register_backbone


class ViTTrunk(nn.Module):
    """torchvision ViT up to the final LayerNorm; returns tokens ``(N, 1+T, D)``."""

    def __init__(self, vit):
        super().__init__()
        self.vit = vit

    def forward(self, x):
        vit = self.vit
        x = vit._process_input(x)
        cls = vit.class_token.expand(x.shape[0], -1, -1)
        return vit.encoder(torch.cat([cls, x], dim=1))


class ToChannelsFirst(nn.Module):
    """``(N, H, W, C)`` to ``(N, C, H, W)`` (Swin's stages are channels-last)."""

    def forward(self, x):
        return x.permute(0, 3, 1, 2)


def _children(model, names):
    return OrderedDict((n, getattr(model, n)) for n in names)


def _trunk_and_groups(family, model):
    """Return ``(trunk, [(block name, module name inside trunk)])`` for a family."""
    if family in ("resnet", "resnext", "wide"):
        trunk = nn.Sequential(_children(model, ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]))
        return trunk, [("stem", ["conv1", "bn1"], "maxpool")] + [(f"layer{i}", [f"layer{i}"]) for i in range(1, 5)]
    if family == "regnet":
        trunk = nn.Sequential(OrderedDict(stem=model.stem, trunk_output=model.trunk_output))
        stages = [f"trunk_output.{n}" for n, _ in model.trunk_output.named_children()]
        return trunk, [("stem", ["stem"])] + [(s.split(".")[-1], [s]) for s in stages]
    if family == "vit":
        model.heads = nn.Identity()  # the classifier is not part of the trunk
        trunk = ViTTrunk(model)
        layers = [f"vit.encoder.layers.{n}" for n, _ in model.encoder.layers.named_children()]
        stem = ["vit.conv_proj", "vit.class_token", "vit.encoder.pos_embedding"]
        groups = [("stem", stem, "vit.conv_proj")] + [(f"block{i}", [l]) for i, l in enumerate(layers)]
        groups[-1] = (groups[-1][0], [layers[-1], "vit.encoder.ln"], "vit.encoder.ln")
        return trunk, groups
    if family == "swin":
        trunk = nn.Sequential(OrderedDict(features=model.features, norm=model.norm, permute=ToChannelsFirst()))
    elif family == "convnext":  # the classifier starts with the final LayerNorm2d
        trunk = nn.Sequential(OrderedDict(features=model.features, norm=model.classifier[0]))
    elif family == "densenet":  # torchvision applies the final ReLU in forward()
        trunk = nn.Sequential(OrderedDict(features=model.features, relu=nn.ReLU()))
    elif family == "mnasnet":
        trunk = nn.Sequential(OrderedDict(features=model.layers))
    elif family in ("efficientnet", "mobilenet", "vgg", "alexnet", "squeezenet"):
        trunk = nn.Sequential(OrderedDict(features=model.features))
    else:
        raise ValueError(f"torchvision family {family!r} is not supported as a backbone.")
    feats = [f"features.{n}" for n, m in trunk.features.named_children() if any(True for _ in m.parameters())]
    groups = [(_feature_block_name(f), [f]) for f in feats]
    if family in ("swin", "convnext"):  # the final norm belongs to the top block
        groups[-1] = (groups[-1][0], groups[-1][1] + ["norm"], "norm")
    return trunk, groups


def _feature_block_name(module_name):
    child = module_name.split(".", 1)[1]
    return f"features{child}" if child.isdigit() else child


FAMILIES = ("resnet", "resnext", "wide", "regnet", "vit", "swin", "convnext", "densenet", "mnasnet",
            "efficientnet", "mobilenet", "vgg", "alexnet", "squeezenet")


def _family(model_name):
    for family in FAMILIES:
        if model_name.startswith(family):
            return family
    raise ValueError(
        f"torchvision/{model_name} is not supported: supported families are {', '.join(FAMILIES)}. "
        "Wrap the model yourself with Backbone.from_module(...)."
    )


def _weights_enum(model_name, weights):
    from torchvision.models import get_model_weights

    if weights is None:
        return None
    enum = get_model_weights(model_name)
    if weights == "default":
        return enum.DEFAULT
    try:
        return enum[weights]
    except KeyError:
        raise ValueError(
            f"torchvision/{model_name} has no weights {weights!r}; choose from "
            f"{[w.name for w in enum]}, 'default' or None."
        ) from None


def unsafe_weights(name, path, cause):
    """The error for cached weights that ``weights_only=True`` refused to load.

    Such a file holds more than tensors (pickled code, or it is corrupt); it
    was not run. The fix is to delete it so that the genuine file is
    downloaded again. ``path`` is the file, or the cache folder holding it.
    """
    # torch's and timm's messages suggest weights_only=False, the one thing not to do with this
    # file: keep only what the file references (e.g. posix.system).
    found = re.search(r"(?:GLOBAL|globals:)\s*([\w.]+)", str(cause))
    detail = f"it references {found.group(1).rstrip('.')}, which is not a tensor" if found else "it holds more than tensors"
    rm = "rm -r" if os.path.isdir(path) else "rm"
    return WeightsUnavailableError(
        f"The cached weights {path} for backbone {name!r} are not a plain weights file: loading them "
        f"with weights_only=True refused them ({detail}). The file may be corrupt or have been tampered with, "
        f"so it was not loaded and nothing in it ran. Delete it ({rm} {path}) and build the backbone again "
        "to download the genuine weights, or pass weights=None."
    )


def load_torchvision_model(model_name, weights):
    """Instantiate a torchvision model and load its weights through torch.hub's cache.

    The state dict is loaded with ``weights_only=True`` (torch.hub's default
    is False): a cached file is trusted for tensors only, so a file planted in
    the cache cannot run code when a backbone is built or a model naming one
    is unpickled.
    """
    from torchvision.models import get_model

    enum = _weights_enum(model_name, weights)
    model = get_model(model_name, weights=None)
    if enum is not None:
        try:
            # The real download-and-cache code; a file already in the cache is used as is, which is
            # why weights_only matters: check_hash only checks downloads, never the cached file.
            state = torch.hub.load_state_dict_from_url(
                enum.url, progress=False, check_hash=True, map_location="cpu", weights_only=True
            )
        except pickle.UnpicklingError as exc:  # what weights_only=True raises for anything but tensors
            cached = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(enum.url))
            raise unsafe_weights(f"torchvision/{model_name}", cached, exc) from exc
        except (OSError, RuntimeError) as exc:  # URLError is an OSError
            cache = os.path.join(torch.hub.get_dir(), "checkpoints")
            predownload = (f"python -c \"import torchvision; torchvision.models.get_model('{model_name}', "
                           f"weights='{enum.name}')\"   (TORCH_HOME sets the cache)")
            raise weights_unavailable(f"torchvision/{model_name}", cache, predownload, exc) from exc
        model.load_state_dict(state)
    return model, enum


def build_torchvision(name, weights):
    """Builder for ``torchvision/<model>``."""
    model_name = name.split("/", 1)[1]
    if model_name not in list_torchvision_models():
        raise ValueError(f"torchvision has no classification model {model_name!r}; see list_backbones('torchvision/*').")
    family = _family(model_name)
    model, enum = load_torchvision_model(model_name, weights)
    trunk, groups = _trunk_and_groups(family, model)
    params = dict(trunk.named_parameters())
    param_groups = []
    for block_name, members, *output in groups:
        owned = [p for p in params if any(p == m or p.startswith(m + ".") for m in members)]
        param_groups.append((block_name, owned, output[0] if output else members[-1]))
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    size = (224, 224)
    if enum is not None:
        tf = enum.transforms()
        mean, std = tuple(tf.mean), tuple(tf.std)
        size = (int(tf.crop_size[0]),) * 2
    elif family in ("vit", "swin"):
        size = (int(getattr(model, "image_size", 224)),) * 2
    if family == "vit":
        size = (model.image_size, model.image_size)  # torchvision ViT takes one size only
    # Swin's stages and final norm work channels-last; only the trunk's end permutes.
    blocks = blocks_from_groups(param_groups, trunk, channels_last=family == "swin")
    return Backbone(
        name=name,
        trunk=trunk,
        blocks=blocks,
        feature_dim=infer_feature_dim(trunk, 3, size),
        input_size=size,
        mean=mean,
        std=std,
        weights=None if enum is None else enum.name,
        extra={"fixed_input_size": family == "vit"},
    )


def list_torchvision_models():
    """Names of torchvision's classification models."""
    import torchvision.models

    return torchvision.models.list_models(module=torchvision.models)


build_torchvision.list_models = list_torchvision_models
register_backbone("torchvision", build_torchvision, prefix=True)
