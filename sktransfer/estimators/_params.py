"""The parameters every network estimator shares: their constraints and the nested skorch ones.

Nested skorch parameters (``optimizer__weight_decay``, ``criterion__*``,
``callbacks__<name>__<param>``) are stored as attributes like the others,
returned by ``get_params`` and accepted by ``set_params`` (so ``GridSearchCV``
reaches them), and checked in ``fit``, as skorch does.
"""

from __future__ import annotations

import difflib
import functools
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from skorch.callbacks import Callback

from ..backbones import Backbone
from ..nn import POOLINGS, PRESETS
from ..runtimes import RUNTIMES
from ..training import optimizer_keywords

__all__ = ["NETWORK_CONSTRAINTS", "SKORCH_PREFIXES", "check_int_params", "check_nested_params",
           "check_validation_callbacks", "nested_params", "split_nested"]

#: Integer parameters: scikit-learn's Interval(Integral) lets True and False through as 1 and 0.
INT_PARAMS = ("batch_size", "max_epochs", "min_steps", "tta", "trainable_blocks", "early_stopping",
              "unfreeze_every")

#: Prefixes of the skorch parameters that may be passed as extra keywords.
SKORCH_PREFIXES = ("optimizer", "criterion", "callbacks")

#: scikit-learn's constraints of the parameters of :class:`BackboneNetworkEstimator`.
NETWORK_CONSTRAINTS = {
    "backbone": [str, Backbone, torch.nn.Module, HasMethods(["to_backbone"])],
    "weights": [str, None],
    "trainable_blocks": [Interval(Integral, 0, None, closed="left"), StrOptions({"all"})],
    "layer": [StrOptions({"auto"}), Integral, str, list, tuple, None],
    "schedule": [StrOptions({"auto", "lp-ft", "ft", "contrastive"})],
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
    "fallback_to_probe": ["boolean"],
    "warm_start": ["boolean"],
    "random_state": ["random_state"],
    "device": [str, torch.device],
    "input_shape": [tuple, list, None],
    "callbacks": [list, None],
    "verbose": ["verbose"],
    "on_interrupt": [StrOptions({"raise", "keep"})],
    "runtime": [StrOptions(set(RUNTIMES))],
    "quantize": [StrOptions({"int8"}), None],
}


def nested_params(estimator):
    """The extra keywords stored on ``estimator`` (not in its signature, not fitted, not private).

    Examples
    --------
    >>> from sktransfer import FineTunedClassifier
    >>> from sktransfer.estimators._params import nested_params
    >>> nested_params(FineTunedClassifier(optimizer__betas=(0.9, 0.99)))
    {'optimizer__betas': (0.9, 0.99)}
    """
    names = set(estimator._get_param_names())
    return {k: v for k, v in vars(estimator).items()
            if k not in names and not k.startswith("_") and not k.endswith("_")}


def split_nested(names, params):
    """Pop from ``params`` (a dict) and return the keys that are not parameters of the signature ``names``:
    unknown names and nested skorch keys, stored as they are and checked in ``fit`` (skorch does the same)."""
    return {k: params.pop(k) for k in list(params)
            if k.split("__", 1)[0] not in names or ("__" in k and k.split("__", 1)[0] in SKORCH_PREFIXES)}


def check_nested_params(estimator):
    """Raise a TypeError (or ValueError) naming the fix for an unknown keyword or a bad callback."""
    valid = list(estimator._get_param_names())
    nested = nested_params(estimator)
    for key in nested:
        if key.split("__", 1)[0] not in SKORCH_PREFIXES or "__" not in key or key.endswith("__"):
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(
                f"{type(estimator).__name__} got an unexpected parameter {key!r}.{hint} Extra keywords "
                f"must be nested skorch parameters starting with {', '.join(p + '__' for p in SKORCH_PREFIXES)}."
            )
    _check_optimizer(estimator.optimizer)
    _check_optimizer_keywords(estimator.optimizer, nested)
    reduction = nested.get("criterion__reduction", "mean")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"criterion__reduction={reduction!r}: training needs one loss per batch; use 'mean' (the "
                         "default) or 'sum'.")
    smoothing = nested.get("criterion__label_smoothing")
    if smoothing is not None and not (isinstance(smoothing, Real) and 0.0 <= smoothing <= 1.0):
        raise ValueError(f"criterion__label_smoothing={smoothing!r} must be a number in [0, 1] (0 for none); "
                         "or use the label_smoothing parameter.")
    for i, callback in enumerate(estimator.callbacks or []):
        named = isinstance(callback, tuple) and len(callback) == 2 and isinstance(callback[0], str)
        target = callback[1] if named else callback
        is_callback = isinstance(target, Callback) or (isinstance(target, type) and issubclass(target, Callback))
        if not is_callback:
            raise TypeError(
                f"callbacks[{i}] is {callback!r}, not a skorch callback; pass instances (or classes) of "
                "skorch.callbacks.Callback, or (name, callback) pairs."
            )


def check_int_params(estimator):
    """Raise a TypeError for a bool given as an integer parameter (``batch_size=True`` is not a size).

    Examples
    --------
    >>> from sktransfer import FineTunedClassifier
    >>> from sktransfer.estimators._params import check_int_params
    >>> check_int_params(FineTunedClassifier(batch_size=True))
    Traceback (most recent call last):
    ...
    TypeError: batch_size=True is a bool, not a number; pass an int.
    """
    for name in INT_PARAMS:
        value = getattr(estimator, name, None)
        if isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name}={value!r} is a bool, not a number; pass an int.")


def check_validation_callbacks(callbacks, has_validation):
    """Raise a ValueError when a callback monitors a validation score and the fit holds no validation split."""
    if has_validation:
        return
    for i, callback in enumerate(callbacks or []):
        target = callback[1] if isinstance(callback, tuple) else callback
        monitor = getattr(target, "monitor", None)
        if isinstance(monitor, str) and monitor.startswith("valid_"):
            raise ValueError(
                f"callbacks[{i}] ({type(target).__name__}) monitors {monitor!r}, but this fit holds no validation "
                "split; set validation_fraction (e.g. 0.1), or have it monitor a training score (e.g. "
                "monitor='train_loss')."
            )


def _check_optimizer(optimizer):
    """``optimizer`` must make a ``torch.optim.Optimizer``: its class, or a ``functools.partial`` of it."""
    target = optimizer.func if isinstance(optimizer, functools.partial) else optimizer
    if not (isinstance(target, type) and issubclass(target, torch.optim.Optimizer)):
        raise TypeError(f"optimizer={optimizer!r} is not a torch optimizer class; pass one such as "
                        "torch.optim.AdamW or torch.optim.SGD (or functools.partial(torch.optim.SGD, nesterov=True)), "
                        "and its settings as optimizer__<name>.")


def _check_optimizer_keywords(optimizer, nested):
    """``optimizer__<name>`` must be a keyword the optimizer takes (torch would fail deep inside skorch)."""
    accepted = optimizer_keywords(optimizer)
    if accepted is None:
        return
    for key in nested:
        prefix, _, name = key.partition("__")
        if prefix == "optimizer" and "__" not in name and name not in accepted | {"param_groups"}:
            owner = getattr(optimizer, "__name__", repr(optimizer))
            raise TypeError(f"{key}: {owner} takes no {name!r}; it takes {', '.join(sorted(accepted))}. Drop "
                            f"{key}, or pick an optimizer that takes it (e.g. optimizer=torch.optim.SGD for "
                            "momentum).")
