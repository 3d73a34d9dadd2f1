"""FineTunedClassifier: a pretrained backbone fine-tuned as a scikit-learn classifier (single- or multi-label).

The shared machinery (probe, freezing, training through skorch, test-time
views, pickling) is :class:`~sktransfer.estimators._base.BackboneNetworkEstimator`'s;
this module says how labels are encoded, probed, lost and predicted.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EpochScoring

from .._auto import MIN_PER_CLASS_FOR_VALIDATION, STANDARDIZE_TEXT_PROBE
from .._validation import UNLABELED
from ..nn import PRESETS, BatchAugment
from ..training import (ClassifierNet, FixMatchNet, MultiLabelLoss, MultiLabelNet, TaskNet, fit_label_probe,
                        labeled_accuracy, logistic_probe, multilabel_probe, subset_accuracy)
from ._base import BackboneNetworkEstimator
from ._params import nested_params
from ._target_checks import check_class_weight, check_criterion_weights, check_labels, labelled_rows_to_score
from ._targets import encode_labels

__all__ = ["FineTunedClassifier"]

#: FixMatch's two views of an unlabelled image: the weak one gives the pseudo-label,
#: the strong one learns it.
FIXMATCH_WEAK, FIXMATCH_STRONG = "light", "strong"

#: The parameters of semi-supervised fine-tuning (which DomainAdaptiveClassifier does not have).
SEMI_SUPERVISED_PARAMS = ("semi_supervised", "pseudo_label_threshold", "unlabeled_weight", "unlabeled_ratio")


class FineTunedClassifier(ClassifierMixin, BackboneNetworkEstimator):
    """Fine-tune a pretrained image (or language-model) backbone plus a new head, as a scikit-learn classifier.

    One label per image (``y`` of shape ``(n_images,)``, softmax outputs and
    cross-entropy; -1 marks an unlabelled image, which trains by FixMatch,
    see ``semi_supervised``) or several (``y`` a 0/1 indicator matrix of shape
    ``(n_images, n_labels)``, scikit-learn's multi-label convention: one
    sigmoid output per label and binary cross-entropy; :meth:`predict`
    thresholds each probability at 0.5).

    The default recipe is LP-FT (Kumar et al., ICLR 2022): a linear probe
    first, then fine-tuning from it.

    1. **Probe.** The frozen backbone computes features of the training
       images once; scikit-learn's ``LogisticRegression`` (L-BFGS, L2
       penalty ``probe_C``, on standardised features) is fitted to
       convergence. With ``layer="auto"`` the blocks the head reads (the
       final features, or pooled mid-level blocks) are chosen by the probe's
       cross-validated accuracy (multi-label: one logistic regression per
       label). With ``trainable_blocks=0`` the probe *is*
       the model, whatever ``max_epochs`` says.
    2. **Fine-tune.** The probe's weights become the head, and the top
       ``trainable_blocks`` blocks and the head train with AdamW, layer-wise
       learning rates, a warm-up + cosine schedule and augmentation, for at
       least ``min_steps`` optimizer steps (an epoch of 50 images is only 2
       steps); on enough data a tenth is held out to stop early and restore
       the best epoch. The blocks below stay frozen (BatchNorm in eval mode).

    The training loop is a skorch ``NeuralNetClassifier`` built in each
    ``fit``. ``schedule="ft"`` gives plain fine-tuning from a random head.

    With a text backbone (``"all-MiniLM-L6-v2"``, offline, or ``"hf/<model>"``)
    ``X`` is a list, 1-D array or pandas Series of ``str``, and the default
    schedule is SetFit's contrastive stage, then the probe (docs/text.md).

    Parameters
    ----------
    backbone : str, Backbone or torch.nn.Module, default="efficientnet_lite0"
        A name from :func:`sktransfer.backbones.list_backbones`
        (``"efficientnet_lite0"`` and the text backbone ``"all-MiniLM-L6-v2"``
        work offline), ``"timm/<model>"``, ``"torchvision/<model>"``,
        ``"hf/<model>"`` (a BERT-family language model), or your own module.
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
    schedule : {"auto", "lp-ft", "ft", "contrastive"}, default="auto"
        ``"lp-ft"``: the head starts from the converged linear probe.
        ``"ft"``: the head starts random and trains with the blocks (with
        ``trainable_blocks=0``, for ``max_epochs`` epochs on cached features).
        Heads with ``hidden_units`` always start random. ``"contrastive"``
        (text backbones, single-label): SetFit's recipe, the encoder trained
        on pairs of labelled texts, then the probe refitted as the head
        (docs/text.md). ``"auto"``: ``"contrastive"`` where it applies, else
        ``"lp-ft"``; ``schedule_`` says which.
    probe_C : float, default=1.0
        Inverse L2 strength of the probe, as ``C`` of ``LogisticRegression``
        on standardised features (a text backbone's normalised embeddings
        are read as they are).
    lr : float or "auto", default="auto"
        Learning rate of the head (the peak, after warm-up). ``"auto"``:
        1e-2 for small images (larger side below 64 px: digits, glyphs,
        thumbnails), 1e-3 for photographs, 1e-4 for a text backbone (the
        top transformer layer's rate with ``schedule="contrastive"``); see ``augment``.
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
    augment : "auto", None, {"light", "strong", "photo", "domain"} or callable, default="auto"
        Augmentation of training batches only, on the device, on float images
        in [0, 1] after resizing. ``"light"``: small random-resized crop and
        shift, brightness/contrast jitter. ``"strong"``: more of that, small
        rotations and shears, random erasing. ``"photo"``: random-resized
        crop, shift, horizontal flips, brightness/contrast/saturation jitter,
        no rotation or erasing. ``"domain"``: ``"strong"`` with the colour
        channels shuffled and half of the images inverted
        (:class:`DomainAdaptiveClassifier`'s default). ``"auto"``:
        ``"strong"`` for small images (larger side below 64 px), ``"photo"``
        for photographs, on which the glyph recipe (``"strong"`` at
        ``lr=1e-2``) ended 14 points below its own probe (see
        docs/finetuning.md). ``"photo"`` mirrors images: where a mirror
        image is another class (left/right, arrows, text), pass
        ``"strong"`` or ``"light"``. None: no augmentation. A callable
        (e.g. a ``torchvision.transforms.v2`` transform) gets the float batch
        ``(B, C, H, W)`` and returns one of the same shape; note that v2
        transforms draw one set of random parameters per batch. Not used with
        ``trainable_blocks=0`` under LP-FT (the probe is the model).
    label_smoothing : float, default=0.1
        Label smoothing of the fine-tuning loss (``CrossEntropyLoss``'s; for
        multi-label targets, each 0/1 target ``t`` becomes
        ``t * (1 - s) + s / 2``); ``criterion__label_smoothing`` overrides it.
        The probe is unaffected.
    tta : int, default=4
        Test-time augmentation: :meth:`predict`, :meth:`predict_proba` and
        :meth:`decision_function` average the logits of each image and of
        ``tta`` augmented views of it: fixed transforms drawn once from the
        mild ``"light"`` preset, the same for every image and every call, so
        predictions depend on X alone (not on ``random_state``, the batch or
        the calls before). Costs ``1 + tta`` forward passes; 0 turns it off.
        Not used by a probe-only model (``trainable_blocks=0``).
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
    fallback_to_probe : bool, default=True
        With a validation split, score the probe on it (a perfect probe is
        the model, at the probe's cost), then the fine-tuned network, and
        keep the probe when it scores better (``selected_`` says which,
        ``selection_scores_`` the scores). False always fine-tunes and
        keeps the fine-tuned network.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, as in scikit-learn (single-label
        ``y`` only).
    semi_supervised : {"fixmatch", "none"}, default="fixmatch"
        What images labelled -1 (unlabelled, scikit-learn's semi-supervised
        convention) do. "fixmatch" (Sohn et al., NeurIPS 2020): they join
        every training batch, ``unlabeled_ratio`` of them per labelled image;
        the prediction on a weakly augmented view (``"light"``), when
        confident enough, is the label the prediction on a strongly
        augmented view (``"strong"``) learns; labelled and unlabelled images
        share each batch, so BatchNorm sees both. "none": they are ignored
        (the fit equals one on the labelled images alone). The probe and the
        validation split use labelled images only. Single-label ``y`` only.
    pseudo_label_threshold : float, default=0.95
        Confidence (top softmax probability on the weak view) an unlabelled
        image needs to teach.
    unlabeled_weight : float, default=1.0
        Weight of the unlabelled loss, averaged over all unlabelled images of
        a batch (confident or not).
    unlabeled_ratio : float, default=3.0
        Unlabelled images per labelled image in a training batch. An epoch
        ends when every unlabelled image has been seen once.
    warm_start : bool, default=False
        When True, ``fit`` on a fitted model continues training its current
        weights (optimizer and schedule start afresh); when False every fit
        starts from the pretrained backbone and a new head.
    random_state : int, RandomState instance or None, default=None
        Seeds the split, the batch order, the head's initialisation, dropout
        and augmentation. With an int, two fits on CPU give identical
        predictions (torch's global generator is restored afterwards).
        Prediction never draws from it: a fitted model predicts the same on
        the same X every call, whatever ``random_state`` is.
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
    on_interrupt : {"raise", "keep"}, default="raise"
        What Ctrl-C (``KeyboardInterrupt``) during training does. "raise": it
        propagates out of ``fit`` (and out of ``GridSearchCV``), and the
        estimator keeps its previous fitted state, or stays unfitted; a
        half-trained network never passes for a fitted model. "keep": training
        stops, ``fit`` returns the partially trained network with a warning
        and ``interrupted_=True`` (skorch's notebook behaviour, opted into).
        An interrupt outside the training loop (loading, the probe) always
        propagates.
    runtime : {"torch", "onnx", "openvino"}, default="torch"
        What ``predict``, ``predict_proba``, ``decision_function`` and
        ``score`` run the fitted network in: torch, or the network exported
        once to ONNX and run by ONNX Runtime or OpenVINO (the ``onnx`` and
        ``openvino`` extras; 3-4x faster on CPU, outputs equal to 1e-4; see
        docs/deployment.md). Training is always torch; change it with
        ``set_params`` on a fitted model.
    quantize : {"int8"} or None, default=None
        "int8": at the end of ``fit``, quantize the network to static int8
        calibrated on the training images, and keep it only if its accuracy
        on the validation split (the training images without one) is within
        a point of the float network's and it then predicts at least 4x as
        fast as torch eager (timed at fit, on this machine), else warn with
        what was measured and keep float (``quantized_`` and
        ``int8_scores_`` say which). Needs ``runtime="onnx"`` or
        ``"openvino"``.
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
        The class labels, as given in ``y`` (never the unlabelled -1); for multi-label ``y``, the label
        indices ``0..n_labels-1`` (the columns of ``y``).
    module_ : torch.nn.Module
        The trained network (encoder and head), on CPU between calls.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``train_acc``, ``valid_loss``, ``valid_acc``,
        ``dur``, ``lr`` (the head's) and ``n_steps``; with unlabelled images,
        ``pseudo_label_rate`` (the fraction confident enough to teach). Index like
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
        Optimizer steps behind the model (0 when the probe is the model).
    selected_ : {"fine-tuned", "probe"}
        Which model predicts. With a validation split (see
        ``validation_fraction``) and ``fallback_to_probe``, the probe is
        scored on it; a perfect probe is kept without fine-tuning, otherwise
        the fine-tuned network is scored too and the probe is kept when it
        scores better. ``"probe"`` also when nothing was fine-tuned
        (``trainable_blocks=0``).
    selection_scores_ : dict
        The validation accuracy of ``"probe"`` (and of ``"fine-tuned"`` when
        it trained) that decided ``selected_``; empty when no split judged.
    lr_, augment_, schedule_ : float, str or callable
        The ``lr``, ``augment`` and ``schedule`` the last fit used (``"auto"`` resolved).
    features_cached_ : bool
        Whether the last fit trained the head on features computed once.
    interrupted_ : bool
        True when training was interrupted and ``on_interrupt="keep"`` kept
        the partial weights.
    quantized_ : bool
        Whether predictions run the int8 network (``quantize="int8"``, kept).
    int8_scores_ : dict or None
        With ``quantize="int8"``: the accuracy of the float and the int8
        network on the images that decided, their number, and (when the
        accuracy allowed int8) its measured ``speedup`` over torch eager.
    n_features_in_ : int
        Only when ``X`` in :meth:`fit` is a flattened 2-D array: its number of
        columns.
    arch_spec_ : sktransfer.nn.ArchSpec
        What the fitted network is (backbone, blocks the head reads, head
        shape, image size), read-only: pickles, :func:`~sktransfer.export_weights`
        and the explanations rebuild and read the network from it.
    target_spec_ : sktransfer.estimators.TargetSpec
        What the network's outputs mean (softmax over ``classes_``, or one
        sigmoid per label), read-only: predictions and explanations read the
        outputs through it.

    See Also
    --------
    FineTunedRegressor : the same recipe for continuous targets.
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

    Multi-label: one column per label, several may be 1.

    >>> import numpy as np
    >>> Y = np.column_stack([y >= 5, y % 2 == 0]).astype(int)  # "is 5 or more", "is even"
    >>> multi = FineTunedClassifier(trainable_blocks=0, input_shape=(8, 8), verbose=0, random_state=0)
    >>> multi.fit(X[:200] / 16.0, Y[:200]).predict(X[200:203] / 16.0).shape
    (3, 2)
    """

    _parameter_constraints = {
        **BackboneNetworkEstimator._parameter_constraints,
        "probe_C": [Interval(Real, 0, None, closed="neither")],
        "lr": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "augment": [StrOptions({"auto", *PRESETS}), callable, None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "semi_supervised": [StrOptions({"fixmatch", "none"})],
        "pseudo_label_threshold": [Interval(Real, 0, 1, closed="both")],
        "unlabeled_weight": [Interval(Real, 0, None, closed="left")],
        "unlabeled_ratio": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, backbone="efficientnet_lite0", *, weights="default", trainable_blocks="all", layer="auto",
                 schedule="auto", probe_C=1.0, lr="auto", lr_decay=0.7, weight_decay=0.01, l2sp=0.0,
                 optimizer=torch.optim.AdamW, lr_schedule="cosine", warmup_epochs=1, unfreeze_every=None,
                 max_epochs=5, min_steps=200, batch_size=32, hidden_units=(), dropout=0.0, image_size="auto",
                 pooling="avg", augment="auto", label_smoothing=0.1, tta=4, validation_fraction="auto",
                 early_stopping="auto", fallback_to_probe=True, class_weight=None, semi_supervised="fixmatch",
                 pseudo_label_threshold=0.95, unlabeled_weight=1.0, unlabeled_ratio=3.0, warm_start=False,
                 random_state=None, device="auto", input_shape=None, callbacks=None, verbose=1, on_interrupt="raise",
                 runtime="torch", quantize=None, **kwargs):
        self._store_params(locals())

    # ------------------------------------------------------------------ predict

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_`` (multi-label: one per label).

        Parameters
        ----------
        X : images
            Same forms as in :meth:`fit`.

        Returns
        -------
        proba : ndarray of shape (n_images, n_classes)
            Rows sum to 1; for multi-label ``y``, each entry is that label's
            own probability.
        """
        outputs = self._outputs(X)  # checks that the model is fitted first
        return self.target_spec_.proba(outputs)

    def predict(self, X):
        """Predicted labels, from ``classes_`` (multi-label: a 0/1 indicator matrix).

        Parameters
        ----------
        X : images
            Same forms as in :meth:`fit`.

        Returns
        -------
        y : ndarray of shape (n_images,) or (n_images, n_labels)
        """
        outputs = self._outputs(X)  # checks that the model is fitted first
        return self.target_spec_.predict(outputs)

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
        outputs = self._outputs(X)  # checks that the model is fitted first
        return self.target_spec_.log_proba(outputs)

    def score(self, X, y, sample_weight=None):
        """Accuracy of :meth:`predict` on ``(X, y)`` (multi-label: subset accuracy, every label right).

        Parameters
        ----------
        X : images
        y : array-like of shape (n_images,) or (n_images, n_labels)
            True labels; all must be among ``classes_``. Images labelled -1
            (unlabelled) are skipped, so cross-validation on semi-supervised
            data scores the labelled images of each fold.
        sample_weight : array-like of shape (n_images,), default=None

        Returns
        -------
        score : float
        """
        check_is_fitted(self, "module_")
        if not self.target_spec_.multilabel:
            X, y, sample_weight = labelled_rows_to_score(self, X, y, sample_weight)
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
            ``classes_[1]``. For multi-label ``y``, one logit per label.

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
        outputs = self._outputs(X)  # checks that the model is fitted first
        return self.target_spec_.decision(outputs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.classifier_tags.poor_score = True  # a few epochs on a few random images
        return tags

    # ------------------------------------------------------------------ task hooks

    _target_noun = "label"
    #: Whether few -1 rows (fewer than the labelled ones) are worth a warning: -1 is then likely a class.
    _warn_few_unlabeled = True

    def _check_targets(self, y):
        return check_labels(y, type(self).__name__, warn_unlabeled=self._warn_few_unlabeled)

    def _encode_targets(self, y, counts):
        if y.ndim == 2 and self.class_weight is not None:
            raise ValueError(
                f"class_weight={self.class_weight!r} is not supported with multi-label y; use "
                "class_weight=None (or criterion__pos_weight, a tensor of one weight per label)."
            )
        targets, spec = encode_labels(y, type(self).__name__)
        check_class_weight(self.class_weight, spec.labels)
        check_criterion_weights(nested_params(self), spec)
        return targets, spec

    def _fitted_attributes(self, spec, targets):
        return {"classes_": spec.labels}

    def _check_warm_targets(self, spec):
        previous = self.target_spec_
        if spec.multilabel != previous.multilabel or not np.array_equal(spec.labels, previous.labels):
            raise ValueError(
                f"warm_start=True needs y with the classes of the previous fit {previous.labels.tolist()}; "
                f"got {spec.labels.tolist()}. Set warm_start=False to start afresh."
            )

    def _labeled_rows(self, targets):
        return np.ones(len(targets), dtype=bool) if targets.ndim == 2 else targets != UNLABELED

    def _learns_from_unlabeled(self):
        return self.semi_supervised != "none"

    def _unlabeled_ratio(self):
        return float(self.unlabeled_ratio)

    def _unlabeled_net(self, task, augment, arch, lr):
        kwargs = dict(augment=augment, weak_augment=BatchAugment(**PRESETS[FIXMATCH_WEAK]),
                      strong_augment=BatchAugment(**PRESETS[FIXMATCH_STRONG]),
                      threshold=float(self.pseudo_label_threshold), unlabeled_weight=float(self.unlabeled_weight))
        return TaskNet(FixMatchNet, task.criterion, {**task.kwargs, **kwargs}, task.scoring)

    def _stratify(self, targets):
        return None if targets.ndim == 2 else targets

    def _can_spare_validation(self, targets):
        if targets.ndim == 2:
            positives = targets.sum(axis=0)
            return int(min(positives.min(), (len(targets) - positives).min())) >= MIN_PER_CLASS_FOR_VALIDATION
        return int(np.bincount(targets).min()) >= MIN_PER_CLASS_FOR_VALIDATION

    def _make_probe(self, spec):
        if spec.multilabel:
            return multilabel_probe(self.probe_C)
        return logistic_probe(self.probe_C, standardize=self._modality != "text" or STANDARDIZE_TEXT_PROBE)

    def _fit_probe(self, features, targets, spec):
        class_weight = self.class_weight  # keyed by label; the probe sees class indices
        if isinstance(class_weight, dict):
            class_weight = {i: class_weight.get(c, 1.0) for i, c in enumerate(spec.labels.tolist())}
        standardize = self._modality != "text" or STANDARDIZE_TEXT_PROBE  # sentence embeddings: as they are
        return fit_label_probe(features, targets, spec.n_outputs, multilabel=spec.multilabel, C=self.probe_C,
                               class_weight=class_weight, standardize=standardize)

    def _task_net(self, targets, spec, has_validation):
        scoring = subset_accuracy if spec.multilabel else labeled_accuracy
        callbacks = [("train_acc", EpochScoring(scoring, lower_is_better=False, on_train=True, name="train_acc"))]
        if has_validation and spec.multilabel:  # NeuralNetClassifier adds its own valid_acc
            callbacks.append(("valid_acc", EpochScoring(scoring, lower_is_better=False, name="valid_acc")))
        kwargs = {}
        if self.label_smoothing:
            kwargs["criterion__label_smoothing"] = float(self.label_smoothing)
        if spec.multilabel:
            # Raw logits from skorch's predict_proba: its "auto" nonlinearity would make two columns per label.
            return TaskNet(MultiLabelNet, MultiLabelLoss, {"predict_nonlinearity": None, **kwargs}, callbacks)
        classes = spec.labels
        if self.class_weight is not None:
            weight = compute_class_weight(self.class_weight, classes=classes, y=classes[targets[targets >= 0]])
            kwargs["criterion__weight"] = torch.as_tensor(weight, dtype=torch.float32)
        return TaskNet(ClassifierNet, torch.nn.CrossEntropyLoss, {"classes": list(range(len(classes))), **kwargs},
                       callbacks)
