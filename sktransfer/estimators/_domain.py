"""DomainAdaptiveClassifier: fine-tune on a labelled source domain, adapted to an unlabelled target domain.

Everything but the training step is :class:`~sktransfer.FineTunedClassifier`'s:
the probe, freezing, schedule, augmentation, prediction and pickling. The
training step (``training/_unlabeled.py``) takes source and target images in
each step, normalises each domain with its own BatchNorm statistics (or both
together), and adds a domain loss (DANN's adversarial domain classifier or
Deep CORAL's covariance distance) and self-training on the target; after
training, BatchNorm's statistics are re-estimated on the target (AdaBN).
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._device import on_device, resolve_device
from .._validation import UNLABELED, as_label_array, target_domain_mask, unlabeled_mask
from ..images import check_n_features_in
from ..nn import PRESETS, BatchAugment, encode_batches, recompute_batchnorm
from ..training import DomainAdaptationNet, TaskNet
from ._classifier import SEMI_SUPERVISED_PARAMS, FineTunedClassifier

__all__ = ["DomainAdaptiveClassifier"]

#: ``adaptation_weight="auto"``: CORAL's loss is divided by 4 d² (d: feature width, a few hundred),
#: so it needs a larger weight than DANN's cross-entropy. Measured on MNIST -> MNIST-M-like
#: (docs/few_labels_many_images.md).
AUTO_WEIGHTS = {"coral": 30.0, "dann": 0.3}

#: DANN's domain classifier learns at this fraction of ``lr``. At the head's rate it separates
#: the domains within an epoch (domain accuracy 0.99) and its saturated, reversed gradient
#: taught the encoder nothing: on MNIST -> MNIST-M-like, 0.1 gained 1 point over the source
#: only, 0.01 gained 8 to 12 (docs/few_labels_many_images.md).
DISCRIMINATOR_LR = 0.01

#: The weak view of a target image whose prediction may become its pseudo-label (FixMatch's weak view).
SELF_TRAINING_WEAK = "light"

class DomainAdaptiveClassifier(FineTunedClassifier):
    """Fine-tune a pretrained backbone on labelled source images so that it works on unlabelled target images.

    Unsupervised domain adaptation: you have labelled images of one domain
    (the *source*: another scanner, camera, or synthetic renders) and
    unlabelled images of the domain you care about (the *target*). Both go
    into ``fit``: labelled images are the source, images labelled ``-1``
    are the target (scikit-learn's semi-supervised convention), or pass
    ``sample_domain`` (skada's convention: positive for source, negative for
    target; target labels are then never read). Predictions are for either
    domain; ``classes_`` never holds -1.

    Training is :class:`FineTunedClassifier`'s recipe (linear probe on the
    source, then fine-tuning), with every step taking as many target as
    source images, and a domain loss added to the source classification loss:

    - ``method="dann"`` (default; Ganin & Lempitsky, ICML 2015): a domain classifier
      (BatchNorm, 256 hidden units, learning at a hundredth of ``lr``) on the pooled features, behind a
      gradient-reversal layer whose weight rises from 0 to ``adaptation_weight`` along Ganin's
      schedule ``2 / (1 + exp(-10 p)) - 1`` over training progress ``p``.
      The encoder learns features the domain classifier cannot tell apart.
    - ``method="coral"`` (Sun & Saenko, ECCV 2016 workshops, Deep
      CORAL): the distance between the source and target covariances of the
      pooled features, ``||C_s - C_t||² / (4 d²)``.
    - ``method="none"``: no adaptation loss and no self-training: trained on
      the source only (with ``batchnorm="mixed"``, the source-only baseline
      to beat; by default its BatchNorm statistics are the target's).

    Two more things adapt the network, whatever the method: BatchNorm
    normalises each domain with its own statistics, the target's at
    prediction (``batchnorm``), and confident predictions on target images
    teach their augmented views (``pseudo_label_threshold``).

    Without target labels, :func:`sktransfer.metrics.prediction_entropy_scorer`
    can choose hyperparameters in ``GridSearchCV``; see the docs page "Few
    labels, many images" for its caveats.

    **skada.** ``predict``, ``predict_proba``, ``predict_log_proba``,
    ``decision_function`` and ``score`` take ``sample_domain`` (and skada's
    ``allow_source``), so skada's splitters and scorers
    (``PredictionEntropyScorer``, ``SoftNeighborhoodDensity``,
    ``ImportanceWeightedScorer``, ``DeepEmbeddedValidation``) work on the
    estimator itself; :meth:`predict_features` gives the features
    ``DeepEmbeddedValidation`` weighs. Predictions are one row per image,
    whatever its domain (the network is a model of the target: see
    ``batchnorm``); ``score`` with ``sample_domain`` scores the target
    images only, as skada's estimators do, unless ``allow_source=True``.

    Parameters
    ----------
    backbone : str, Backbone or torch.nn.Module, default="efficientnet_lite0"
        As in :class:`FineTunedClassifier`.
    method : {"dann", "coral", "none"}, default="dann"
        The adaptation method (see above). DANN is the default because it
        measured best with the rest of the defaults: on MNIST -> MNIST-M-like
        (3,500 images of each domain), 0.890 on the target against 0.869 for
        CORAL and 0.340 for the source only (docs/few_labels_many_images.md).
    adaptation_weight : float or "auto", default="auto"
        Weight of the domain loss: for DANN, the largest reversal weight,
        reached at the end of the schedule. "auto": 30 for CORAL (its loss
        is divided by ``4 d²``, so it is small), 0.3 for DANN (measured
        better than Ganin's 1 on MNIST -> MNIST-M-like).
    batchnorm : {"per-domain", "mixed"}, default="per-domain"
        How BatchNorm treats the two domains. ``"per-domain"``: in training,
        source and target images go through the network as two batches, so
        each domain is normalised with its own statistics (as in
        domain-specific BatchNorm, Chang et al., CVPR 2019, with the weights
        shared); after training, every BatchNorm layer's running mean and
        variance are re-estimated on the target images (AdaBN, Li et al.,
        2016), so that predictions normalise as target batches did in
        training. Predictions on *source* images then use the target's
        statistics too: this is a model for the target. ``"mixed"``: one
        batch of both domains (BatchNorm over the mixed batch, as in Ganin &
        Lempitsky) and the running statistics as trained; with
        ``method="none"``, the plain source-only network.
    pseudo_label_threshold : float or None, default=0.7
        Self-training on the target, as AdaMatch (Berthelot et al., ICLR
        2022) brings FixMatch to domain adaptation: when the prediction on a
        weakly augmented target image (the ``"light"`` preset) reaches this
        probability, its class is the label of the image's ``augment`` view.
        None: no self-training. Lower than FixMatch's 0.95: with
        ``label_smoothing=0.1`` over ten classes a prediction tops out near
        0.91, and at 0.95 few target images teach. Ignored by
        ``method="none"``.
    unlabeled_weight : float, default=1.0
        Weight of the self-training loss.
    max_epochs : int, default=10
        As in :class:`FineTunedClassifier` (whose default is 5): self-training
        keeps gaining as more target images become confident.
    early_stopping : int or None, default=None
        As in :class:`FineTunedClassifier`, whose ``"auto"`` default holds a
        tenth of the source out and keeps the epoch of lowest *source*
        validation loss. That is no measure of the target (the source is
        what the network already knows), so no images are held out and
        training runs all ``max_epochs``. On MNIST -> MNIST-M-like the two
        scored alike (0.849 and 0.845 over two seeds, benchmarks/sweep_domain.py).
    augment : None, {"light", "strong", "domain"} or callable, default="domain"
        As in :class:`FineTunedClassifier`, applied to source and target
        images alike. ``"domain"`` is ``"strong"`` plus colour changes a new
        domain brings: the colour channels in a random order and half of
        the images inverted (on MNIST -> MNIST-M-like, CORAL rose from 0.55
        to 0.69 with it).
    **params
        Every other parameter is :class:`FineTunedClassifier`'s, with the
        same default, except ``semi_supervised`` and ``unlabeled_ratio``
        (here as many target as source images share each step) and those
        documented above: ``weights``, ``trainable_blocks``, ``layer``,
        ``schedule``, ``probe_C``, ``lr``, ``lr_decay``, ``weight_decay``,
        ``l2sp``, ``optimizer``, ``lr_schedule``, ``warmup_epochs``,
        ``unfreeze_every``, ``min_steps``, ``batch_size``
        (source images per step; as many target images join them),
        ``hidden_units``, ``dropout``, ``image_size``, ``pooling``,
        ``label_smoothing``, ``tta``, ``validation_fraction`` (held out from
        the source), ``class_weight``, ``warm_start``, ``random_state``, ``device``,
        ``input_shape``, ``callbacks``, ``verbose``, ``on_interrupt``,
        ``runtime``, ``quantize`` (int8 checked on the labelled source), and
        nested skorch parameters.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The source's class labels.
    history_ : skorch.History
        Per epoch, besides :class:`FineTunedClassifier`'s: ``adaptation_loss``
        and, for DANN, ``domain_acc`` (the domain classifier's accuracy on
        the training batches: near 0.5 when the features hide the domain) and
        ``reversal`` (the mean reversal weight).
    n_target_ : int
        Target images given to the last fit.
    module_, image_size_, layers_, n_blocks_, trainable_blocks_, n_steps_, interrupted_, probe_scores_, \
lr_, augment_, quantized_, int8_scores_, arch_spec_, target_spec_ : object
        As in :class:`FineTunedClassifier`.
    selected_, selection_scores_ : str, dict
        As in :class:`FineTunedClassifier`, but the network is never judged
        against its probe on the validation split: that split holds labelled
        source images, and the model is for the target.

    See Also
    --------
    FineTunedClassifier : with ``semi_supervised="fixmatch"``, unlabelled images of the *same* domain.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import DomainAdaptiveClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> source, target = X[:100] / 16.0, 1.0 - X[100:200] / 16.0   # target: other digits, inverted
    >>> y_fit = np.concatenate([y[:100], np.full(100, -1)])         # -1: a target image, unlabelled
    >>> dann = DomainAdaptiveClassifier(backbone="timm/test_resnet", weights=None, layer=None, input_shape=(8, 8),
    ...                                 max_epochs=2, min_steps=0, tta=0, verbose=0, random_state=0)
    >>> dann.fit(np.concatenate([source, target]), y_fit).n_target_
    100
    >>> dann.predict(target[:3]).shape
    (3,)
    >>> dann.predict_features(target[:3]).shape   # the pooled features the head reads
    (3, 96)
    """

    _takes_text = False  # AdaBN, DANN and CORAL were built and measured for images

    _parameter_constraints = {
        **{k: v for k, v in FineTunedClassifier._parameter_constraints.items() if k not in SEMI_SUPERVISED_PARAMS},
        "method": [StrOptions({"dann", "coral", "none"})],
        "adaptation_weight": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "batchnorm": [StrOptions({"per-domain", "mixed"})],
        "pseudo_label_threshold": [Interval(Real, 0, 1, closed="both"), None],
        "unlabeled_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, backbone="efficientnet_lite0", *, method="dann", adaptation_weight="auto",
                 batchnorm="per-domain", pseudo_label_threshold=0.7, unlabeled_weight=1.0, weights="default",
                 trainable_blocks="all", layer="auto", schedule="lp-ft", probe_C=1.0, lr=1e-2, lr_decay=0.7,
                 weight_decay=0.01, l2sp=0.0, optimizer=torch.optim.AdamW, lr_schedule="cosine", warmup_epochs=1,
                 unfreeze_every=None, max_epochs=10, min_steps=200, batch_size=32, hidden_units=(), dropout=0.0,
                 image_size="auto", pooling="avg", augment="domain", label_smoothing=0.1, tta=4,
                 validation_fraction="auto", early_stopping=None, class_weight=None, warm_start=False,
                 random_state=None, device="auto", input_shape=None, callbacks=None, verbose=1,
                 on_interrupt="raise", runtime="torch", quantize=None, **kwargs):
        self._store_params(locals())

    def fit(self, X, y, sample_domain=None, sample_weight=None):
        """Fit on labelled source images and unlabelled target images.

        Parameters
        ----------
        X : images
            Source and target images together; see
            :func:`sktransfer.images.as_image_set` for accepted forms.
        y : array-like of shape (n_images,)
            Labels of the source images; -1 for target images (for string
            labels, the int -1 in an object array).
        sample_domain : array-like of int of shape (n_images,), default=None
            skada's convention: positive for a source image, negative for a
            target image (whose label is then ignored). Route it through
            scikit-learn's metadata routing with
            ``set_fit_request(sample_domain=True)``.
        sample_weight : array-like of shape (n_images,), default=None
            Whole numbers, as in :meth:`FineTunedClassifier.fit`: an image of
            weight k trains as k copies of it; 0 leaves it out.

        Returns
        -------
        self : DomainAdaptiveClassifier
        """
        if sample_domain is not None and y is not None:
            y = _target_as_unlabeled(y, sample_domain)
        return super().fit(X, y, sample_weight=sample_weight)

    # ------------------------------------------------------------------ predict (skada's keywords)

    def predict(self, X, sample_domain=None, allow_source=False):
        """Predicted labels, from ``classes_``.

        Parameters
        ----------
        X : images
            Same forms as in :meth:`fit`.
        sample_domain : array-like of int of shape (n_images,), default=None
            skada's convention (positive: source, negative: target). Checked
            against ``X`` and otherwise not used: every image is predicted by
            the one network, which is a model of the target. Accepted so
            that skada's scorers and routers can pass it
            (``set_predict_request(sample_domain=True)``).
        allow_source : bool, default=False
            skada's flag, accepted and ignored: one prediction per image,
            as scikit-learn requires, where skada's deep nets drop the source
            images unless it is True.

        Returns
        -------
        y : ndarray of shape (n_images,)
        """
        _check_domains(X, sample_domain)
        return super().predict(X)

    def predict_proba(self, X, sample_domain=None, allow_source=False):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : images
        sample_domain : array-like of int of shape (n_images,), default=None
            As in :meth:`predict`: checked, not used.
        allow_source : bool, default=False
            As in :meth:`predict`: ignored.

        Returns
        -------
        proba : ndarray of shape (n_images, n_classes)
        """
        _check_domains(X, sample_domain)
        return super().predict_proba(X)

    def predict_log_proba(self, X, sample_domain=None, allow_source=False):
        """Logarithm of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : images
        sample_domain : array-like of int of shape (n_images,), default=None
            As in :meth:`predict`: checked, not used.
        allow_source : bool, default=False
            As in :meth:`predict`: ignored.

        Returns
        -------
        log_proba : ndarray of shape (n_images, n_classes)
        """
        _check_domains(X, sample_domain)
        return super().predict_log_proba(X)

    def decision_function(self, X, sample_domain=None, allow_source=False):
        """The network's logits (with ``tta``, averaged over the views).

        Parameters
        ----------
        X : images
        sample_domain : array-like of int of shape (n_images,), default=None
            As in :meth:`predict`: checked, not used.
        allow_source : bool, default=False
            As in :meth:`predict`: ignored.

        Returns
        -------
        scores : ndarray of shape (n_images, n_classes), or (n_images,) for two classes
        """
        _check_domains(X, sample_domain)
        return super().decision_function(X)

    def score(self, X, y, sample_weight=None, sample_domain=None, allow_source=False):
        """Accuracy of :meth:`predict`; with ``sample_domain``, on the target images only.

        Parameters
        ----------
        X : images
        y : array-like of shape (n_images,)
            True labels; images labelled -1 are skipped.
        sample_weight : array-like of shape (n_images,), default=None
            skada's ``ImportanceWeightedScorer`` passes its weights here;
            request them with ``set_score_request(sample_weight=True)``.
        sample_domain : array-like of int of shape (n_images,), default=None
            skada's convention (positive: source, negative: target). Given,
            the target images alone are scored, as skada's estimators score
            them (the source is what the model was trained on).
        allow_source : bool, default=False
            True: every image is scored, source included (skada's
            ``ImportanceWeightedScorer`` scores weighted source images so).

        Returns
        -------
        score : float
        """
        target = _check_domains(X, sample_domain)
        if target is not None and not allow_source:
            if not target.any():
                raise ValueError("sample_domain marks no target images (negative): score measures the target. "
                                 "Pass allow_source=True to score source images, or include target images.")
            check_is_fitted(self, "module_")
            check_n_features_in(self, X)
            rows = np.flatnonzero(target)
            X, y = self._inputs(X).subset(rows), np.asarray(as_label_array(y))[rows]
            sample_weight = None if sample_weight is None else np.asarray(sample_weight)[rows]
        return super().score(X, y, sample_weight=sample_weight)

    def predict_features(self, X):
        """The pooled features the head reads (the ``encoder``'s outputs), one row per image; no ``tta``.

        skada's ``DeepEmbeddedValidation`` weighs the source images by how
        target-like these features are, as it does with skada's deep nets'
        ``predict_features``.

        Parameters
        ----------
        X : images
            Same forms as in :meth:`fit`.

        Returns
        -------
        features : ndarray of shape (n_images, n_features), float32
        """
        check_is_fitted(self, "module_")
        check_n_features_in(self, X)
        images = self._inputs(X)
        device = resolve_device(self.device)
        with on_device(self.module_, device) as module:
            return encode_batches(getattr(module, module.layer_name), images, batch_size=self.batch_size,
                                  device=device)

    # ------------------------------------------------------------------ task hooks

    _warn_few_unlabeled = False  # -1 marks the target domain, whatever its size

    def _check_targets(self, y):
        y = super()._check_targets(y)
        if y.ndim == 2:
            raise ValueError(f"{type(self).__name__} takes one label per image (a 1-D y); multi-label y is not "
                             "supported. Mark target images with -1.")
        return y

    def _learns_from_unlabeled(self):
        return self.method != "none"

    def _check_unlabeled(self, unlabeled_idx):
        if self.method != "none" and not len(unlabeled_idx):
            raise ValueError(
                f"{type(self).__name__}(method={self.method!r}) needs target-domain images, and got only "
                "labelled (source) images: one domain. Mark target images with y == -1 or pass "
                "sample_domain (negative for target), or use method='none' to train on the source only."
            )

    def _fitted_attributes(self, spec, targets):
        return {**super()._fitted_attributes(spec, targets), "n_target_": int(np.sum(targets == UNLABELED))}

    def _unlabeled_ratio(self):
        return 1.0  # as many target as source images in each batch (Ganin & Lempitsky's halves)

    def _unlabeled_net(self, task, augment, arch, lr):
        weight = AUTO_WEIGHTS[self.method] if self.adaptation_weight == "auto" else float(self.adaptation_weight)
        threshold = None if self.pseudo_label_threshold is None else float(self.pseudo_label_threshold)
        kwargs = dict(augment=augment, method=self.method, adaptation_weight=weight,
                      per_domain_batchnorm=self.batchnorm == "per-domain",
                      weak_augment=BatchAugment(**PRESETS[SELF_TRAINING_WEAK]), threshold=threshold,
                      unlabeled_weight=float(self.unlabeled_weight))
        groups = []
        if self.method == "dann":  # a module of the net, trained with the network, never part of the model
            kwargs["discriminator_features"] = arch.n_features
            groups = [("discriminator.*", {"lr": lr * DISCRIMINATOR_LR})]
        return TaskNet(DomainAdaptationNet, task.criterion, {**task.kwargs, **kwargs}, task.scoring, groups)

    def _after_training(self, module, data, device):
        target_idx = np.flatnonzero(data.targets == UNLABELED)
        if self.batchnorm == "per-domain" and len(target_idx) > 1:  # AdaBN: the target's statistics
            with on_device(module, device) as moved:
                recompute_batchnorm(moved.encoder, data.images, batch_size=self.batch_size, device=device,
                                    indices=target_idx)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


def _check_domains(X, sample_domain):
    """The target mask of ``sample_domain`` (negative), checked against ``X``; None when it is None."""
    return None if sample_domain is None else target_domain_mask(sample_domain, X)


def _target_as_unlabeled(y, sample_domain):
    """``y`` with the target rows of ``sample_domain`` (negative) set to -1; checked."""
    y = as_label_array(y)
    domain = np.asarray(sample_domain)
    if domain.ndim != 1 or len(domain) != len(y):
        raise ValueError(f"sample_domain has shape {domain.shape} but y has {len(y)} labels; pass one domain "
                         "per image (positive: source, negative: target).")
    if domain.dtype.kind not in "iuf" or np.any(domain == 0) or not np.all(np.isfinite(domain)):
        raise ValueError("sample_domain must hold nonzero numbers: positive for source images, negative for "
                         "target images (skada's convention).")
    target = domain < 0
    if not target.any() or target.all():
        raise ValueError(
            f"sample_domain marks {'only target' if target.all() else 'only source'} images: one domain. "
            "Domain adaptation needs labelled source images (positive) and target images (negative)."
        )
    y = np.asarray(y)
    if y.ndim == 1 and (~target & unlabeled_mask(y)).any():
        raise ValueError(f"{int((~target & unlabeled_mask(y)).sum())} source images (sample_domain > 0) are "
                         "labelled -1; every source image needs a label.")
    # A copy that can hold -1 (the caller's y is never changed).
    dtype = {"i": np.int64, "u": np.int64, "f": np.float64}.get(y.dtype.kind, object)
    y = y.astype(dtype, copy=True)
    y[target] = UNLABELED
    return y
