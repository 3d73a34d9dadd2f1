"""What a fitted network estimator promises beyond bad input (issue 21): predictions are a function of X,
parameters set after fit are checked where they are used, sample weights mean repeated images, the
semi-supervised marker -1 warns when it is likely a class, and settings torch would refuse are usable or
refused before training."""

import copy
import functools
import pickle
import warnings

import numpy as np
import pytest
import sklearn
import torch
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

import tiny
from sktransfer import DomainAdaptiveClassifier, FineTunedClassifier, FineTunedRegressor

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = {**tiny.FAST, "trainable_blocks": 1}


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:60], y[:60] % 3, X[60:90]


@pytest.fixture(scope="module")
def with_views(data):
    """A classifier that predicts through test-time views, fitted with an unseeded random_state."""
    X, y, _ = data
    return FineTunedClassifier(**{**FAST, "tta": 3, "random_state": None}).fit(X, y)


# --------------------------------------------------------------------------- predictions are a function of X

@pytest.mark.parametrize("random_state", [None, "instance", 0])
def test_views_give_the_same_predictions_on_every_call(data, random_state):
    X, y, Xt = data
    state = np.random.RandomState(0) if random_state == "instance" else random_state
    clf = FineTunedClassifier(**{**FAST, "tta": 3, "random_state": state}).fit(X, y)
    first = clf.decision_function(Xt)
    np.testing.assert_array_equal(clf.decision_function(Xt), first)
    np.testing.assert_array_equal(clf.predict_proba(Xt), clf.predict_proba(Xt))
    assert clf.n_steps_ > 0  # the views are used: a probe-only model would skip them


def test_views_depend_on_the_image_alone_not_its_batch_or_subset(with_views, data):
    _, _, Xt = data
    whole = with_views.decision_function(Xt)
    # Equal up to float rounding, which depends on how many images a kernel sees at once.
    np.testing.assert_allclose(with_views.decision_function(Xt[7:19]), whole[7:19], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(with_views.decision_function(Xt[::-1]), whole[::-1], rtol=1e-5, atol=1e-4)
    other_batches = copy.deepcopy(with_views).set_params(batch_size=5)
    np.testing.assert_allclose(other_batches.decision_function(Xt), whole, rtol=1e-5, atol=1e-4)


def test_views_change_the_outputs_and_survive_pickling(with_views, data):
    _, _, Xt = data
    plain = copy.deepcopy(with_views).set_params(tta=0).decision_function(Xt)
    assert not np.allclose(plain, with_views.decision_function(Xt))  # the views do something
    restored = pickle.loads(pickle.dumps(with_views))
    np.testing.assert_array_equal(restored.decision_function(Xt), with_views.decision_function(Xt))


def test_predictions_ignore_random_state_set_after_fit(with_views, data):
    _, _, Xt = data
    before = with_views.decision_function(Xt)
    for state in (1, 2, np.random.RandomState(5)):
        np.testing.assert_array_equal(copy.deepcopy(with_views).set_params(random_state=state).decision_function(Xt),
                                      before)


# --------------------------------------------------------------------------- parameters set after fit

@pytest.mark.parametrize("params, exc, match", [
    ({"tta": -1}, InvalidParameterError, r"'tta' parameter"),
    ({"batch_size": 0}, InvalidParameterError, r"'batch_size' parameter"),
    ({"batch_size": True}, TypeError, r"batch_size=True is a bool"),
    ({"random_state": "seed"}, InvalidParameterError, r"'random_state' parameter"),
    ({"device": "gpu"}, ValueError, r"'gpu' is not a device"),
], ids=["tta", "batch-size", "batch-size-bool", "random-state", "device"])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function", "score"])
def test_parameters_set_after_fit_are_checked_at_prediction(with_views, data, params, exc, match, method):
    _, _, Xt = data
    before = with_views.decision_function(Xt)
    broken = copy.deepcopy(with_views).set_params(**params)
    args = (Xt, np.zeros(len(Xt), dtype=int)) if method == "score" else (Xt,)
    with pytest.raises(exc, match=match):
        getattr(broken, method)(*args)
    np.testing.assert_array_equal(with_views.decision_function(Xt), before)


# --------------------------------------------------------------------------- -1 and divergence

def test_a_few_minus_ones_among_0_and_1_warn_that_minus_one_marks_unlabelled_images(data):
    X, y, _ = data
    with pytest.warns(UserWarning, match=r"y marks \d+ images with -1, fewer than the \d+ labelled ones.*If -1 is "
                                         r"a class, recode y"):
        clf = FineTunedClassifier(**FAST).fit(X, y - 1)  # labels {-1, 0, 1}
    assert clf.classes_.tolist() == [0, 1]


def test_many_unlabelled_images_or_a_target_domain_do_not_warn(data):
    X, y, _ = data
    semi = np.where(np.arange(60) < 15, y, -1)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*marks .* images with -1", category=UserWarning)
        FineTunedClassifier(**FAST).fit(X, semi)
        DomainAdaptiveClassifier(**{**FAST, "method": "coral"}).fit(X, np.where(np.arange(60) < 40, y, -1))


def test_regressor_targets_beyond_float32_are_learned_in_their_units(data):
    X, _, Xt = data
    y = np.linspace(-1e200, 1e200, 60)
    reg = FineTunedRegressor(**FAST).fit(X, y)
    pred = reg.predict(Xt)
    assert np.isfinite(pred).all() and np.abs(pred).max() <= 1.5e200 and np.abs(pred).max() > 1e198


# --------------------------------------------------------------------------- sample weights

@pytest.mark.parametrize("cls", [FineTunedClassifier, FineTunedRegressor])
def test_whole_number_weights_train_as_repeated_images(cls, data):
    X, y, Xt = data
    y = y if cls is FineTunedClassifier else y.astype(float)
    counts = np.arange(60) % 3  # 0, 1 and 2 copies
    kept = np.repeat(np.arange(60), counts)
    weighted = cls(**FAST).fit(X, y, sample_weight=counts)
    repeated = cls(**FAST).fit(X[kept], y[kept])
    np.testing.assert_allclose(weighted.predict(Xt), repeated.predict(Xt), atol=1e-5)
    unweighted = cls(**FAST).fit(X, y)
    assert not np.allclose(weighted.predict(Xt) if cls is FineTunedRegressor else weighted.decision_function(Xt),
                           unweighted.predict(Xt) if cls is FineTunedRegressor else unweighted.decision_function(Xt))


def test_equal_weights_are_the_same_fit_as_none(data):
    X, y, Xt = data
    a = FineTunedClassifier(**FAST).fit(X, y, sample_weight=np.full(60, 0.25))
    b = FineTunedClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(a.decision_function(Xt), b.decision_function(Xt))


def test_sample_weight_is_routed_through_a_pipeline_and_cross_validation(data):
    X, y, Xt = data
    counts = 1 + np.arange(60) % 2
    direct = FineTunedClassifier(**FAST).fit(X, y, sample_weight=counts)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(FineTunedClassifier(**FAST).set_fit_request(sample_weight=True))
        pipe.fit(X, y, sample_weight=counts)
        scores = cross_val_score(make_pipeline(FineTunedClassifier(**FAST).set_fit_request(sample_weight=True)
                                               .set_score_request(sample_weight=True)),
                                 X, y, cv=2, params={"sample_weight": counts})
    np.testing.assert_array_equal(pipe.decision_function(Xt), direct.decision_function(Xt))
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))


def test_without_routing_a_pipeline_passes_step_weights(data):
    X, y, Xt = data
    counts = 1 + np.arange(60) % 2
    pipe = make_pipeline(FineTunedClassifier(**FAST)).fit(X, y, finetunedclassifier__sample_weight=counts)
    direct = FineTunedClassifier(**FAST).fit(X, y, sample_weight=counts)
    np.testing.assert_array_equal(pipe.decision_function(Xt), direct.decision_function(Xt))


# --------------------------------------------------------------------------- optimizers

@pytest.mark.parametrize("params", [
    {"optimizer": torch.optim.SGD, "optimizer__momentum": 0.9},
    {"optimizer": torch.optim.Rprop, "weight_decay": 0.0},
    {"optimizer": torch.optim.RMSprop, "optimizer__momentum": 0.5, "lr": 1e-3},
    {"optimizer": functools.partial(torch.optim.SGD, nesterov=True), "optimizer__momentum": 0.9},
], ids=["sgd-momentum", "rprop", "rmsprop", "partial-sgd"])
def test_any_torch_optimizer_trains(params, data):
    X, y, Xt = data
    clf = FineTunedClassifier(**{**FAST, **params}).fit(X, y)
    assert clf.n_steps_ > 0 and np.isfinite(clf.decision_function(Xt)).all()


def test_an_optimizer_without_weight_decay_says_it_is_not_applied(data):
    X, y, _ = data
    with pytest.warns(UserWarning, match=r"Rprop takes no weight_decay: weight_decay=0\.01 is not applied"):
        FineTunedClassifier(**{**FAST, "optimizer": torch.optim.Rprop, "weight_decay": 0.01}).fit(X, y)
