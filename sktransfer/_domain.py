"""DomainAdaptiveClassifier: fine-tune on a labelled source domain, adapted to an unlabelled target domain.

Everything but the training step is :class:`~sktransfer.FineTunedClassifier`'s:
the probe, freezing, schedule, augmentation, prediction and pickling. The
training step (``training/_unlabeled.py``) puts source and target images in
one batch and adds a domain loss: DANN's adversarial domain classifier or
Deep CORAL's covariance distance.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._finetune import SEMI_SUPERVISED_PARAMS, FineTunedClassifier
from ._validation import UNLABELED, as_label_array, unlabeled_mask
from .nn._heads import domain_discriminator
from .training._unlabeled import DomainAdaptationNet

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
    source, then fine-tuning), with every batch holding as many target as
    source images, run through the network together (BatchNorm over both
    domains), and a domain loss added to the source classification loss:

    - ``method="coral"`` (default; Sun & Saenko, ECCV 2016 workshops, Deep
      CORAL): the distance between the source and target covariances of the
      pooled features, ``||C_s - C_t||² / (4 d²)``.
    - ``method="dann"`` (Ganin & Lempitsky, ICML 2015): a domain classifier
      (BatchNorm, 256 hidden units, learning at a hundredth of ``lr``) on the pooled features, behind a
      gradient-reversal layer whose weight rises from 0 to ``adaptation_weight`` along Ganin's
      schedule ``2 / (1 + exp(-10 p)) - 1`` over training progress ``p``.
      The encoder learns features the domain classifier cannot tell apart.
    - ``method="none"``: the source only (target images ignored), the
      baseline to beat.

    Without target labels, :func:`sktransfer.metrics.prediction_entropy_scorer`
    can choose hyperparameters in ``GridSearchCV``; see the docs page "Few
    labels, many images" for its caveats.

    Parameters
    ----------
    backbone : str, Backbone or torch.nn.Module, default="efficientnet_lite0"
        As in :class:`FineTunedClassifier`.
    method : {"coral", "dann", "none"}, default="coral"
        The adaptation method (see above). CORAL is the default because it
        measured better and steadier: on MNIST -> MNIST-M-like, 15 to 23
        points over the source only, where DANN on this budget gained 8 to 12
        (docs/few_labels_many_images.md).
    adaptation_weight : float or "auto", default="auto"
        Weight of the domain loss: for DANN, the largest reversal weight,
        reached at the end of the schedule. "auto": 30 for CORAL (its loss
        is divided by ``4 d²``, so it is small), 0.3 for DANN (measured
        better than Ganin's 1 on MNIST -> MNIST-M-like).
    **params
        Every other parameter is :class:`FineTunedClassifier`'s, with the
        same default, except its semi-supervised ones (``semi_supervised``,
        ``pseudo_label_threshold``, ``unlabeled_weight``,
        ``unlabeled_ratio``): ``weights``, ``trainable_blocks``, ``layer``,
        ``schedule``, ``probe_C``, ``lr``, ``lr_decay``, ``weight_decay``,
        ``l2sp``, ``optimizer``, ``lr_schedule``, ``warmup_epochs``,
        ``unfreeze_every``, ``max_epochs``, ``min_steps``, ``batch_size``
        (source images per step; as many target images join them),
        ``hidden_units``, ``dropout``, ``image_size``, ``pooling``,
        ``augment`` (applied to source and target images alike), ``label_smoothing``, ``tta``,
        ``validation_fraction`` (held out from the source), ``early_stopping``,
        ``class_weight``, ``warm_start``, ``random_state``, ``device``,
        ``input_shape``, ``callbacks``, ``verbose``, ``on_interrupt``, and
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
    module_, image_size_, layers_, n_blocks_, trainable_blocks_, n_steps_, interrupted_, probe_scores_ : object
        As in :class:`FineTunedClassifier`.

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
    """

    _parameter_constraints = {
        **{k: v for k, v in FineTunedClassifier._parameter_constraints.items() if k not in SEMI_SUPERVISED_PARAMS},
        "method": [StrOptions({"dann", "coral", "none"})],
        "adaptation_weight": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, backbone="efficientnet_lite0", *, method="coral", adaptation_weight="auto", weights="default",
                 trainable_blocks="all", layer="auto", schedule="lp-ft", probe_C=1.0, lr=1e-2, lr_decay=0.7,
                 weight_decay=0.01, l2sp=0.0, optimizer=torch.optim.AdamW, lr_schedule="cosine", warmup_epochs=1,
                 unfreeze_every=None, max_epochs=5, min_steps=200, batch_size=32, hidden_units=(), dropout=0.0,
                 image_size="auto", pooling="avg", augment="strong", label_smoothing=0.1, tta=4,
                 validation_fraction="auto", early_stopping="auto", class_weight=None, warm_start=False,
                 random_state=None, device="auto", input_shape=None, callbacks=None, verbose=1,
                 on_interrupt="raise", **kwargs):
        self._store_params(locals())

    def fit(self, X, y, sample_domain=None):
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

        Returns
        -------
        self : DomainAdaptiveClassifier
        """
        if sample_domain is not None and y is not None:
            y = _target_as_unlabeled(y, sample_domain)
        return super().fit(X, y)

    # ------------------------------------------------------------------ task hooks

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

    def _encode_targets(self, y):
        targets, fitted = super()._encode_targets(y)
        return targets, {**fitted, "n_target_": int(np.sum(targets == UNLABELED))}

    def _unlabeled_ratio(self):
        return 1.0  # as many target as source images in each batch (Ganin & Lempitsky's halves)

    def _unlabeled_net(self, module, augment):
        if self.method == "dann":
            n_features = next(m for m in module.head.modules() if isinstance(m, torch.nn.Linear)).in_features
            device = next(module.parameters()).device
            module.discriminator = domain_discriminator(n_features).to(device)
        weight = AUTO_WEIGHTS[self.method] if self.adaptation_weight == "auto" else float(self.adaptation_weight)
        kwargs = dict(augment=augment, method=self.method, adaptation_weight=weight)
        if self.method == "dann":
            kwargs["extra_param_groups"] = [("discriminator.*", {"lr": self.lr * DISCRIMINATOR_LR})]
        return DomainAdaptationNet, kwargs

    def _end_training(self, module):
        if "discriminator" in module._modules:  # trained with the network, never part of the model
            del module.discriminator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


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
