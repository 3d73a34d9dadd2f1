"""Running one fit's skorch net on the device: the datasets, the net, Ctrl-C, the device memory after."""

from __future__ import annotations

import gc
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from .._device import on_device
from .._progress import progress_bar
from ..nn import encode_batches
from ._assemble import assemble_net
from ._data import ImageDataset

__all__ = ["TrainingData", "encode_images", "handle_interrupt", "train_network"]


@dataclass
class TrainingData:
    """The rows of one fit: images, encoded targets, and the training / validation / unlabelled rows.

    ``cached``: train the head on features the frozen backbone computes
    once (no augmentation, no unlabelled rows). ``rng`` draws the unlabelled
    rows of each batch.
    """

    images: object
    targets: np.ndarray
    train_idx: np.ndarray
    valid_idx: np.ndarray | None
    unlabeled_idx: np.ndarray
    unlabeled_ratio: float
    cached: bool
    rng: np.random.Generator


def encode_images(encoder, images, device, *, batch_size, verbose, indices=None):
    """Frozen-backbone features of ``images`` (rows ``indices``), as float32 numpy; ``encoder`` is on ``device``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer.images import as_image_set
    >>> from sktransfer.nn import ImageEncoder
    >>> from sktransfer.training import encode_images
    >>> encoder = ImageEncoder(get_backbone("timm/test_resnet", weights=None), (32, 32))
    >>> images = as_image_set(np.zeros((3, 8, 8)))
    >>> encode_images(encoder, images, torch.device("cpu"), batch_size=2, verbose=0).shape
    (3, 96)
    """
    n = len(images) if indices is None else len(indices)
    with progress_bar(n, verbose, "features") as bar:
        return encode_batches(encoder, images, batch_size=batch_size, device=device, indices=indices, progress=bar)


def train_network(module, data, plan, freezing, task, device, augment):
    """Train ``module`` through skorch; return ``(history, interrupted, max_epochs)``. The module ends on CPU.

    With unlabelled rows, every training batch also holds some, and the
    task's net augments them itself (``augment`` is then left to it).
    """
    module.augment = None if len(data.unlabeled_idx) else augment
    try:
        with on_device(module, device):
            source = data.images
            if data.cached:  # the frozen backbone runs once, over all images, train and validation
                source = torch.from_numpy(encode_images(module.encoder, data.images, device,
                                                        batch_size=plan.batch_size, verbose=plan.verbose)).to(device)
            y_device = torch.as_tensor(data.targets).to(device)

            def dataset(idx, unlabeled=None, ratio=1.0):
                return ImageDataset(source, idx, y_device, device=device, image_size=module.image_size,
                                    channels=module.in_chans, rng=data.rng, unlabeled=unlabeled, unlabeled_ratio=ratio)

            train_data = dataset(data.train_idx, data.unlabeled_idx, data.unlabeled_ratio)
            valid_data = None if data.valid_idx is None else dataset(data.valid_idx)
            net = assemble_net(plan, freezing, task, module, train_data, valid_data, device)
            net.fit(train_data, None)
            result = net.history, net.interrupted_, net.max_epochs  # the net itself is dropped
            # The last step's gradients would stay on the fitted model: as much memory as its trainable
            # weights, for nothing (and explain() would find them there).
            module.zero_grad(set_to_none=True)
            if device.type == "cuda":
                net = source = y_device = None  # noqa: F841  (free device memory now, not at the next gc)
                gc.collect()
    finally:
        module.augment = None
    return result


def handle_interrupt(history, max_epochs, on_interrupt, owner):
    """After a Ctrl-C: raise ``KeyboardInterrupt`` (``on_interrupt="raise"``) or warn that partial weights stay.

    Examples
    --------
    >>> from sktransfer.training import handle_interrupt
    >>> try:
    ...     handle_interrupt([{}, {}], 5, "raise", "FineTunedClassifier")
    ... except KeyboardInterrupt as exc:
    ...     print(exc)
    training interrupted in epoch 2; FineTunedClassifier keeps its previous state (on_interrupt='keep' keeps partial weights instead)
    """
    epochs = len(history)
    if on_interrupt == "raise":
        # The fit is abandoned: the estimator keeps its previous fitted state (or stays unfitted).
        raise KeyboardInterrupt(f"training interrupted in epoch {epochs}; {owner} keeps its previous state "
                                "(on_interrupt='keep' keeps partial weights instead)")
    warnings.warn(f"Training was interrupted in epoch {epochs} of {max_epochs}: the model keeps the partially "
                  "trained weights (on_interrupt='keep'); interrupted_ is True.", UserWarning, stacklevel=4)
