"""SelfSupervisedPretrainer: it changes the backbone, and the estimators built on it keep the change."""

import pickle
import signal

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score

from sktransfer import (DomainAdaptiveClassifier, FineTunedClassifier, FineTunedRegressor,
                        PretrainedFeatureExtractor, SelfSupervisedPretrainer, export_weights, load_weights)
from sktransfer.backbones import get_backbone
from sktransfer.nn import BatchAugment, feature_width, make_encoder
from sktransfer.training import BYOLObjective, train_self_supervised

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(backbone="timm/test_resnet", weights=None, image_size=16, max_epochs=2, batch_size=16, verbose=0,
            random_state=0)
NET = dict(weights=None, image_size=16, max_epochs=1, min_steps=2, batch_size=16, augment=None, tta=0,
           validation_fraction=None, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def images(digits):
    X, y = digits
    return X[:96].reshape(-1, 8, 8), y[:96]


@pytest.fixture(scope="module", params=["simclr", "byol", "cluster", "masked"])
def fitted(request, images):
    X, _ = images
    return SelfSupervisedPretrainer(method=request.param, n_clusters=8, **TINY).fit(X)


def _trunk(backbone):
    return {k: v.clone() for k, v in backbone.trunk.state_dict().items()}


def test_fit_changes_the_blocks_it_shapes_and_records_its_epochs(fitted):
    with torch.random.fork_rng():
        torch.manual_seed(np.random.RandomState(0).randint(2**31 - 1))  # the draw fit made for its random init
        start = _trunk(get_backbone("timm/test_resnet", weights=None))
    now = _trunk(fitted.backbone_)
    assert fitted.layers_ == [1, 2, 3] and fitted.image_size_ == (16, 16)  # the extractor's rule for 8x8 digits
    changed = {k.split(".")[1] for k in start if not torch.equal(start[k], now[k])}  # model.<block>.
    assert {"layer1", "layer2", "layer3"} <= changed and "layer4" not in changed  # the top block never ran
    assert fitted.n_epochs_ == len(fitted.history_) == 2 and 1 <= fitted.best_epoch_ <= 2
    if fitted.method == "cluster":  # each epoch's clusters differ: its losses do not compare, the last is kept
        assert fitted.best_epoch_ == 2
    assert all(np.isfinite(h["train_loss"]) and np.isfinite(h["valid_loss"]) for h in fitted.history_)
    assert fitted.backbone_.extra["self_supervised"] == fitted.method


def test_fit_is_reproducible_with_a_seed(images, fitted):
    X, _ = images
    again = SelfSupervisedPretrainer(method=fitted.method, n_clusters=8, **TINY).fit(X)
    assert all(torch.equal(a, b) for a, b in zip(_trunk(again.backbone_).values(), _trunk(fitted.backbone_).values()))


def test_every_estimator_takes_the_fitted_pretrainer_as_its_backbone(images, fitted):
    X, y = images
    mine = PretrainedFeatureExtractor(fitted, image_size=16, layer=1, verbose=0).fit_transform(X[:20])
    base = PretrainedFeatureExtractor("timm/test_resnet", weights=None, image_size=16, layer=1, verbose=0,
                                      random_state=0).fit_transform(X[:20])
    by_hand = PretrainedFeatureExtractor(fitted.to_backbone(), image_size=16, layer=1, verbose=0).fit_transform(X[:20])
    assert np.allclose(mine, by_hand, atol=1e-6) and not np.allclose(mine, base, atol=1e-3)
    for model, target in [(FineTunedClassifier(fitted, **NET), y), (FineTunedRegressor(fitted, **NET), y / 9.0),
                          (DomainAdaptiveClassifier(fitted, **NET), np.where(np.arange(len(y)) < 70, y, -1))]:
        model.fit(X, target)
        assert model.predict(X[:5]).shape == (5,)
    state = fitted.backbone_.trunk.state_dict()
    assert all(torch.equal(state[k], v) for k, v in _trunk(fitted.to_backbone()).items())  # never changed by them


def test_clones_grid_searches_and_pickles_keep_the_adapted_backbone(images, fitted, tmp_path):
    X, y = images
    clf = FineTunedClassifier(fitted, **NET)
    copied = clone(clf).backbone
    assert copied is not fitted and hasattr(copied, "backbone_")
    assert all(torch.equal(a, b) for a, b in zip(_trunk(copied.backbone_).values(), _trunk(fitted.backbone_).values()))
    assert not hasattr(clone(SelfSupervisedPretrainer(**TINY)), "backbone_")  # an unfitted one clones as usual
    assert np.isfinite(cross_val_score(clf, X, y, cv=2)).all()
    clf.fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    assert np.allclose(restored.predict_proba(X[:10]), clf.predict_proba(X[:10]), atol=1e-6)
    path = tmp_path / "model.pt"
    export_weights(clf, path)
    loaded = load_weights(path)  # no warning: the base's name stands for the structure
    assert loaded.backbone == "timm/test_resnet"
    assert np.allclose(loaded.predict_proba(X[:10]), clf.predict_proba(X[:10]), atol=1e-5)
    again = pickle.loads(pickle.dumps(fitted))
    assert all(torch.equal(a, b) for a, b in zip(_trunk(again.to_backbone()).values(), _trunk(fitted.backbone_).values()))


def test_an_unfitted_pretrainer_as_backbone_says_to_fit_it(images):
    X, y = images
    with pytest.raises(NotFittedError, match="call fit"):
        FineTunedClassifier(SelfSupervisedPretrainer(**TINY), **NET).fit(X, y)


def test_bad_parameters_and_inputs_get_clear_errors(images):
    X, _ = images
    for method in ("simclr", "byol"):
        with pytest.raises(ValueError, match=f"method='{method}' .* augment=None makes them identical"):
            SelfSupervisedPretrainer(method=method, augment=None, **TINY).fit(X)
    with pytest.raises(ValueError, match="momentum"):
        SelfSupervisedPretrainer(method="byol", momentum=1.0, **TINY).fit(X)
    with pytest.raises(ValueError, match="at least 2 training images"):
        SelfSupervisedPretrainer(**TINY).fit(X[:1])
    with pytest.raises(ValueError, match="method"):
        SelfSupervisedPretrainer(method="dino", **TINY).fit(X)
    with pytest.raises(ValueError, match="at most one per image; got n_clusters=100"):
        SelfSupervisedPretrainer(method="cluster", **TINY).fit(X)  # 100 clusters of 96 images
    with pytest.raises(ValueError, match="at least 2"):
        SelfSupervisedPretrainer(method="cluster", n_clusters=1, **TINY).fit(X)
    with pytest.raises(ValueError, match="takes texts"):
        SelfSupervisedPretrainer("all-MiniLM-L6-v2").fit(["a text", "another"])
    assert SelfSupervisedPretrainer(method="masked", augment=None, **TINY).fit(X).n_epochs_ == 2


def test_byol_target_is_a_moving_average_of_the_trained_network():
    encoder = make_encoder(get_backbone("timm/test_resnet", weights=None), (16, 16), [1], "avg")
    objective = BYOLObjective(encoder, BatchAugment(hflip=0.5), feature_width(encoder), momentum=0.75)
    target_before = _trunk(objective.target_encoder)
    assert all(torch.equal(v, encoder.trunk.state_dict()[k]) for k, v in target_before.items())  # starts as a copy
    assert not any(p.requires_grad for p in objective.target_encoder.parameters())
    objective.train()
    assert not objective.target_encoder.training  # its BatchNorm keeps the pretrained statistics
    optimizer = torch.optim.SGD([p for p in objective.parameters() if p.requires_grad], lr=0.5)
    objective(torch.randint(0, 255, (8, 3, 16, 16), dtype=torch.uint8)).backward()
    optimizer.step()
    online = {k: v.clone() for k, v in encoder.trunk.named_parameters()}
    objective.after_step()
    target = dict(objective.target_encoder.trunk.named_parameters())
    moved = [k for k in online if not torch.equal(online[k], target_before[k])]
    assert moved  # the step trained the online network; the target lags a quarter of the way behind
    for k in moved:
        assert torch.allclose(target[k], 0.75 * target_before[k] + 0.25 * online[k], atol=1e-6)


class _Pull(torch.nn.Module):
    """A stand-in objective: training pulls the weight towards 5, the held-out loss is its distance to 1."""

    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Module()
        self.encoder.trunk = torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.zeros_(self.encoder.trunk.weight)
        self.encoder.image_size, self.encoder.in_chans = (8, 8), 1

    def forward(self, x, rows):
        w = self.encoder.trunk.weight.sum() + 0 * x.float().sum()
        return (w - 5) ** 2 if self.training else (w - 1) ** 2


def test_the_loop_stops_on_the_held_out_loss_and_keeps_the_best_epoch(images):
    from sktransfer.images import as_image_set

    X, _ = images
    pull = _Pull()
    history, kept_epoch, interrupted = train_self_supervised(
        pull, as_image_set(X[:40]), train_idx=np.arange(32), valid_idx=np.arange(32, 40),
        optimizer=torch.optim.SGD(pull.parameters(), lr=0.02), max_epochs=30, batch_size=8, patience=2,
        device=torch.device("cpu"), rng=np.random.default_rng(0))
    losses = [h["valid_loss"] for h in history]
    best = int(np.argmin(losses))
    assert not interrupted and len(history) == best + 3  # two epochs without a better held-out loss
    assert kept_epoch == best + 1
    assert (pull.encoder.trunk.weight.item() - 1) ** 2 == pytest.approx(losses[best], rel=1e-5)


@pytest.mark.usefixtures("python_sigint")
@pytest.mark.parametrize("on_interrupt", ["raise", "keep"])
def test_ctrl_c_keeps_the_previous_fit_or_the_best_weights_so_far(images, monkeypatch, on_interrupt):
    import sktransfer.training._selfsup as selfsup

    X, _ = images
    pre = SelfSupervisedPretrainer(**TINY).fit(X)
    before = _trunk(pre.backbone_)
    step, calls = selfsup._step, []

    def ctrl_c(*args):
        calls.append(1)
        if len(calls) == 7:  # in the second epoch
            signal.raise_signal(signal.SIGINT)
        return step(*args)

    monkeypatch.setattr(selfsup, "_step", ctrl_c)
    pre.set_params(on_interrupt=on_interrupt)
    if on_interrupt == "raise":
        with pytest.raises(KeyboardInterrupt):
            pre.fit(X)
        assert all(torch.equal(before[k], v) for k, v in _trunk(pre.backbone_).items())
    else:
        with pytest.warns(UserWarning, match="interrupted"):
            pre.fit(X)
        assert pre.interrupted_ and pre.n_epochs_ == 1 and pre.best_epoch_ == 1


@pytest.fixture()
def python_sigint():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
