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

from ._augment import PRESETS, resolve_augment
from ._device import release_cuda_memory, resolve_device
from ._encoder import POOLINGS, ImageEncoder, encode_batches
from ._features import build_backbone, resolve_image_size
from ._progress import progress_bar
from ._training import (BatchData, BatchIterator, FineTuneModule, GradualUnfreeze, MergedGroups, RecordLR,
                        lr_lambda, make_head, one_cycle, param_groups)
from .backbones import Backbone
from .images import as_image_set, check_n_features_in, record_n_features_in

__all__ = ["FineTunedClassifier"]

#: Prefixes of the skorch parameters that may be passed as extra keywords.
SKORCH_PREFIXES = ("optimizer", "criterion", "callbacks")


class FineTunedClassifier(ClassifierMixin, BaseEstimator):
    """Fine-tune a pretrained image backbone plus a new head, as a scikit-learn classifier.

    The top ``trainable_blocks`` blocks of the backbone and a new head are
    trained with AdamW, layer-wise learning rates and a warm-up + cosine
    schedule; the blocks below stay frozen (their BatchNorm layers in eval
    mode). The training loop is a skorch ``NeuralNetClassifier`` built in
    each ``fit``. With the backbone fully frozen and no augmentation, the
    backbone runs once per fit and the head trains on cached features.

    Parameters
    ----------
    backbone : str, Backbone or torch.nn.Module, default="efficientnet_lite0"
        A name from :func:`sktransfer.backbones.list_backbones`
        (``"efficientnet_lite0"`` works offline), ``"timm/<model>"``,
        ``"torchvision/<model>"``, or your own module.
    weights : str or None, default="default"
        ``"default"`` for pretrained weights, None for random initialisation.
    trainable_blocks : int or "all", default=2
        How many blocks of the backbone, counted from the top, are trained:
        0 trains the head only, ``"all"`` fine-tunes everything. The valid
        range is ``0..len(backbone.blocks)``.
    lr : float, default=1e-3
        Learning rate of the head (the peak, after warm-up).
    lr_decay : float, default=0.7
        Layer-wise decay: the k-th trainable block from the top learns at
        ``lr * lr_decay**k`` (k = 1 for the top block). 1.0 for one rate.
    weight_decay : float, default=0.01
        Decoupled weight decay of the optimizer (AdamW's).
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
    max_epochs : int, default=10
        Passes over the training data.
    batch_size : int, default=32
        Images per training step (and per inference batch).
    hidden_units : tuple of int, default=()
        Hidden layers of the head (ReLU); empty for a linear head.
    dropout : float, default=0.0
        Dropout before each layer of the head.
    image_size : int, tuple of int or None, default=None
        Size images are resized to; the backbone's default when None.
    pooling : {"avg", "max", "avgmax", "gem", "none"}, default="avg"
        How the last feature map becomes a vector, as in
        :class:`~sktransfer.PretrainedFeatureExtractor`.
    augment : None, {"light", "strong"} or callable, default=None
        Augmentation of training batches only, on the device, on float images
        in [0, 1] after resizing. ``"light"``: small random-resized crop and
        shift, brightness/contrast jitter. ``"strong"``: more of that, small
        rotations and shears, random erasing. Neither flips. A callable
        (e.g. a ``torchvision.transforms.v2`` transform) gets the float batch
        ``(B, C, H, W)`` and returns one of the same shape; note that v2
        transforms draw one set of random parameters per batch.
    validation_fraction : "auto", float or None, default="auto"
        Fraction of the training data held out (stratified) to report
        ``valid_loss`` and ``valid_acc`` each epoch; None or 0 for no split.
        "auto" holds out 0.1 when ``early_stopping`` is set and nothing
        otherwise, so by default every labelled image trains (as in
        scikit-learn's ``HistGradientBoostingClassifier``).
    early_stopping : int or None, default=None
        Patience in epochs: stop when ``valid_loss`` has not improved for
        that many epochs and restore the weights of the best epoch. Needs a
        validation split.
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
        ``dur`` and ``lr`` (the head's). Index like ``history_[:, "valid_acc"]``.
    image_size_ : tuple of int
        The ``(H, W)`` images are resized to.
    n_blocks_ : int
        Number of blocks of the backbone.
    trainable_blocks_ : int
        Blocks trained at the end of the last fit.
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
    >>> clf = FineTunedClassifier("timm/resnet18", weights=None, image_size=32,
    ...                           input_shape=(8, 8), max_epochs=1, verbose=0,
    ...                           random_state=0)
    >>> clf.fit(X[:200] / 16.0, y[:200]).predict(X[200:205] / 16.0).shape
    (5,)
    """

    _parameter_constraints = {
        "backbone": [str, Backbone, torch.nn.Module],
        "weights": [str, None],
        "trainable_blocks": [Interval(Integral, 0, None, closed="left"), StrOptions({"all"})],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "lr_decay": [Interval(Real, 0, 1, closed="right")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "optimizer": [callable],
        "lr_schedule": [StrOptions({"cosine", "onecycle"}), None],
        "warmup_epochs": [Interval(Real, 0, None, closed="left")],
        "unfreeze_every": [Interval(Integral, 1, None, closed="left"), None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "hidden_units": [tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "image_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "pooling": [StrOptions(set(POOLINGS))],
        "augment": [StrOptions(set(PRESETS)), callable, None],
        "validation_fraction": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="left"), None],
        "early_stopping": [Interval(Integral, 1, None, closed="left"), None],
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
        trainable_blocks=2,
        lr=1e-3,
        lr_decay=0.7,
        weight_decay=0.01,
        optimizer=torch.optim.AdamW,
        lr_schedule="cosine",
        warmup_epochs=1,
        unfreeze_every=None,
        max_epochs=10,
        batch_size=32,
        hidden_units=(),
        dropout=0.0,
        image_size=None,
        pooling="avg",
        augment=None,
        validation_fraction="auto",
        early_stopping=None,
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
        self.lr = lr
        self.lr_decay = lr_decay
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.lr_schedule = lr_schedule
        self.warmup_epochs = warmup_epochs
        self.unfreeze_every = unfreeze_every
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.image_size = image_size
        self.pooling = pooling
        self.augment = augment
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
        """Fine-tune the backbone's top blocks and a new head on ``(X, y)``.

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
        if self.early_stopping is not None and not self._validation_fraction():
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

        # Seed torch for this fit only: head init, dropout, augmentation.
        seeded = self.random_state is not None
        cuda_devices = [torch.cuda.current_device() if device.index is None else device.index] \
            if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda_devices, enabled=seeded):
            if seeded:
                torch.manual_seed(torch_seed)
            module, arch = self._build_module(warm, len(classes))
            blocks = arch["blocks"]
            n_trainable, all_trunk = self._resolve_trainable(len(blocks), arch["name"])
            cached = n_trainable == 0 and not all_trunk and augment is None
            first = 0 if self.unfreeze_every else n_trainable  # gradual unfreezing starts with the head
            module.set_trainable(_top_params(blocks, first), all_trunk=all_trunk and first == n_trainable)
            history = self._train(module, images, y_index, train_idx, valid_idx, augment=augment, cached=cached,
                                  blocks=blocks, n_trainable=n_trainable, all_trunk=all_trunk, weight=weight,
                                  device=device, data_rng=data_rng, n_classes=len(classes))

        # Assign fitted state only now, so a failed (re)fit leaves the model as it was.
        self.module_ = module.train(False)
        self.classes_ = classes
        self.history_ = history
        self.image_size_ = module.image_size
        self.n_blocks_ = len(blocks)
        self.trainable_blocks_ = n_trainable
        self.features_cached_ = cached
        self._arch = arch
        record_n_features_in(self, X)
        return self

    def _train(self, module, images, y_index, train_idx, valid_idx, *, augment, cached, blocks, n_trainable,
               all_trunk, weight, device, data_rng, n_classes):
        """Run the skorch net on the device; return its history. The module ends on CPU."""
        cuda = device.type == "cuda"
        module.to(device)
        if cuda:
            module.to(memory_format=torch.channels_last)
        module.augment = augment
        net = source = y_device = None
        try:
            source = images
            if cached:  # the frozen backbone runs once, over all images, train and validation
                with progress_bar(len(images), self.verbose, "features") as bar:
                    feats = encode_batches(module.encoder, images, batch_size=self.batch_size, device=device,
                                           progress=bar)
                source = torch.from_numpy(feats).to(device)
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
            if cuda:
                module.to("cpu", memory_format=torch.contiguous_format)
                net = source = y_device = None  # noqa: F841  (free device memory now, not at the next gc)
                gc.collect()
                release_cuda_memory(device)

    def _check_y(self, y):
        if y is None:
            raise ValueError("FineTunedClassifier requires y to be passed, but the target y is None.")
        y = column_or_1d(np.asarray(y) if not hasattr(y, "shape") else y, warn=True)
        check_classification_targets(y)
        return y

    def _split(self, y_index, rng):
        n = len(y_index)
        fraction = self._validation_fraction()
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

    def _validation_fraction(self):
        if self.validation_fraction == "auto":
            return 0.1 if self.early_stopping is not None else None
        return self.validation_fraction

    def _class_weights(self, classes, y):
        if self.class_weight is None:
            return None
        weight = compute_class_weight(self.class_weight, classes=classes, y=y)
        return torch.as_tensor(weight, dtype=torch.float32)

    def _build_module(self, warm, n_classes):
        """The pretrained backbone and a new head, or (warm start) a copy of the fitted module."""
        if warm:
            arch = self._arch
            changed = [k for k in ("backbone", "weights", "pooling", "hidden_units")
                       if not _same(arch[k], getattr(self, k))]
            if self.image_size is not None and arch["image_size_param"] != self.image_size:
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
            return module, arch
        hidden = tuple(self.hidden_units)
        if not all(isinstance(u, Integral) and not isinstance(u, bool) and u >= 1 for u in hidden):
            raise ValueError(f"hidden_units must be a tuple of positive ints, e.g. (256,); got {self.hidden_units!r}.")
        backbone = build_backbone(self.backbone, self.weights)
        image_size = resolve_image_size(self.image_size, backbone)
        encoder = ImageEncoder(backbone, image_size, None, self.pooling)
        n_features = _n_features(encoder, backbone, self.pooling)
        head = make_head(n_features, n_classes, hidden, float(self.dropout))
        arch = dict(backbone=self.backbone, weights=self.weights, pooling=self.pooling,
                    hidden_units=hidden, dropout=float(self.dropout), image_size=image_size,
                    image_size_param=self.image_size, n_features=n_features, n_classes=n_classes,
                    blocks=list(backbone.blocks), name=backbone.name)
        return FineTuneModule(encoder, head), arch

    def _resolve_trainable(self, n_blocks, name):
        value = self.trainable_blocks
        if isinstance(value, str):
            return n_blocks, True
        if value > n_blocks:
            raise ValueError(
                f"trainable_blocks={value} is out of range for {name}, which has {n_blocks} blocks: "
                f"use 0..{n_blocks} or 'all'."
            )
        return int(value), False

    def _build_net(self, module, blocks, n_trainable, all_trunk, train_data, valid_data, weight, device, n_classes):
        from skorch import NeuralNetClassifier
        from skorch.callbacks import EarlyStopping, EpochScoring, LRScheduler
        from skorch.helper import predefined_split

        steps_per_epoch = len(BatchIterator(train_data, self.batch_size, shuffle=True))
        total_steps = steps_per_epoch * self.max_epochs
        warmup_steps = round(self.warmup_epochs * steps_per_epoch)
        callbacks = [("train_acc", EpochScoring("accuracy", lower_is_better=False, on_train=True, name="train_acc")),
                     ("record_lr", RecordLR())]
        if self.lr_schedule == "cosine":
            callbacks.append(("lr_scheduler", LRScheduler(
                torch.optim.lr_scheduler.LambdaLR, lr_lambda=lr_lambda("cosine", total_steps, warmup_steps),
                step_every="batch")))
        elif self.lr_schedule == "onecycle":
            pct = warmup_steps / total_steps if warmup_steps else 0.3
            callbacks.append(("lr_scheduler", LRScheduler(
                one_cycle, total_steps=total_steps, pct_start=min(max(pct, 0.01), 0.99), step_every="batch")))
        if self.early_stopping is not None:
            callbacks.append(("early_stopping", EarlyStopping(
                monitor="valid_loss", patience=self.early_stopping, load_best=True)))
        if self.unfreeze_every:
            callbacks.append(("gradual_unfreeze", GradualUnfreeze(blocks, n_trainable, self.unfreeze_every, all_trunk)))
        callbacks += list(self.callbacks or [])

        nested = self._nested_params()
        kwargs = {
            "optimizer__weight_decay": self.weight_decay,
            "optimizer__param_groups": param_groups(module, blocks, n_trainable, self.lr, self.lr_decay, all_trunk),
        }
        if weight is not None:
            kwargs["criterion__weight"] = weight
        kwargs.update(nested)
        return NeuralNetClassifier(
            module,
            criterion=torch.nn.CrossEntropyLoss,
            optimizer=MergedGroups(self.optimizer),
            lr=self.lr,
            max_epochs=self.max_epochs,
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

    def _logits(self, X):
        check_is_fitted(self, "module_")
        check_n_features_in(self, X)
        images = as_image_set(X, input_shape=self.input_shape)
        device = resolve_device(self.device)
        module = self.module_.to(device)
        if device.type == "cuda":
            module.to(memory_format=torch.channels_last)
        try:
            with progress_bar(len(images), self.verbose, "predict") as bar:
                return encode_batches(module, images, batch_size=self.batch_size, device=device, progress=bar)
        finally:
            if device.type == "cuda":
                self.module_.to("cpu", memory_format=torch.contiguous_format)
                release_cuda_memory(device)

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
        encoder = ImageEncoder(backbone, arch["image_size"], None, arch["pooling"])
        head = make_head(arch["n_features"], arch["n_classes"], arch["hidden_units"], arch["dropout"])
        module = FineTuneModule(encoder, head)
        module.load_state_dict(module_state)
        self.module_ = module.train(False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.positive_only = True  # pixels are never negative
        tags.classifier_tags.poor_score = True  # a few epochs on a few random images
        return tags


def _top_params(blocks, n):
    return [p for block in (blocks[len(blocks) - n :] if n else []) for p in block.params]


def _same(a, b):
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return tuple(a) == tuple(b)
    return a is b


def _n_features(encoder, backbone, pooling):
    """Width of the pooled features: known from the backbone, except for unpooled maps."""
    if pooling != "none":
        return backbone.feature_dim * (2 if pooling == "avgmax" else 1)
    encoder.eval()
    with torch.inference_mode():
        probe = torch.zeros(1, encoder.in_chans, *encoder.image_size, dtype=torch.uint8)
        return int(encoder(probe).shape[1])
