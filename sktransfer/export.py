"""A safe way to share a fitted network: weights and configuration, loadable with ``weights_only=True``.

A pickle (or joblib file) of an estimator runs code when it is opened, as
every pickle does: never open one from a source you do not trust.
:func:`export_weights` writes only tensors, strings, numbers and lists, which
:func:`load_weights` reads back with ``torch.load(..., weights_only=True)``:
PyTorch's restricted unpickler, which refuses anything that could run code.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from skorch.history import History

from ._device import cpu_state_dict
from .estimators import NETWORK_ESTIMATORS, TargetSpec
from .nn import ArchSpec

__all__ = ["export_weights", "load_weights"]

FORMAT = "sktransfer-weights/1"
_PRIMITIVES = (str, int, float, bool, type(None))


def _plain(value):
    """``value`` as plain Python (str, numbers, lists, dicts), or raise TypeError."""
    if isinstance(value, np.generic):  # first: numpy's float64 is also a Python float
        return value.item()
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, np.ndarray):  # tagged, so that loading gives back an array of the same dtype
        return {"ndarray": _plain(value.tolist()), "dtype": value.dtype.str}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    raise TypeError(type(value).__name__)


def _restored(value):
    """The inverse of :func:`_plain` for arrays; everything else as stored."""
    if isinstance(value, dict) and set(value) == {"ndarray", "dtype"}:
        return np.asarray(value["ndarray"], dtype=np.dtype(value["dtype"]))
    return value


def export_weights(estimator, path):
    """Write a fitted network's weights and configuration to ``path``, loadable without running code.

    Parameters
    ----------
    estimator : FineTunedClassifier, FineTunedRegressor or DomainAdaptiveClassifier
        Fitted, with a named backbone (a string such as ``"efficientnet_lite0"``
        or ``"timm/resnet18"``): a module of your own cannot be rebuilt from
        data alone.
    path : str or path-like
        The file to write (``torch.save`` format).

    Notes
    -----
    Parameters used only in training that are not plain data (a custom
    ``augment`` callable, ``callbacks``) are not exported; the loaded
    estimator has their defaults, with a warning naming them. The optimizer
    is kept by its name when it is one of ``torch.optim``'s.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import FineTunedClassifier, export_weights, load_weights
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = FineTunedClassifier("timm/test_resnet", weights=None, trainable_blocks=0, image_size=16,
    ...                           input_shape=(8, 8), verbose=0, random_state=0).fit(X[:60] / 16, y[:60])
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.pt")
    >>> export_weights(clf, path)
    >>> bool((load_weights(path).predict(X[60:70] / 16) == clf.predict(X[60:70] / 16)).all())
    True
    """
    if not hasattr(estimator, "module_"):
        raise ValueError(f"{type(estimator).__name__} is not fitted: fit it before export_weights.")
    arch = estimator.arch_spec_.to_dict()  # a ValueError for a backbone given as a module
    params, dropped = {}, []
    for name, value in estimator.get_params(deep=False).items():
        if name == "optimizer" and getattr(torch.optim, getattr(value, "__name__", ""), None) is value:
            params[name] = {"torch.optim": value.__name__}
            continue
        try:
            params[name] = _plain(value)
        except TypeError:
            dropped.append(name)
    # Everything else fit set but the network, its history and the specs, stored in their own forms below.
    own_form = ("module_", "history_", "arch_spec_", "target_spec_")
    fitted = {k: _plain(v) for k, v in vars(estimator).items()
              if k not in params and k not in dropped and k not in own_form}
    torch.save({
        "format": FORMAT,
        "estimator": type(estimator).__name__,
        "params": params,
        "not_exported": dropped,
        "fitted": fitted,
        "arch": _plain(arch),
        "targets": estimator.target_spec_.to_dict(),
        "history": _plain(list(estimator.history_)),
        "state_dict": cpu_state_dict(estimator.module_),
    }, path)


def load_weights(path):
    """Rebuild an estimator written by :func:`export_weights`, with ``torch.load(weights_only=True)``.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    estimator : FineTunedClassifier, FineTunedRegressor or DomainAdaptiveClassifier
        Fitted: it predicts as the exported one did.

    Examples
    --------
    See :func:`export_weights`.
    """
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the restricted unpickler's refusals are UnpicklingError, RuntimeError...
        raise ValueError(f"{path} is not a file written by export_weights, or it holds more than weights: {exc}") \
            from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a file written by sktransfer's export_weights ({FORMAT}).")
    classes = {c.__name__: c for c in NETWORK_ESTIMATORS}
    if data.get("estimator") not in classes:
        raise ValueError(f"{path} holds a {data.get('estimator')!r}, which load_weights cannot rebuild; it "
                         f"rebuilds {sorted(classes)}.")
    cls = classes[data["estimator"]]
    params = dict(data["params"])
    if isinstance(params.get("optimizer"), dict):
        params["optimizer"] = getattr(torch.optim, params["optimizer"]["torch.optim"])
    for name in ("hidden_units", "input_shape", "image_size"):  # tuples that became lists
        if isinstance(params.get(name), list):
            params[name] = tuple(params[name])
    if data["not_exported"]:
        warnings.warn(f"{', '.join(data['not_exported'])} were not exported (not plain data); the loaded "
                      "estimator has their defaults.", UserWarning, stacklevel=2)
    estimator = cls(**params)  # nested skorch parameters go to **kwargs, as when they were set
    for name, value in data["fitted"].items():
        setattr(estimator, name, _restored(value))
    estimator.arch_spec_ = ArchSpec.from_dict(data["arch"])
    estimator.target_spec_ = TargetSpec.from_dict(data["targets"])
    estimator.image_size_ = tuple(estimator.image_size_)
    estimator.history_ = History(data["history"])
    estimator.module_ = estimator.arch_spec_.load_network(data["state_dict"])
    return estimator
