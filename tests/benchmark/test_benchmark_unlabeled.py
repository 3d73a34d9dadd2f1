"""The benchmark's unlabelled and domain modes, and the MNIST-M-like domain."""

import numpy as np
import pytest

from sktransfer.benchmark import load_dataset, run_benchmark
from sktransfer.benchmark.__main__ import main as benchmark_main
from sktransfer.benchmark.datasets import Dataset
from sktransfer.benchmark.domains import mnist_m, photographs
from sktransfer.benchmark.tasks import mnist_digits

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py

#: A tiny random network and one epoch: these tests check the benchmark, not the recipe.
TINY = dict(backbone="timm/test_resnet", finetune_params={"max_epochs": 1, "min_steps": 0, "tta": 0, "weights": None},
            n_seeds=1, output_dir=None, verbose=0)


@pytest.fixture(scope="module")
def two_domains():
    """Digits (gray) and the same digits inverted in colour: paired, same labels in the same order."""
    ds = load_dataset("digits")
    target = Dataset("inverted", np.repeat((1.0 - ds.X)[..., None], 3, axis=-1), ds.y, "inverted digits", (8, 8), 3)
    return ds, target


def test_unlabeled_mode_gives_fixmatch_the_rest_of_the_pool_and_never_the_test_set(spy_network_runs):
    calls = spy_network_runs()
    result = run_benchmark("digits", unlabeled=True, methods=["finetune"], labels_per_class=[5], **TINY)
    finetune, fixmatch = calls
    assert finetune["unlabeled"] is None
    pool = np.setdiff1d(np.arange(len(finetune["ds"])), finetune["test"])
    np.testing.assert_array_equal(np.sort(np.r_[fixmatch["train"], fixmatch["unlabeled"]]), pool)
    assert not np.intersect1d(fixmatch["unlabeled"], fixmatch["test"]).size
    assert [(r["method"], r["n_unlabeled"]) for r in result.runs] == [("finetune", 0), ("fixmatch", len(pool) - 50)]


def test_domain_mode_trains_on_the_source_and_tests_on_the_target(spy_network_runs, two_domains):
    source, target = two_domains
    calls = spy_network_runs()
    methods = ["pixels", "finetune", "adabn", "dann", "coral"]
    result = run_benchmark(source, target=target, labels_per_class=[3], methods=methods,
                           **{**TINY, "finetune_params": {"max_epochs": 1, "unlabeled_ratio": 2.0}})
    assert [r["method"] for r in result.runs] == methods
    n = len(source)
    by_method = dict(zip(methods[1:], calls))
    for method, call in by_method.items():
        assert (call["train"] < n).all() and (call["test"] >= n).all()  # labelled source, target test
        # Paired domains share the split: no test digit is a training digit in the other domain.
        assert not np.intersect1d(call["train"], call["test"] - n).size
    assert by_method["finetune"]["unlabeled"] is None and by_method["finetune"]["cls"] == "FineTunedClassifier"
    dann = by_method["dann"]
    assert dann["cls"] == "DomainAdaptiveClassifier" and dann["params"] == {"max_epochs": 1, "method": "dann"}
    # adabn: DomainAdaptiveClassifier without an adaptation loss, given the target pool for its BatchNorm
    assert by_method["adabn"]["params"]["method"] == "none" and (by_method["adabn"]["unlabeled"] >= n).all()
    assert (dann["unlabeled"] >= n).all() and not np.intersect1d(dann["unlabeled"], dann["test"]).size
    assert len(dann["unlabeled"]) + len(dann["test"]) == len(target)
    assert result.config["target"] == "inverted" and result.runs[0]["dataset"] == "digits-to-inverted"


def test_domain_mode_end_to_end_with_real_fits(two_domains):
    source, target = two_domains
    result = run_benchmark(source, target=target, methods=["hog", "finetune", "dann", "fixmatch"],
                           labels_per_class=[2], **TINY)
    rows = {r["method"]: r for r in result.runs}
    assert rows["dann"]["n_unlabeled"] == rows["fixmatch"]["n_unlabeled"] > 1000
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["fit_time_s"] > 0 for r in result.runs)
    assert "steps" in rows["dann"]["chosen"]


def test_domain_methods_need_a_target_and_the_target_its_classes(two_domains):
    source, target = two_domains
    with pytest.raises(ValueError, match="adapt to a target domain: give one with target="):
        run_benchmark("digits", methods=["dann"], **TINY)
    fewer = Dataset("fewer", source.X[source.y < 5], source.y[source.y < 5], "digits 0-4", (8, 8), 1)
    with pytest.raises(ValueError, match="the target domain has classes the source lacks"):
        run_benchmark(fewer, target=target, methods=["pixels"], **TINY)


def test_cli_target_and_unlabeled_options(spy_network_runs, capsys, tmp_path):
    calls = spy_network_runs()
    code = benchmark_main(["digits", "--unlabeled", "--methods", "finetune", "--labels-per-class", "2", "--seeds", "1",
                           "--backbone", "timm/test_resnet", "--output-dir", str(tmp_path), "-q", "--no-plot"])
    assert code == 0 and [c["unlabeled"] is None for c in calls] == [True, False]
    assert " fixmatch " in capsys.readouterr().out
    with pytest.raises(SystemExit):
        benchmark_main(["digits", "--methods", "coral", "-q"])
    assert "--target DATASET" in capsys.readouterr().err


# --------------------------------------------------------------------------- MNIST-M-like


def test_mnist_m_blends_each_digit_with_a_photograph_patch():
    X, y = mnist_m(30, random_state=3)
    digits, labels = mnist_digits()
    assert X.shape == (30, 28, 28, 3) and X.dtype == np.uint8
    np.testing.assert_array_equal(y, labels[:30])
    for i in (0, 17, 29):
        # |patch - digit| = X, so patch = X where the digit is 0 and 255 - X where it is 255.
        background = digits[i] == 0
        patch_row = X[i, 0]  # MNIST's top row is background
        assert background[0].all()
        found = any((np.lib.stride_tricks.sliding_window_view(photo, (1, 28, 3)).reshape(-1, 28, 3)
                     == patch_row).all(axis=(1, 2)).any() for photo in photographs())
        assert found, f"row 0 of image {i} is not a row of any photograph"
    again, _ = mnist_m(30, random_state=3)
    np.testing.assert_array_equal(X, again)
    assert not np.array_equal(X, mnist_m(30, random_state=4)[0])
    np.testing.assert_array_equal(mnist_m(10, random_state=3)[0], X[:10])  # a prefix of the larger set


def test_mnist_m_dataset_is_paired_with_mnist():
    target, source = load_dataset("mnist-m"), load_dataset("mnist")
    assert target.X.shape == (5000, 28, 28, 3) and target.channels == 3
    np.testing.assert_array_equal(target.y, source.y)
    with pytest.raises(ValueError, match="n_images must be an int from 1 to 5000"):
        mnist_m(0)
