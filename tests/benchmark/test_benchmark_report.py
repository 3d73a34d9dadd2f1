"""The benchmark's per-class evaluation: confusion matrices, classification reports, figures."""

import csv
import json
import sys

import numpy as np
import pytest
from PIL import Image

from sktransfer.benchmark import run_benchmark


def test_per_class_results_and_confusion_figures(digits_npz, tmp_path):
    out = tmp_path / "out"
    result = run_benchmark(digits_npz, methods=["pixels", "hog"], labels_per_class=[3, 5], n_seeds=2,
                           output_dir=out, verbose=0)
    doc = json.loads((out / "small_digits_results.json").read_text())
    n_test = result.runs[0]["n_test"]
    for row in doc["evaluation"]:
        matrix = np.array(row["confusion_matrix"])
        assert matrix.shape == (10, 10) and matrix.sum() == 2 * n_test  # both seeds' test sets
        runs = [r for r in result.runs if (r["method"], r["labels_per_class"]) == (row["method"],
                                                                                  row["labels_per_class"])]
        accuracy = np.trace(matrix) / matrix.sum()
        assert accuracy == pytest.approx(np.mean([r["accuracy"] for r in runs]))  # equal test sizes
        assert row["classification_report"]["accuracy"] == pytest.approx(accuracy)
        assert set(row["classification_report"]) >= {"0", "9", "macro avg", "weighted avg"}
    with open(result.files["per_class_csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * (10 + 2)  # 2 methods x 2 sizes x (10 classes + macro and weighted averages)
    assert {"method", "labels_per_class", "label", "precision", "recall", "f1", "support"} == set(rows[0])
    text = result.files["report_txt"].read_text()
    assert text.count("== pixels,") == 2 and "macro avg" in text
    # The runs CSV keeps one value a cell; the matrices are in the JSON.
    with open(result.files["runs_csv"], newline="") as f:
        assert "confusion_matrix" not in next(csv.DictReader(f))
    for method in ("pixels", "hog"):  # a figure per method, for the largest label count only
        image = np.asarray(Image.open(result.files[f"confusion_{method}"]).convert("L"))
        assert image.shape[0] > 300 and image.std() > 20
    assert sorted(p.name for p in out.glob("*confusion*")) == ["small_digits_confusion_hog.png",
                                                               "small_digits_confusion_pixels.png"]


def test_no_confusion_figures_without_matplotlib(digits_npz, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = run_benchmark(digits_npz, methods=["pixels"], labels_per_class=[5], n_seeds=1, output_dir=tmp_path,
                           verbose=0)
    assert "per_class_csv" in result.files and not list(tmp_path.glob("*.png"))
