"""FineTunedRegressor: a pretrained backbone fine-tuned to predict one or several continuous targets.

The shared machinery is :class:`~sktransfer.estimators._base.BackboneNetworkEstimator`'s;
this module standardises the targets, probes them with ridge regression and
trains with a squared-error or Huber loss.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array
from skorch.callbacks import EpochScoring

from .._auto import MIN_IMAGES_FOR_VALIDATION
from ..nn import PRESETS
from ..training import RegressorNet, TaskNet, fit_ridge_probe, ridge_probe
from ._base import BackboneNetworkEstimator
from ._target_checks import check_values
from ._targets import encode_values

__all__ = ["FineTunedRegressor"]

LOSSES = {"squared_error": torch.nn.MSELoss, "huber": torch.nn.HuberLoss}


class FineTunedRegressor(RegressorMixin, BackboneNetworkEstimator):
    """Fine-tune a pretrained image backbone plus a new head to predict continuous targets.

    The recipe of :class:`~sktransfer.FineTunedClassifier`, for regression:

    1. **Targets** are standardised per column (zero mean, unit variance) for
       training; :meth:`predict` returns them in their own units.
    2. **Probe.** The frozen backbone computes features of the training
       images once; a ridge regression on standardised features (its penalty
       chosen by leave-one-out CV with ``probe_alpha="auto"``) is fitted, and
       with ``layer="auto"`` the blocks the head reads are chosen by its
       cross-validated R². With ``trainable_blocks=0`` the probe is the model.
    3. **Fine-tune** from the probe's weights (LP-FT) with a squared-error or
       Huber loss, AdamW, layer-wise rates, warm-up + cosine and augmentation,
       for at least ``min_steps`` optimizer steps.

    Parameters
    ----------
    backbone : str, Backbone or torch.nn.Module, default="efficientnet_lite0"
        As in :class:`~sktransfer.FineTunedClassifier`.
    loss : {"squared_error", "huber"}, default="squared_error"
        Training loss on standardised targets: ``MSELoss``, or ``HuberLoss``
        (``criterion__delta``, default 1.0 standard deviation, sets where it
        turns linear: robust to outlying targets).
    probe_alpha : "auto" or float, default="auto"
        Ridge penalty of the probe on standardised features; "auto" chooses
        among ``numpy.logspace(-2, 4, 13)`` by efficient leave-one-out CV.
    lr : "auto" or float, default="auto"
        The head's learning rate; "auto": 1e-2 for images, 1e-4 for a text
        backbone (see :class:`~sktransfer.FineTunedClassifier`).
    augment : "auto", None, {"light", "strong", "domain", "photo"} or callable, default="auto"
        Augmentation of training batches. "auto": "light" (small crops, shifts and
        brightness changes, no rotation) for images: a target may be
        geometric (an angle, a position), and "strong"'s rotations and shears
        would then change the answer without changing the target; none for texts.
    weights, trainable_blocks, layer, schedule, lr_decay, weight_decay, l2sp, optimizer, lr_schedule, \
warmup_epochs, unfreeze_every, max_epochs, min_steps, batch_size, hidden_units, dropout, image_size, pooling, tta, \
validation_fraction, early_stopping, fallback_to_probe, warm_start, random_state, device, input_shape, callbacks, \
verbose, on_interrupt, runtime, quantize, **kwargs
        As in :class:`~sktransfer.FineTunedClassifier`, except that the
        validation split is not stratified, ``early_stopping="auto"``
        holds a tenth out from 1,000 images up, and int8 and ``fallback_to_probe``
        judge by R². ``"auto"`` gives images one recipe whatever their size:
        the glyph and photo recipes were measured for classification only.

    Attributes
    ----------
    n_outputs_ : int
        Number of targets (columns of ``y``; 1 for a 1-D ``y``).
    module_, history_, image_size_, layers_, probe_scores_, n_blocks_, trainable_blocks_, n_steps_, \
selected_, selection_scores_, lr_, augment_, features_cached_, interrupted_, quantized_, int8_scores_, \
n_features_in_, arch_spec_
        As in :class:`~sktransfer.FineTunedClassifier`; ``history_`` records
        ``train_r2``/``valid_r2`` instead of accuracies, and the fine-tuned
        network and the probe are judged by R² on the validation split.
    target_spec_ : sktransfer.estimators.TargetSpec
        How the network's standardised outputs become targets in the units of
        ``y`` (read-only).

    See Also
    --------
    FineTunedClassifier : the same recipe for labels.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import FineTunedRegressor
    >>> X, y = load_digits(return_X_y=True)
    >>> ink = (X > 8).sum(axis=1)  # a continuous target: how many pixels are dark
    >>> reg = FineTunedRegressor(trainable_blocks=0, input_shape=(8, 8), verbose=0, random_state=0)
    >>> reg.fit(X[:200] / 16.0, ink[:200]).predict(X[200:203] / 16.0).shape
    (3,)
    >>> bool(reg.score(X[200:400] / 16.0, ink[200:400]) > 0.3)  # R², about 0.45 for the frozen probe
    True
    """

    _parameter_constraints = {
        **BackboneNetworkEstimator._parameter_constraints,
        "loss": [StrOptions(set(LOSSES))],
        "probe_alpha": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "lr": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "augment": [StrOptions({"auto", *PRESETS}), callable, None],
    }

    #: ``"auto"`` for images: one recipe whatever their size (the size rule was measured for classification).
    _image_recipe = {"lr": 1e-2, "augment": "light"}

    def __init__(self, backbone="efficientnet_lite0", *, loss="squared_error", probe_alpha="auto",
                 weights="default", trainable_blocks="all", layer="auto", schedule="lp-ft", lr="auto",
                 lr_decay=0.7, weight_decay=0.01, l2sp=0.0, optimizer=torch.optim.AdamW, lr_schedule="cosine",
                 warmup_epochs=1, unfreeze_every=None, max_epochs=5, min_steps=200, batch_size=32,
                 hidden_units=(), dropout=0.0, image_size="auto", pooling="avg", augment="auto", tta=4,
                 validation_fraction="auto", early_stopping="auto", fallback_to_probe=True, warm_start=False,
                 random_state=None, device="auto", input_shape=None, callbacks=None, verbose=1,
                 on_interrupt="raise", runtime="torch", quantize=None, **kwargs):
        self._store_params(locals())

    def predict(self, X):
        """Predicted targets, in the units of ``y``.

        Parameters
        ----------
        X : images
            Same forms as in :meth:`fit`.

        Returns
        -------
        y : ndarray of shape (n_images,) or (n_images, n_outputs)
            1-D when ``y`` in :meth:`fit` was 1-D.
        """
        outputs = self._outputs(X)  # checks that the model is fitted first
        return self.target_spec_.predict(outputs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True  # a few epochs on a few random images
        return tags

    # ------------------------------------------------------------------ task hooks

    def _check_targets(self, y):
        return check_values(y, type(self).__name__)

    def _encode_targets(self, y, counts):
        return encode_values(y, counts)

    def _fitted_attributes(self, spec, targets):
        return {"n_outputs_": spec.n_outputs}

    def _check_warm_targets(self, spec):
        if spec.n_outputs != self.n_outputs_:
            raise ValueError(
                f"warm_start=True needs y with the {self.n_outputs_} target(s) of the previous fit; got "
                f"{spec.n_outputs}. Set warm_start=False to start afresh."
            )

    def _can_spare_validation(self, targets):
        return len(targets) >= MIN_IMAGES_FOR_VALIDATION

    def _make_probe(self, spec):
        return ridge_probe(self.probe_alpha)

    def _fit_probe(self, features, targets, spec):
        scaler, linear, _ = fit_ridge_probe(features, targets, alpha=self.probe_alpha)
        with torch.no_grad():
            out = linear(scaler(torch.from_numpy(features)))
            loss = float(LOSSES[self.loss]()(out, torch.from_numpy(targets)))
        return scaler, linear, {"train_loss": loss, "train_r2": float(r2_score(targets, out.numpy()))}

    def _task_net(self, targets, spec, has_validation):
        callbacks = [("train_r2", EpochScoring("r2", lower_is_better=False, on_train=True, name="train_r2"))]
        if has_validation:
            callbacks.append(("valid_r2", EpochScoring("r2", lower_is_better=False, name="valid_r2")))
        return TaskNet(RegressorNet, LOSSES[self.loss], {}, callbacks)
