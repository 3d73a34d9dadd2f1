"""The benchmark run end to end: every method, its table, files and plot, the splits, the scores, the errors."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from sktransfer.__main__ import main as sktransfer_main
from sktransfer.benchmark import run_benchmark
from sktransfer.benchmark.__main__ import main as benchmark_main
from sktransfer.benchmark.runner import make_split, training_subset

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- end to end


def test_cli_trains_every_method_and_writes_table_results_and_plot(digits_npz, tmp_path, capsys, read_csv,
                                                                    fast_finetune):
    out = tmp_path / "results"
    rc = sktransfer_main([
        "benchmark", str(digits_npz), "--methods", "pixels", "hog", "features", "finetune", "scratch",
        "--labels-per-class", "2", "5", "--seeds", "2", "--image-size", "32", "--cv", "2", "--output-dir", str(out),
        *[arg for k, v in fast_finetune.items() for arg in ("--finetune-param", f"{k}={v}")],
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

    runs = read_csv(out / "small_digits_runs.csv")
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

    summary = read_csv(out / "small_digits_summary.csv")
    assert len(summary) == 5 * 2 and all(r["n_runs"] == "2" for r in summary)
    assert {"f1_macro_mean", "f1_macro_std", "precision_macro_mean", "recall_macro_mean"} <= set(summary[0])

    doc = json.loads((out / "small_digits_results.json").read_text())
    assert doc["wall_time_s"] > 0 and doc["config"]["methods"] == ["pixels", "hog", "features", "finetune", "scratch"]
    assert doc["config"]["finetune_params"] == fast_finetune
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


# ----------------------------------------------------------------------------- bad input


def test_unknown_dataset_method_and_sizes(digits_npz):
    with pytest.raises(ValueError, match=r"Unknown dataset 'cifar'.*digits, mnist"):
        run_benchmark("cifar", output_dir=None, verbose=0)
    with pytest.raises(ValueError, match=r"Unknown method\(s\) 'svm'; choose from pixels, hog, lbp, features, fine"):
        run_benchmark(digits_npz, methods=["pixels", "svm"], output_dir=None, verbose=0)
    with pytest.raises(ValueError, match="positive ints or 'all'"):
        run_benchmark(digits_npz, methods=["pixels"], labels_per_class=[0], output_dir=None, verbose=0)
    with pytest.raises(ValueError, match="test_size"):
        run_benchmark(digits_npz, methods=["pixels"], test_size=1.5, output_dir=None, verbose=0)


def test_cli_errors_are_argparse_errors(digits_npz, tmp_path, capsys, write_png):
    with pytest.raises(SystemExit) as info:
        benchmark_main([str(digits_npz), "--methods", "svm"])
    assert info.value.code == 2
    assert "invalid choice: 'svm'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        sktransfer_main(["benchmark", "--labels-per-class", "five"])
    assert info.value.code == 2 and "'five' is not a positive int or 'all'" in capsys.readouterr().err
    (tmp_path / "one_class" / "cat").mkdir(parents=True)
    write_png(tmp_path / "one_class" / "cat" / "a.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(SystemExit) as info:
        sktransfer_main(["benchmark", str(tmp_path / "one_class"), "--output-dir", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "usage: sktransfer benchmark" in err and "at least 2 classes" in err
    assert sktransfer_main([]) == 2  # no command: help, and a non-zero status
