"""Shared fixtures: real images from scikit-learn and scikit-image (no network), and the benchmark's
small datasets on disk, file helpers and a spy on its network methods' runs."""

import csv
import os

import numpy as np
import pytest
import torch
from PIL import Image
from threadpoolctl import threadpool_limits

from sktransfer.benchmark.runner import METHOD_CLASSES

# Tests never reach a model hub: fail fast instead of waiting on timeouts.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: Torch and BLAS threads of every test (and doctest) that does not set its own: on a shared 2-core
#: machine, two threads competing with another process's make every kernel an order of magnitude
#: slower, and a test's speed would depend on what else runs. SKTRANSFER_TEST_THREADS overrides it.
TEST_THREADS = int(os.environ.get("SKTRANSFER_TEST_THREADS", "1"))


@pytest.fixture(autouse=True, scope="session")
def _test_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(TEST_THREADS)
    with threadpool_limits(TEST_THREADS):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's 8x8 digits as floats in [0, 1], flattened (1797, 64)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data / 16.0, data.target


@pytest.fixture(scope="session")
def photos():
    """Two real photos from scikit-image, as uint8 RGB arrays of different sizes."""
    from skimage import data

    return [data.chelsea(), data.coffee()]


@pytest.fixture()
def image_files(tmp_path, digits):
    """Twelve digit images written as PNG files (grey) and their labels."""
    X, y = digits
    paths = []
    for i in range(12):
        path = tmp_path / f"digit_{i}.png"
        Image.fromarray(np.rint(X[i].reshape(8, 8) * 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    return paths, y[:12]


@pytest.fixture(scope="module")
def one_thread():
    """One torch and BLAS thread for this module, even under SKTRANSFER_TEST_THREADS: its
    tolerances and timings were set with one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- the benchmark's

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
