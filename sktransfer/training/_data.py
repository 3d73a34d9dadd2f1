"""Training data for skorch: rows of an ImageSet (or cached features) and batches on the device.

With unlabelled rows (semi-supervised learning, domain adaptation), each
training batch holds labelled rows first, then unlabelled rows, whose label is
-1; the two streams cycle independently, so a few labels go with many
unlabelled images.
"""

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

    def __init__(self, source, indices, y, *, device, image_size, channels, rng, unlabeled=None,
                 unlabeled_ratio=1.0):
        self.source = source
        self.indices = np.asarray(indices, dtype=np.int64)
        #: Rows without a label (``y == -1``) that join every training batch, ``unlabeled_ratio``
        #: of them per labelled row.
        self.unlabeled = None if unlabeled is None or not len(unlabeled) else np.asarray(unlabeled, dtype=np.int64)
        self.unlabeled_ratio = float(unlabeled_ratio)
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

    When the dataset has ``unlabeled`` rows, each training batch is
    ``batch_size`` labelled rows (all of them when fewer) followed by
    ``unlabeled_ratio`` times as many unlabelled rows; both streams are
    reshuffled whenever they run out, and an epoch ends when the longer one
    has been seen once.

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

    def _mixed(self):
        return self.shuffle and self.dataset.unlabeled is not None

    def _mixed_sizes(self):
        """Labelled and unlabelled rows per batch, and batches per epoch."""
        data = self.dataset
        n_labeled, n_unlabeled = len(data.indices), len(data.unlabeled)
        per_labeled = min(self.batch_size, n_labeled)
        per_unlabeled = max(1, min(round(self.batch_size * data.unlabeled_ratio), n_unlabeled))
        steps = max(math.ceil(n_labeled / per_labeled), math.ceil(n_unlabeled / per_unlabeled))
        return per_labeled, per_unlabeled, steps

    def _mixed_order(self):
        """Row order of one epoch of mixed batches, and the batch size."""
        data = self.dataset
        per_labeled, per_unlabeled, steps = self._mixed_sizes()
        labeled = _cycle(data.indices, per_labeled * steps, data.rng).reshape(steps, per_labeled)
        unlabeled = _cycle(data.unlabeled, per_unlabeled * steps, data.rng).reshape(steps, per_unlabeled)
        return np.concatenate([labeled, unlabeled], axis=1).ravel(), per_labeled + per_unlabeled

    def _order(self):
        data = self.dataset
        order = data.indices
        if self.shuffle:
            order = order[data.rng.permutation(len(order))]
        if self.shuffle and len(order) > 1 and len(order) % self.batch_size == 1:
            order = order[:-1]
        return order

    def __len__(self):
        if self._mixed():
            return self._mixed_sizes()[2]
        return math.ceil(len(self._order()) / self.batch_size)

    def __iter__(self):
        data = self.dataset
        order, batch_size = self._mixed_order() if self._mixed() else (self._order(), self.batch_size)
        device = data.device
        if isinstance(data.source, torch.Tensor):  # cached features, already on the device
            for start in range(0, len(order), batch_size):
                idx = torch.from_numpy(order[start : start + batch_size]).to(device)
                yield data.source[idx], data.y[idx]
            return
        batches = data.source.iter_batches(batch_size, indices=order)
        for start, batch in zip(range(0, len(order), batch_size), batches):
            x = batch_to_device(batch, device, data.image_size, data.channels)
            idx = torch.from_numpy(order[start : start + batch_size]).to(device)
            yield x, data.y[idx]


def _cycle(rows, n, rng):
    """``n`` rows drawn by passes over ``rows``, each pass in a new random order."""
    passes = [rows[rng.permutation(len(rows))] for _ in range(math.ceil(n / len(rows)))]
    return np.concatenate(passes)[:n]
