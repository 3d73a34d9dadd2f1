"""The classical baselines' batches: float32 numpy arrays, channels last, resized."""

import numpy as np

from sktransfer.estimators._baselines import _iter_arrays
from sktransfer.images import as_image_set


def test_iter_arrays_gives_numpy_channels_last(digits):
    images = as_image_set(digits[0][:3], input_shape=(8, 8))
    (batch,) = list(_iter_arrays(images, 10, (16, 16), channels=1))
    assert batch.shape == (3, 16, 16, 1) and batch.dtype == np.float32


def test_iter_arrays_batches_in_order_at_the_asked_size():
    images = as_image_set(np.zeros((3, 8, 8), dtype=np.uint8))
    batches = list(_iter_arrays(images, 2, (16, 16), channels=1))
    assert [b.shape for b in batches] == [(2, 16, 16, 1), (1, 16, 16, 1)]
