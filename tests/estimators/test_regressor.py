"""Tests of FineTunedRegressor: targets in their own units, the ridge probe, losses, sklearn behaviour."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback

from sktransfer import FineTunedRegressor
from sktransfer.images import as_image_set
from sktransfer.nn import encode_batches
from sktransfer.training._probe import RIDGE_ALPHAS
from tiny import REGRESSOR_FAILED_CHECKS as EXPECTED_FAILED_CHECKS
from tiny import FAST

pytestmark = pytest.mark.usefixtures("one_thread")



@pytest.fixture(scope="module")
def ink(digits):
    """A continuous target on real images: how many of a digit's 64 pixels are dark, and its mean ink."""
    X, _ = digits
    Y = np.column_stack([(X > 0.5).sum(axis=1), X.mean(axis=1) * 100]).astype(np.float64)
    return X[:150], Y[:150], X[150:250], Y[150:250]


# --------------------------------------------------------------------------- sklearn's checks


@parametrize_with_checks(
    [FineTunedRegressor(**{**FAST, "input_shape": None})],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_what_sklearn_checks_would_check_on_images(ink):
    """The tabular checks above cannot run; the same properties, on images."""
    X, Y, Xt, Yt = ink
    reg = FineTunedRegressor(**FAST)
    params = reg.get_params()
    assert reg.fit(X, Y[:, 0]) is reg
    assert reg.get_params() == params
    assert reg.n_features_in_ == 64 and reg.n_outputs_ == 1
    pred = reg.predict(Xt)
    assert pred.shape == (len(Xt),) and pred.dtype == np.float64
    np.testing.assert_allclose(clone(reg).fit(X, Y[:, 0]).predict(Xt), pred, rtol=1e-5)  # idempotent
    np.testing.assert_allclose(reg.predict(Xt[::-1]), pred[::-1], rtol=1e-5)  # order invariant
    np.testing.assert_allclose(reg.predict(Xt[:7]), pred[:7], rtol=1e-5)  # subset invariant
    assert reg.score(Xt, Yt[:, 0]) == pytest.approx(r2_score(Yt[:, 0], pred))
    two = clone(reg).fit(X, Y)  # several targets
    assert two.predict(Xt).shape == (len(Xt), 2) and two.n_outputs_ == 2
    column = clone(reg).fit(X, Y[:, :1])  # a one-column 2-D y stays 2-D
    assert column.predict(Xt).shape == (len(Xt), 1)


# --------------------------------------------------------------------------- targets and probe


def test_targets_are_standardised_and_restored(ink):
    """Training sees standardised targets, so y and a*y + b give the same network and a*pred + b."""
    X, Y, Xt, _ = ink
    params = {**FAST, "trainable_blocks": 1, "max_epochs": 2}
    base = FineTunedRegressor(**params).fit(X, Y[:, 0]).predict(Xt)
    shifted = FineTunedRegressor(**params).fit(X, 1000.0 * Y[:, 0] - 77.0).predict(Xt)
    np.testing.assert_allclose(shifted, 1000.0 * base - 77.0, rtol=1e-4, atol=1e-2)
    probe = FineTunedRegressor(**{**FAST, "trainable_blocks": 0}).fit(X, 1000.0 * Y[:, 0] - 77.0).predict(X)
    assert abs(probe.mean() - (1000.0 * Y[:, 0].mean() - 77.0)) < 1.0  # in the target's own units


def test_constant_target_is_predicted_as_the_constant(ink):
    X, _, Xt, _ = ink
    reg = FineTunedRegressor(**{**FAST, "trainable_blocks": 0}).fit(X, np.full(len(X), 4.5))
    np.testing.assert_allclose(reg.predict(Xt), 4.5, atol=1e-4)


def test_probe_only_is_the_ridge_probe(ink):
    """With the backbone frozen, the model is RidgeCV on standardised frozen features, exactly."""
    X, Y, Xt, _ = ink
    reg = FineTunedRegressor(**{**FAST, "trainable_blocks": 0}).fit(X, Y)
    assert reg.n_steps_ == 0 and len(reg.history_) == 1 and "train_r2" in reg.history_[-1]
    encoder = reg.module_.encoder
    feats = encode_batches(encoder, as_image_set(X, input_shape=(8, 8)), batch_size=16, device=torch.device("cpu"))
    feats_t = encode_batches(encoder, as_image_set(Xt, input_shape=(8, 8)), batch_size=16,
                             device=torch.device("cpu"))
    ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS)).fit(feats, Y)
    np.testing.assert_allclose(reg.predict(Xt), ridge.predict(feats_t), rtol=1e-3, atol=1e-3 * np.abs(Y).max())


class LossSpy(Callback):
    def on_train_begin(self, net, **kwargs):
        self.criterion_ = type(net.criterion_).__name__


def test_loss_choice_reaches_skorch(ink):
    X, Y, _, _ = ink
    spies = {}
    for loss in ("squared_error", "huber"):
        spies[loss] = LossSpy()
        FineTunedRegressor(**{**FAST, "trainable_blocks": 1, "loss": loss, "callbacks": [spies[loss]]}).fit(X, Y)
    assert spies["squared_error"].criterion_ == "MSELoss" and spies["huber"].criterion_ == "HuberLoss"
    # criterion__delta reaches HuberLoss
    spy = LossSpy()
    reg = FineTunedRegressor(**{**FAST, "trainable_blocks": 1, "loss": "huber", "criterion__delta": 0.5,
                                "callbacks": [spy]})
    assert reg.get_params()["criterion__delta"] == 0.5
    reg.fit(X, Y)


def test_validation_split_records_valid_r2(ink):
    X, Y, _, _ = ink
    reg = FineTunedRegressor(**{**FAST, "trainable_blocks": 1, "max_epochs": 2, "validation_fraction": 0.2,
                                "early_stopping": 1}).fit(X, Y)
    assert np.isfinite(reg.history_[-1, "valid_r2"]) and np.isfinite(reg.history_[-1, "valid_loss"])


def test_pickle_clone_and_grid_search(ink):
    X, Y, Xt, _ = ink
    reg = FineTunedRegressor(**{**FAST, "trainable_blocks": 1}).fit(X, Y[:, 0])
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_allclose(again.predict(Xt), reg.predict(Xt), rtol=1e-6)
    assert not hasattr(clone(reg), "module_")
    search = GridSearchCV(FineTunedRegressor(**{**FAST, "trainable_blocks": 1}), {"lr": [1e-3, 1e-2]}, cv=2)
    search.fit(X, Y[:, 0])
    assert set(search.cv_results_["param_lr"]) == {1e-3, 1e-2}
    scores = cross_val_score(FineTunedRegressor(**{**FAST, "trainable_blocks": 0}), X, Y, cv=2, scoring="r2")
    assert np.all(np.isfinite(scores))


def test_warm_start_continues_and_checks_targets(ink):
    X, Y, _, _ = ink
    reg = FineTunedRegressor(**{**FAST, "trainable_blocks": 1, "warm_start": True}).fit(X, Y[:, 0])
    first = reg.history_[-1, "train_loss"]
    reg.fit(X, Y[:, 0])
    assert reg.history_[-1, "train_loss"] < first * 1.5  # continues from trained weights
    with pytest.raises(ValueError, match="1 target.*got 2.*warm_start=False"):
        reg.fit(X, Y)


@pytest.mark.parametrize("y, match", [
    (None, "requires y"),
    ("letters", "numeric targets.*FineTunedClassifier"),
    ("3d", "1-D.*2-D"),
    ("short", "150 images but y has 149 targets"),
])
def test_bad_targets(ink, y, match):
    X, Y, _, _ = ink
    y = {"letters": np.array(["a", "b"] * 75), "3d": np.zeros((150, 2, 2)), "short": Y[:-1, 0]}.get(y, y)
    with pytest.raises(ValueError, match=match):
        FineTunedRegressor(**FAST).fit(X, y)
