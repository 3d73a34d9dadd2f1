"""The benchmark's method classes, one at a time: each prepares, fits and scores one tiny split."""

import numpy as np
import pytest

from sktransfer.benchmark import Dataset, load_dataset, run_benchmark
from sktransfer.benchmark.runner import (DEFAULTS, DOMAIN_DEFAULT_METHODS, FINETUNE_GRID, METHOD_CLASSES, METHODS,
                                         Settings, combine_domains, iter_splits)

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py

ROW_KEYS = ["accuracy", "precision_macro", "recall_macro", "f1_macro", "labels", "confusion_matrix", "fit_time_s",
            "predict_time_s", "inner_cv_accuracy", "tuned", "chosen"]


@pytest.fixture(scope="module")
def domains():
    """60 digits (6 per class) and the same digits inverted, in colour: one dataset, the source's images first."""
    digits = load_dataset("digits")
    keep = np.concatenate([np.flatnonzero(digits.y == c)[:6] for c in range(10)])
    source = Dataset("digits", digits.X[keep], digits.y[keep], "60 digits", (8, 8), 1)
    target = Dataset("inverted", np.repeat((1.0 - source.X)[..., None], 3, axis=-1), source.y, "inverted", (8, 8), 3)
    return combine_domains(source, target)


def _settings(**changes):
    tiny = dict(backbone="timm/test_resnet", backbone_size=32, cv=2,
                finetune_params={"max_epochs": 1, "min_steps": 0, "tta": 0, "weights": None})
    return Settings(**{**tiny, **changes})


def _split(ds, n_source, size=2):
    return next(iter_splits(ds, [size], n_seeds=1, test_size=0.3, n_source=n_source))


def test_the_registry_is_the_method_list_and_its_flags():
    assert METHODS == tuple(METHOD_CLASSES) == (
        "pixels", "hog", "lbp", "features", "finetune", "probe", "scratch", "fixmatch", "self-supervised",
        "self-supervised-probe", "adabn", "dann", "coral", "skada-coral", "skada-sa")
    assert all(cls.name == name for name, cls in METHOD_CLASSES.items())
    flags = {name: (cls.network, cls.uses_pool, cls.needs_target) for name, cls in METHOD_CLASSES.items()}
    assert [n for n, (network, _, _) in flags.items() if not network] == [
        "pixels", "hog", "lbp", "features", "skada-coral", "skada-sa"]
    assert [n for n, (_, pool, _) in flags.items() if pool] == [
        "fixmatch", "adabn", "dann", "coral", "skada-coral", "skada-sa"]
    assert [n for n, (_, _, target) in flags.items() if target] == [
        "adabn", "dann", "coral", "skada-coral", "skada-sa"]
    # skada is optional: its methods run when asked for, never by default
    assert DOMAIN_DEFAULT_METHODS == ("pixels", "hog", "lbp", "features", "finetune", "adabn", "dann", "coral")


@pytest.mark.parametrize("name, variants", [
    ("pixels", ["8x8"]),
    ("hog", ["32px cell 4 block 3", "32px cell 8 block 2"]),
    ("lbp", ["32px R 1,2,3", "32px R 1,2,3 grid 4"]),
    ("features", ["final", "mid [3, 4, 5]"]),
])
def test_each_feature_method_prepares_its_variants_then_fits_and_scores_a_split(name, variants, domains):
    ds, n_source = domains
    method = METHOD_CLASSES[name](_settings(backbone="efficientnet_lite0"))
    method.prepare(ds)
    assert list(method.features) == variants
    for F, per_image in method.features.values():  # every image, once, before any split
        assert len(F) == len(ds) and per_image > 0
    split = _split(ds, n_source)
    row = method.run(ds, split)
    assert list(row) == ROW_KEYS and 0.0 <= row["accuracy"] <= 1.0
    assert np.sum(row["confusion_matrix"]) == len(split.test) and row["tuned"] is True  # 2 per class: 2 folds
    chosen = row["chosen"].split("; ")
    assert chosen[0] in variants if len(variants) > 1 else chosen == [row["chosen"]]  # a variant only if several
    assert "C=" in chosen[-1]
    assert row["fit_time_s"] > 0 and row["predict_time_s"] > 0 and method.n_unlabeled(split) == 0


@pytest.mark.parametrize("name, estimator, params", [
    ("finetune", "FineTunedClassifier", {}),
    ("probe", "FineTunedClassifier", {"trainable_blocks": 0}),
    ("scratch", "FineTunedClassifier", {"weights": None}),
    ("fixmatch", "FineTunedClassifier", {}),
    ("adabn", "DomainAdaptiveClassifier", {"method": "none"}),
    ("dann", "DomainAdaptiveClassifier", {"method": "dann"}),
    ("coral", "DomainAdaptiveClassifier", {"method": "coral"}),
])
def test_each_network_method_fits_and_scores_a_split(name, estimator, params, domains):
    ds, n_source = domains
    settings = _settings()
    method = METHOD_CLASSES[name](settings)
    assert method.estimator.__name__ == estimator
    assert method.estimator_params() == {**settings.finetune_params, **params}
    method.prepare(ds)  # nothing to compute ahead
    split = _split(ds, n_source)
    assert (split.train < n_source).all() and (split.test >= n_source).all() and (split.pool >= n_source).all()
    row = method.run(ds, split)
    assert list(row) == ROW_KEYS and 0.0 <= row["accuracy"] <= 1.0
    assert np.sum(row["confusion_matrix"]) == len(split.test) and row["tuned"] is False
    assert row["chosen"].startswith("32px") and ("probe only" if name == "probe" else "1 epoch") in row["chosen"]
    assert method.n_unlabeled(split) == (len(split.pool) if method.uses_pool else 0)
    assert method.n_unlabeled(split) in (0, len(ds) - n_source - len(split.test))


def test_self_supervised_methods_share_one_pretraining_on_the_training_images(domains, monkeypatch):
    from sktransfer import SelfSupervisedPretrainer

    ds, n_source = domains
    fitted_on = []
    real_fit = SelfSupervisedPretrainer.fit

    def fit(self, X, y=None):
        fitted_on.append(len(X))
        return real_fit(self.set_params(weights=None, max_epochs=1, image_size=16), X)

    monkeypatch.setattr(SelfSupervisedPretrainer, "fit", fit)
    split = _split(ds, n_source)
    rows, settings = {}, _settings()
    for name in ("self-supervised", "self-supervised-probe"):
        method = METHOD_CLASSES[name](settings)
        rows[name] = method.run(ds, split)
        assert method.n_unlabeled(split) == len(split.pool)
    assert fitted_on == [len(split.train) + len(split.pool)]  # once, on every image but the test set's
    assert len(settings.shared) == 1  # kept by the run's settings: another run starts afresh
    METHOD_CLASSES["self-supervised"](_settings()).run(ds, split)
    assert len(fitted_on) == 2
    for name, row in rows.items():
        assert list(row) == ROW_KEYS and 0.0 <= row["accuracy"] <= 1.0
        assert row["chosen"].startswith("pre-trained 1 epoch in") and "32px" in row["chosen"]
    assert "probe only" in rows["self-supervised-probe"]["chosen"]
    assert rows["self-supervised-probe"]["fit_time_s"] > float(rows["self-supervised"]["chosen"].split()[4])


def test_probe_runs_by_default_beside_finetune_and_is_never_tuned_into_fine_tuning(domains):
    assert DEFAULTS["methods"] == ("pixels", "hog", "lbp", "features", "finetune", "probe", "scratch")
    ds, n_source = domains
    method = METHOD_CLASSES["probe"](_settings(finetune_grid=FINETUNE_GRID))  # trainable_blocks in {0, "all"}
    assert method.grid() is None and METHOD_CLASSES["finetune"](_settings(finetune_grid=FINETUNE_GRID)).grid()
    row = method.run(ds, _split(ds, n_source))
    assert row["tuned"] is False and row["chosen"].endswith("probe only"), row["chosen"]


def test_the_runner_loops_seeds_then_sizes_then_methods(digits_npz):
    result = run_benchmark(digits_npz, methods=["hog", "pixels"], labels_per_class=[3, 2], n_seeds=2, cv=2,
                           output_dir=None, verbose=0)
    assert [(r["seed"], r["labels_per_class"], r["method"]) for r in result.runs] == [
        (seed, size, method) for seed in (0, 1) for size in (2, 3) for method in ("hog", "pixels")]
    # the test set is drawn once per seed, the same for every size and method
    assert len({r["n_test"] for r in result.runs}) == 1


@pytest.mark.parametrize("name", ["skada-coral", "skada-sa"])
def test_each_skada_method_adapts_frozen_features_and_scores_a_split(name, domains):
    pytest.importorskip("skada")
    ds, n_source = domains
    method = METHOD_CLASSES[name](_settings(backbone="efficientnet_lite0"))
    method.prepare(ds)  # the frozen features of every image, once
    assert method.features.shape[0] == len(ds) and method.per_image > 0
    split = _split(ds, n_source)
    row = method.run(ds, split)
    assert list(row) == ROW_KEYS and 0.0 <= row["accuracy"] <= 1.0
    assert np.sum(row["confusion_matrix"]) == len(split.test) and row["tuned"] is False and row["chosen"] == "C=0.1"
    assert method.n_unlabeled(split) == len(split.pool) > 0


def test_skada_methods_need_a_target():
    with pytest.raises(ValueError, match="skada-coral.*target"):
        run_benchmark("digits", methods=["skada-coral"], output_dir=None, verbose=0)
