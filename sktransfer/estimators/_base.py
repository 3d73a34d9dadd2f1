"""The base of every estimator that trains a skorch network over a pretrained backbone.

An estimator here *has* a skorch net (built anew in every ``fit``) rather than
*being* one: scikit-learn sees only the parameters of ``__init__``, ``clone``
never touches weights, and every fit starts from the pretrained backbone.

:class:`BackboneNetworkEstimator` is the small core every task shares:
parameter routing (nested skorch parameters included), ``fit`` under
scikit-learn's ``_fit_context``, prediction through test-time views, and
pickling. The pieces it calls live below it: the network is built by
``_network.build_network`` from an :class:`~sktransfer.nn.ArchSpec`, the probe
and the skorch net come from ``sktransfer.training``, and how ``y`` becomes
targets and outputs become predictions is the task's
:class:`~sktransfer.estimators._targets.TargetSpec`. A task (classification,
multi-label, regression, domain adaptation) plugs in through the hooks at the
end of the class.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._auto import resolve_recipe, validation_fraction
from .._device import cpu_copy, cpu_state_dict, resolve_device, seeded
from .._progress import progress_bar
from ..backbones import backbone_inputs, backbone_modality
from ..images import check_n_features_in, record_n_features_in
from ..inspection import explain
from ..nn import resolve_augment, views_of
from ..runtimes import NetworkRuntime, check_deployment, placed
from ..training import TrainingData
from ._finetune import PROBE, train
from ._contrastive_fit import check_contrastive, resolve_schedule
from ._modality import check_modality_params, check_unlabeled_texts
from ._network import build_network, warm_network
from ._params import (NETWORK_CONSTRAINTS, check_int_params, check_nested_params, check_validation_callbacks,
                      nested_params, split_nested)
from ._weights import check_fit_params, repeat_rows, sample_counts, validation_split

__all__ = ["BackboneNetworkEstimator"]


class BackboneNetworkEstimator(BaseEstimator):
    """Base class: a skorch-trained network (pretrained backbone + new head) as a scikit-learn estimator.

    Not used directly: :class:`~sktransfer.FineTunedClassifier`,
    :class:`~sktransfer.FineTunedRegressor` and
    :class:`~sktransfer.DomainAdaptiveClassifier` are built on it. A subclass
    defines ``__init__`` (its signature lists every parameter, as
    scikit-learn requires; storing them is :meth:`_store_params`'s job),
    ``_parameter_constraints``, and the task hooks below.

    After ``fit``, ``arch_spec_`` (:class:`~sktransfer.nn.ArchSpec`) and
    ``target_spec_`` (``TargetSpec``) are the public, read-only facts other
    packages read: what the network is and what its outputs mean.

    Examples
    --------
    >>> from sktransfer import DomainAdaptiveClassifier, FineTunedClassifier, FineTunedRegressor
    >>> from sktransfer.estimators import BackboneNetworkEstimator
    >>> all(issubclass(c, BackboneNetworkEstimator)
    ...     for c in (FineTunedClassifier, FineTunedRegressor, DomainAdaptiveClassifier))
    True
    """

    _parameter_constraints = NETWORK_CONSTRAINTS

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
        params.update(nested_params(self))
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
        extra = split_nested(set(self._get_param_names()), params)
        super().set_params(**params)
        vars(self).update(extra)
        return self

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=False)  # callbacks and optimizers are the user's
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the linear probe on ``(X, y)``, then fine-tune the network from it (see the class docs).

        Parameters
        ----------
        X : images
            See :func:`sktransfer.images.as_image_set` for accepted forms.
        y : array-like of shape (n_images,) or (n_images, n_outputs)
            Targets, as the estimator's documentation describes.
        sample_weight : array-like of shape (n_images,), default=None
            Whole numbers: an image of weight k trains as k copies of it, in
            the probe, the loss and the validation split; 0 leaves it out.
            Equal weights are the same as none. Routed through a ``Pipeline``
            by ``set_fit_request(sample_weight=True)``.
        **fit_params
            Refused with a TypeError that names the estimator taking them.

        Returns
        -------
        self : estimator instance
        """
        check_fit_params(type(self).__name__, fit_params)
        check_nested_params(self)
        check_int_params(self)
        check_deployment(self.runtime, self.quantize)
        modality = self._modality
        check_modality_params(self, modality)
        # Cheap checks of y first, then the images, then that they match.
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        y = self._check_targets(y)
        counts = sample_counts(sample_weight, len(y), type(self).__name__)
        # Weight 0: as if the image were not there (a class only weighted 0 is no class).
        kept = None if counts is None or counts.all() else np.flatnonzero(counts)
        counts = counts if kept is None else counts[kept]
        targets, spec = self._encode_targets(y if kept is None else y[kept], counts)
        check_contrastive(self, spec, modality)
        images = self._inputs(X)
        lr, augment_name = resolve_recipe(self.lr, self.augment, images.typical_shape(), modality,
                                          self._image_recipe)
        if len(y) != len(images):
            raise ValueError(
                f"X has {len(images)} images but y has {len(y)} {self._target_noun}s; pass one "
                f"{self._target_noun} per image "
                f"(found input variables with inconsistent numbers of samples: [{len(images)}, {len(y)}])."
            )
        images = images if kept is None else images.subset(kept)
        device, augment = resolve_device(self.device), resolve_augment(augment_name)
        labeled = self._labeled_rows(targets)  # unlabelled rows never reach the split, the probe or the loss
        if self.early_stopping not in (None, "auto") and not self._validation_fraction(targets[labeled]):
            raise ValueError(
                f"early_stopping={self.early_stopping} needs a validation split; set "
                "validation_fraction (e.g. 0.1) or early_stopping=None."
            )
        warm = bool(self.warm_start) and hasattr(self, "module_")
        if warm:
            self._check_warm_targets(spec)
        unlabeled_idx = np.flatnonzero(~labeled) if self._learns_from_unlabeled() else np.arange(0)
        check_unlabeled_texts(modality, len(unlabeled_idx))
        self._check_unlabeled(unlabeled_idx)
        rng = check_random_state(self.random_state)
        torch_seed = int(rng.randint(2**31 - 1))
        train_idx, valid_idx = self._split(targets, np.flatnonzero(labeled), rng)
        train_idx, valid_idx = repeat_rows(train_idx, counts), repeat_rows(valid_idx, counts)
        check_validation_callbacks(self.callbacks, valid_idx is not None)
        data = TrainingData(images, targets, train_idx, valid_idx, unlabeled_idx, self._unlabeled_ratio(),
                            cached=False, rng=np.random.default_rng(int(rng.randint(2**31 - 1))))
        cv_seed = int(rng.randint(2**31 - 1))
        # Seed torch for this fit only: head init, dropout, augmentation.
        with seeded(torch_seed if self.random_state is not None else None, device):
            built = warm_network(self) if warm else build_network(self, data, spec, device, cv_seed)
            trained = train(self, built, data, spec, device, augment, lr)
        deployment = NetworkRuntime()
        if self.quantize:  # int8 calibrated on the training rows, kept if the task keeps its score and it pays
            deployment.quantize(built.module, images, data, lambda out, rows: spec.quality(out, targets[rows]),
                                self, views_of(self.tta, trained.selected != PROBE, self._modality))
        # Assign fitted state only now, so a failed (re)fit leaves the model as it was.
        self.module_ = built.module.train(False)
        vars(self).update(self._fitted_attributes(spec, targets))
        history, freezing = trained.history, trained.freezing
        self.arch_spec_, self.target_spec_, self.history_ = built.arch, spec, history
        self.image_size_, self.layers_, self.n_blocks_ = built.arch.image_size, built.arch.layers, len(freezing.blocks)
        self.trainable_blocks_, self.features_cached_ = freezing.n_trainable, data.cached
        # The steps behind the model kept: none when it is the probe (then it predicts without views).
        steps = int(sum(history[:, "n_steps"])) if "n_steps" in history[-1] else 0
        self.n_steps_ = 0 if trained.selected == PROBE else steps
        self.interrupted_, self.lr_, self.augment_ = trained.interrupted, lr, augment_name
        self.schedule_ = resolve_schedule(self, spec)
        self.selected_, self.selection_scores_ = trained.selected, trained.scores
        self._runtime, self.quantized_, self.int8_scores_ = deployment, deployment.int8 is not None, deployment.scores
        if built.probe is not None:
            self.probe_scores_ = built.probe.scores
        record_n_features_in(self, X)
        return self

    def _inputs(self, X):
        """``X`` as the backbone takes it: images, or texts tokenised for a language model."""
        return backbone_inputs(X, self.backbone, self.input_shape)

    @property
    def _modality(self):
        """What the backbone takes: ``"image"`` or ``"text"``."""
        return backbone_modality(self.backbone)

    def _split(self, targets, labeled_idx, rng):
        """Training and validation rows among the labelled rows ``labeled_idx``."""
        targets = targets[labeled_idx]
        return validation_split(labeled_idx, self._validation_fraction(targets), self._stratify(targets), rng)

    def _validation_fraction(self, targets):
        return validation_fraction(self.validation_fraction, self.early_stopping,
                                   lambda: self._can_spare_validation(targets))

    # ------------------------------------------------------------------ predict

    def _outputs(self, X):
        """The network's outputs for ``X`` (with ``tta``, averaged over the views), float32 numpy."""
        check_is_fitted(self, "module_")
        # Parameters may have been set since fit (tta, batch_size, device): checked as fit checks them.
        self._validate_params()
        check_int_params(self)
        check_n_features_in(self, X)
        images = backbone_inputs(X, self.arch_spec_.backbone, self.input_shape)  # as the fitted backbone reads X
        device = resolve_device(self.device)
        # The views are fixed transforms (nn/_views.py): predictions are a function of X, whatever
        # random_state is.
        n_views = views_of(self.tta, trained=bool(self.n_steps_), modality=backbone_modality(self.arch_spec_.backbone))
        runtime = vars(self).setdefault("_runtime", NetworkRuntime())  # (a model pickled before runtimes existed)
        int8, engine = getattr(self, "quantized_", False), check_deployment(self.runtime)
        with placed(self.module_, engine, device) as module, \
                progress_bar(len(images) * n_views, self.verbose, "predict") as bar:
            return runtime.outputs(module, images, runtime=engine, n_views=n_views,
                                   batch_size=self.batch_size, device=device, progress=bar, int8=int8)

    def explain(self, X, target=None, method="auto", layer="auto"):
        """Heat maps of the image regions behind the network's output; for a text network, token attributions.

        A thin front of :func:`sktransfer.inspection.explain`, which documents
        the details.

        Parameters
        ----------
        X : images or texts
            Same forms as in :meth:`fit`.
        target : label, array-like of shape (n_images,) or None, default=None
            The class to explain (one for all images, or one per image); None:
            each image's predicted class. Regressors: the output index.
        method : {"auto", "cam", "gradcam", "saliency", "integrated_gradients"}, default="auto"
            Gradient x input on the pixels (``"saliency"``), the exact CAM of
            a linear head (``"cam"``), or Grad-CAM on a feature map; ``"auto"``:
            saliency, or Grad-CAM when ``layer`` names a block. Texts: ``"auto"``
            is integrated gradients over the input embeddings (docs/inspection.md).
        layer : "auto", int or str, default="auto"
            Grad-CAM's feature map (a block index or name); "auto": the highest
            spatial map the head reads.

        Returns
        -------
        explanation : :class:`~sklearn.utils.Bunch`
            ``maps`` (n_images, H, W) in [0, 1] at the images' resolution,
            ``target``, ``probability`` (NaN for a regressor), ``prediction``,
            ``method`` and ``layer`` (texts: token and word attributions too).

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
        return explain(self, X, target, method=method, layer=layer)

    # ------------------------------------------------------------------ pickling and tags

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: BaseEstimator may return __dict__ itself
        # A user's own module (the backbone parameter, and the one the fit was built from) may live
        # on CUDA: pickle CPU copies, so the model unpickles on a machine without a GPU.
        state["backbone"] = cpu_copy(state["backbone"])
        if "arch_spec_" in state:
            state["arch_spec_"] = state["arch_spec_"].on_cpu()
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state"] = cpu_state_dict(module)
        return state

    def __setstate__(self, state):
        module_state = state.pop("_module_state", None)
        super().__setstate__(state)
        if module_state is not None:
            self.module_ = self.arch_spec_.load_network(module_state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.positive_only = True  # pixels are never negative
        return tags

    # ------------------------------------------------------------------ task hooks

    #: ``lr="auto"`` and ``augment="auto"`` for images: None for the size rule (glyphs or photographs,
    #: ``_auto.resolve_recipe``), or one fixed recipe.
    _image_recipe = None

    #: Whether a language-model backbone (texts) is accepted.
    _takes_text = True

    #: What one row of ``y`` is called in messages.
    _target_noun = "target"

    def _check_targets(self, y):
        """Validate ``y`` (never None); return it as an array (raise a ValueError that names the fix)."""
        raise NotImplementedError

    def _encode_targets(self, y, counts):
        """``(targets, TargetSpec)``: what the network trains on (int64 or float32 numpy, one row per image);
        ``counts`` (whole-number sample weights, or None) weigh any statistics of ``y``."""
        raise NotImplementedError

    def _fitted_attributes(self, spec, targets):
        """The task's public fitted attributes (e.g. ``classes_``), set when ``fit`` succeeds."""
        return {}

    def _check_warm_targets(self, spec):
        """Raise a ValueError when ``warm_start`` cannot continue with these targets."""

    def _stratify(self, targets):
        """Labels to stratify the validation split and the probe's folds by, or None."""
        return None

    def _can_spare_validation(self, targets):
        """``early_stopping="auto"``: whether the training set is large enough to hold a tenth out."""
        raise NotImplementedError

    def _make_probe(self, spec):
        """A fresh scikit-learn probe, scored by cross-validation to choose the blocks."""
        raise NotImplementedError

    def _fit_probe(self, features, targets, spec):
        """Fit the probe; return ``(FeatureScaler, nn.Linear, history record of the probe)``."""
        raise NotImplementedError

    def _task_net(self, targets, spec, has_validation):
        """The task's :class:`~sktransfer.training.TaskNet`: skorch class, loss, keywords, scoring callbacks."""
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

    @property
    def _checks_against_probe(self):
        """Whether a validation split judges the fine-tuned network against its probe (``_finetune``).

        Only estimators with ``fallback_to_probe`` do: ``DomainAdaptiveClassifier`` has no such parameter,
        as its validation images are labelled source images, which do not judge a model for the target.
        """
        return bool(getattr(self, "fallback_to_probe", False))

    def _unlabeled_net(self, task, augment, arch, lr):
        """``task`` turned into a net that also learns from unlabelled rows (and augments them itself)."""
        raise NotImplementedError

    def _after_training(self, module, data, device):
        """What the task does to the trained network before it is fitted state (e.g. AdaBN)."""
