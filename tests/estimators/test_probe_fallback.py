"""Fine-tuning checked against its probe (fallback_to_probe), and the "auto" recipe for glyphs and photographs."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from sklearn.utils._param_validation import InvalidParameterError

import tiny
from sktransfer import DomainAdaptiveClassifier, FineTunedClassifier, FineTunedRegressor
from sktransfer._auto import GLYPH_RECIPE, PHOTO_RECIPE

pytestmark = pytest.mark.usefixtures("one_thread")

#: A fit that fine-tunes the whole network, with a quarter held out to judge it.
JUDGED = {**tiny.FAST, "trainable_blocks": "all", "max_epochs": 3, "validation_fraction": 0.25, "layer": None}


class Wreck(Callback):
    """Ruins the head after every epoch: the fine-tuned network then loses to the probe it started from."""

    def on_epoch_end(self, net, **kwargs):
        generator = torch.Generator().manual_seed(len(net.history))
        with torch.no_grad():
            for p in net.module_.head.parameters():
                p.add_(30.0 * torch.randn(p.shape, generator=generator))


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:200], y[:200], X[200:400], y[200:400]


def test_a_wrecked_fine_tune_falls_back_to_the_probe(data):
    X, y, X_test, y_test = data
    clf = FineTunedClassifier(**JUDGED, callbacks=[Wreck()]).fit(X, y)
    assert clf.selected_ == "probe" and clf.n_steps_ == 0
    assert clf.selection_scores_["probe"] > clf.selection_scores_["fine-tuned"]
    # The model is the probe the fit started from: the probe-only fit (same split, same probe) predicts alike.
    probe = FineTunedClassifier(**{**JUDGED, "trainable_blocks": 0}).fit(X, y)
    assert probe.selected_ == "probe" and probe.selection_scores_ == {}
    np.testing.assert_allclose(clf.predict_proba(X_test), probe.predict_proba(X_test), atol=1e-5)
    assert len(clf.history_) == 3  # the fine-tune's epochs stay on record


def test_fallback_off_keeps_the_fine_tuned_network(data):
    X, y, X_test, _ = data
    clf = FineTunedClassifier(**JUDGED, callbacks=[Wreck()], fallback_to_probe=False).fit(X, y)
    assert clf.selected_ == "fine-tuned" and clf.selection_scores_ == {} and clf.n_steps_ > 0
    kept = FineTunedClassifier(**JUDGED, callbacks=[Wreck()]).fit(X, y)
    assert not np.allclose(clf.predict_proba(X_test), kept.predict_proba(X_test), atol=1e-3)


def test_a_fine_tune_that_scores_as_well_is_kept(data):
    X, y, _, _ = data
    clf = FineTunedClassifier(**JUDGED).fit(X, y)
    scores = clf.selection_scores_
    assert set(scores) == {"probe", "fine-tuned"} and all(0 <= v <= 1 for v in scores.values())
    assert clf.selected_ == ("fine-tuned" if scores["fine-tuned"] >= scores["probe"] else "probe")


def test_without_a_validation_split_nothing_judges(data):
    X, y, _, _ = data
    clf = FineTunedClassifier(**{**JUDGED, "validation_fraction": None}, callbacks=[Wreck()]).fit(X, y)
    assert clf.selected_ == "fine-tuned" and clf.selection_scores_ == {} and clf.n_steps_ > 0


def test_the_regressor_falls_back_by_r2(data):
    X, y, _, _ = data
    ink = (X > 0.5).sum(axis=1).astype(float)
    reg = FineTunedRegressor(**JUDGED, callbacks=[Wreck()]).fit(X, ink)
    assert reg.selected_ == "probe" and reg.selection_scores_["probe"] > reg.selection_scores_["fine-tuned"]


def test_domain_adaptation_is_never_judged_on_the_source(data):
    X, y, _, _ = data
    y_fit = np.where(np.arange(len(y)) < 150, y, -1)
    params = {k: v for k, v in JUDGED.items()}
    clf = DomainAdaptiveClassifier(**params, callbacks=[Wreck()]).fit(X, y_fit)
    assert clf.selected_ == "fine-tuned" and clf.selection_scores_ == {}
    assert "fallback_to_probe" not in clf.get_params()


@pytest.mark.parametrize("shape, recipe", [((8, 8), GLYPH_RECIPE), ((64, 64), PHOTO_RECIPE)])
def test_auto_recipe_follows_the_image_size(shape, recipe):
    rng = np.random.default_rng(0)
    X, y = rng.random((24, *shape, 3)).astype(np.float32), np.repeat([0, 1], 12)
    params = {**tiny.FAST, "input_shape": None, "augment": "auto", "min_steps": 1}
    clf = FineTunedClassifier(**{**params, "lr": "auto"}).fit(X, y)
    assert (clf.lr_, clf.augment_) == (recipe["lr"], recipe["augment"])
    clf = FineTunedClassifier(**{**params, "lr": 3e-4}).fit(X, y)
    assert (clf.lr_, clf.augment_) == (3e-4, recipe["augment"])
    assert clf.history_[-1]["lr"] <= 3e-4  # the head's rate is the one given


def test_regressor_auto_keeps_one_image_recipe_and_bad_values_are_refused(data):
    X, y, _, _ = data
    # The size rule was measured for classification: the regressor's "auto" is its one image recipe.
    reg = FineTunedRegressor(**{**tiny.FAST, "lr": "auto", "augment": "auto"}).fit(X, y.astype(float))
    assert (reg.lr_, reg.augment_) == (1e-2, "light")
    with pytest.raises(InvalidParameterError, match="lr"):
        FineTunedRegressor(**{**tiny.FAST, "lr": "fast"}).fit(X, y.astype(float))
    with pytest.raises(InvalidParameterError, match="fallback_to_probe"):
        FineTunedClassifier(**{**tiny.FAST, "fallback_to_probe": "yes"}).fit(X, y)


def test_a_perfect_probe_is_kept_without_fine_tuning():
    # Dark and bright images: any probe separates them, so the validation split has nothing to show.
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.random((40, 8, 8)) * 0.2, 0.8 + rng.random((40, 8, 8)) * 0.2])
    y = np.repeat([0, 1], 40)
    clf = FineTunedClassifier(**{**JUDGED, "max_epochs": 50}).fit(X, y)
    assert clf.selected_ == "probe" and clf.selection_scores_ == {"probe": 1.0}
    assert clf.n_steps_ == 0 and len(clf.history_) == 1  # the probe's own record: no epoch of fine-tuning
    forced = FineTunedClassifier(**{**JUDGED, "max_epochs": 2, "fallback_to_probe": False}).fit(X, y)
    assert forced.n_steps_ > 0 and forced.selected_ == "fine-tuned"
