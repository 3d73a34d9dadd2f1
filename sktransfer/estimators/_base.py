"""The base of every estimator that trains a skorch network over a pretrained backbone.

An estimator here *has* a skorch net (built anew in every ``fit``) rather than
*being* one: scikit-learn sees only the parameters of ``__init__``, ``clone``
never touches weights, and every fit starts from the pretrained backbone.
skorch runs the loop, the callbacks and the history, and routes nested
parameters such as ``optimizer__weight_decay``.

:class:`BackboneNetworkEstimator` does what every task shares: parameters
(nested skorch ones included), seeding, the validation split, the probe and
the choice of blocks, freezing, warm start, the device round trip,
test-time views and pickling. A task (classification, multi-label,
regression) plugs in what differs through the hooks at the end of the
class: how ``y`` is checked and encoded, its probe, its loss and skorch net,
and, in its own public methods, how outputs become predictions.
"""

from __future__ import annotations

import copy
import difflib
import gc
import math
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback
from skorch.history import History

from .._device import cpu_copy, on_device, resolve_device, seeded
from .._progress import progress_bar
from .._validation import auto_image_size, check_hidden_units, resolve_image_size
from ..backbones import Backbone, build_backbone
from ..backbones._contract import block_params, top_blocks
from ..images import as_image_set, check_n_features_in, record_n_features_in
from ..nn._augment import PRESETS, BatchAugment, resolve_augment
from ..nn._encoder import POOLINGS, ImageEncoder, encode_batches, feature_width
from ..nn._heads import make_head, probe_head
from ..nn._network import AugmentedView, BackboneNetwork
from ..training._callbacks import GradualUnfreeze, RecordLR
from ..training._data import DeviceBatchIterator, ImageDataset
from ..training._optim import MergedGroups, one_cycle, param_groups, warmup_cosine
from ..training._probe import choose_layers, layer_candidates

__all__ = ["BackboneNetworkEstimator"]

#: Prefixes of the skorch parameters that may be passed as extra keywords.
SKORCH_PREFIXES = ("optimizer", "criterion", "callbacks")

#: ``early_stopping="auto"``: a tenth is held out, and training stops after
#: this many epochs without a lower validation loss (when the task says its
#: training set can spare the images: see ``_can_spare_validation``).
AUTO_VALIDATION_FRACTION = 0.1
AUTO_PATIENCE = 5

#: The augmentation of test-time views (``tta``): mild, never flipping.
TTA_PRESET = "light"

#: Parameters that fix the network's shape: warm start needs them unchanged.
ARCHITECTURE_PARAMS = ("backbone", "weights", "pooling", "hidden_units", "layer")


class BackboneNetworkEstimator(BaseEstimator):
    """Base class: a skorch-trained network (pretrained backbone + new head) as a scikit-learn estimator.

    Not used directly: :class:`~sktransfer.FineTunedClassifier` and
    :class:`~sktransfer.FineTunedRegressor` are built on it. A subclass
    defines ``__init__`` (its signature lists every parameter, as
    scikit-learn requires; storing them is :meth:`_store_params`'s job),
    ``_parameter_constraints``, and the task hooks below.

    Examples
    --------
    >>> from sktransfer import FineTunedClassifier, FineTunedRegressor
    >>> from sktransfer.estimators._base import BackboneNetworkEstimator
    >>> issubclass(FineTunedClassifier, BackboneNetworkEstimator), issubclass(FineTunedRegressor,
    ...                                                                        BackboneNetworkEstimator)
    (True, True)
    """

    _parameter_constraints = {
        "backbone": [str, Backbone, torch.nn.Module],
        "weights": [str, None],
        "trainable_blocks": [Interval(Integral, 0, None, closed="left"), StrOptions({"all"})],
        "layer": [StrOptions({"auto"}), Integral, str, list, tuple, None],
        "schedule": [StrOptions({"lp-ft", "ft"})],
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
        "tta": [Interval(Integral, 0, None, closed="left")],
        "validation_fraction": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="left"), None],
        "early_stopping": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left"), None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "device": [str, torch.device],
        "input_shape": [tuple, list, None],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "on_interrupt": [StrOptions({"raise", "keep"})],
    }

    def _store_params(self, params):
        """What ``__init__`` does: store each parameter as given (``params`` is its ``locals()``).

        Extra keywords are nested skorch parameters, stored as they are and
        checked in ``fit`` (skorch does the same).
        """
        params = {k: v for k, v in params.items() if k not in ("self", "__class__")}
        vars(self).update({k: v for k, v in params.items() if k != "kwargs"})
        vars(self).update(params.get("kwargs", {}))

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
        self : estimator instance
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
        nested = self._nested_params()
        for key in nested:
            if key.split("__", 1)[0] not in SKORCH_PREFIXES or "__" not in key or key.endswith("__"):
                close = difflib.get_close_matches(key, valid, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise TypeError(
                    f"{type(self).__name__} got an unexpected parameter {key!r}.{hint} Extra keywords "
                    f"must be nested skorch parameters starting with {', '.join(p + '__' for p in SKORCH_PREFIXES)}."
                )
        smoothing = nested.get("criterion__label_smoothing")
        if smoothing is not None and not (isinstance(smoothing, Real) and 0.0 <= smoothing <= 1.0):
            raise ValueError(f"criterion__label_smoothing={smoothing!r} must be a number in [0, 1] (0 for none); "
                             "or use the label_smoothing parameter.")
        for i, callback in enumerate(self.callbacks or []):
            named = isinstance(callback, tuple) and len(callback) == 2 and isinstance(callback[0], str)
            target = callback[1] if named else callback
            is_callback = isinstance(target, Callback) or (isinstance(target, type) and issubclass(target, Callback))
            if not is_callback:
                raise TypeError(
                    f"callbacks[{i}] is {callback!r}, not a skorch callback; pass instances (or classes) of "
                    "skorch.callbacks.Callback, or (name, callback) pairs."
                )

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=False)  # callbacks and optimizers are the user's
    def fit(self, X, y):
        """Fit the linear probe on ``(X, y)``, then fine-tune the network from it (see the class docs).

        Parameters
        ----------
        X : images
            See :func:`sktransfer.images.as_image_set` for accepted forms.
        y : array-like of shape (n_images,) or (n_images, n_outputs)
            Targets, as the estimator's documentation describes.

        Returns
        -------
        self : estimator instance
        """
        self._check_nested_params()
        # Cheap checks of y first, then the images, then that they match.
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        targets, fitted = self._encode_targets(self._check_targets(y))
        images = as_image_set(X, input_shape=self.input_shape)
        if len(targets) != len(images):
            raise ValueError(
                f"X has {len(images)} images but y has {len(targets)} {self._target_noun}s; pass one "
                f"{self._target_noun} per image "
                f"(found input variables with inconsistent numbers of samples: [{len(images)}, {len(targets)}])."
            )
        device = resolve_device(self.device)
        augment = resolve_augment(self.augment)
        # Unlabelled rows (y == -1) never reach the split, the probe or the supervised loss.
        labeled = self._labeled_rows(targets)
        if self.early_stopping not in (None, "auto") and not self._validation_fraction(targets[labeled]):
            raise ValueError(
                f"early_stopping={self.early_stopping} needs a validation split; set "
                "validation_fraction (e.g. 0.1) or early_stopping=None."
            )
        warm = bool(self.warm_start) and hasattr(self, "module_")
        if warm:
            self._check_warm_targets(fitted)
        unlabeled_idx = np.flatnonzero(~labeled) if self._learns_from_unlabeled() else np.arange(0)
        self._check_unlabeled(unlabeled_idx)
        rng = check_random_state(self.random_state)
        torch_seed = int(rng.randint(2**31 - 1))
        train_idx, valid_idx = self._split(targets, np.flatnonzero(labeled), rng)
        data_rng = np.random.default_rng(int(rng.randint(2**31 - 1)))
        cv_seed = int(rng.randint(2**31 - 1))

        # Seed torch for this fit only: head init, dropout, augmentation.
        with seeded(torch_seed if self.random_state is not None else None, device):
            if warm:
                module, arch, probe = self._warm_module(), self._arch, None
            else:
                module, arch, probe = self._build_module(images, targets, train_idx, fitted, device, cv_seed)
            blocks = arch["blocks"]
            n_trainable, all_trunk = self._resolve_trainable(len(blocks), arch["name"])
            # With the backbone frozen, the converged probe is the model: more
            # epochs of the head (augmented or not) could only move it off the optimum.
            frozen = n_trainable == 0 and not all_trunk
            probe_only = probe is not None and probe["history"] is not None and frozen and not len(unlabeled_idx)
            cached = frozen and augment is None and not len(unlabeled_idx)
            first = 0 if self.unfreeze_every else n_trainable  # gradual unfreezing starts with the head
            module.set_trainable(block_params(top_blocks(blocks, first)),
                                 all_trunk=all_trunk and first == n_trainable)
            if probe_only:
                history, interrupted = probe["history"], False
            else:
                history, interrupted = self._train(
                    module, images, targets, train_idx, valid_idx, unlabeled_idx, augment=augment, cached=cached,
                    blocks=blocks, n_trainable=n_trainable, all_trunk=all_trunk, fitted=fitted, device=device,
                    data_rng=data_rng)

        # Assign fitted state only now, so a failed (re)fit leaves the model as it was.
        self.module_ = module.train(False)
        for name, value in fitted.items():
            setattr(self, name, value)
        self.history_ = history
        self.image_size_ = module.image_size
        self.layers_ = arch["layers"]
        self.n_blocks_ = len(blocks)
        self.trainable_blocks_ = n_trainable
        self.features_cached_ = cached
        self.n_steps_ = int(sum(history[:, "n_steps"])) if "n_steps" in history[-1] else 0
        self.interrupted_ = interrupted
        if probe is not None:
            self.probe_scores_ = probe["scores"]
        self._arch = arch
        record_n_features_in(self, X)
        return self

    def _train(self, module, images, targets, train_idx, valid_idx, unlabeled_idx, *, augment, cached, blocks,
               n_trainable, all_trunk, fitted, device, data_rng):
        """Run the skorch net on the device; return its history and whether Ctrl-C ended it.

        The module ends on CPU. With ``unlabeled_idx``, every training batch
        also holds unlabelled rows, and the task's net augments them itself.
        """
        module.augment = None if len(unlabeled_idx) else augment
        try:
            with on_device(module, device):
                source = images
                if cached:  # the frozen backbone runs once, over all images, train and validation
                    source = torch.from_numpy(self._encode(module.encoder, images, device)).to(device)
                y_device = torch.as_tensor(targets).to(device)

                def data(idx):
                    return ImageDataset(source, idx, y_device, device=device, image_size=module.image_size,
                                        channels=module.in_chans, rng=data_rng)

                train_data = data(train_idx)
                if len(unlabeled_idx):
                    train_data.unlabeled, train_data.unlabeled_ratio = unlabeled_idx, self._unlabeled_ratio()
                valid_data = None if valid_idx is None else data(valid_idx)
                net = self._build_net(module, blocks, n_trainable, all_trunk, train_data, valid_data, targets,
                                      fitted, device, augment)
                net.fit(train_data, None)
                history = net.history  # the net itself (optimizer state, device buffers) is dropped
                interrupted, max_epochs = net.interrupted_, net.max_epochs
                if device.type == "cuda":
                    net = source = y_device = None  # noqa: F841  (free device memory now, not at the next gc)
                    gc.collect()
        finally:
            module.augment = None
            self._end_training(module)
        if interrupted:
            epochs = len(history)
            if self.on_interrupt == "raise":
                # The fit is abandoned: the estimator keeps its previous fitted state (or stays unfitted).
                raise KeyboardInterrupt(f"training interrupted in epoch {epochs}; {type(self).__name__} keeps its "
                                        "previous state (on_interrupt='keep' keeps partial weights instead)")
            warnings.warn(f"Training was interrupted in epoch {epochs} of {max_epochs}: the model keeps the "
                          "partially trained weights (on_interrupt='keep'); interrupted_ is True.", UserWarning,
                          stacklevel=3)
        return history, interrupted

    def _encode(self, encoder, images, device, indices=None):
        """Frozen-backbone features of ``images`` (rows ``indices``), as float32 numpy; ``encoder`` is on ``device``."""
        n = len(images) if indices is None else len(indices)
        with progress_bar(n, self.verbose, "features") as bar:
            return encode_batches(encoder, images, batch_size=self.batch_size, device=device, indices=indices,
                                  progress=bar)

    def _split(self, targets, labeled_idx, rng):
        """Training and validation rows among the labelled rows ``labeled_idx``."""
        targets = targets[labeled_idx]
        n = len(targets)
        fraction = self._validation_fraction(targets)
        if not fraction:
            return labeled_idx, None
        stratify = self._stratify(targets)
        try:
            train_idx, valid_idx = train_test_split(labeled_idx, test_size=fraction, stratify=stratify,
                                                    random_state=int(rng.randint(2**31 - 1)))
        except ValueError as exc:
            what = "a stratified split" if stratify is not None else "a split"
            raise ValueError(
                f"validation_fraction={fraction} cannot make {what} of {n} labelled images ({exc}). Use a larger "
                "fraction or validation_fraction=None."
            ) from exc
        return np.sort(train_idx), np.sort(valid_idx)

    def _validation_fraction(self, targets):
        if self.validation_fraction != "auto":
            return self.validation_fraction
        if self.early_stopping is None:
            return None
        if self.early_stopping != "auto":
            return AUTO_VALIDATION_FRACTION
        return AUTO_VALIDATION_FRACTION if self._can_spare_validation(targets) else None

    def _patience(self, has_validation):
        if self.early_stopping == "auto":
            return AUTO_PATIENCE if has_validation else None
        return self.early_stopping

    def _warm_module(self):
        """warm start: a copy of the fitted module, if the architecture parameters still match it."""
        arch = self._arch
        changed = [k for k in ARCHITECTURE_PARAMS if not _same(arch[k], getattr(self, k))]
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

    def _build_module(self, images, targets, train_idx, fitted, device, cv_seed):
        """The pretrained backbone and a head: the probe's (LP-FT) or a new one ("ft", or hidden layers).

        Returns the module, the configuration it is rebuilt from, and what the
        probe found (None when no probe ran).
        """
        hidden = check_hidden_units(self.hidden_units)
        backbone = build_backbone(self.backbone, self.weights)
        image_size = self._resolve_image_size(images, backbone)
        candidates = self._layer_candidates(backbone, image_size)
        # The probe initialises linear heads (LP-FT) and is the whole model with a frozen backbone.
        use_probe = not hidden and self.schedule == "lp-ft"
        probe = None
        if use_probe or len(candidates) > 1:
            probe = self._probe(backbone, image_size, candidates, images, targets[train_idx], fitted, device,
                                cv_seed, train_idx)
            layers = candidates[probe["name"]]
        else:
            layers = next(iter(candidates.values()))
        encoder = ImageEncoder(backbone, image_size, layers, self.pooling)
        n_features = feature_width(encoder)
        n_outputs = self._n_outputs(fitted)
        if use_probe:
            head = probe_head(n_features, n_outputs, probe["scaler"], probe["linear"])
        else:
            head = make_head(n_features, n_outputs, hidden, float(self.dropout))
            probe = None if probe is None else {**probe, "history": None}
        # The network runs up to the highest block the head reads; the blocks above it never run.
        n_used = len(backbone.blocks) if layers is None else max(layers) + 1
        arch = dict(backbone=self.backbone, weights=self.weights, pooling=self.pooling, layer=self.layer,
                    layers=layers, hidden_units=hidden, dropout=float(self.dropout), image_size=image_size,
                    image_size_param=self.image_size, n_features=n_features, n_outputs=n_outputs,
                    probe_head=use_probe, blocks=list(backbone.blocks[:n_used]), name=backbone.name)
        return BackboneNetwork(encoder, head), arch, probe

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

    def _probe(self, backbone, image_size, candidates, images, train_targets, fitted, device, cv_seed, train_idx):
        """Features of the training images for each candidate; the best by CV; the probe fitted on it."""
        start = time.perf_counter()
        features = {}
        with on_device(backbone.trunk, device):  # one round trip for all candidates, which share the trunk
            for name, layers in candidates.items():
                encoder = ImageEncoder(backbone, image_size, layers, self.pooling).to(device)  # its own buffers
                features[name] = self._encode(encoder, images, device, indices=train_idx)
        name, scores = choose_layers(features, train_targets, make_probe=lambda: self._make_probe(fitted),
                                     stratify=self._stratify(train_targets) is not None, random_state=cv_seed)
        scaler, linear, record = self._fit_probe(features[name], train_targets, fitted)
        history = History()
        history.new_epoch()
        history.record("epoch", 1)
        for key, value in record.items():
            history.record(key, value)
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

    def _build_net(self, module, blocks, n_trainable, all_trunk, train_data, valid_data, targets, fitted, device,
                   augment):
        from skorch.callbacks import EarlyStopping, LRScheduler
        from skorch.helper import predefined_split

        steps_per_epoch = len(DeviceBatchIterator(train_data, self.batch_size, shuffle=True))
        max_epochs = self._n_epochs(steps_per_epoch)
        total_steps = steps_per_epoch * max_epochs
        warmup_steps = round(self.warmup_epochs * steps_per_epoch)
        callbacks = self._scoring_callbacks(valid_data is not None, fitted) + [("record_lr", RecordLR())]
        if self.lr_schedule == "cosine":
            callbacks.append(("lr_scheduler", LRScheduler(
                warmup_cosine, total_steps=total_steps, warmup_steps=warmup_steps, step_every="batch")))
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

        net_class, criterion, kwargs = self._net_spec(targets, fitted)
        if train_data.unlabeled is not None:
            net_class, unlabeled_kwargs = self._unlabeled_net(module, augment)
            kwargs.update(unlabeled_kwargs)
        kwargs["optimizer__weight_decay"] = self.weight_decay
        # Groups of training-only modules (a domain classifier) come first: skorch gives a parameter
        # to the first pattern it matches.
        kwargs["optimizer__param_groups"] = kwargs.pop("extra_param_groups", []) + param_groups(
            module, blocks, n_trainable, self.lr, self.lr_decay, all_trunk,
            trunk_weight_decay=0.0 if self.l2sp else None)
        if self.optimizer in (torch.optim.AdamW, torch.optim.Adam):
            # One fused kernel for all parameters: measured 3x faster steps than the default on CPU.
            kwargs["optimizer__fused"] = True
        kwargs.update(self._nested_params())
        return net_class(
            module,
            l2sp=float(self.l2sp),
            criterion=criterion,
            optimizer=MergedGroups(self.optimizer),
            lr=self.lr,
            max_epochs=max_epochs,
            batch_size=self.batch_size,
            iterator_train=DeviceBatchIterator,
            iterator_train__shuffle=True,
            iterator_valid=DeviceBatchIterator,
            train_split=None if valid_data is None else predefined_split(valid_data),
            callbacks=callbacks,
            device=str(device),
            verbose=self.verbose,
            **kwargs,
        )

    # ------------------------------------------------------------------ predict

    def _outputs(self, X):
        """The network's outputs for ``X`` (with ``tta``, averaged over the views), float32 numpy."""
        check_is_fitted(self, "module_")
        check_n_features_in(self, X)
        images = as_image_set(X, input_shape=self.input_shape)
        device = resolve_device(self.device)
        with on_device(self.module_, device) as module:
            return self._encode_views(module, images, device)

    def _encode_views(self, module, images, device):
        """Outputs of the images, averaged with those of ``tta`` randomly augmented views."""
        # A probe-only model never saw augmented images: it stays the plain probe.
        n_views = 1 + (int(self.tta) if self.n_steps_ else 0)
        with progress_bar(len(images) * n_views, self.verbose, "predict") as bar:
            total = encode_batches(module, images, batch_size=self.batch_size, device=device, progress=bar)
            if n_views == 1:
                return total
            # Views are seeded from random_state, so predictions are reproducible.
            seed = check_random_state(self.random_state).randint(2**31 - 1) if self.random_state is not None else None
            augmented = AugmentedView(module, BatchAugment(**PRESETS[TTA_PRESET]))
            for view in range(1, n_views):
                with seeded(None if seed is None else seed + view, device):
                    total += encode_batches(augmented, images, batch_size=self.batch_size, device=device,
                                            progress=bar)
        return total / n_views

    def explain(self, X, target=None, method="gradcam", layer="auto"):
        """Heat maps of the image regions behind the network's output (Grad-CAM or gradient saliency).

        A thin front of :func:`sktransfer.inspection.explain`, which documents
        the details.

        Parameters
        ----------
        X : images
            Same forms as in :meth:`fit`.
        target : label, array-like of shape (n_images,) or None, default=None
            The class to explain (one for all images, or one per image); None:
            each image's predicted class. Regressors: the output index.
        method : {"gradcam", "saliency"}, default="gradcam"
            Grad-CAM on a feature map, or gradient x input on the pixels.
        layer : "auto", int or str, default="auto"
            Grad-CAM's feature map (a block index or name); "auto": the highest
            spatial map the head reads.

        Returns
        -------
        explanation : :class:`~sklearn.utils.Bunch`
            ``maps`` (n_images, H, W) in [0, 1] at the images' resolution,
            ``target``, ``probability`` (NaN for a regressor), ``prediction``,
            ``method`` and ``layer``.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sktransfer import FineTunedClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> clf = FineTunedClassifier("timm/test_resnet", weights=None, image_size=16, max_epochs=1, min_steps=0,
        ...                           augment=None, tta=0, input_shape=(8, 8), verbose=0).fit(X[:60] / 16, y[:60])
        >>> clf.explain(X[:2] / 16, method="saliency").maps.shape
        (2, 8, 8)
        """
        from ..inspection import explain  # inspection builds on the estimators, not the other way round

        return explain(self, X, target, method=method, layer=layer)

    # ------------------------------------------------------------------ pickling and tags

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: BaseEstimator may return __dict__ itself
        # A user's own module (the backbone parameter, and the one the fit was built from) may live
        # on CUDA: pickle CPU copies, so the model unpickles on a machine without a GPU.
        state["backbone"] = cpu_copy(state["backbone"])
        if "_arch" in state:
            state["_arch"] = {**state["_arch"], "backbone": cpu_copy(state["_arch"]["backbone"])}
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
        n_features, n_outputs = arch["n_features"], arch["n_outputs"]
        if arch["probe_head"]:  # buffers and weights come from the state dict
            head = probe_head(n_features, n_outputs)
        else:
            head = make_head(n_features, n_outputs, arch["hidden_units"], arch["dropout"])
        module = BackboneNetwork(encoder, head)
        module.load_state_dict(module_state)
        self.module_ = module.train(False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.positive_only = True  # pixels are never negative
        return tags

    # ------------------------------------------------------------------ task hooks

    #: What one row of ``y`` is called in messages.
    _target_noun = "target"

    def _check_targets(self, y):
        """Validate ``y`` (never None); return it as an array (raise a ValueError that names the fix)."""
        raise NotImplementedError

    def _encode_targets(self, y):
        """``(targets, fitted)``: what the network trains on (int64 or float32 numpy, one row per image),
        and the fitted attributes the task sets when ``fit`` succeeds (e.g. ``classes_``)."""
        raise NotImplementedError

    def _check_warm_targets(self, fitted):
        """Raise a ValueError when ``warm_start`` cannot continue with these targets."""

    def _n_outputs(self, fitted):
        """Width of the head's output."""
        raise NotImplementedError

    def _stratify(self, targets):
        """Labels to stratify the validation split and the probe's folds by, or None."""
        return None

    def _can_spare_validation(self, targets):
        """``early_stopping="auto"``: whether the training set is large enough to hold a tenth out."""
        raise NotImplementedError

    def _make_probe(self, fitted):
        """A fresh scikit-learn probe, scored by cross-validation to choose the blocks."""
        raise NotImplementedError

    def _fit_probe(self, features, targets, fitted):
        """Fit the probe; return ``(FeatureScaler, nn.Linear, history record of the probe)``."""
        raise NotImplementedError

    def _scoring_callbacks(self, has_validation, fitted):
        """skorch callbacks that score each epoch (``train_acc`` and the like)."""
        return []

    def _net_spec(self, targets, fitted):
        """``(skorch net class, criterion, net keyword arguments)`` of the task (``targets``: all of ``fit``'s)."""
        raise NotImplementedError

    # Learning from unlabelled rows: a task that has none keeps these defaults.

    def _labeled_rows(self, targets):
        """Boolean mask of the rows of ``targets`` that carry a target (the others are unlabelled)."""
        return np.ones(len(targets), dtype=bool)

    def _learns_from_unlabeled(self):
        """Whether unlabelled rows train (else they are ignored)."""
        return False

    def _check_unlabeled(self, unlabeled_idx):
        """Raise a ValueError when the method needs unlabelled rows and has none (or too few)."""

    def _unlabeled_ratio(self):
        """Unlabelled rows per labelled row in each training batch."""
        return 1.0

    def _unlabeled_net(self, module, augment):
        """``(skorch net class, extra keyword arguments)`` that trains on labelled and unlabelled rows;
        it augments the rows itself (``augment`` is the labelled rows' augmentation)."""
        raise NotImplementedError

    def _end_training(self, module):
        """Undo what ``_unlabeled_net`` added to ``module`` for training only (e.g. a domain classifier)."""


def _same(a, b):
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return tuple(a) == tuple(b)
    return a is b
