"""Training data for skorch: rows of an ImageSet (or cached features) and batches on the device."""

from __future__ import annotations

import math

import numpy as np
import torch

from .._tensors import batch_to_device

__all__ = ["DeviceBatchIterator", "ImageDataset"]


class ImageDataset(torch.utils.data.Dataset):
    """Rows ``indices`` of an :class:`ImageSet` (or of a feature tensor) with labels.

    skorch treats it as a ready dataset; :class:`DeviceBatchIterator` reads it
    batch by batch. ``y`` and a feature tensor live on ``device`` already.
    """

    def __init__(self, source, indices, y, *, device, image_size, channels, rng):
        self.source = source
        self.indices = np.asarray(indices, dtype=np.int64)
        self.y = y
        self.device = device
        self.image_size = image_size
        self.channels = channels
        self.rng = rng

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        """One ``(x, y)`` pair; training reads whole batches through :class:`DeviceBatchIterator`."""
        single = ImageDataset(self.source, self.indices[i : i + 1], self.y, device=self.device,
                           image_size=self.image_size, channels=self.channels, rng=self.rng)
        x, y = next(iter(DeviceBatchIterator(single, batch_size=1)))
        return x[0], y[0]


class DeviceBatchIterator:
    """What skorch calls ``iterator_train`` / ``iterator_valid``: yields ``(X, y)`` on the device.

    Images cross to the device as uint8 (pinned and asynchronous on CUDA)
    and are converted there. When training, the order is reshuffled on each
    pass with the dataset's generator, and a last batch of a single image is
    left out (BatchNorm cannot train on one value per channel).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sktransfer.training._data import DeviceBatchIterator, ImageDataset
    >>> from sktransfer.images import as_image_set
    >>> images = as_image_set(np.zeros((5, 8, 8), dtype=np.uint8))
    >>> data = ImageDataset(images, np.arange(5), torch.arange(5), device=torch.device("cpu"),
    ...                  image_size=(8, 8), channels=1, rng=np.random.default_rng(0))
    >>> [tuple(x.shape) for x, y in DeviceBatchIterator(data, batch_size=2, shuffle=True)]
    [(2, 1, 8, 8), (2, 1, 8, 8)]
    """

    def __init__(self, dataset, batch_size, shuffle=False):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle

    def _order(self):
        data = self.dataset
        order = data.indices
        if self.shuffle:
            order = order[data.rng.permutation(len(order))]
        if self.shuffle and len(order) > 1 and len(order) % self.batch_size == 1:
            order = order[:-1]
        return order

    def __len__(self):
        return math.ceil(len(self._order()) / self.batch_size)

    def __iter__(self):
        data = self.dataset
        order = self._order()
        device = data.device
        if isinstance(data.source, torch.Tensor):  # cached features, already on the device
            for start in range(0, len(order), self.batch_size):
                idx = torch.from_numpy(order[start : start + self.batch_size]).to(device)
                yield data.source[idx], data.y[idx]
            return
        batches = data.source.iter_batches(self.batch_size, indices=order)
        for start, batch in zip(range(0, len(order), self.batch_size), batches):
            x = batch_to_device(batch, device, data.image_size, data.channels)
            idx = torch.from_numpy(order[start : start + self.batch_size]).to(device)
            yield x, data.y[idx]
