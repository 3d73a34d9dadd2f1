"""skorch nets that learn from unlabelled images too: FixMatch, DANN and Deep CORAL.

Their training batches come from :class:`~sktransfer.training._data.DeviceBatchIterator`
with unlabelled rows: labelled rows (``y >= 0``) and unlabelled rows
(``y == -1``) together. FixMatch augments both and runs them through the
network in *one* forward pass, so BatchNorm normalises over labelled and
unlabelled images together (as FixMatch does); domain adaptation runs the
two domains as two batches, each normalised with its own statistics, or as
one (``per_domain_batchnorm=False``). The supervised part of
the loss is skorch's ``get_loss`` on the labelled rows (label smoothing,
class weights and L2-SP included); the unlabelled part is each method's.

skorch's ``train_step_single`` is the one method overridden: the loop,
callbacks, gradient accumulation and history stay skorch's.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from skorch import NeuralNetClassifier

from ..nn import domain_discriminator, grad_reverse
from ._nets import InterruptMixin, L2SPMixin

__all__ = ["DomainAdaptationNet", "FixMatchNet", "coral_loss", "ganin_coefficient", "pseudo_label_loss"]


class _MixedBatchMixin:
    """What both kinds share: the augmented views, predictions in batch order, per-epoch means."""

    #: Values recorded per batch whose epoch mean goes into the history (and skorch's table).
    batch_keys = ()

    def on_epoch_end(self, net, **kwargs):
        batches = self.history[-1].get("batches", [])
        for key in self.batch_keys:
            values = [batch[key] for batch in batches if key in batch]
            if values:
                self.history.record(key, float(sum(values) / len(values)))
        super().on_epoch_end(net, **kwargs)

    def _views(self, x, augment):
        module = self.module_
        return module.augmented(x, augment) if augment is not None else module.encoder.to_unit_range(x)

    def _predictions(self, labeled, logits_labeled, logits_unlabeled):
        """Logits in the batch's row order, for skorch's cached ``train_acc`` (which skips ``y == -1``)."""
        out = torch.empty((len(labeled), logits_labeled.shape[1]), device=logits_labeled.device)
        out[labeled] = logits_labeled.detach()
        out[~labeled] = logits_unlabeled.detach()
        return out


class FixMatchMixin(_MixedBatchMixin):
    """FixMatch (Sohn et al., NeurIPS 2020) in a skorch classifier's training step.

    For each unlabelled image, the prediction on a weakly augmented view,
    when its top probability reaches ``threshold``, is the pseudo-label that
    the prediction on a strongly augmented view is trained toward
    (cross-entropy, weighted by ``unlabeled_weight``, averaged over all
    unlabelled rows so that the weight means the same at any confidence).
    The labelled rows, their weak views and the strong views go through the
    network in one batch. Records ``pseudo_label_rate`` (the fraction of
    unlabelled rows above the threshold) per batch.

    Parameters
    ----------
    *args, **kwargs
        As for the skorch net.
    augment : callable or None
        Augmentation of the labelled rows.
    weak_augment, strong_augment : callable
        The two views of the unlabelled rows.
    threshold : float
        Confidence a pseudo-label needs.
    unlabeled_weight : float
        Weight of the unlabelled loss.
    """

    batch_keys = ("pseudo_label_rate",)

    def __init__(self, *args, augment=None, weak_augment=None, strong_augment=None, threshold=0.95,
                 unlabeled_weight=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        # In a dict: skorch refuses torch modules (BatchAugment) as attributes set outside initialize.
        self.augmentations = {"labeled": augment, "weak": weak_augment, "strong": strong_augment}
        self.threshold = threshold
        self.unlabeled_weight = unlabeled_weight

    def train_step_single(self, batch, **fit_params):
        x, y = batch
        labeled = y >= 0
        if bool(labeled.all()):  # no unlabelled rows: skorch's supervised step, on augmented images
            return super().train_step_single((self._views(x, self.augmentations["labeled"]), y), **fit_params)
        self._set_training(True)
        x_l, y_l, x_u = x[labeled], y[labeled], x[~labeled]
        augment = self.augmentations
        views = [self._views(x_l, augment["labeled"]), self._views(x_u, augment["weak"]),
                 self._views(x_u, augment["strong"])]
        logits = self.module_(torch.cat(views))
        n_l, n_u = len(x_l), len(x_u)
        logits_l, logits_weak, logits_strong = logits[:n_l], logits[n_l:n_l + n_u], logits[n_l + n_u:]
        loss = self.get_loss(logits_l, y_l, X=x_l, training=True)
        unlabeled_loss, rate = pseudo_label_loss(logits_strong, logits_weak, self.threshold)
        loss = loss + self.unlabeled_weight * unlabeled_loss
        loss.backward()
        self.history.record_batch("pseudo_label_rate", rate)
        return {"loss": loss, "y_pred": self._predictions(labeled, logits_l, logits_weak)}


def pseudo_label_loss(logits_strong, logits_weak, threshold):
    """FixMatch's unlabelled loss and the fraction of rows confident enough to count.

    Cross-entropy of the strong views toward the class predicted on the weak
    views, for rows whose top probability reaches ``threshold``; averaged over
    *all* rows, so that the loss's weight means the same at any confidence.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.training._unlabeled import pseudo_label_loss
    >>> weak = torch.tensor([[4.0, 0.0], [0.1, 0.0]])     # sure of class 0; unsure
    >>> loss, rate = pseudo_label_loss(torch.zeros(2, 2), weak, threshold=0.9)
    >>> round(float(loss), 4), rate                        # ln(2) / 2: only the first row counts
    (0.3466, 0.5)
    """
    confidence, pseudo = torch.softmax(logits_weak.detach().float(), dim=1).max(dim=1)
    confident = (confidence >= threshold).float()
    loss = (F.cross_entropy(logits_strong.float(), pseudo, reduction="none") * confident).mean()
    return loss, float(confident.mean())


def ganin_coefficient(progress, gamma=10.0):
    """Ganin & Lempitsky's schedule of the reversal weight: ``2 / (1 + exp(-gamma * p)) - 1``.

    It rises from 0 at the start of training (``p = 0``) to nearly 1 at the
    end (``p = 1``), so the domain loss cannot disturb the features while the
    domain classifier is still random.

    Examples
    --------
    >>> from sktransfer.training._unlabeled import ganin_coefficient
    >>> [round(ganin_coefficient(p), 3) for p in (0.0, 0.1, 0.5, 1.0)]
    [0.0, 0.462, 0.987, 1.0]
    """
    return 2.0 / (1.0 + math.exp(-gamma * float(progress))) - 1.0


def coral_loss(source, target):
    """Deep CORAL (Sun & Saenko, 2016): squared Frobenius distance of the feature covariances / (4 d²).

    Examples
    --------
    >>> import torch
    >>> from sktransfer.training._unlabeled import coral_loss
    >>> a = torch.randn(64, 8)
    >>> float(coral_loss(a, a.clone()))
    0.0
    >>> bool(coral_loss(a, 3 * a) > 0)
    True
    """
    d = source.shape[1]

    def covariance(x):  # unbiased (n - 1), or 0 for a single row
        return torch.cov(x.float().T, correction=int(len(x) > 1)).reshape(d, d)

    return ((covariance(source) - covariance(target)) ** 2).sum() / (4 * d * d)


class DomainAdaptationMixin(_MixedBatchMixin):
    """Unsupervised domain adaptation in a skorch classifier's training step.

    Labelled rows are the source domain, unlabelled rows (``y == -1``) the
    target. The classification loss is on the source rows, plus
    ``adaptation_weight`` times:

    - ``"dann"``: the loss of a domain classifier (``discriminator_``, a
      module of the net that training only uses) behind a gradient-reversal layer whose weight
      follows Ganin's schedule over the planned steps; records
      ``domain_acc`` and ``reversal`` per batch.
    - ``"coral"``: the Deep CORAL distance between the source and target
      feature covariances.

    With ``threshold``, also self-training on the target (FixMatch's
    consistency): a confident prediction on a weakly augmented target image
    is the label of its augmented view, weighted by ``unlabeled_weight``;
    records ``pseudo_label_rate``.

    Parameters
    ----------
    *args, **kwargs
        As for the skorch net.
    augment : callable or None
        Augmentation of source and target rows alike.
    method : {"dann", "coral"}
    adaptation_weight : float
    per_domain_batchnorm : bool
        True: the source rows and the target rows go through the network as
        two batches, so that BatchNorm normalises each domain with its own
        statistics (as the target is normalised at prediction once its
        statistics are re-estimated). False: one mixed batch.
    weak_augment : callable or None
        The weak view of target rows for self-training.
    threshold : float or None
        Confidence a target pseudo-label needs; None: no self-training.
    unlabeled_weight : float
        Weight of the self-training loss.
    discriminator_features : int or None
        DANN: the width of the features its domain classifier (``discriminator_``, one logit) reads.
    """

    batch_keys = ("adaptation_loss", "domain_acc", "reversal", "pseudo_label_rate")

    def __init__(self, *args, augment=None, method="dann", adaptation_weight=1.0, per_domain_batchnorm=True,
                 weak_augment=None, threshold=None, unlabeled_weight=1.0, discriminator_features=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.discriminator_features = discriminator_features
        self.augmentations = {"both": augment, "weak": weak_augment}  # in a dict, as in FixMatchMixin
        self.method = method
        self.adaptation_weight = adaptation_weight
        self.per_domain_batchnorm = per_domain_batchnorm
        self.threshold = threshold
        self.unlabeled_weight = unlabeled_weight

    def initialize_module(self):
        super().initialize_module()
        if self.discriminator_features is not None:
            # A training-only module of the net (skorch moves it to the device), never part of the model.
            self.discriminator_ = domain_discriminator(self.discriminator_features)
        return self

    def get_all_learnable_params(self):
        # The domain classifier's parameters under "discriminator.", so that a parameter group can match them.
        own = set() if self.discriminator_features is None else {id(p) for p in self.discriminator_.parameters()}
        for name, param in super().get_all_learnable_params():
            yield (f"discriminator.{name}" if id(param) in own else name), param

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        # The schedule runs over the planned steps; early stopping may end sooner.
        self.total_steps_ = max(len(self.get_iterator(X, training=True)) * self.max_epochs, 1)
        self.step_ = 0

    def train_step_single(self, batch, **fit_params):
        x, y = batch
        source = y >= 0
        if bool(source.all()):  # no target rows: skorch's supervised step, on augmented images
            return super().train_step_single((self._views(x, self.augmentations["both"]), y), **fit_params)
        self._set_training(True)
        module = self.module_
        x_s, y_s, x_t = x[source], y[source], x[~source]
        n_s, n_t = len(x_s), len(x_t)
        views_s = self._views(x_s, self.augmentations["both"])
        views_t = [self._views(x_t, self.augmentations["both"])]
        if self.threshold is not None:
            views_t.append(self._views(x_t, self.augmentations["weak"]))
        if self.per_domain_batchnorm:
            features_s, features_t = module.features(views_s), module.features(torch.cat(views_t))
        else:
            features = module.features(torch.cat([views_s, *views_t]))
            features_s, features_t = features[:n_s], features[n_s:]
        logits_s, logits_t = module.outputs(features_s), module.outputs(features_t)
        loss = self.get_loss(logits_s, y_s, X=x_s, training=True)
        features_s, features_t = features_s.float(), features_t[:n_t].float()
        if self.method == "dann":
            coefficient = ganin_coefficient(self.step_ / self.total_steps_)
            domain_logits = self.discriminator_(grad_reverse(torch.cat([features_s, features_t]), coefficient))
            is_target = torch.cat([torch.zeros(n_s), torch.ones(n_t)]).to(features_s.device)
            adaptation = F.binary_cross_entropy_with_logits(domain_logits, is_target)
            self.history.record_batch("domain_acc", float(((domain_logits > 0).float() == is_target).float().mean()))
            self.history.record_batch("reversal", coefficient)
        else:
            adaptation = coral_loss(features_s, features_t)
        self.history.record_batch("adaptation_loss", float(adaptation.detach()))
        loss = loss + self.adaptation_weight * adaptation
        if self.threshold is not None:
            self_training, rate = pseudo_label_loss(logits_t[:n_t], logits_t[n_t:], self.threshold)
            loss = loss + self.unlabeled_weight * self_training
            self.history.record_batch("pseudo_label_rate", rate)
        loss.backward()
        self.step_ += 1
        return {"loss": loss, "y_pred": self._predictions(source, logits_s, logits_t[:n_t])}


class FixMatchNet(InterruptMixin, FixMatchMixin, L2SPMixin, NeuralNetClassifier):
    """skorch's ``NeuralNetClassifier`` trained with FixMatch on its unlabelled rows, with L2-SP."""


class DomainAdaptationNet(InterruptMixin, DomainAdaptationMixin, L2SPMixin, NeuralNetClassifier):
    """skorch's ``NeuralNetClassifier`` adapted to its unlabelled (target) rows by DANN or CORAL, with L2-SP."""
