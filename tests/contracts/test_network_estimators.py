"""What BackboneNetworkEstimator gives every task, tested once for each network estimator.

Pickling, export, seeds, clone, nested parameters, warm start, a failed refit,
and the read-only specs that other packages read.
"""

import dataclasses
import pickle

import numpy as np
import pytest
from sklearn.base import clone

import tiny
from sktransfer import (DomainAdaptiveClassifier, FineTunedClassifier, FineTunedRegressor, export_weights,
                        load_weights)
from sktransfer.nn import ArchSpec

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = {**tiny.FAST, "tta": 2, "trainable_blocks": 1, "max_epochs": 2}

#: (estimator class, how y is made from the digits' labels): every task of the base.
TASKS = {
    "classifier": (FineTunedClassifier, lambda y: y),
    "multilabel": (FineTunedClassifier, lambda y: np.column_stack([y >= 5, y % 2 == 0]).astype(int)),
    "regressor": (FineTunedRegressor, lambda y: y * 1.5 + 2.0),
    "domain": (DomainAdaptiveClassifier, lambda y: np.concatenate([y[:40], np.full(len(y) - 40, -1)])),
}


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:60], y[:60], X[60:90]


@pytest.fixture(scope="module", params=list(TASKS))
def fitted(request, data):
    X, y, _ = data
    Estimator, make_y = TASKS[request.param]
    return Estimator(**FAST).fit(X, make_y(y)), make_y(y)


def _outputs(est, X):
    return est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)


def test_pickle_and_export_predict_the_same(fitted, data, tmp_path):
    est, _ = fitted
    Xt = data[2]
    restored = pickle.loads(pickle.dumps(est))
    export_weights(est, tmp_path / "model.pt")
    loaded = load_weights(tmp_path / "model.pt")
    for other in (restored, loaded):
        assert type(other) is type(est) and other.arch_spec_ == est.arch_spec_
        np.testing.assert_array_equal(other.predict(Xt), est.predict(Xt))
        np.testing.assert_allclose(_outputs(other, Xt), _outputs(est, Xt), rtol=1e-6)


def test_predictions_are_a_function_of_X_and_the_seed(fitted, data):
    est, y = fitted
    X, _, Xt = data
    np.testing.assert_array_equal(_outputs(est, Xt), _outputs(est, Xt))  # tta views seeded from random_state
    again = clone(est).fit(X, y)
    np.testing.assert_allclose(_outputs(again, Xt), _outputs(est, Xt), rtol=1e-5, atol=1e-6)


def test_clone_is_cheap_and_unfitted_and_keeps_nested_params(fitted):
    est, _ = fitted
    est = clone(est).set_params(optimizer__betas=(0.8, 0.9))
    copy = clone(est)
    assert not hasattr(copy, "module_") and not hasattr(copy, "arch_spec_")
    assert copy.get_params()["optimizer__betas"] == (0.8, 0.9)


def test_specs_are_read_only_facts_of_the_fitted_network(fitted):
    est, _ = fitted
    assert isinstance(est.arch_spec_, ArchSpec)
    assert est.arch_spec_.n_outputs == est.target_spec_.n_outputs
    assert list(est.arch_spec_.blocks) == list(est.arch_spec_.blocks)[: est.n_blocks_]
    with pytest.raises(dataclasses.FrozenInstanceError):
        est.arch_spec_.n_outputs = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        est.target_spec_.kind = "softmax"


def test_a_failed_refit_keeps_the_fitted_model(fitted, data):
    est, y = fitted
    X, _, Xt = data
    before = _outputs(est, Xt)
    model = est.module_
    with pytest.raises(ValueError):
        est.fit(X[:10], y[:11])  # one target too many
    assert est.module_ is model
    np.testing.assert_array_equal(_outputs(est, Xt), before)


def test_warm_start_continues_and_refuses_a_new_architecture(fitted, data):
    est, y = fitted
    X = data[0]
    warm = clone(est).set_params(warm_start=True).fit(X, y)
    steps = warm.n_steps_
    start = {k: v.clone() for k, v in warm.module_.state_dict().items()}
    warm.fit(X, y)
    assert warm.n_steps_ == steps  # one more fit of the same length, continued from the trained weights
    assert any(not (start[k] == v).all() for k, v in warm.module_.state_dict().items() if v.is_floating_point())
    with pytest.raises(ValueError, match="warm_start=True continues the fitted network, but pooling changed"):
        warm.set_params(pooling="max").fit(X, y)


def test_the_fitted_network_keeps_no_training_gradients(fitted):
    """The last optimizer step's gradients are dropped: they would double the trainable weights' memory."""
    est, _ = fitted
    assert est.n_steps_ > 0
    assert all(p.grad is None for p in est.module_.parameters())
