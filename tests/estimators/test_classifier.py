"""Tests of FineTunedClassifier: freezing, schedules, augmentation, caching, sklearn behaviour."""

import io
import pickle

import joblib
import numpy as np
import pytest
import torch
from scipy.special import softmax
from skorch.callbacks import Callback
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.estimator_checks import parametrize_with_checks

from sktransfer import PretrainedFeatureExtractor
from sktransfer import FineTunedClassifier
from sktransfer.backbones import get_backbone
from sktransfer.nn import PRESETS, BatchAugment
from sktransfer.nn import encode_batches
from sktransfer.nn import BackboneNetwork
from tiny import CLASSIFIER_FAILED_CHECKS as EXPECTED_FAILED_CHECKS
from tiny import FAST

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def small(digits):
    """120 digits (12 per class) for training, 60 for testing."""
    X, y = digits
    return X[:120], y[:120], X[120:180], y[120:180]


class Snapshot(Callback):
    """Records the net's state when training starts and after every epoch."""

    def __init__(self, tag=None):
        self.tag = tag

    def on_train_begin(self, net, **kwargs):
        self.start_ = _state(net.module_)
        self.epochs_ = []
        self.optimizer_ = net.optimizer_
        self.criterion_ = net.criterion_
        self.groups_ = [(g["lr"], g["weight_decay"], [id(p) for p in g["params"]]) for g in net.optimizer_.param_groups]
        self.param_ids_ = {name: id(p) for name, p in net.module_.named_parameters()}

    def on_epoch_end(self, net, **kwargs):
        self.epochs_.append(_state(net.module_))


def _state(module):
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


# --------------------------------------------------------------------------- sklearn's checks


@parametrize_with_checks(
    [FineTunedClassifier(**{**FAST, "input_shape": None})],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_what_sklearn_checks_would_check_on_images(small):
    """The tabular checks above cannot run; the same properties, on images."""
    X, y, Xt, yt = small
    clf = FineTunedClassifier(**FAST)
    params = clf.get_params()
    assert clf.fit(X, y) is clf  # fit returns self
    assert clf.get_params() == params  # parameters untouched by fit
    assert clf.n_features_in_ == 64
    proba = clf.predict_proba(Xt)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(Xt)), proba, rtol=1e-6)
    # Predictions do not depend on the batch an image is in (frozen BN, eval mode).
    order = np.random.RandomState(0).permutation(len(Xt))
    np.testing.assert_allclose(clf.predict_proba(Xt[order]), proba[order], atol=1e-5)
    np.testing.assert_allclose(clf.predict_proba(Xt[:7]), proba[:7], atol=1e-5)
    # Idempotent: refitting gives the same model.
    np.testing.assert_array_equal(clone(clf).fit(X, y).predict_proba(Xt), proba)
    with pytest.raises(ValueError, match="expecting 64 features"):
        clf.predict(Xt[:, :32])


# --------------------------------------------------------------------------- freezing


def _block_params(backbone, k):
    top = set(backbone.trainable_parameters(k))
    everything = [name for name, _ in backbone.trunk.named_parameters()]
    return top, [name for name in everything if name not in top]


@pytest.mark.parametrize("name, weights, k", [
    ("efficientnet_lite0", "default", 2),
    ("timm/resnet18", None, 1),
    ("torchvision/resnet18", None, 2),
])
def test_trainable_blocks_freezes_exactly_the_blocks_below(small, name, weights, k):
    X, y, _, _ = small
    snap = Snapshot()
    clf = FineTunedClassifier(name, weights=weights, trainable_blocks=k, image_size=32, input_shape=(8, 8),
                              max_epochs=1, min_steps=0, layer=None, augment=None, batch_size=20,
                              validation_fraction=None, verbose=0, random_state=0,
                              callbacks=[("snap", snap)])
    clf.fit(X[:60], y[:60])
    backbone = get_backbone(name, weights)
    top, below = _block_params(backbone, k)
    assert top and below
    after = _state(clf.module_)
    before = snap.start_
    for p in below:
        key = "encoder.trunk." + p
        assert torch.equal(before[key], after[key]), f"frozen parameter {p} changed"
    for p in top:
        key = "encoder.trunk." + p
        assert not torch.equal(before[key], after[key]), f"trainable parameter {p} did not change"
    # BatchNorm running statistics: frozen blocks untouched, trainable blocks updated.
    bn_frozen, bn_trained = 0, 0
    for mod_name, module in backbone.trunk.named_modules():
        if not isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            continue
        key = f"encoder.trunk.{mod_name}.running_mean"
        if f"{mod_name}.weight" in top:
            bn_trained += 1
            assert not torch.equal(before[key], after[key]), f"BN {mod_name} in a trained block did not update"
        else:
            bn_frozen += 1
            assert torch.equal(before[key], after[key]), f"BN {mod_name} in a frozen block updated its stats"
            assert torch.equal(before[key.replace("running_mean", "running_var")],
                               after[key.replace("running_mean", "running_var")])
    assert bn_frozen and bn_trained
    assert clf.trainable_blocks_ == k and clf.n_blocks_ == len(backbone.blocks)
    # The start of training was the pretrained (or seeded) backbone itself.
    if weights == "default":
        for p, value in backbone.trunk.state_dict().items():
            assert torch.equal(before["encoder.trunk." + p], value)


def test_frozen_modules_stay_in_eval_mode_while_training():
    from sktransfer.nn import ImageEncoder
    from sktransfer.nn import make_head

    backbone = get_backbone("timm/resnet18", weights=None)
    module = BackboneNetwork(ImageEncoder(backbone, (32, 32)), make_head(512, 3))
    module.set_trainable(backbone.trainable_parameters(1))
    module.train()
    trunk = module.encoder.trunk
    for name, sub in trunk.named_modules():
        if isinstance(sub, torch.nn.BatchNorm2d):
            assert sub.training == name.startswith("model.layer4"), name
    module.eval().train()  # switching modes again keeps the frozen part in eval mode
    assert not trunk.get_submodule("model.layer3").training and trunk.get_submodule("model.layer4").training
    module.set_trainable([], all_trunk=True)
    assert all(sub.training for sub in trunk.modules())


def test_all_and_zero_blocks(small):
    X, y, Xt, yt = small
    snap = Snapshot()
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": "all", "callbacks": [snap]}).fit(X, y)
    after = _state(clf.module_)
    changed = [k for k in snap.start_ if k.endswith("weight") and not torch.equal(snap.start_[k], after[k])]
    n_weights = sum(1 for k in after if k.endswith("weight"))
    assert len(changed) == n_weights  # every weight, stem included, trained
    assert clf.trainable_blocks_ == clf.n_blocks_ == 5


def test_trainable_blocks_out_of_range_names_the_range(small):
    X, y, _, _ = small
    with pytest.raises(ValueError, match=r"trainable_blocks=6 is out of range.*use 0\.\.5 or 'all'"):
        FineTunedClassifier(**{**FAST, "trainable_blocks": 6}).fit(X, y)
    with pytest.raises(ValueError, match="trainable_blocks"):
        FineTunedClassifier(**{**FAST, "trainable_blocks": "some"}).fit(X, y)


# --------------------------------------------------------------------------- optimisation


def test_layer_wise_learning_rates_in_param_groups(small):
    X, y, _, _ = small
    snap = Snapshot()
    FineTunedClassifier(**{**FAST, "trainable_blocks": 2, "lr": 0.01, "lr_decay": 0.5, "lr_schedule": None,
                           "weight_decay": 0.05, "callbacks": [snap]}).fit(X, y)
    backbone = get_backbone("timm/test_resnet", weights=None)
    lr_of = {}
    for lr, wd, ids in snap.groups_:
        assert wd == 0.05
        for i in ids:
            lr_of[i] = lr
    ids = snap.param_ids_
    for depth, block in enumerate(reversed(backbone.blocks[-2:]), start=1):
        for p in block.params:
            assert lr_of[ids["encoder.trunk." + p]] == pytest.approx(0.01 * 0.5**depth)
    for name in ids:
        if name.startswith("head."):
            assert lr_of[ids[name]] == pytest.approx(0.01)
    frozen = [p for b in backbone.blocks[:-2] for p in b.params]
    assert not any(ids["encoder.trunk." + p] in lr_of for p in frozen)  # frozen: not in the optimizer
    assert len(snap.groups_) == 3  # one group per learning rate
    assert isinstance(snap.optimizer_, torch.optim.AdamW)


def test_cosine_schedule_warms_up_then_decays(small):
    X, y, _, _ = small
    clf = FineTunedClassifier(**{**FAST, "max_epochs": 4, "warmup_epochs": 1, "batch_size": 30}).fit(X, y)
    lrs = [b["event_lr"] for epoch in clf.history_ for b in epoch["batches"]]
    assert len(lrs) == 16  # 4 batches per epoch, 4 epochs
    peak = int(np.argmax(lrs))
    assert peak == 4  # right after the 4 warm-up steps
    assert all(a < b for a, b in zip(lrs[:peak], lrs[1:peak + 1]))
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:]))
    assert lrs[-1] < 0.05 * max(lrs)
    assert clf.history_[-1, "lr"] == pytest.approx(0.0, abs=1e-12)  # the head's lr after the last step


def test_onecycle_and_constant_schedules(small):
    X, y, Xt, _ = small
    one = FineTunedClassifier(**{**FAST, "lr_schedule": "onecycle", "max_epochs": 2}).fit(X, y)
    lrs = [b["event_lr"] for epoch in one.history_ for b in epoch["batches"]]
    assert max(lrs) > 10 * lrs[0] and lrs[-1] < lrs[0]
    const = FineTunedClassifier(**{**FAST, "lr_schedule": None, "max_epochs": 2, "lr": 3e-3}).fit(X, y)
    assert const.history_[:, "lr"] == [3e-3, 3e-3]


def test_gradual_unfreezing(small):
    X, y, _, _ = small
    snap = Snapshot()
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": 2, "unfreeze_every": 1, "max_epochs": 3,
                                 "callbacks": [snap]}).fit(X, y)
    assert clf.history_[:, "trainable_blocks"] == [0, 1, 2]
    backbone = get_backbone("timm/test_resnet", weights=None)
    top1, _ = _block_params(backbone, 1)
    top2, below = _block_params(backbone, 2)
    second = (top2 - top1).pop()
    key = lambda p: "encoder.trunk." + p  # noqa: E731
    after_epoch1 = snap.epochs_[0]
    for p in top2:  # head only in epoch 1
        assert torch.equal(after_epoch1[key(p)], snap.start_[key(p)])
    assert not torch.equal(snap.epochs_[1][key(top1.pop())], after_epoch1[key(p)])
    assert torch.equal(snap.epochs_[1][key(second)], snap.start_[key(second)])  # second block: from epoch 3
    assert not torch.equal(snap.epochs_[2][key(second)], snap.start_[key(second)])
    for p in below:
        assert torch.equal(snap.epochs_[2][key(p)], snap.start_[key(p)])


def test_head_hidden_units_and_dropout(small):
    X, y, Xt, _ = small
    clf = FineTunedClassifier(**{**FAST, "hidden_units": (32, 16), "dropout": 0.3}).fit(X, y)
    linears = [m for m in clf.module_.head if isinstance(m, torch.nn.Linear)]
    width = get_backbone("timm/test_resnet", weights=None).feature_dim
    assert [(m.in_features, m.out_features) for m in linears] == [(width, 32), (32, 16), (16, 10)]
    assert sum(isinstance(m, torch.nn.Dropout) for m in clf.module_.head) == 3
    np.testing.assert_array_equal(clf.predict_proba(Xt), clf.predict_proba(Xt))  # no dropout at predict


# --------------------------------------------------------------------------- augmentation


class Recorder:
    """An augmentation that records the batches it sees and shifts them slightly."""

    def __init__(self):
        self.sizes = []

    def __call__(self, x):
        assert x.dtype == torch.float32 and x.min() >= 0 and x.max() <= 1
        self.sizes.append(x.shape[0])
        return (x + 0.05).clamp(0, 1)


def test_augmentation_runs_on_training_batches_only(small):
    X, y, Xt, _ = small
    recorder = Recorder()
    clf = FineTunedClassifier(**{**FAST, "augment": recorder, "validation_fraction": 0.25, "max_epochs": 2,
                                 "batch_size": 20})
    clf.fit(X, y)
    # 90 training images (30 held out) -> batches 20, 20, 20, 20, 10, for 2 epochs.
    assert recorder.sizes == [20, 20, 20, 20, 10] * 2
    assert not clf.features_cached_
    assert "valid_acc" in clf.history_[-1]
    first = clf.predict_proba(Xt)
    clf.predict(Xt)
    clf.score(Xt, small[3])
    assert len(recorder.sizes) == 10  # predict, predict_proba and score never augment
    np.testing.assert_array_equal(first, clf.predict_proba(Xt))


@pytest.mark.parametrize("preset", ["light", "strong"])
def test_augmentation_presets(small, preset):
    X, y, Xt, _ = small
    clf = FineTunedClassifier(**{**FAST, "augment": preset}).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(Xt), clf.predict_proba(Xt))
    # Presets never flip: an image bright on the left stays brighter on the left.
    torch.manual_seed(0)
    images = torch.zeros(256, 1, 32, 32)
    images[..., :, :12] = 1.0
    out = BatchAugment(**PRESETS[preset])(images)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    assert bool((out[..., :, :16].mean(dim=(1, 2, 3)) > out[..., :, 16:].mean(dim=(1, 2, 3)) + 0.2).all())
    assert not torch.equal(out[0], out[1])  # random per image, not per batch


def test_unknown_augmentation_preset(small):
    X, y, _, _ = small
    with pytest.raises(ValueError, match=r"'augment' parameter.*'light'"):
        FineTunedClassifier(**{**FAST, "augment": "heavy"}).fit(X, y)


def test_torchvision_v2_transform_as_augment(small):
    from torchvision.transforms import v2

    X, y, Xt, _ = small
    clf = FineTunedClassifier(**{**FAST, "augment": v2.RandomAffine(degrees=5, translate=(0.1, 0.1))}).fit(X, y)
    assert clf.predict(Xt).shape == (60,)


# --------------------------------------------------------------------------- frozen shortcut


def test_frozen_backbone_computes_features_once(small, monkeypatch):
    X, y, Xt, _ = small
    image_forwards = []
    original = BackboneNetwork.forward

    def counting(self, x):
        if self.training and x.ndim == 4:
            image_forwards.append(len(x))
        return original(self, x)

    monkeypatch.setattr(BackboneNetwork, "forward", counting)
    encoded = []
    import sktransfer.training._run as ft  # where the frozen backbone encodes the training images

    def spy(*args, **kwargs):
        out = encode_batches(*args, **kwargs)
        encoded.append(len(out))
        return out

    monkeypatch.setattr(ft, "encode_batches", spy)
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": 0, "max_epochs": 3, "validation_fraction": 0.2,
                                 "schedule": "ft"})  # "lp-ft" would fit the probe instead of training epochs
    clf.fit(X, y)
    assert clf.features_cached_
    assert encoded == [120]  # one backbone pass over all images (train and validation) per fit
    assert image_forwards == []  # no backbone pass in any of the 3 epochs
    assert len(clf.history_) == 3 and "valid_loss" in clf.history_[-1]
    # predict runs the full module, and agrees with features + head.
    proba = clf.predict_proba(Xt)
    from sktransfer.images import as_image_set

    module = clf.module_.eval()
    feats = encode_batches(module.encoder, as_image_set(Xt, input_shape=(8, 8)), batch_size=16,
                           device=torch.device("cpu"))
    with torch.no_grad():
        expected = softmax(module.head(torch.from_numpy(feats)).double().numpy(), axis=1)
    np.testing.assert_allclose(proba, expected, atol=1e-5)

    # With augmentation the backbone must run every epoch.
    encoded.clear()
    FineTunedClassifier(**{**FAST, "trainable_blocks": 0, "max_epochs": 2, "augment": "light",
                           "schedule": "ft"}).fit(X, y)
    assert encoded == [] and sum(image_forwards) == 2 * 120


# --------------------------------------------------------------------------- validation and early stopping


class Sabotage(Callback):
    """From epoch ``start`` on, adds large noise to the head's weights before each epoch, so the validation
    loss rises whatever the machine's rounding (a too-high learning rate blew up on some CPUs, not others)."""

    def __init__(self, start=4):
        self.start = start

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) >= self.start:  # skorch has already opened this epoch's row
            generator = torch.Generator().manual_seed(len(net.history))
            with torch.no_grad():
                for p in net.module_.head.parameters():
                    p.add_(10.0 * torch.randn(p.shape, generator=generator))


def test_history_and_early_stopping_restores_best_weights(small):
    X, y, _, _ = small
    snap = Snapshot()
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": "all", "lr_schedule": None, "max_epochs": 12,
                                 "validation_fraction": 0.25, "early_stopping": 2, "fallback_to_probe": False,
                                 "callbacks": [snap, Sabotage(start=4)]}).fit(X, y)
    assert clf.selected_ == "fine-tuned" and clf.selection_scores_ == {}
    hist = clf.history_
    for key in ("train_loss", "valid_loss", "train_acc", "valid_acc"):
        assert all(np.isfinite(hist[:, key]))
    best = max(i for i, flag in enumerate(hist[:, "valid_loss_best"]) if flag)
    assert best == int(np.argmin(hist[:, "valid_loss"])) < 3  # the sabotaged epochs (4 on) are worse
    assert len(hist) == best + 3  # stopped after 2 epochs without improvement
    final = _state(clf.module_)
    for key, value in snap.epochs_[best].items():
        assert torch.equal(final[key], value), key
    with pytest.raises(ValueError, match="validation_fraction"):
        FineTunedClassifier(**{**FAST, "early_stopping": 2}).fit(X, y)


def test_auto_validation_fraction_splits_only_for_early_stopping(small):
    X, y, _, _ = small
    params = {k: v for k, v in FAST.items() if k != "validation_fraction"}
    # 20 images of 10 classes: no room for a stratified split, and none is made by default.
    plain = FineTunedClassifier(**params).fit(X[:20], y[:20])
    assert "valid_loss" not in plain.history_[-1]
    stopped = FineTunedClassifier(**{**params, "early_stopping": 3, "max_epochs": 2}).fit(X, y)
    assert np.isfinite(stopped.history_[-1, "valid_loss"])  # "auto" held 10% out


def test_stratified_validation_split_error(small):
    X, y, _, _ = small
    with pytest.raises(ValueError, match="validation_fraction=0.05 cannot make a stratified split"):
        FineTunedClassifier(**{**FAST, "validation_fraction": 0.05}).fit(X[:40], y[:40])


# --------------------------------------------------------------------------- sklearn behaviour


def test_string_and_noncontiguous_labels(small):
    X, y, Xt, yt = small
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = FineTunedClassifier(**{**FAST, "max_epochs": 3, "trainable_blocks": "all"}).fit(X, names[y])
    assert list(clf.classes_) == sorted(names)
    pred = clf.predict(Xt)
    assert set(pred) <= set(names) and pred.dtype.kind == "U"
    assert 0 <= clf.score(Xt, names[yt]) <= 1
    codes = np.array([3, 10, 42, 7, 100, 5, 8, 9, 11, 12])[y]
    clf = FineTunedClassifier(**FAST).fit(X, codes)
    assert set(clf.predict(Xt)) <= set(codes) and list(clf.classes_) == sorted(set(codes))


def test_random_state_reproducible_and_global_rng_untouched(small):
    X, y, Xt, _ = small
    params = {**FAST, "augment": "strong", "dropout": 0.2, "validation_fraction": 0.2, "max_epochs": 2}
    torch.manual_seed(123)
    a = FineTunedClassifier(**params).fit(X, y).predict_proba(Xt)
    after_fit = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(after_fit, torch.rand(3))  # fit restores torch's global generator
    b = FineTunedClassifier(**params).fit(X, y).predict_proba(Xt)
    np.testing.assert_array_equal(a, b)
    c = FineTunedClassifier(**{**params, "random_state": 1}).fit(X, y).predict_proba(Xt)
    assert not np.array_equal(a, c)


def test_pickle_round_trip_and_cpu_only_state(small, monkeypatch):
    X, y, Xt, _ = small
    clf = FineTunedClassifier(**{**FAST, "hidden_units": (8,)}).fit(X, y)
    proba = clf.predict_proba(Xt)
    buffer = io.BytesIO()
    joblib.dump(clf, buffer)
    state = clf.__getstate__()
    assert "module_" not in state
    assert all(t.device.type == "cpu" for t in state["_module_state"].values())
    # What this proves: the pickle holds plain CPU tensors and no device-bound
    # object, so loading needs no CUDA; we load with CUDA reported missing.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.predict_proba(Xt), proba)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict(Xt), clf.predict(Xt))
    assert loaded.history_[-1, "train_loss"] == clf.history_[-1, "train_loss"]
    # A model fitted with device="cuda" says what to do on a machine without it.
    loaded.set_params(device="cuda")
    with pytest.raises(ValueError, match="device='auto'"):
        loaded.predict(Xt)
    loaded.set_params(device="auto")
    np.testing.assert_array_equal(loaded.predict_proba(Xt), proba)


def test_pickled_weights_survive_without_the_pretrained_source(small, monkeypatch):
    """Unpickling never needs the pretrained weights: they are in the pickle."""
    X, y, Xt, _ = small
    clf = FineTunedClassifier(**{**FAST, "backbone": "efficientnet_lite0", "weights": "default",
                                 "image_size": 32}).fit(X[:40], y[:40])
    data = pickle.dumps(clf)
    import sktransfer.backbones._builtin as builtin

    def no_file(variant):
        raise AssertionError("unpickling must not read the weights file")

    monkeypatch.setattr(builtin, "lite_weights_path", no_file)
    np.testing.assert_array_equal(pickle.loads(data).predict_proba(Xt), clf.predict_proba(Xt))


def test_clone_is_cheap_and_carries_no_weights(small):
    X, y, Xt, _ = small
    clf = FineTunedClassifier(**FAST).fit(X, y)
    proba = clf.predict_proba(Xt)
    twin = clone(clf)
    assert not hasattr(twin, "module_") and not hasattr(twin, "classes_") and not hasattr(twin, "history_")
    assert twin.get_params() == clf.get_params()
    assert len(pickle.dumps(twin)) < 5000
    twin.set_params(max_epochs=2, lr=0.01).fit(X, y)
    assert twin.module_ is not clf.module_
    np.testing.assert_array_equal(clf.predict_proba(Xt), proba)  # the original is untouched


def test_every_fit_starts_from_pretrained_weights_unless_warm_start(small):
    X, y, _, _ = small
    snap = Snapshot()
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": "all", "callbacks": [snap]})
    clf.fit(X, y)
    first_start, first_end = snap.start_, _state(clf.module_)
    clf.fit(X, y)  # warm_start=False: from the same initial weights again
    for key, value in first_start.items():
        assert torch.equal(snap.start_[key], value), key
    clf.set_params(warm_start=True).fit(X, y)  # continues from the fitted weights
    for key, value in first_end.items():
        assert torch.equal(snap.start_[key], value), key
    with pytest.raises(ValueError, match="classes of the previous fit"):
        clf.fit(X[y < 5], y[y < 5])
    with pytest.raises(ValueError, match="hidden_units changed"):
        clf.set_params(hidden_units=(4,)).fit(X, y)


def test_grid_search_over_freeze_depth_and_lr(small):
    X, y, Xt, yt = small
    search = GridSearchCV(FineTunedClassifier(**FAST), {"trainable_blocks": [0, 1, "all"], "lr": [1e-3, 1e-4]},
                          cv=3)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 6
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.classes_.tolist() == list(range(10))
    assert search.best_estimator_.trainable_blocks == search.best_params_["trainable_blocks"]
    assert search.predict(Xt).shape == (60,)


def test_pipeline_and_cross_val_score(small):
    X, y, _, _ = small
    from sklearn.preprocessing import FunctionTransformer

    pipe = Pipeline([("scale", FunctionTransformer(lambda a: a * 0.5)), ("clf", FineTunedClassifier(**FAST))])
    scores = cross_val_score(pipe, X, y, cv=2)
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))


def test_nested_skorch_parameters(small, capsys):
    X, y, _, _ = small
    snap = Snapshot()
    clf = FineTunedClassifier(**{**FAST, "callbacks": [("snap", snap)], "verbose": 1},
                              optimizer__betas=(0.8, 0.95), criterion__label_smoothing=0.1)
    assert clf.get_params()["optimizer__betas"] == (0.8, 0.95)
    assert clone(clf).get_params()["criterion__label_smoothing"] == 0.1
    clf.set_params(optimizer__weight_decay=0.3, callbacks__print_log__floatfmt=".2f", callbacks__snap__tag="x")
    clf.fit(X, y)
    assert snap.optimizer_.param_groups[0]["betas"] == (0.8, 0.95)
    assert all(g["weight_decay"] == 0.3 for g in snap.optimizer_.param_groups)  # overrides weight_decay
    assert snap.criterion_.label_smoothing == 0.1
    assert snap.tag == "x"
    table = capsys.readouterr().out
    assert "train_loss" in table and "train_acc" in table
    row = table.strip().splitlines()[-1]
    assert all(len(cell.split(".")[-1]) <= 2 + 12 for cell in row.split() if "." in cell)
    search = GridSearchCV(FineTunedClassifier(**FAST), {"optimizer__weight_decay": [0.0, 0.1]}, cv=2).fit(X, y)
    assert search.best_estimator_.get_params()["optimizer__weight_decay"] in (0.0, 0.1)
    with pytest.raises(TypeError, match="Did you mean 'max_epochs'"):
        FineTunedClassifier(**FAST, max_epoch=3).fit(X, y)
    with pytest.raises(TypeError, match="optimizer__"):
        FineTunedClassifier(**FAST, module__depth=3).fit(X, y)


def test_verbose_prints_the_epoch_table_and_zero_is_silent(small, capsys):
    X, y, _, _ = small
    FineTunedClassifier(**{**FAST, "verbose": 1, "validation_fraction": 0.2, "max_epochs": 2}).fit(X, y)
    out = capsys.readouterr().out
    for column in ("epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "lr", "dur"):
        assert column in out
    assert len([line for line in out.splitlines() if line.strip().startswith(("1 ", "2 "))]) == 2
    FineTunedClassifier(**FAST).fit(X, y).predict(X)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_class_weight(small):
    X, y, _, _ = small
    X, y = X[:80], y[:80]
    y = np.where(y < 3, y, 3)  # imbalanced: classes 0, 1, 2 small, 3 large
    for class_weight in ("balanced", {0: 5.0, 1: 2.0}):
        snap = Snapshot()
        FineTunedClassifier(**{**FAST, "class_weight": class_weight, "callbacks": [snap]}).fit(X, y)
        expected = compute_class_weight(class_weight, classes=np.arange(4), y=y)
        np.testing.assert_allclose(snap.criterion_.weight.numpy(), expected, rtol=1e-6)


def test_lists_of_images_of_different_sizes_and_paths(photos, image_files):
    paths, labels = image_files
    clf = FineTunedClassifier(**{**FAST, "input_shape": None, "batch_size": 4}).fit(paths, labels)
    assert clf.predict(paths).shape == (12,)
    assert not hasattr(clf, "n_features_in_")
    images = [photos[0], photos[1], photos[0][:200, :300], photos[1][::2, ::2]]
    for extra in ({"augment": "light"}, {"trainable_blocks": 0}):  # image batches / cached features
        clf = FineTunedClassifier(**{**FAST, "input_shape": None, **extra}).fit(images, ["a", "b", "a", "b"])
        assert set(clf.predict(images)) <= {"a", "b"}
        assert clf.features_cached_ == ("trainable_blocks" in extra)


# --------------------------------------------------------------------------- errors


def test_bad_input_errors(small):
    X, y, Xt, yt = small
    clf = FineTunedClassifier(**FAST)
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="120 images but y has 119 labels"):
        clf.fit(X, y[:-1])
    X_nan = X.copy()
    X_nan[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X_nan, y)
    with pytest.raises(ValueError, match="input_shape"):
        FineTunedClassifier(**{**FAST, "input_shape": None}).fit(X, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        clf.fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="hidden_units must be a tuple of positive ints"):
        FineTunedClassifier(**{**FAST, "hidden_units": (16, 0)}).fit(X, y)
    clf.fit(X[y < 5], y[y < 5])
    with pytest.raises(ValueError, match=r"never seen in fit: \[5, 6"):
        clf.score(Xt, yt)
    assert 0 <= clf.score(Xt[yt < 5], yt[yt < 5]) <= 1


def test_failed_refit_leaves_the_fitted_model_intact(small):
    X, y, Xt, _ = small
    clf = FineTunedClassifier(**FAST).fit(X, y)
    module, proba, history = clf.module_, clf.predict_proba(Xt), clf.history_

    def broken(x):
        raise RuntimeError("augmentation exploded")

    bad_settings = [dict(trainable_blocks=99), dict(augment="heavy"), dict(augment=broken)]
    for bad in bad_settings:
        clf.set_params(**bad)
        with pytest.raises((ValueError, RuntimeError)):
            clf.fit(X, y)
        clf.set_params(**{k: FineTunedClassifier().get_params()[k] if k != "trainable_blocks" else 2 for k in bad})
        assert clf.module_ is module and clf.history_ is history
        np.testing.assert_array_equal(clf.predict_proba(Xt), proba)
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X, np.ones(len(X)))
    np.testing.assert_array_equal(clf.predict_proba(Xt), proba)


def test_unfitted_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        FineTunedClassifier().predict(np.zeros((2, 64)))


# --------------------------------------------------------------------------- real data


def test_frozen_head_is_the_converged_logistic_regression(digits):
    """trainable_blocks=0: the probe is the model, equal to extractor + scaler + LogisticRegression."""
    X, y = digits
    Xtr, ytr, Xte = X[:100], y[:100], X[1000:1300]
    params = dict(image_size=128, input_shape=(8, 8), trainable_blocks=0, verbose=0, random_state=0)
    clf = FineTunedClassifier(**params, max_epochs=1).fit(Xtr, ytr)
    assert clf.layers_ == [3, 4, 5] and set(clf.probe_scores_) == {"final", "mid"}  # "auto" chose by CV
    assert clf.probe_scores_["mid"] > clf.probe_scores_["final"]
    assert clf.n_steps_ == 0 and clf.n_blocks_ == 6  # blocks 6 and 7 are never run
    small = FineTunedClassifier(**{**params, "image_size": 64}).fit(Xtr, ytr)
    assert small.layers_ == [3, 4, 5] and set(small.probe_scores_) == {"mid"}  # a 2x2 final map is no candidate
    features = PretrainedFeatureExtractor(layer=clf.layers_, image_size=128, input_shape=(8, 8), verbose=0)
    reference = make_pipeline(features, StandardScaler(), LogisticRegression(max_iter=1000)).fit(Xtr, ytr)
    # L-BFGS stops at its tol: float32 features that differ in their last bits (batches of another size,
    # another CPU's kernels) move a probability by up to 5.4e-4 on some machines.
    np.testing.assert_allclose(clf.predict_proba(Xte), reference.predict_proba(Xte), atol=1e-3)
    np.testing.assert_array_equal(clf.predict(Xte), reference.predict(Xte))
    # Independent of the epoch budget: nothing is trained by epochs.
    many = FineTunedClassifier(**params, max_epochs=50).fit(Xtr, ytr)
    np.testing.assert_array_equal(many.predict_proba(Xte), clf.predict_proba(Xte))
    # The old schedule trains a random head for max_epochs and is far from converged after one.
    plain = FineTunedClassifier(**params, max_epochs=1, min_steps=0, schedule="ft").fit(Xtr, ytr)
    assert plain.n_steps_ > 0
    assert (plain.predict(Xte) == y[1000:1300]).mean() < (clf.predict(Xte) == y[1000:1300]).mean() - 0.2


def test_binary_probe_and_decision_function(small):
    X, y, Xt, yt = small
    keep, keep_t = y < 2, yt < 2
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": 0}).fit(X[keep], y[keep])
    scores = clf.decision_function(Xt[keep_t])
    assert scores.shape == (keep_t.sum(),)
    np.testing.assert_array_equal(clf.predict(Xt[keep_t]), clf.classes_[(scores > 0).astype(int)])
    np.testing.assert_allclose(clf.predict_proba(Xt[keep_t])[:, 1], 1 / (1 + np.exp(-scores)), rtol=1e-5)


def test_lp_ft_starts_fine_tuning_from_the_probe(small):
    X, y, _, _ = small
    probe = FineTunedClassifier(**{**FAST, "trainable_blocks": 0}).fit(X, y)
    snap = Snapshot()
    FineTunedClassifier(**{**FAST, "trainable_blocks": 1, "callbacks": [snap]}).fit(X, y)
    head = {k: v for k, v in _state(probe.module_).items() if k.startswith("head.")}
    assert head and all(torch.equal(snap.start_[k], v) for k, v in head.items())
    # schedule="ft": a new random head, no scaler.
    snap_ft = Snapshot()
    FineTunedClassifier(**{**FAST, "trainable_blocks": 1, "schedule": "ft", "callbacks": [snap_ft]}).fit(X, y)
    assert not any(k.startswith("head.0.mean") for k in snap_ft.start_)


def test_min_steps_counts_the_budget_in_optimizer_steps(small):
    X, y, _, _ = small
    # 40 images in batches of 16: 3 steps per epoch, so 20 steps need 7 epochs.
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": 1, "min_steps": 20}).fit(X[:40], y[:40])
    assert len(clf.history_) == 7 and clf.n_steps_ == 21
    assert list(clf.history_[:, "n_steps"]) == [3] * 7
    big = FineTunedClassifier(**{**FAST, "trainable_blocks": 1, "min_steps": 2, "max_epochs": 2}).fit(X, y)
    assert len(big.history_) == 2  # enough steps per epoch: max_epochs rules


def test_auto_early_stopping_needs_enough_images_per_class(small, monkeypatch):
    import sktransfer.estimators._classifier as ft

    X, y, _, _ = small
    params = {**FAST, "trainable_blocks": 1, "max_epochs": 3, "validation_fraction": "auto",
              "early_stopping": "auto"}
    few = FineTunedClassifier(**params).fit(X, y)  # 12 images per class: every one trains
    assert "valid_loss" not in few.history_[-1]
    monkeypatch.setattr(ft, "MIN_PER_CLASS_FOR_VALIDATION", 5)  # the smallest class has 9
    held = FineTunedClassifier(**params).fit(X, y)
    assert np.isfinite(held.history_[-1, "valid_loss"])
    assert "valid_loss_best" in held.history_[-1]  # the early-stopping callback watched it


def test_l2sp_keeps_the_backbone_near_its_start(small):
    X, y, _, _ = small
    start = get_backbone("timm/test_resnet", weights=None)
    params = {**FAST, "weights": "default", "trainable_blocks": "all", "lr": 0.05, "max_epochs": 3,
              "backbone": start}

    def drift(**extra):
        clf = FineTunedClassifier(**params, **extra).fit(X, y)
        trained = clf.module_.encoder.trunk.state_dict()
        return sum(float(((trained[k] - v) ** 2).sum()) for k, v in start.trunk.state_dict().items()
                   if v.is_floating_point() and "running" not in k)

    free, held = drift(), drift(l2sp=10.0)
    assert held < 0.5 * free, (held, free)


def test_test_time_augmentation(small):
    X, y, Xt, _ = small
    clf = FineTunedClassifier(**{**FAST, "trainable_blocks": 1, "max_epochs": 2}).fit(X, y)
    plain = clf.decision_function(Xt)
    assert plain.shape == (len(Xt), 10)
    np.testing.assert_array_equal(clf.classes_[plain.argmax(1)], clf.predict(Xt))
    clf.set_params(tta=3)
    views = clf.decision_function(Xt)
    assert not np.allclose(views, plain)
    np.testing.assert_array_equal(views, clf.decision_function(Xt))  # seeded by random_state
    np.testing.assert_allclose(clf.predict_proba(Xt), softmax(views, axis=1), rtol=1e-6)
    np.testing.assert_array_equal(clf.classes_[views.argmax(1)], clf.predict(Xt))
    # A probe-only model never saw augmented images: tta leaves it the plain probe.
    probe = FineTunedClassifier(**{**FAST, "trainable_blocks": 0, "tta": 3}).fit(X, y)
    assert probe.n_steps_ == 0
    np.testing.assert_array_equal(probe.decision_function(Xt), probe.set_params(tta=0).decision_function(Xt))


def test_image_size_auto_follows_the_images(small, photos):
    X, y, _, _ = small
    clf = FineTunedClassifier(**{**FAST, "image_size": "auto", "trainable_blocks": 0}).fit(X[:20], y[:20])
    assert clf.image_size_ == (32, 32)  # 8x8 digits: the smallest size, not the backbone's 224
    big = FineTunedClassifier(**{**FAST, "image_size": "auto", "trainable_blocks": 0, "input_shape": None})
    largest = tuple(get_backbone("timm/test_resnet", weights=None).input_size)
    assert big.fit(photos, [0, 1]).image_size_ == largest  # photographs: the backbone's own size
