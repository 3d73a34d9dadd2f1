"""SelfSupervisedPretrainer: continue a backbone's pre-training on the user's unlabelled images."""

from __future__ import annotations

import copy
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._auto import auto_image_size, extractor_layers, resolve_recipe
from .._device import on_device, resolve_device, seeded
from .._validation import resolve_image_size
from ..backbones import Backbone, backbone_inputs, backbone_modality, block_indices, build_backbone
from ..images import record_n_features_in
from ..nn import POOLINGS, PRESETS, feature_width, make_encoder, resolve_augment
from ..training import (SELF_SUPERVISED_METHODS, BYOLObjective, ClusterObjective, MaskedObjective, SimCLRObjective,
                        handle_interrupt, train_self_supervised)
from ._params import check_int_params

__all__ = ["SelfSupervisedPretrainer"]


class SelfSupervisedPretrainer(BaseEstimator):
    """Continue a pretrained backbone's training on unlabelled images, with a self-supervised objective.

    ``fit(X)`` needs no labels: it adapts the backbone to the images' domain
    before any label is spent. The fitted pretrainer is then a backbone:
    pass it as ``backbone=`` to :class:`PretrainedFeatureExtractor`,
    :class:`FineTunedClassifier`, :class:`FineTunedRegressor` or
    :class:`DomainAdaptiveClassifier`.

    Parameters
    ----------
    backbone : str, Backbone or torch.nn.Module, default="efficientnet_lite0"
        The backbone to start from, as in :class:`PretrainedFeatureExtractor`.
    method : {"simclr", "byol", "cluster", "masked"}, default="simclr"
        ``"simclr"``: two random views of each image, pulled together and
        away from the batch's other images (Chen et al. 2020).
        ``"byol"``: the same two views, without negatives: one view's
        prediction regresses the other's projection by a slowly moving
        average of the network (Grill et al. 2020).
        ``"cluster"``: k-means on the images' features at the start of each
        epoch, then predict each augmented image's cluster (DeepCluster,
        Caron et al. 2018). ``"masked"``:
        blank random 4-pixel squares and restore them from the encoder's
        highest feature map with a linear decoder (masked image modelling,
        as SimMIM, Xie et al. 2022). See docs/self_supervised.md for what
        each measured.
    weights : str or None, default="default"
        The starting weights: ``"default"`` pretrained, None random.
    layer : "auto", int, str, list or None, default="auto"
        The blocks whose pooled outputs the objective shapes: ``"auto"``
        takes the ones :class:`PretrainedFeatureExtractor` reads by default
        for these images (mid-level blocks below 64 px, else the final features).
    pooling : str, default="avg"
    image_size : "auto", int or tuple, default="auto"
        As in :class:`PretrainedFeatureExtractor` (``"auto"``: the images'
        side rounded up to a multiple of 32).
    augment : "auto", str, callable or None, default="auto"
        The random changes that make the views (``"simclr"``, ``"byol"``) or precede
        the masking (``"masked"``). ``"auto"``: the fine-tuning preset for
        these images (``"strong"`` for glyphs, ``"photo"`` for photographs).
    max_epochs : int, default=10
        Passes over the training images. On Fashion-MNIST 30 epochs gave
        the probe no more than 10 did, at three times the cost (docs/self_supervised.md).
    batch_size : int, default=128
        Images per step (``"simclr"`` contrasts each image with the other
        ``2 * batch_size - 2`` views of its step).
    lr : float, default=1e-3
        AdamW's learning rate, warmed up over the first epoch and then
        decayed to 0 on a cosine.
    weight_decay : float, default=1e-4
    temperature : float, default=0.2
        NT-Xent's temperature (``"simclr"``).
    momentum : float, default=0.99
        Of the target network's moving average (``"byol"``): after each
        step it moves ``1 - momentum`` of the way to the trained network.
    mask_ratio : float, default=0.5
        The share of squares blanked (``"masked"``).
    n_clusters : int, default=100
        k of k-means (``"cluster"``); more than the classes, as DeepCluster
        advises (it used 10x the number of ImageNet's classes).
    validation_fraction : float, default=0.1
        Images held out to score the objective after each epoch; the best
        epoch's weights are kept. 0 trains on every image for ``max_epochs``.
    patience : int or None, default=5
        Epochs without a better held-out loss before stopping.
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available.
    input_shape : tuple, default=None
        For flattened images, as in :class:`PretrainedFeatureExtractor`.
    random_state : int, RandomState or None, default=None
    verbose : int, default=1
        1 prints each epoch's losses and shows a progress bar on a terminal.
    on_interrupt : {"raise", "keep"}, default="raise"
        After Ctrl-C: ``"raise"`` leaves the pretrainer as it was before
        ``fit``; ``"keep"`` keeps the best weights so far, with a warning.

    Attributes
    ----------
    backbone_ : Backbone
        The adapted backbone (on the CPU); :meth:`to_backbone` hands out copies.
    layers_ : list of int or None
        The blocks the objective shaped.
    image_size_ : tuple of int
    augment_ : str, callable or None
        The augmentation used (``"auto"`` resolved).
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``valid_loss``.
    n_epochs_ : int
        Epochs run.
    best_epoch_ : int
        The epoch whose weights were kept.
    interrupted_ : bool
    n_features_in_ : int
        Only for flattened 2-D image input.

    See Also
    --------
    PretrainedFeatureExtractor, FineTunedClassifier

    Notes
    -----
    ``clone`` of a *fitted* pretrainer returns a copy that keeps its fit (as
    scikit-learn's ``FrozenEstimator``), so an estimator built on it keeps
    the adapted backbone through ``GridSearchCV`` and ``cross_val_score``,
    which clone their estimators and every estimator among their
    parameters. ``clone`` of an unfitted one is the usual unfitted copy.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import FineTunedClassifier, SelfSupervisedPretrainer
    >>> X = np.random.default_rng(0).integers(0, 255, (32, 16, 16), dtype=np.uint8)
    >>> pre = SelfSupervisedPretrainer("timm/test_resnet", weights=None, max_epochs=1, batch_size=16,
    ...                                verbose=0, random_state=0).fit(X)
    >>> pre.n_epochs_
    1
    >>> clf = FineTunedClassifier(pre, max_epochs=1, min_steps=1, verbose=0).fit(X, np.arange(32) % 2)
    """

    _parameter_constraints = {
        "backbone": [str, Backbone, torch.nn.Module],
        "method": [StrOptions(set(SELF_SUPERVISED_METHODS))],
        "weights": [str, None],
        "layer": [StrOptions({"auto"}), Integral, str, list, tuple, None],
        "pooling": [StrOptions(set(POOLINGS))],
        "image_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left"), tuple, list],
        "augment": [StrOptions({"auto"} | set(PRESETS)), callable, None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "mask_ratio": [Interval(Real, 0, 1, closed="neither")],
        "n_clusters": [Interval(Integral, 1, None, closed="left")],  # >= 2 for "cluster", checked in fit
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "device": [str, torch.device],
        "input_shape": [tuple, list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "on_interrupt": [StrOptions({"raise", "keep"})],
    }

    def __init__(self, backbone="efficientnet_lite0", *, method="simclr", weights="default", layer="auto",
                 pooling="avg", image_size="auto", augment="auto", max_epochs=10, batch_size=128, lr=1e-3,
                 weight_decay=1e-4, temperature=0.2, momentum=0.99, mask_ratio=0.5, n_clusters=100,
                 validation_fraction=0.1, patience=5,
                 device="auto", input_shape=None, random_state=None, verbose=1, on_interrupt="raise"):
        self.backbone = backbone
        self.method = method
        self.weights = weights
        self.layer = layer
        self.pooling = pooling
        self.image_size = image_size
        self.augment = augment
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.temperature = temperature
        self.momentum = momentum
        self.mask_ratio = mask_ratio
        self.n_clusters = n_clusters
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.input_shape = input_shape
        self.random_state = random_state
        self.verbose = verbose
        self.on_interrupt = on_interrupt

    def fit(self, X, y=None):
        """Continue the backbone's pre-training on the images ``X``.

        Parameters
        ----------
        X : images
            Unlabelled images, in any form :func:`sktransfer.images.as_image_set` takes.
        y : None
            Ignored (accepted so the pretrainer fits in a ``Pipeline``); labels are not used.

        Returns
        -------
        self : SelfSupervisedPretrainer
        """
        self._validate_params()
        check_int_params(self)
        if backbone_modality(self.backbone) != "image":
            raise ValueError(f"SelfSupervisedPretrainer pre-trains image backbones; {self.backbone!r} takes texts.")
        images = backbone_inputs(X, self.backbone, self.input_shape)
        n_valid = int(round(self.validation_fraction * len(images)))
        if len(images) - n_valid < 2:
            raise ValueError(f"SelfSupervisedPretrainer needs at least 2 training images (got {len(images)}, "
                             f"{n_valid} of them held out by validation_fraction={self.validation_fraction}).")
        if self.method == "cluster" and not 2 <= self.n_clusters <= len(images):
            raise ValueError(f"method='cluster' groups the {len(images)} images into n_clusters clusters: at least "
                             f"2 and at most one per image; got n_clusters={self.n_clusters}.")
        device = resolve_device(self.device)
        random = check_random_state(self.random_state)
        seed = random.randint(2**31 - 1)
        with seeded(seed, device):  # weights=None, the projector and the views draw from it
            backbone = build_backbone(self.backbone, self.weights)
            image_size = self._image_size(backbone, images)
            layers = (extractor_layers(len(backbone.blocks), images.typical_shape()) if self.layer == "auto"
                      else block_indices(backbone.blocks, self.layer, backbone.name))
            encoder = make_encoder(backbone, image_size, layers, self.pooling)
            augment_name = resolve_recipe("auto", self.augment, images.typical_shape())[1]
            objective = self._objective(encoder, resolve_augment(augment_name))
            rng = np.random.default_rng(seed)
            order = rng.permutation(len(images))
            trained = [p for p in objective.parameters() if p.requires_grad]  # not BYOL's moving-average target
            optimizer = torch.optim.AdamW(trained, lr=self.lr, weight_decay=self.weight_decay)
            with on_device(objective, device):
                history, kept_epoch, interrupted = train_self_supervised(
                    objective, images, train_idx=np.sort(order[n_valid:]), valid_idx=np.sort(order[:n_valid]),
                    optimizer=optimizer, max_epochs=self.max_epochs, batch_size=self.batch_size,
                    patience=self.patience, device=device, rng=rng, verbose=self.verbose)
        if interrupted:
            handle_interrupt(history, self.max_epochs, self.on_interrupt, type(self).__name__)
        objective.train(False)
        backbone.extra = {**backbone.extra, "self_supervised": self.method}
        self.backbone_, self.layers_, self.image_size_, self.augment_ = backbone, layers, image_size, augment_name
        self.history_, self.n_epochs_, self.interrupted_ = history, len(history), interrupted
        self.best_epoch_ = kept_epoch
        record_n_features_in(self, X)
        return self

    def to_backbone(self):
        """A copy of the adapted backbone, for an estimator's ``backbone=`` (estimators call it themselves).

        Returns
        -------
        backbone : Backbone

        Examples
        --------
        >>> import numpy as np
        >>> from sktransfer import SelfSupervisedPretrainer
        >>> X = np.random.default_rng(0).integers(0, 255, (16, 16, 16), dtype=np.uint8)
        >>> pre = SelfSupervisedPretrainer("timm/test_resnet", weights=None, max_epochs=1, batch_size=8,
        ...                                verbose=0).fit(X)
        >>> pre.to_backbone().trunk is pre.backbone_.trunk
        False
        """
        check_is_fitted(self, "backbone_", msg=(
            "This SelfSupervisedPretrainer is not fitted: call fit(X) on unlabelled images before passing it as "
            "backbone=."))
        return copy.deepcopy(self.backbone_)

    @property
    def structure_name(self):
        """The starting backbone's name when it is one: the adapted backbone has its structure (exports read it)."""
        return self.backbone if isinstance(self.backbone, str) else None

    def __sklearn_clone__(self):
        if hasattr(self, "backbone_"):
            return copy.deepcopy(self)  # a fitted pretrainer is a backbone: clones keep it (see Notes)
        return super().__sklearn_clone__()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.positive_only = True  # pixels are never negative
        tags.target_tags.required = False
        return tags

    # ------------------------------------------------------------------ internals

    def _image_size(self, backbone, images):
        if isinstance(self.image_size, str):
            return auto_image_size(images.typical_shape(), backbone.input_size)
        return resolve_image_size(self.image_size, backbone)

    def _objective(self, encoder, augment):
        n_features = feature_width(encoder)
        if self.method in ("simclr", "byol"):
            if augment is None:
                raise ValueError(f"method={self.method!r} learns from two random views of each image; augment=None "
                                 "makes them identical. Use augment='auto' or a preset.")
            if self.method == "byol":
                return BYOLObjective(encoder, augment, n_features, momentum=self.momentum)
            return SimCLRObjective(encoder, augment, n_features, temperature=self.temperature)
        if self.method == "cluster":
            return ClusterObjective(encoder, augment, n_features, self.n_clusters, self.batch_size)
        with torch.no_grad():
            blank = torch.zeros(1, encoder.in_chans, *encoder.image_size)
            top = encoder.eval().trunk_output(encoder.preprocess(blank))[-1]
        encoder.train()
        if top.ndim != 4 or top.shape[2] < 1 or encoder.image_size[0] % top.shape[2]:
            raise ValueError(f"method='masked' restores pixels from a feature map whose side divides the image's; "
                             f"this backbone's block gives {tuple(top.shape)} at image_size={encoder.image_size}. "
                             "Use method='simclr', or another layer= or image_size=.")
        stride = encoder.image_size[0] // top.shape[2]
        return MaskedObjective(encoder, augment, top.shape[1], stride, mask_ratio=self.mask_ratio)
