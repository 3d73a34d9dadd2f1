"""FineTunedClassifier: a pretrained backbone fine-tuned as a scikit-learn classifier.

The estimator *has* a skorch ``NeuralNetClassifier`` (built anew in every
``fit``) rather than *being* one: scikit-learn sees only the parameters
documented below, ``clone`` never touches weights, and every fit starts from
the pretrained backbone. skorch runs the training loop, the callbacks
(per-epoch table, early stopping, schedules) and the history, and routes
nested parameters such as ``optimizer__weight_decay``. See docs/design.md.
"""

from __future__ import annotations

import copy
import difflib
import gc
import math
import time
from numbers import Integral, Real

import numpy as np
import torch
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d
from skorch.history import History

from ._augment import PRESETS, BatchAugment, resolve_augment
from ._device import release_cuda_memory, resolve_device
from ._encoder import POOLINGS, ImageEncoder, encode_batches
from ._features import build_backbone, resolve_image_size
from ._probe import FeatureScaler, choose_layers, fit_probe, layer_candidates
from ._progress import progress_bar
from ._training import (BatchData, BatchIterator, FineTuneModule, FineTuneNet, GradualUnfreeze, MergedGroups,
                        RecordLR, lr_lambda, make_head, one_cycle, param_groups)
from .backbones import Backbone
from .images import as_image_set, check_n_features_in, record_n_features_in

__all__ = ["FineTunedClassifier"]

#: Prefixes of the skorch parameters that may be passed as extra keywords.
SKORCH_PREFIXES = ("optimizer", "criterion", "callbacks")

#: ``early_stopping="auto"``: a stratified tenth is held out, and training
#: stops after this many epochs without a lower validation loss...
AUTO_VALIDATION_FRACTION = 0.1
AUTO_PATIENCE = 5
#: ...but only when the smallest class has at least this many images: below
#: that, a tenth of the labels is worth more as training data than as a
#: noisy stopping signal (the LP-FT start and the cosine schedule already
#: keep small fits from drifting).
AUTO_MIN_PER_CLASS = 100

#: The augmentation of test-time views (``tta``): mild, never flipping.
TTA_PRESET = "light"


class FineTunedClassifier(ClassifierMixin, BaseEstimator):
    """Fine-tune a pretrained image backbone plus a new head, as a scikit-learn classifier.

    The default recipe is LP-FT (Kumar et al., ICLR 2022): a linear probe
    first, then fine-tuning from it.

    1. **Probe.** The frozen backbone computes features of the training
       images once; scikit-learn's ``LogisticRegression`` (L-BFGS, L2
       penalty ``probe_C``, on standardised features) is fitted to
       convergence. With ``layer="auto"`` the blocks the head reads (the
       final features, or pooled mid-level blocks) are chosen by the probe's
       cross-validated accuracy. With ``trainable_blocks=0`` the probe *is*
       the model, whatever ``max_epochs`` says.
    2. **Fine-tune.** The probe's weights become the head, and the top
       ``trainable_blocks`` blocks and the head train with AdamW, layer-wise
       learning rates, a warm-up + cosine schedule and augmentation, for at
       least ``min_steps`` optimizer steps (an epoch of 50 images is only 2
       steps); on enough data a tenth is held out to stop early and restore
       the best epoch. The blocks below stay frozen (BatchNorm in eval mode).

    The training loop is a skorch ``NeuralNetClassifier`` built in each
    ``fit``. ``schedule="ft"`` gives plain fine-tuning from a random head.

    Parameters
    ----------
    backbone : str, Backbone or torch.nn.Module, default="efficientnet_lite0"
        A name from :func:`sktransfer.backbones.list_backbones`
        (``"efficientnet_lite0"`` works offline), ``"timm/<model>"``,
        ``"torchvision/<model>"``, or your own module.
    weights : str or None, default="default"
        ``"default"`` for pretrained weights, None for random initialisation.
    trainable_blocks : int or "all", default="all"
        How many of the blocks the head reads, counted from the top, are
        trained: 0 trains the head only (the converged probe), ``"all"``
        fine-tunes everything. The valid range is ``0..n_blocks_``.
    layer : "auto", int, str, list or None, default="auto"
        Which block outputs the head reads, pooled and concatenated: None for
        the final features, a block index or name or a list of them (as in
        :class:`~sktransfer.PretrainedFeatureExtractor`), or ``"auto"`` to
        let the probe's cross-validated accuracy choose between the final
        features and pooled mid-level blocks (below 128 px only mid-level
        blocks: a 1x1 or 2x2 final map fine-tunes unstably). Blocks above the
        highest one read are never run.
    schedule : {"lp-ft", "ft"}, default="lp-ft"
        ``"lp-ft"``: the head starts from the converged linear probe.
        ``"ft"``: the head starts random and trains with the blocks (with
        ``trainable_blocks=0``, for ``max_epochs`` epochs on cached features).
        Heads with ``hidden_units`` always start random.
    probe_C : float, default=1.0
        Inverse L2 strength of the probe, as ``C`` of ``LogisticRegression``
        on standardised features.
    lr : float, default=1e-2
        Learning rate of the head (the peak, after warm-up).
    lr_decay : float, default=0.7
        Layer-wise decay: the k-th trainable block from the top learns at
        ``lr * lr_decay**k`` (k = 1 for the top block). 1.0 for one rate.
    weight_decay : float, default=0.01
        Decoupled weight decay of the optimizer (AdamW's); with ``l2sp`` it
        applies to the head only.
    l2sp : float, default=0.0
        Strength of L2-SP (Li et al., ICML 2018): ``l2sp / 2 * ||w - w0||^2``
        over the trained backbone weights, pulling them toward their
        pretrained values ``w0`` instead of toward zero. 0 disables it.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Called as skorch does: ``optimizer(param_groups, lr=lr, **optimizer__*)``.
    lr_schedule : {"cosine", "onecycle"} or None, default="cosine"
        ``"cosine"``: linear warm-up over ``warmup_epochs``, then cosine decay
        to zero, stepped every batch. ``"onecycle"``: torch's ``OneCycleLR``
        (warm-up fraction ``warmup_epochs / max_epochs``, 0.3 when 0). None:
        constant rates.
    warmup_epochs : float, default=1
        Length of the warm-up, in epochs (fractions allowed).
    unfreeze_every : int or None, default=None
        Gradual unfreezing: train the head alone for ``unfreeze_every``
        epochs, then unfreeze one more block from the top every
        ``unfreeze_every`` epochs, up to ``trainable_blocks``.
    max_epochs : int, default=5
        Passes over the training data (raised by ``min_steps``; early
        stopping may end sooner).
    min_steps : int, default=200
        Fewest optimizer steps of fine-tuning: small training sets get
        ``ceil(min_steps / steps_per_epoch)`` epochs instead of
        ``max_epochs``. 0 counts in epochs only.
    batch_size : int, default=32
        Images per training step (and per inference batch).
    hidden_units : tuple of int, default=()
        Hidden layers of the head (ReLU); empty for a linear head.
    dropout : float, default=0.0
        Dropout before each layer of the head.
    image_size : "auto", int, tuple of int or None, default="auto"
        Size images are resized to. ``"auto"``: the images' larger side
        rounded up to a multiple of 32, between 32 and the backbone's
        default (a 28x28 digit trains at 32 px, a photograph at 224 px);
        None: the backbone's default.
    pooling : {"avg", "max", "avgmax", "gem", "none"}, default="avg"
        How the last feature map becomes a vector, as in
        :class:`~sktransfer.PretrainedFeatureExtractor`.
    augment : None, {"light", "strong"} or callable, default="strong"
        Augmentation of training batches only, on the device, on float images
        in [0, 1] after resizing. ``"light"``: small random-resized crop and
        shift, brightness/contrast jitter. ``"strong"``: more of that, small
        rotations and shears, random erasing. Neither flips. A callable
        (e.g. a ``torchvision.transforms.v2`` transform) gets the float batch
        ``(B, C, H, W)`` and returns one of the same shape; note that v2
        transforms draw one set of random parameters per batch. Not used with
        ``trainable_blocks=0`` under LP-FT (the probe is the model).
    label_smoothing : float, default=0.1
        Label smoothing of the fine-tuning loss (``CrossEntropyLoss``'s);
        ``criterion__label_smoothing`` overrides it. The probe is unaffected.
    tta : int, default=4
        Test-time augmentation: :meth:`predict`, :meth:`predict_proba` and
        :meth:`decision_function` average the logits of each image and of
        ``tta`` randomly augmented views of it (the mild ``"light"``
        preset, seeded by ``random_state``). Costs ``1 + tta`` forward passes;
        0 turns it off. Not used by a probe-only model (``trainable_blocks=0``).
    validation_fraction : "auto", float or None, default="auto"
        Fraction of the training data held out (stratified) to report
        ``valid_loss`` and ``valid_acc`` each epoch; None or 0 for no split.
        "auto" holds out 0.1 for early stopping: with ``early_stopping=
        "auto"`` only when every class has at least 100 images (below that
        every label is worth more for training), with an int always.
    early_stopping : "auto", int or None, default="auto"
        Patience in epochs: stop when ``valid_loss`` has not improved for
        that many epochs and restore the weights of the best epoch. Needs a
        validation split. "auto": patience 5 when there is a split.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, as in scikit-learn.
    warm_start : bool, default=False
        When True, ``fit`` on a fitted model continues training its current
        weights (optimizer and schedule start afresh); when False every fit
        starts from the pretrained backbone and a new head.
    random_state : int, RandomState instance or None, default=None
        Seeds the split, the batch order, the head's initialisation, dropout
        and augmentation. With an int, two fits on CPU give identical
        predictions (torch's global generator is restored afterwards).
    device : str, default="auto"
        "auto" picks CUDA when available, else CPU. On CUDA the model runs in
        bf16 autocast with channels-last memory.
    input_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(H, W, C)`` of each image when ``X`` is a flattened
        2-D array, e.g. ``(8, 8)`` for scikit-learn's digits.
    callbacks : list or None, default=None
        Extra skorch callbacks (instances or ``(name, callback)`` pairs),
        added after the built-in ones.
    verbose : int, default=1
        1 prints skorch's per-epoch table (and a progress bar while caching
        features); 0 is silent.
    **kwargs
        Nested skorch parameters, routed to the skorch net as skorch does:
        ``optimizer__*`` (e.g. ``optimizer__betas``; ``optimizer__weight_decay``
        overrides ``weight_decay``; ``optimizer__param_groups`` replaces the
        layer-wise groups), ``criterion__*`` (e.g.
        ``criterion__label_smoothing``) and ``callbacks__<name>__*``.
        ``get_params`` returns them and ``set_params``/``GridSearchCV`` set them.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, as given in ``y``.
    module_ : torch.nn.Module
        The trained network (encoder and head), on CPU between calls.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``train_acc``, ``valid_loss``, ``valid_acc``,
        ``dur``, ``lr`` (the head's) and ``n_steps``. Index like
        ``history_[:, "valid_acc"]``. A probe-only fit has one row, the probe's.
    image_size_ : tuple of int
        The ``(H, W)`` images are resized to.
    layers_ : list of int or None
        Blocks whose pooled outputs the head reads (None: the final
        features), as ``layer`` gave or the probe chose.
    probe_scores_ : dict of str to float
        Cross-validated accuracy of the probe for each candidate of
        ``layer="auto"`` (NaN where a class had too few images to validate);
        only when a probe ran.
    n_blocks_ : int
        Number of blocks the network runs: up to the highest one the head reads.
    trainable_blocks_ : int
        Blocks trained at the end of the last fit.
    n_steps_ : int
        Optimizer steps of the last fit (0 when the probe alone is the model).
    features_cached_ : bool
        Whether the last fit trained the head on features computed once.
    n_features_in_ : int
        Only when ``X`` in :meth:`fit` is a flattened 2-D array: its number of
        columns.

    See Also
    --------
    PretrainedFeatureExtractor : frozen features for any scikit-learn model.

    Notes
    -----
    Pickles hold the trained weights as CPU tensors, so a model trained on a
    GPU unpickles and predicts on a machine without one (with the default
    ``device="auto"``).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import FineTunedClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> probe = FineTunedClassifier(trainable_blocks=0, input_shape=(8, 8), verbose=0, random_state=0)
    >>> probe.fit(X[:200] / 16.0, y[:200]).layers_  # mid-level blocks suit 8x8 digits
    [3, 4, 5]
    >>> probe.predict(X[200:205] / 16.0).shape
    (5,)

    The defaults fine-tune the whole network from that probe (about 10 s here):

    >>> clf = FineTunedClassifier(input_shape=(8, 8), verbose=0, random_state=0)
    >>> clf.fit(X[:200] / 16.0, y[:200]).n_steps_  # 29 epochs of 7 batches: min_steps=200
    203
    """

    _parameter_constraints = {
        "backbone": [str, Backbone, torch.nn.Module],
        "weights": [str, None],
        "trainable_blocks": [Interval(Integral, 0, None, closed="left"), StrOptions({"all"})],
        "layer": [StrOptions({"auto"}), Integral, str, list, tuple, None],
        "schedule": [StrOptions({"lp-ft", "ft"})],
        "probe_C": [Interval(Real, 0, None, closed="neither")],
        "l2sp": [Interval(Real, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "lr_decay": [Interval(Real, 0, 1, closed="right")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "optimizer": [callable],
        "lr_schedule": [StrOptions({"cosine", "onecycle"}), None],
        "warmup_epochs": [Interval(Real, 0, None, closed="left")],
        "unfreeze_every": [Interval(Integral, 1, None, closed="left"), None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "min_steps": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "hidden_units": [tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "image_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "pooling": [StrOptions(set(POOLINGS))],
        "augment": [StrOptions(set(PRESETS)), callable, None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "tta": [Interval(Integral, 0, None, closed="left")],
        "validation_fraction": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="left"), None],
        "early_stopping": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left"), None],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "device": [str, torch.device],
        "input_shape": [tuple, list, None],
        "callbacks": [list, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        backbone="efficientnet_lite0",
        *,
        weights="default",
        trainable_blocks="all",
        layer="auto",
        schedule="lp-ft",
        probe_C=1.0,
        lr=1e-2,
        lr_decay=0.7,
        weight_decay=0.01,
        l2sp=0.0,
        optimizer=torch.optim.AdamW,
        lr_schedule="cosine",
        warmup_epochs=1,
        unfreeze_every=None,
        max_epochs=5,
        min_steps=200,
        batch_size=32,
        hidden_units=(),
        dropout=0.0,
        image_size="auto",
        pooling="avg",
        augment="strong",
        label_smoothing=0.1,
        tta=4,
        validation_fraction="auto",
        early_stopping="auto",
        class_weight=None,
        warm_start=False,
        random_state=None,
        device="auto",
        input_shape=None,
        callbacks=None,
        verbose=1,
        **kwargs,
    ):
        self.backbone = backbone
        self.weights = weights
        self.trainable_blocks = trainable_blocks
        self.layer = layer
        self.schedule = schedule
        self.probe_C = probe_C
        self.lr = lr
        self.lr_decay = lr_decay
        self.weight_decay = weight_decay
        self.l2sp = l2sp
        self.optimizer = optimizer
        self.lr_schedule = lr_schedule
        self.warmup_epochs = warmup_epochs
        self.unfreeze_every = unfreeze_every
        self.max_epochs = max_epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.image_size = image_size
        self.pooling = pooling
        self.augment = augment
        self.label_smoothing = label_smoothing
        self.tta = tta
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.device = device
        self.input_shape = input_shape
        self.callbacks = callbacks
        self.verbose = verbose
        vars(self).update(kwargs)  # nested skorch parameters, validated in fit

    # ------------------------------------------------------------------ parameters

    def get_params(self, deep=True):
        """Get parameters, including nested skorch ones such as ``optimizer__betas``.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators.

        Returns
        -------
        params : dict
        """
        params = super().get_params(deep=deep)
        params.update(self._nested_params())
        return params

    def set_params(self, **params):
        """Set parameters; keys like ``optimizer__weight_decay`` go to skorch.

        Parameters
        ----------
        **params : dict

        Returns
        -------
        self : FineTunedClassifier
        """
        # Like __init__'s **kwargs, keys that are not parameters of the signature
        # are stored as they are and checked in fit (skorch does the same).
        names = set(self._get_param_names())
        extra = {k: params.pop(k) for k in list(params)
                 if k.split("__", 1)[0] not in names or ("__" in k and k.split("__", 1)[0] in SKORCH_PREFIXES)}
        super().set_params(**params)
        vars(self).update(extra)
        return self

    def _nested_params(self):
        names = set(self._get_param_names())
        return {k: v for k, v in vars(self).items()
                if k not in names and not k.startswith("_") and not k.endswith("_")}

    def _check_nested_params(self):
        valid = list(self._get_param_names())
        for key in self._nested_params():
            if key.split("__", 1)[0] not in SKORCH_PREFIXES or "__" not in key or key.endswith("__"):
                close = difflib.get_close_matches(key, valid, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise TypeError(
                    f"FineTunedClassifier got an unexpected parameter {key!r}.{hint} Extra keywords "
                    f"must be nested skorch parameters starting with {', '.join(p + '__' for p in SKORCH_PREFIXES)}."
                )

    # ------------------------------------------------------------------ fit

    def fit(self, X, y):
        """Fit the linear probe on ``(X, y)``, then fine-tune the network from it (see the class docs).

        Parameters
        ----------
        X : images
            See :func:`sktransfer.images.as_image_set` for accepted forms.
        y : array-like of shape (n_images,)
            Class labels (any hashable: strings, non-contiguous ints...).

        Returns
        -------
        self : FineTunedClassifier
        """
        self._validate_params()
        self._check_nested_params()
        # Cheap checks of y first, then the images, then that they match.
        y = self._check_y(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"FineTunedClassifier needs samples of at least 2 classes in y; got {len(classes)} "
                f"class(es): {classes.tolist()}. A classifier can't train when only one class is present."
            )
        images = as_image_set(X, input_shape=self.input_shape)
        if len(y) != len(images):
            raise ValueError(
                f"X has {len(images)} images but y has {len(y)} labels; pass one label per image "
                f"(found input variables with inconsistent numbers of samples: [{len(images)}, {len(y)}])."
            )
        device = resolve_device(self.device)
        augment = resolve_augment(self.augment)
        if self.early_stopping not in (None, "auto") and not self._validation_fraction(y_index):
            raise ValueError(
                f"early_stopping={self.early_stopping} needs a validation split; set "
                "validation_fraction (e.g. 0.1) or early_stopping=None."
            )
        warm = bool(self.warm_start) and hasattr(self, "module_")
        if warm and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start=True needs y with the classes of the previous fit {self.classes_.tolist()}; "
                f"got {classes.tolist()}. Set warm_start=False to start afresh."
            )
        rng = check_random_state(self.random_state)
        torch_seed = int(rng.randint(2**31 - 1))
        train_idx, valid_idx = self._split(y_index, rng)
        weight = self._class_weights(classes, y)
        data_rng = np.random.default_rng(int(rng.randint(2**31 - 1)))
        cv_seed = int(rng.randint(2**31 - 1))

        # Seed torch for this fit only: head init, dropout, augmentation.
        seeded = self.random_state is not None
        cuda_devices = [torch.cuda.current_device() if device.index is None else device.index] \
            if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda_devices, enabled=seeded):
            if seeded:
                torch.manual_seed(torch_seed)
            if warm:
                module, arch = self._warm_module(), self._arch
                probe = None
            else:
                module, arch, probe = self._build_module(images, y_index, train_idx, classes, device, cv_seed)
            blocks = arch["blocks"]
            n_trainable, all_trunk = self._resolve_trainable(len(blocks), arch["name"])
            # With the backbone frozen, the converged probe is the model: more
            # epochs of the head (augmented or not) could only move it off the optimum.
            probe_only = probe is not None and probe["history"] is not None and n_trainable == 0 and not all_trunk
            cached = n_trainable == 0 and not all_trunk and augment is None
            first = 0 if self.unfreeze_every else n_trainable  # gradual unfreezing starts with the head
            module.set_trainable(_top_params(blocks, first), all_trunk=all_trunk and first == n_trainable)
            if probe_only:
                history = probe["history"]
            else:
                history = self._train(module, images, y_index, train_idx, valid_idx, augment=augment,
                                      cached=cached, blocks=blocks, n_trainable=n_trainable, all_trunk=all_trunk,
                                      weight=weight, device=device, data_rng=data_rng, n_classes=len(classes))

        # Assign fitted state only now, so a failed (re)fit leaves the model as it was.
        self.module_ = module.train(False)
        self.classes_ = classes
        self.history_ = history
        self.image_size_ = module.image_size
        self.layers_ = arch["layers"]
        self.n_blocks_ = len(blocks)
        self.trainable_blocks_ = n_trainable
        self.features_cached_ = cached
        self.n_steps_ = int(sum(history[:, "n_steps"])) if "n_steps" in history[-1] else 0
        if probe is not None:
            self.probe_scores_ = probe["scores"]
        self._arch = arch
        record_n_features_in(self, X)
        return self

    def _train(self, module, images, y_index, train_idx, valid_idx, *, augment, cached, blocks, n_trainable,
               all_trunk, weight, device, data_rng, n_classes):
        """Run the skorch net on the device; return its history. The module ends on CPU."""
        cuda = device.type == "cuda"
        # channels-last on every device: measured 2x faster per training step on CPU too.
        module.to(device, memory_format=torch.channels_last)
        module.augment = augment
        net = source = y_device = None
        try:
            source = images
            if cached:  # the frozen backbone runs once, over all images, train and validation
                source = torch.from_numpy(self._encode(module.encoder, images, device)).to(device)
            y_device = torch.as_tensor(y_index, dtype=torch.long).to(device)

            def data(idx):
                return BatchData(source, idx, y_device, device=device, image_size=module.image_size,
                                 channels=module.in_chans, rng=data_rng)

            train_data = data(train_idx)
            valid_data = None if valid_idx is None else data(valid_idx)
            net = self._build_net(module, blocks, n_trainable, all_trunk, train_data, valid_data, weight, device,
                                  n_classes)
            net.fit(train_data, None)
            return net.history  # the net itself (optimizer state, device buffers) is dropped
        finally:
            module.augment = None
            module.to("cpu", memory_format=torch.contiguous_format)
            if cuda:
                net = source = y_device = None  # noqa: F841  (free device memory now, not at the next gc)
                gc.collect()
                release_cuda_memory(device)

    def _encode(self, encoder, images, device, indices=None):
        """Frozen-backbone features of ``images`` (rows ``indices``), as float32 numpy."""
        encoder.to(device)
        n = len(images) if indices is None else len(indices)
        with progress_bar(n, self.verbose, "features") as bar:
            return encode_batches(encoder, images, batch_size=self.batch_size, device=device, indices=indices,
                                  progress=bar)

    def _check_y(self, y):
        if y is None:
            raise ValueError("FineTunedClassifier requires y to be passed, but the target y is None.")
        y = column_or_1d(np.asarray(y) if not hasattr(y, "shape") else y, warn=True)
        check_classification_targets(y)
        return y

    def _split(self, y_index, rng):
        n = len(y_index)
        fraction = self._validation_fraction(y_index)
        if not fraction:
            return np.arange(n), None
        try:
            train_idx, valid_idx = train_test_split(np.arange(n), test_size=fraction, stratify=y_index,
                                                    random_state=int(rng.randint(2**31 - 1)))
        except ValueError as exc:
            raise ValueError(
                f"validation_fraction={fraction} cannot make a stratified split of {n} images with "
                f"{len(np.unique(y_index))} classes ({exc}). Use a larger fraction or "
                "validation_fraction=None."
            ) from exc
        return np.sort(train_idx), np.sort(valid_idx)

    def _validation_fraction(self, y_index):
        if self.validation_fraction != "auto":
            return self.validation_fraction
        if self.early_stopping is None:
            return None
        if self.early_stopping != "auto":
            return AUTO_VALIDATION_FRACTION
        # Hold data out only when every class can spare it (see AUTO_MIN_PER_CLASS).
        smallest = int(np.bincount(y_index).min())
        return AUTO_VALIDATION_FRACTION if smallest >= AUTO_MIN_PER_CLASS else None

    def _patience(self, has_validation):
        if self.early_stopping == "auto":
            return AUTO_PATIENCE if has_validation else None
        return self.early_stopping

    def _class_weights(self, classes, y):
        if self.class_weight is None:
            return None
        weight = compute_class_weight(self.class_weight, classes=classes, y=y)
        return torch.as_tensor(weight, dtype=torch.float32)

    def _warm_module(self):
        """warm start: a copy of the fitted module, if the architecture parameters still match it."""
        arch = self._arch
        changed = [k for k in ("backbone", "weights", "pooling", "hidden_units", "layer")
                   if not _same(arch[k], getattr(self, k))]
        if arch["image_size_param"] != self.image_size:
            changed.append("image_size")
        if changed:
            raise ValueError(
                f"warm_start=True continues the fitted network, but {', '.join(changed)} changed since "
                "it was fitted; set warm_start=False to start from the pretrained backbone."
            )
        module = copy.deepcopy(self.module_)
        for layer in module.head.modules():
            if isinstance(layer, torch.nn.Dropout):
                layer.p = float(self.dropout)
        return module

    def _build_module(self, images, y_index, train_idx, classes, device, cv_seed):
        """The pretrained backbone and a head: the probe's (LP-FT, frozen) or a new one ("ft").

        Returns the module, the configuration it is rebuilt from, and what the
        probe found (None when no probe ran).
        """
        hidden = tuple(self.hidden_units)
        if not all(isinstance(u, Integral) and not isinstance(u, bool) and u >= 1 for u in hidden):
            raise ValueError(f"hidden_units must be a tuple of positive ints, e.g. (256,); got {self.hidden_units!r}.")
        backbone = build_backbone(self.backbone, self.weights)
        image_size = self._resolve_image_size(images, backbone)
        candidates = self._layer_candidates(backbone, image_size)
        # The probe initialises linear heads (LP-FT) and is the whole model with a frozen backbone.
        use_probe = not hidden and self.schedule == "lp-ft"
        probe = None
        if use_probe or len(candidates) > 1:
            probe = self._probe(backbone, image_size, candidates, images, y_index, train_idx, classes, device,
                                cv_seed)
            layers = candidates[probe["name"]]
        else:
            layers = next(iter(candidates.values()))
        encoder = ImageEncoder(backbone, image_size, layers, self.pooling)
        n_features = _n_features(encoder)
        n_classes = len(classes)
        if use_probe:
            head = torch.nn.Sequential(probe["scaler"], probe["linear"])
        else:
            head = make_head(n_features, n_classes, hidden, float(self.dropout))
            probe = None if probe is None else {**probe, "history": None}
        # The network runs up to the highest block the head reads; the blocks above it never run.
        n_used = len(backbone.blocks) if layers is None else max(layers) + 1
        arch = dict(backbone=self.backbone, weights=self.weights, pooling=self.pooling, layer=self.layer,
                    layers=layers, hidden_units=hidden, dropout=float(self.dropout), image_size=image_size,
                    image_size_param=self.image_size, n_features=n_features, n_classes=n_classes,
                    probe_head=use_probe, blocks=list(backbone.blocks[:n_used]), name=backbone.name)
        return FineTuneModule(encoder, head), arch, probe

    def _resolve_image_size(self, images, backbone):
        if self.image_size != "auto":
            return resolve_image_size(self.image_size, backbone)
        return auto_image_size(images.typical_shape(), backbone.input_size)

    def _layer_candidates(self, backbone, image_size):
        if self.layer == "auto":
            return layer_candidates(len(backbone.blocks), image_size)
        if self.layer is None:
            return {"final": None}
        layers = list(self.layer) if isinstance(self.layer, (list, tuple)) else [self.layer]
        if not layers:
            raise ValueError("layer is an empty list; pass None for the final features, 'auto', or a list of blocks.")
        return {"given": sorted({backbone.block_index(layer) for layer in layers})}

    def _probe(self, backbone, image_size, candidates, images, y_index, train_idx, classes, device, cv_seed):
        """Features of the training images for each candidate; the best by CV; the probe fitted on it."""
        start = time.perf_counter()
        y_train = y_index[train_idx]
        features = {}
        try:
            for name, layers in candidates.items():
                encoder = ImageEncoder(backbone, image_size, layers, self.pooling)
                encoder.trunk.to(memory_format=torch.channels_last)
                features[name] = self._encode(encoder, images, device, indices=train_idx)
        finally:
            backbone.trunk.to("cpu", memory_format=torch.contiguous_format)
            release_cuda_memory(device)
        name, scores = choose_layers(features, y_train, C=self.probe_C, random_state=cv_seed)
        class_weight = self.class_weight  # keyed by label; the probe sees class indices
        if isinstance(class_weight, dict):
            class_weight = {i: class_weight.get(c, 1.0) for i, c in enumerate(classes.tolist())}
        scaler, linear = fit_probe(features[name], y_train, len(classes), C=self.probe_C, class_weight=class_weight)
        with torch.no_grad():
            logits = linear(scaler(torch.from_numpy(features[name])))
            loss = float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(y_train)))
            acc = float((logits.argmax(1).numpy() == y_train).mean())
        history = History()
        history.new_epoch()
        history.record("epoch", 1)
        history.record("train_loss", loss)
        history.record("train_acc", acc)
        history.record("n_steps", 0)
        history.record("dur", time.perf_counter() - start)
        return dict(name=name, scores=scores, scaler=scaler, linear=linear, history=history)

    def _resolve_trainable(self, n_blocks, name):
        value = self.trainable_blocks
        if isinstance(value, str):
            return n_blocks, True
        if value > n_blocks:
            raise ValueError(
                f"trainable_blocks={value} is out of range for {name}, whose head reads {n_blocks} blocks: "
                f"use 0..{n_blocks} or 'all'."
            )
        return int(value), False

    def _n_epochs(self, steps_per_epoch):
        """``max_epochs``, raised so that small training sets still get ``min_steps`` optimizer steps."""
        return max(int(self.max_epochs), math.ceil(int(self.min_steps) / max(steps_per_epoch, 1)))

    def _build_net(self, module, blocks, n_trainable, all_trunk, train_data, valid_data, weight, device, n_classes):
        from skorch.callbacks import EarlyStopping, EpochScoring, LRScheduler
        from skorch.helper import predefined_split

        steps_per_epoch = len(BatchIterator(train_data, self.batch_size, shuffle=True))
        max_epochs = self._n_epochs(steps_per_epoch)
        total_steps = steps_per_epoch * max_epochs
        warmup_steps = round(self.warmup_epochs * steps_per_epoch)
        callbacks = [("train_acc", EpochScoring("accuracy", lower_is_better=False, on_train=True, name="train_acc")),
                     ("record_lr", RecordLR())]
        if self.lr_schedule == "cosine":
            callbacks.append(("lr_scheduler", LRScheduler(
                torch.optim.lr_scheduler.LambdaLR, lr_lambda=lr_lambda(total_steps, warmup_steps),
                step_every="batch")))
        elif self.lr_schedule == "onecycle":
            pct = warmup_steps / total_steps if warmup_steps else 0.3
            callbacks.append(("lr_scheduler", LRScheduler(
                one_cycle, total_steps=total_steps, pct_start=min(max(pct, 0.01), 0.99), step_every="batch")))
        patience = self._patience(valid_data is not None)
        if patience is not None:
            callbacks.append(("early_stopping", EarlyStopping(monitor="valid_loss", patience=patience,
                                                              load_best=True)))
        if self.unfreeze_every:
            callbacks.append(("gradual_unfreeze", GradualUnfreeze(blocks, n_trainable, self.unfreeze_every, all_trunk)))
        callbacks += list(self.callbacks or [])

        nested = self._nested_params()
        kwargs = {
            "optimizer__weight_decay": self.weight_decay,
            "optimizer__param_groups": param_groups(module, blocks, n_trainable, self.lr, self.lr_decay, all_trunk,
                                                    trunk_weight_decay=0.0 if self.l2sp else None),
        }
        if weight is not None:
            kwargs["criterion__weight"] = weight
        if self.label_smoothing:
            kwargs["criterion__label_smoothing"] = float(self.label_smoothing)
        if self.optimizer in (torch.optim.AdamW, torch.optim.Adam):
            # One fused kernel for all parameters: measured 3x faster steps than the default on CPU.
            kwargs["optimizer__fused"] = True
        kwargs.update(nested)
        return FineTuneNet(
            module,
            l2sp=float(self.l2sp),
            criterion=torch.nn.CrossEntropyLoss,
            optimizer=MergedGroups(self.optimizer),
            lr=self.lr,
            max_epochs=max_epochs,
            batch_size=self.batch_size,
            iterator_train=BatchIterator,
            iterator_train__shuffle=True,
            iterator_valid=BatchIterator,
            train_split=None if valid_data is None else predefined_split(valid_data),
            callbacks=callbacks,
            classes=list(range(n_classes)),
            device=str(device),
            verbose=self.verbose,
            **kwargs,
        )

    # ------------------------------------------------------------------ predict

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : images
            Same forms as in :meth:`fit`.

        Returns
        -------
        proba : ndarray of shape (n_images, n_classes)
        """
        return softmax(self._logits(X).astype(np.float64), axis=1)

    def predict(self, X):
        """Predicted labels, from ``classes_``.

        Parameters
        ----------
        X : images
            Same forms as in :meth:`fit`.

        Returns
        -------
        y : ndarray of shape (n_images,)
        """
        logits = self._logits(X)
        return self.classes_[logits.argmax(axis=1)]

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : images
            Same forms as in :meth:`fit`.

        Returns
        -------
        log_proba : ndarray of shape (n_images, n_classes)
        """
        return log_softmax(self._logits(X).astype(np.float64), axis=1)

    def score(self, X, y, sample_weight=None):
        """Accuracy of :meth:`predict` on ``(X, y)``.

        Parameters
        ----------
        X : images
        y : array-like of shape (n_images,)
            True labels; all must be among ``classes_``.
        sample_weight : array-like of shape (n_images,), default=None

        Returns
        -------
        score : float
        """
        check_is_fitted(self, "module_")
        y_arr = column_or_1d(np.asarray(y) if not hasattr(y, "shape") else y)
        unseen = np.setdiff1d(np.unique(y_arr), self.classes_)
        if len(unseen):
            raise ValueError(
                f"y contains labels never seen in fit: {unseen.tolist()[:10]}; the model only predicts "
                f"classes_={self.classes_.tolist()[:20]}. Score on data with known labels, or refit with them."
            )
        return super().score(X, y, sample_weight=sample_weight)

    def decision_function(self, X):
        """The network's logits (with ``tta``, averaged over the views).

        Parameters
        ----------
        X : images
            Same forms as in :meth:`fit`.

        Returns
        -------
        scores : ndarray of shape (n_images, n_classes), or (n_images,) for two classes
            As in scikit-learn: for two classes, the score of ``classes_[1]``
            (its logit minus that of ``classes_[0]``); positive means
            ``classes_[1]``.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sktransfer import FineTunedClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> clf = FineTunedClassifier(trainable_blocks=0, input_shape=(8, 8), verbose=0, random_state=0)
        >>> clf.fit(X[:100] / 16.0, y[:100]).decision_function(X[100:103] / 16.0).shape
        (3, 10)
        >>> binary = clf.fit(X[:100] / 16.0, y[:100] >= 5)  # one score per image: positive means True
        >>> binary.decision_function(X[100:103] / 16.0).shape
        (3,)
        """
        logits = self._logits(X)
        if len(self.classes_) == 2:
            return (logits[:, 1] - logits[:, 0]).astype(np.float64)
        return logits.astype(np.float64)

    def _logits(self, X):
        check_is_fitted(self, "module_")
        check_n_features_in(self, X)
        images = as_image_set(X, input_shape=self.input_shape)
        device = resolve_device(self.device)
        module = self.module_.to(device, memory_format=torch.channels_last)
        try:
            logits = self._encode_views(module, images, device)
        finally:
            self.module_.to("cpu", memory_format=torch.contiguous_format)
            release_cuda_memory(device)
        return logits

    def _encode_views(self, module, images, device):
        """Logits of the images, averaged with those of ``tta`` randomly augmented views."""
        # A probe-only model never saw augmented images: it stays the plain probe.
        n_views = 1 + (int(self.tta) if self.n_steps_ else 0)
        with progress_bar(len(images) * n_views, self.verbose, "predict") as bar:
            total = encode_batches(module, images, batch_size=self.batch_size, device=device, progress=bar)
            if n_views == 1:
                return total
            # Views are seeded from random_state, so predictions are reproducible.
            seed = check_random_state(self.random_state).randint(2**31 - 1) if self.random_state is not None else None
            augmented = _AugmentedView(module, BatchAugment(**PRESETS[TTA_PRESET]))
            cuda_devices = [device.index or 0] if device.type == "cuda" else []
            for view in range(1, n_views):
                with torch.random.fork_rng(devices=cuda_devices, enabled=seed is not None):
                    if seed is not None:
                        torch.manual_seed(seed + view)
                    total += encode_batches(augmented, images, batch_size=self.batch_size, device=device,
                                            progress=bar)
        return total / n_views

    # ------------------------------------------------------------------ sklearn plumbing

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: BaseEstimator may return __dict__ itself
        module = state.pop("module_", None)
        if module is not None:
            # CPU tensors: a model trained on CUDA unpickles on a machine without it.
            state["_module_state"] = {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
        return state

    def __setstate__(self, state):
        module_state = state.pop("_module_state", None)
        super().__setstate__(state)
        if module_state is None:
            return
        arch = self._arch
        backbone = build_backbone(arch["backbone"], None)  # structure only: the weights come next
        encoder = ImageEncoder(backbone, arch["image_size"], arch["layers"], arch["pooling"])
        n_features, n_classes = arch["n_features"], arch["n_classes"]
        if arch["probe_head"]:  # buffers and weights come from the state dict
            head = torch.nn.Sequential(FeatureScaler(np.zeros(n_features), np.ones(n_features)),
                                       torch.nn.Linear(n_features, n_classes))
        else:
            head = make_head(n_features, n_classes, arch["hidden_units"], arch["dropout"])
        module = FineTuneModule(encoder, head)
        module.load_state_dict(module_state)
        self.module_ = module.train(False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.positive_only = True  # pixels are never negative
        tags.classifier_tags.poor_score = True  # a few epochs on a few random images
        return tags


class _AugmentedView(torch.nn.Module):
    """A fitted module that sees a random augmentation of each image, at inference (``tta``)."""

    def __init__(self, module, augment):
        super().__init__()
        self.module = module
        self.augment = augment

    @property
    def image_size(self):
        return self.module.image_size

    @property
    def in_chans(self):
        return self.module.in_chans

    def forward(self, x):
        return self.module(self.augment(self.module.encoder.to_unit_range(x)))


def _top_params(blocks, n):
    return [p for block in (blocks[len(blocks) - n :] if n else []) for p in block.params]


def _same(a, b):
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return tuple(a) == tuple(b)
    return a is b


def _n_features(encoder):
    """Width of the head's input: one forward pass of a blank image through the encoder."""
    encoder.eval()
    with torch.inference_mode():
        probe = torch.zeros(1, encoder.in_chans, *encoder.image_size, dtype=torch.uint8)
        return int(encoder(probe).shape[1])


def auto_image_size(image_shape, largest=(224, 224)):
    """``image_size="auto"``: the larger image side rounded up to a multiple of 32, within [32, the backbone's].

    Small images are not blown up to the backbone's 224 px: a 28x28 digit
    at 32 px trains about 40x faster than at 224 px (see docs/finetuning.md
    for what each size buys).

    Examples
    --------
    >>> from sktransfer._finetune import auto_image_size
    >>> auto_image_size((8, 8)), auto_image_size((28, 28)), auto_image_size((100, 60)), auto_image_size((480, 640))
    ((32, 32), (32, 32), (128, 128), (224, 224))
    """
    side = max(image_shape) if image_shape else max(largest)
    side = int(min(max(largest), max(32, math.ceil(side / 32) * 32)))
    return (side, side)
