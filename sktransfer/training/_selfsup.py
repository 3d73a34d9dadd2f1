"""Self-supervised objectives on unlabelled images, and the loop that continues a backbone's pre-training with them.

- ``"simclr"`` (Chen et al. 2020): two random views of each image; the
  projected embeddings of an image's two views are pulled together and pushed
  away from the other views of the batch (NT-Xent).
- ``"byol"`` (Grill et al. 2020): the same two views, but no negatives:
  the online network's prediction of one view regresses the other view's
  projection by a target network, a slowly moving average of the online
  one.
- ``"cluster"`` (DeepCluster, Caron et al. 2018): at the start of each
  epoch the images' features are clustered with k-means, and the encoder
  learns to predict an augmented image's cluster: the groups its features
  already suggest become sharper.
- ``"masked"`` (masked image modelling, as SimMIM, Xie et al. 2022, and the
  denoising autoencoders before it): square patches of the image are blanked
  out, and a linear decoder on the encoder's highest feature map restores
  the missing pixels.

All read the blocks the estimators read (the encoder's ``layers``), so the
features a probe will take are the ones the objective shapes.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._device import autocast
from .._progress import progress_bar
from .._tensors import batch_to_device
from ..nn import encode_batches
from ._optim import scaled_rates

__all__ = ["SELF_SUPERVISED_METHODS", "BYOLObjective", "ClusterObjective", "MaskedObjective", "SimCLRObjective",
           "nt_xent", "train_self_supervised"]

SELF_SUPERVISED_METHODS = ("simclr", "byol", "cluster", "masked")


def nt_xent(z1, z2, temperature):
    """SimCLR's loss: each embedding's positive is its own image's other view; the batch's other views are negatives.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.training._selfsup import nt_xent
    >>> z = torch.randn(8, 4)
    >>> bool(nt_xent(z, z, 0.1) < nt_xent(z, torch.randn(8, 4), 0.1))  # matching views cost less
    True
    """
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    similarity = z @ z.T / temperature
    similarity.fill_diagonal_(float("-inf"))  # a view is not its own positive
    n = z1.shape[0]
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(similarity, partner)


def _two_views(encoder, augment, x):
    """A batch of uint8 images ``x`` -> ``(2 * n, C, H, W)``: two random views of each, first views first."""
    images = encoder.to_unit_range(x)
    return torch.cat([augment(images.clone()), augment(images.clone())])


class SimCLRObjective(nn.Module):
    """The SimCLR loss of a batch of uint8 images: ``augment`` twice, encode, project, NT-Xent.

    Parameters
    ----------
    encoder : ImageEncoder
    augment : callable
        Float images in [0, 1] -> randomly changed images (a :class:`~sktransfer.nn.BatchAugment`).
    n_features : int
        The encoder's output width.
    projection_dim : int, default=128
    temperature : float, default=0.2
    """

    def __init__(self, encoder, augment, n_features, projection_dim=128, temperature=0.2):
        super().__init__()
        self.encoder = encoder
        self.augment = augment
        # The projection head of SimCLR: the loss shapes its output, so the encoder's features keep
        # what the augmentations change (measured in the paper: a better probe than without it).
        self.projector = nn.Sequential(nn.Linear(n_features, 512), nn.ReLU(), nn.Linear(512, projection_dim))
        self.temperature = float(temperature)

    def forward(self, x, rows=None):
        z1, z2 = self.projector(self.encoder(_two_views(self.encoder, self.augment, x))).chunk(2)
        return nt_xent(z1, z2, self.temperature)


def _mlp(n_in, n_out, hidden=512):
    """BYOL's projector and predictor: ``Linear -> BatchNorm -> ReLU -> Linear``."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, n_out))


class BYOLObjective(nn.Module):
    """BYOL's loss of a batch of uint8 images: predict one view's target projection from the other view.

    The target network (a copy of the encoder and projector) is not trained
    by gradient: :meth:`after_step` moves it towards the online network,
    ``target = momentum * target + (1 - momentum) * online``. Its encoder
    stays in eval mode, so its BatchNorm statistics are the pretrained ones,
    as the online encoder's are during pre-training.

    Parameters
    ----------
    encoder : ImageEncoder
    augment : callable
        Float images in [0, 1] -> randomly changed images.
    n_features : int
        The encoder's output width.
    projection_dim : int, default=128
    momentum : float, default=0.99
        Of the target's moving average. BYOL used 0.996 over 300+ epochs of
        ImageNet. A run of a few hundred steps (10 epochs of 5,000 images)
        with 0.996 still holds a quarter of the starting weights in its
        target at the end (0.996^360), 0.99 under 3%; on Fashion-MNIST both
        gave the same probe (docs/self_supervised.md).

    Examples
    --------
    >>> import torch
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer.nn import BatchAugment, feature_width, make_encoder
    >>> from sktransfer.training import BYOLObjective
    >>> encoder = make_encoder(get_backbone("timm/test_resnet", weights=None), (16, 16), None, "avg")
    >>> objective = BYOLObjective(encoder, BatchAugment(hflip=0.5), feature_width(encoder))
    >>> loss = objective(torch.randint(0, 255, (4, 3, 16, 16), dtype=torch.uint8))
    >>> bool(0 <= loss.item() <= 4)
    True
    """

    def __init__(self, encoder, augment, n_features, projection_dim=128, momentum=0.99):
        super().__init__()
        self.encoder = encoder
        self.augment = augment
        self.projector = _mlp(n_features, projection_dim)
        self.predictor = _mlp(projection_dim, projection_dim)
        self.target_encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.target_projector = copy.deepcopy(self.projector).requires_grad_(False)
        self.momentum = float(momentum)

    def train(self, mode=True):
        super().train(mode)
        self.target_encoder.eval()
        return self

    @torch.no_grad()
    def after_step(self):
        """Move the target network towards the online one (called after each optimizer step)."""
        for online, target in ((self.encoder, self.target_encoder), (self.projector, self.target_projector)):
            for p_online, p_target in zip(online.parameters(), target.parameters()):
                p_target.lerp_(p_online.detach(), 1.0 - self.momentum)

    def forward(self, x, rows=None):
        views = _two_views(self.encoder, self.augment, x)
        p1, p2 = self.predictor(self.projector(self.encoder(views))).float().chunk(2)
        with torch.no_grad():
            t1, t2 = self.target_projector(self.target_encoder(views)).float().chunk(2)
        # Each view's prediction regresses the *other* view's target: 2 - 2 cos, averaged over both directions.
        return 2 - F.cosine_similarity(p1, t2, dim=1).mean() - F.cosine_similarity(p2, t1, dim=1).mean()


class MaskedObjective(nn.Module):
    """The masked-image-modelling loss of a batch of uint8 images: blank patches, restore their pixels.

    Parameters
    ----------
    encoder : ImageEncoder
    augment : callable or None
        Applied once before masking.
    n_channels : int
        Channels of the encoder's highest block read.
    stride : int
        Pixels per cell of that block's map (the image side over the map's side).
    mask_ratio : float, default=0.5
    patch : int, default=4
        Side of the blanked squares, in pixels at the encoder's input size.
    """

    def __init__(self, encoder, augment, n_channels, stride, mask_ratio=0.5, patch=4):
        super().__init__()
        self.encoder = encoder
        self.augment = augment
        self.stride = int(stride)
        self.mask_ratio = float(mask_ratio)
        self.patch = int(patch)
        # A linear decoder per map cell (SimMIM's): the encoder must hold the content, not the decoder.
        self.decoder = nn.Sequential(nn.Conv2d(n_channels, encoder.in_chans * self.stride**2, 1),
                                     nn.PixelShuffle(self.stride))

    def forward(self, x, rows=None):
        images = self.encoder.to_unit_range(x)
        if self.augment is not None:
            images = self.augment(images.clone())
        target = (images - self.encoder.mean) / self.encoder.std
        n, _, height, width = target.shape
        cells = torch.rand(n, 1, math.ceil(height / self.patch), math.ceil(width / self.patch), device=x.device)
        mask = (cells < self.mask_ratio).float()
        mask = F.interpolate(mask, scale_factor=self.patch, mode="nearest")[:, :, :height, :width]
        masked = (target * (1 - mask)).contiguous(memory_format=torch.channels_last)  # 0: the mean colour
        restored = self.decoder(self.encoder.trunk_output(masked)[-1])
        restored = F.interpolate(restored, size=(height, width), mode="nearest") if restored.shape[2:] != (
            height, width) else restored
        error = (restored.float() - target).pow(2).mean(dim=1, keepdim=True)
        return (error * mask).sum() / mask.sum().clamp(min=1.0)


class ClusterObjective(nn.Module):
    """DeepCluster's loss of a batch: the cross-entropy of an augmented image's features against its cluster.

    :meth:`start_epoch` clusters the features of the images (k-means on
    their standardised, L2-normalised features, as DeepCluster) and draws a
    new linear head; clusters are weighted by the inverse of their size, so
    that no cluster absorbs the rest.

    Parameters
    ----------
    encoder : ImageEncoder
    augment : callable or None
    n_features : int
    n_clusters : int
    batch_size : int
        Images per forward pass when the features are computed.
    """

    def __init__(self, encoder, augment, n_features, n_clusters, batch_size):
        super().__init__()
        self.encoder = encoder
        self.augment = augment
        self.head = nn.Linear(n_features, n_clusters)
        self.n_clusters = int(n_clusters)
        self.batch_size = int(batch_size)
        self.register_buffer("weight", torch.ones(n_clusters))
        self.assignments = None

    def start_epoch(self, images, rows, device, rng):
        """Cluster the features of ``images[rows]`` (k-means), weight the clusters, and draw a new head."""
        from sklearn.cluster import KMeans

        self.encoder.eval()
        features = encode_batches(self.encoder, images, batch_size=self.batch_size, device=device, indices=rows)
        features = (features - features.mean(0)) / (features.std(0) + 1e-6)
        features /= np.linalg.norm(features, axis=1, keepdims=True) + 1e-12
        kmeans = KMeans(self.n_clusters, n_init=1, random_state=int(rng.integers(2**31 - 1))).fit(features)
        self.assignments = dict(zip(np.asarray(rows).tolist(), kmeans.labels_.tolist()))
        counts = np.bincount(kmeans.labels_, minlength=self.n_clusters).astype(np.float32)
        self.weight.copy_(torch.as_tensor(len(rows) / (self.n_clusters * np.maximum(counts, 1.0))))
        self.head.reset_parameters()  # DeepCluster: cluster ids mean nothing from one epoch to the next

    def forward(self, x, rows=None):
        images = self.encoder.to_unit_range(x)
        if self.augment is not None and self.training:
            images = self.augment(images.clone())
        targets = torch.as_tensor([self.assignments[r] for r in np.asarray(rows).tolist()], device=x.device)
        return F.cross_entropy(self.head(self.encoder(images)).float(), targets, weight=self.weight)


def train_self_supervised(objective, images, *, train_idx, valid_idx, optimizer, max_epochs, batch_size, patience,
                          device, rng, verbose=0, freeze_batchnorm=True):
    """Minimise ``objective`` over ``images[train_idx]``; stop early on the held-out loss of ``images[valid_idx]``.

    The learning rate warms up over the first epoch and then follows a
    cosine to 0 over ``max_epochs``. Each epoch's held-out loss is computed
    under fixed random views (the same every epoch), so epochs compare; the
    weights of the best epoch are kept. An objective that relabels the
    images each epoch (``start_epoch``: the clusters) has losses that do not
    compare across epochs: it runs every epoch and keeps the last. With
    ``freeze_batchnorm``, the encoder's BatchNorm layers keep their
    statistics (eval mode) while their scales and shifts train.

    Returns ``(history, kept_epoch, interrupted)``: ``history`` a list of
    ``{"epoch", "train_loss", "valid_loss"}``, ``kept_epoch`` the epoch whose
    weights the encoder holds (0 when none finished); a Ctrl-C ends the loop
    where it is and says so (the best weights so far stay).
    """
    steps_per_epoch = max(1, math.ceil(len(train_idx) / batch_size))
    total = steps_per_epoch * max_epochs
    history, best, best_state, kept_epoch, stale, step, interrupted = [], math.inf, None, 0, 0, 0, False
    with progress_bar(len(train_idx) * max_epochs, verbose, "self-supervised") as bar, \
            scaled_rates(optimizer) as scale:
        try:
            for epoch in range(1, max_epochs + 1):
                if hasattr(objective, "start_epoch"):  # clustering methods relabel the images each epoch
                    with torch.no_grad():
                        objective.start_epoch(images, np.concatenate([train_idx, valid_idx]).astype(np.int64),
                                              device, rng)
                objective.train()
                if freeze_batchnorm:
                    _batchnorm_eval(objective.encoder)
                losses = []
                for rows in np.array_split(rng.permutation(train_idx), steps_per_epoch):
                    scale((step + 1) / steps_per_epoch if step < steps_per_epoch else
                          0.5 * (1 + math.cos(math.pi * (step - steps_per_epoch) / max(1, total - steps_per_epoch))))
                    losses.append(_step(objective, images, rows, optimizer, device))
                    step += 1
                    if bar is not None:
                        bar.update(len(rows))
                record = {"epoch": epoch, "train_loss": float(np.mean(losses)),
                          "valid_loss": _held_out_loss(objective, images, valid_idx, batch_size, device)}
                history.append(record)
                score = record["valid_loss"] if len(valid_idx) else record["train_loss"]
                if hasattr(objective, "start_epoch"):
                    score = -epoch  # the last epoch is the best: losses of different clusterings do not compare
                if score < best:
                    best, best_state, kept_epoch = score, copy.deepcopy(objective.encoder.trunk.state_dict()), epoch
                    stale = 0
                else:
                    stale += 1
                if verbose:
                    print(f"epoch {epoch}: train loss {record['train_loss']:.4f}, held-out loss "
                          f"{record['valid_loss']:.4f}", flush=True)
                if patience is not None and len(valid_idx) and stale >= patience:
                    break
        except KeyboardInterrupt:
            interrupted = True
    if best_state is not None:
        objective.encoder.trunk.load_state_dict(best_state)
    return history, kept_epoch, interrupted


def _step(objective, images, rows, optimizer, device):
    x = batch_to_device(images.load(rows), device, objective.encoder.image_size, objective.encoder.in_chans)
    with autocast(device):
        loss = objective(x, rows)
    if not torch.isfinite(loss):
        raise FloatingPointError("self-supervised pre-training diverged (a non-finite loss); lower lr.")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if hasattr(objective, "after_step"):  # BYOL's target follows the trained network
        objective.after_step()
    return loss.item()


def _held_out_loss(objective, images, valid_idx, batch_size, device):
    """The objective's mean loss on the held-out images, BatchNorm in eval mode, under views fixed by a seed."""
    if not len(valid_idx):
        return float("nan")
    objective.eval()
    total = 0.0
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.no_grad(), torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        for rows in np.array_split(np.asarray(valid_idx), max(1, math.ceil(len(valid_idx) / batch_size))):
            x = batch_to_device(images.load(rows), device, objective.encoder.image_size, objective.encoder.in_chans)
            with autocast(device):
                total += objective(x, rows).item() * len(rows)
    return total / len(valid_idx)


def _batchnorm_eval(module):
    """Put ``module``'s BatchNorm layers in eval mode: their running statistics stay the pretrained ones."""
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            layer.eval()
