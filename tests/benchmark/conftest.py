"""Fixtures of the benchmark's tests: small datasets on disk, file helpers, a spy on the network methods' runs."""

import csv

import numpy as np
import pytest
from PIL import Image

from sktransfer.benchmark.runner import METHOD_CLASSES

#: What a faked network run scores: these tests check what the runner passes, not what a network learns.
FAKE_ROW = dict(accuracy=0.5, precision_macro=0.5, recall_macro=0.5, f1_macro=0.5, fit_time_s=1.0,
                predict_time_s=1.0, inner_cv_accuracy=float("nan"), tuned=False, chosen="fake")


@pytest.fixture()
def fast_finetune():
    """FineTunedClassifier parameters that keep a fine-tuning run to a second or two on CPU: one
    epoch, no step budget, no test-time augmentation. These tests check the benchmark, not the recipe."""
    return {"max_epochs": 1, "min_steps": 0, "tta": 0}


@pytest.fixture()
def digits_npz(tmp_path, digits):
    """A 200-image, 10-class slice of the digits (20 per class) saved as uint8 (N, 8, 8)."""
    X, y = digits
    idx = np.concatenate([np.flatnonzero(y == c)[:20] for c in range(10)])
    path = tmp_path / "small_digits.npz"
    np.savez(path, X=np.rint(X[idx] * 255).astype(np.uint8).reshape(-1, 8, 8), y=y[idx])
    return path


@pytest.fixture()
def write_png():
    """``write_png(path, array)``: the image saved as a PNG, its folder created."""
    def write(path, array):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path)

    return write


@pytest.fixture()
def read_csv():
    """``read_csv(path)``: the rows of a CSV file as dicts of strings."""
    def read(path):
        with open(path, newline="") as f:
            return list(csv.DictReader(f))

    return read


@pytest.fixture()
def image_folder(tmp_path, digits, write_png):
    """root/<zero|one|two>/*.png: 8 digit images per class, one class upscaled to 16x16 RGB."""
    X, y = digits
    root = tmp_path / "folder"
    for label, name in enumerate(["zero", "one", "two"]):
        for k, i in enumerate(np.flatnonzero(y == label)[:8]):
            img = np.rint(X[i].reshape(8, 8) * 255).astype(np.uint8)
            if name == "two":  # sizes and modes may differ inside a folder
                img = np.repeat(np.repeat(img, 2, 0), 2, 1)[..., None].repeat(3, axis=2)
            write_png(root / name / f"{k}.png", img)
    (root / "zero" / "notes.txt").write_text("not an image, skipped")
    return root


@pytest.fixture()
def spy_network_runs(monkeypatch):
    """``spy(fake=True)``: a list that records every network method's run as the benchmark makes it.

    Each entry: the estimator class's name (``cls``), its parameters besides
    the benchmark's own (``params``), the dataset, the split's ``train`` and
    ``test`` indices and the unlabelled images it learns from (``unlabeled``,
    None for a labelled-only method). With ``fake`` nothing is trained and
    every run scores :data:`FAKE_ROW`; else the real run follows.
    """
    def spy(fake=True):
        calls = []
        for cls in METHOD_CLASSES.values():
            if not cls.network:
                continue

            def run(self, ds, split, real=cls.run):
                calls.append(dict(cls=self.estimator.__name__, params=self.estimator_params(), ds=ds,
                                  train=split.train, test=split.test, unlabeled=split.pool if self.uses_pool else None))
                return dict(FAKE_ROW) if fake else real(self, ds, split)

            monkeypatch.setattr(cls, "run", run)
        return calls

    return spy
