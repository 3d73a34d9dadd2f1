"""export_weights / load_weights: a fitted network shared as data, loadable with weights_only=True."""

import pickle

import numpy as np
import pytest
import torch

import tiny
from sktransfer import FineTunedClassifier, FineTunedRegressor, export_weights, load_weights
from skorch.callbacks import PrintLog

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = {**tiny.FAST, "tta": 2, "trainable_blocks": 1}


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:60], y[:60], X[60:90]


@pytest.mark.parametrize("kind", ["labels", "strings", "multilabel", "regression", "two-targets"])
def test_round_trip_predicts_the_same(kind, data, tmp_path):
    X, y, Xt = data
    targets = {"labels": y, "strings": np.array([f"digit {v}" for v in y]),
               "multilabel": np.column_stack([y >= 5, y % 2 == 0]).astype(int),
               "regression": y * 1.5 + 2, "two-targets": np.column_stack([y, y ** 2]).astype(float)}[kind]
    Estimator = FineTunedRegressor if kind in ("regression", "two-targets") else FineTunedClassifier
    est = Estimator(**FAST, optimizer=torch.optim.Adam).fit(X, targets)
    path = tmp_path / "model.pt"
    export_weights(est, path)
    raw = torch.load(path, weights_only=True)  # PyTorch's restricted unpickler accepts the file as it is
    assert raw["estimator"] == Estimator.__name__ and "state_dict" in raw
    loaded = load_weights(path)
    assert type(loaded) is Estimator and loaded.optimizer is torch.optim.Adam
    np.testing.assert_array_equal(loaded.predict(Xt), est.predict(Xt))
    if hasattr(est, "classes_"):
        np.testing.assert_array_equal(loaded.classes_, est.classes_)
        np.testing.assert_allclose(loaded.predict_proba(Xt), est.predict_proba(Xt), rtol=1e-6)
    assert list(loaded.history_[:, "train_loss"]) == list(est.history_[:, "train_loss"])
    assert loaded.layers_ == est.layers_ and loaded.image_size_ == est.image_size_


def test_what_cannot_be_data_is_refused_or_named(data, tmp_path):
    X, y, _ = data
    with pytest.raises(ValueError, match="not fitted: fit it before export_weights"):
        export_weights(FineTunedClassifier(**FAST), tmp_path / "a.pt")
    own = FineTunedClassifier(**{**FAST, "backbone": torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))}).fit(X, y)
    with pytest.raises(ValueError, match="needs a named backbone.*only a pickle can carry"):
        export_weights(own, tmp_path / "b.pt")
    with_callbacks = FineTunedClassifier(**FAST, callbacks=[PrintLog()]).fit(X, y)
    export_weights(with_callbacks, tmp_path / "c.pt")
    with pytest.warns(UserWarning, match="callbacks were not exported"):
        assert load_weights(tmp_path / "c.pt").callbacks is None


class _Planted:
    """What an attacker would put in a file: unpickling it runs code (here: writes a marker)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_planted_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"format": "sktransfer-weights/1", "payload": _Planted(str(marker))}, path)
    assert not marker.exists()
    with pytest.raises(ValueError, match="not a file written by export_weights"):
        load_weights(path)
    assert not marker.exists()  # the code in the file never ran
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match="not a file written by"):
        load_weights(path)


@pytest.mark.parametrize("method", ["dann", "coral"])
def test_domain_adaptive_round_trip_predicts_the_same(method, data, tmp_path):
    from sktransfer import DomainAdaptiveClassifier

    X, y, Xt = data
    y_fit = np.concatenate([y[:40], np.full(20, -1)])  # the last 20 images: an unlabelled target domain
    est = DomainAdaptiveClassifier(**{**FAST, "method": method, "max_epochs": 2}).fit(X, y_fit)
    path = tmp_path / "domain.pt"
    export_weights(est, path)
    loaded = load_weights(path)
    assert type(loaded) is DomainAdaptiveClassifier and loaded.n_target_ == est.n_target_ == 20
    assert not any(k.startswith("discriminator") for k in torch.load(path, weights_only=True)["state_dict"])
    np.testing.assert_array_equal(loaded.predict(Xt), est.predict(Xt))
    np.testing.assert_allclose(loaded.predict_proba(Xt), est.predict_proba(Xt), rtol=1e-6)
    assert loaded.arch_spec_ == est.arch_spec_


def test_an_unknown_estimator_in_the_file_is_a_clear_error(data, tmp_path):
    X, y, _ = data
    path = tmp_path / "model.pt"
    export_weights(FineTunedClassifier(**FAST).fit(X, y), path)
    raw = torch.load(path, weights_only=True)
    torch.save({**raw, "estimator": "SomethingElse"}, path)
    with pytest.raises(ValueError, match="'SomethingElse', which load_weights cannot rebuild"):
        load_weights(path)


def test_parameters_come_back_with_their_types_and_refit(data, tmp_path):
    """class_weight's int keys and tuple parameters survive the file: the loaded model refits as the original."""
    X, y, Xt = data
    params = {**FAST, "image_size": (16, 16), "class_weight": {0: 5.0}, "hidden_units": (8,)}
    est = FineTunedClassifier(**params).fit(X, y)
    export_weights(est, tmp_path / "m.pt")
    loaded = load_weights(tmp_path / "m.pt")
    assert loaded.get_params() == est.get_params()
    assert loaded.class_weight == {0: 5.0} and type(next(iter(loaded.class_weight))) is int
    assert loaded.image_size == (16, 16) and loaded.hidden_units == (8,) and loaded.arch_spec_ == est.arch_spec_
    refit = load_weights(tmp_path / "m.pt").fit(X, y)  # class_weight={'0': 5.0} made this fail
    np.testing.assert_array_equal(refit.predict(Xt), FineTunedClassifier(**params).fit(X, y).predict(Xt))


def test_warm_start_after_load_continues_from_the_loaded_weights(data, tmp_path):
    """A loaded model with a tuple image_size warm-starts exactly as the exported one would have."""
    X, y, Xt = data
    est = FineTunedClassifier(**{**FAST, "image_size": (16, 16)}).fit(X, y)
    export_weights(est, tmp_path / "m.pt")
    loaded = load_weights(tmp_path / "m.pt").set_params(warm_start=True)
    start = {k: v.clone() for k, v in loaded.module_.named_parameters()}
    loaded.fit(X, y)  # the same architecture: no "image_size changed" complaint
    original = pickle.loads(pickle.dumps(est)).set_params(warm_start=True).fit(X, y)
    np.testing.assert_allclose(loaded.predict_proba(Xt), original.predict_proba(Xt), rtol=1e-5, atol=1e-6)
    moved = [k for k, v in loaded.module_.named_parameters() if not torch.equal(v, start[k])]
    assert moved and len(moved) < len(start)  # trained on from the loaded weights, the frozen blocks kept


def test_a_version_1_file_still_loads_with_its_keys_and_tuples_restored(data, tmp_path):
    """Version 1 wrote dict keys as strings and tuples as lists; loading undoes it for what it can."""
    X, y, Xt = data
    est = FineTunedClassifier(**{**FAST, "image_size": (16, 16), "class_weight": {0: 5.0}}).fit(X, y)
    export_weights(est, tmp_path / "m.pt")
    raw = torch.load(tmp_path / "m.pt", weights_only=True)

    def as_v1(value):
        if isinstance(value, dict):
            return {str(k): as_v1(v) for k, v in value.items()}
        return [as_v1(v) for v in value] if isinstance(value, (list, tuple)) else value

    old = {k: (v if k == "state_dict" else as_v1(v)) for k, v in raw.items()}
    torch.save({**old, "format": "sktransfer-weights/1"}, tmp_path / "v1.pt")
    loaded = load_weights(tmp_path / "v1.pt")
    assert loaded.class_weight == {0: 5.0} and loaded.image_size == (16, 16)
    np.testing.assert_array_equal(loaded.predict(Xt), est.predict(Xt))
    loaded.fit(X, y)  # refits with the restored class_weight
