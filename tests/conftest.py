"""Shared fixtures: real images from scikit-learn and scikit-image, no network."""

import os

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

# Tests never reach a model hub: fail fast instead of waiting on timeouts.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


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
    from PIL import Image

    X, y = digits
    paths = []
    for i in range(12):
        path = tmp_path / f"digit_{i}.png"
        Image.fromarray(np.rint(X[i].reshape(8, 8) * 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    return paths, y[:12]


@pytest.fixture(scope="module")
def one_thread():
    """One torch and BLAS thread: on a shared 2-core machine, 2 threads competing
    with another process make every kernel an order of magnitude slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)
