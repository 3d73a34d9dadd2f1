"""A safe way to share a fitted network: weights and configuration, loadable with ``weights_only=True``.

A pickle (or joblib file) of an estimator runs code when it is opened, as
every pickle does: never open one from a source you do not trust.
:func:`export_weights` writes only tensors, strings, numbers, lists, tuples
and dicts, which :func:`load_weights` reads back with ``torch.load(..., weights_only=True)``:
PyTorch's restricted unpickler, which refuses anything that could run code.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch
from skorch.history import History

from ._device import cpu_state_dict
from .estimators import NETWORK_ESTIMATORS, TargetSpec
from .nn import ArchSpec

__all__ = ["export_weights", "load_weights"]

#: Version 2 keeps tuples and non-string dict keys as they are (version 1 made lists and strings of them).
FORMAT = "sktransfer-weights/2"
_OLD_FORMATS = ("sktransfer-weights/1",)
_PRIMITIVES = (str, int, float, bool, type(None))
#: What every file holds, and of which type: an edited file is refused by name rather than failing inside.
_FIELDS = {"estimator": str, "params": dict, "not_exported": list, "fitted": dict, "arch": dict, "targets": dict,
           "history": list, "state_dict": dict}


def _plain(value):
    """``value`` as data PyTorch's weights-only unpickler reads back as it was, or raise TypeError.

    Strings, numbers, None, lists, tuples and dicts (keys included) keep their types, so a
    ``class_weight={0: 5.0}`` or an ``image_size=(32, 32)`` comes back equal; numpy scalars
    become Python numbers, and arrays a tagged dict.
    """
    if isinstance(value, np.generic):  # first: numpy's float64 is also a Python float
        return value.item()
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, np.ndarray):  # tagged, so that loading gives back an array of the same dtype
        return {"ndarray": _plain(value.tolist()), "dtype": value.dtype.str}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    raise TypeError(type(value).__name__)


def _restored(value):
    """The inverse of :func:`_plain`: arrays back from their tags, at any depth."""
    if isinstance(value, dict):
        if set(value) == {"ndarray", "dtype"}:
            return np.asarray(value["ndarray"], dtype=np.dtype(value["dtype"]))
        return {k: _restored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restored(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_restored(v) for v in value)
    return value


def file_to_write(path, caller="export_weights", example="model.pt"):
    """``path`` as a Path, or a ValueError naming the fix when no file can be written there."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{caller} writes to a file path (a str or a pathlib.Path); got {type(path).__name__}.")
    path = Path(os.fspath(path))
    if path.is_dir():
        raise ValueError(f"{caller} needs a file path; {str(path)!r} is a folder. Pass a file in it, "
                         f"e.g. {str(path / example)!r}.")
    if not path.parent.is_dir():
        raise ValueError(f"The folder of {str(path)!r} does not exist: create it first "
                         f"(os.makedirs({str(path.parent)!r}, exist_ok=True)), or pass a path in an existing folder.")
    return path


def export_weights(estimator, path):
    """Write a fitted network's weights and configuration to ``path``, loadable without running code.

    Parameters
    ----------
    estimator : FineTunedClassifier, FineTunedRegressor or DomainAdaptiveClassifier
        Fitted, with a named backbone (a string such as ``"efficientnet_lite0"``
        or ``"timm/resnet18"``): a module of your own cannot be rebuilt from
        data alone.
    path : str or path-like
        The file to write (``torch.save`` format), in an existing folder. It
        is written next to its place and then renamed, so a failure leaves
        neither a half-written file nor a lost older one.

    Raises
    ------
    ValueError
        When ``estimator`` is not fitted, has a backbone module rather than a
        name, or ``path`` is a folder or in a folder that does not exist.
    TypeError
        When ``estimator`` is not a network estimator (pickle those).

    Notes
    -----
    Parameters keep their types: tuples stay tuples (``image_size=(32, 32)``),
    dict keys keep theirs (``class_weight={0: 5.0}``), so the loaded
    estimator refits, and warm-starts, as the exported one would.
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
    if not hasattr(estimator, "module_") or not hasattr(estimator, "arch_spec_"):
        what = type(estimator).__name__
        if not any(isinstance(estimator, c) for c in NETWORK_ESTIMATORS):
            raise TypeError(f"export_weights writes a fitted {', '.join(c.__name__ for c in NETWORK_ESTIMATORS)}; "
                            f"got a {what}. For other estimators (a Pipeline, a PretrainedFeatureExtractor), use "
                            "joblib.dump or pickle, and only open such files from sources you trust.")
        raise ValueError(f"{what} is not fitted: fit it before export_weights.")
    path = file_to_write(path)
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
    if "backbone" in dropped and isinstance(arch["backbone"], str):
        # A backbone pre-trained further (SelfSupervisedPretrainer): the state dict holds its weights, and
        # its base's name rebuilds the structure (a re-fit of the loaded model starts from the base's weights).
        params["backbone"] = arch["backbone"]
        dropped.remove("backbone")
    # Everything else fit set but the network, its history and the specs, stored in their own forms below.
    # The int8 network and runtime sessions (_runtime) are not weights: the file holds the float network.
    own_form = ("module_", "history_", "arch_spec_", "target_spec_", "_runtime")
    fitted = {k: _plain(v) for k, v in vars(estimator).items()
              if k not in params and k not in dropped and k not in own_form}
    fitted["quantized_"] = False
    content = {
        "format": FORMAT,
        "estimator": type(estimator).__name__,
        "params": params,
        "not_exported": dropped,
        "fitted": fitted,
        "arch": _plain(arch),
        "targets": estimator.target_spec_.to_dict(),
        "history": _plain(list(estimator.history_)),
        "state_dict": cpu_state_dict(estimator.module_),
    }
    write_replacing(path, lambda partial: torch.save(content, partial))


def write_replacing(path, write):
    """``write(partial)`` to a file next to ``path``, then rename it to ``path``.

    A failure leaves neither a half-written file nor a lost older one, and is
    a ValueError that names the fix.
    """
    partial = path.with_name(f".{path.name}.partial")
    try:
        write(partial)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ValueError(f"Cannot write {str(path)!r} ({type(exc).__name__}: {exc.strerror or exc}); pass a path "
                         "in a folder you can write to.") from exc


def load_weights(path):
    """Rebuild an estimator written by :func:`export_weights`, with ``torch.load(weights_only=True)``.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    estimator : FineTunedClassifier, FineTunedRegressor or DomainAdaptiveClassifier
        Fitted: it predicts as the exported one did.

    Raises
    ------
    ValueError
        When ``path`` is missing, a folder, truncated, not written by
        :func:`export_weights`, holds more than weights (objects that could
        run code: refused, never run), or was edited so that it no longer
        describes a network. Files of the first format version
        (``sktransfer-weights/1``) still load, their ``class_weight`` keys and
        tuple parameters restored.

    Examples
    --------
    See :func:`export_weights`.
    """
    data = _read(path)
    classes = {c.__name__: c for c in NETWORK_ESTIMATORS}
    if data["estimator"] not in classes:
        raise ValueError(f"{path} holds a {data['estimator']!r}, which load_weights cannot rebuild; it "
                         f"rebuilds {sorted(classes)}.")
    try:
        estimator = _rebuild(classes[data["estimator"]], data)
    except (KeyError, TypeError, AttributeError, IndexError, RuntimeError) as exc:
        raise ValueError(f"{path} was written by export_weights but its contents were changed or damaged "
                         f"({type(exc).__name__}: {exc}); export the fitted model again.") from exc
    if data["not_exported"]:
        warnings.warn(f"{', '.join(data['not_exported'])} were not exported (not plain data); the loaded "
                      "estimator has their defaults.", UserWarning, stacklevel=2)
    return estimator


def _read(path):
    """The dict in an export_weights file, read without running code; a ValueError saying what is wrong."""
    if isinstance(path, (str, os.PathLike)):
        file = Path(os.fspath(path))
        if file.is_dir():
            raise ValueError(f"load_weights needs a file written by export_weights; {str(file)!r} is a folder.")
        if not file.exists():
            raise ValueError(f"No such file: {str(file)!r}. Pass the path export_weights wrote to.")
        if file.is_file() and file.read_bytes()[:4] == b"PK\x03\x04" and not zipfile.is_zipfile(file):
            raise ValueError(f"{str(file)!r} is truncated or damaged: it starts as a torch.save archive but is "
                             "not a complete one. Copy or download it again, or export the model again.")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the restricted unpickler's refusals are UnpicklingError, RuntimeError...
        raise ValueError(f"{path} is not a file written by export_weights, or it holds more than weights: {exc}") \
            from exc
    if not isinstance(data, dict) or data.get("format") not in (FORMAT, *_OLD_FORMATS):
        raise ValueError(f"{path} is not a file written by sktransfer's export_weights ({FORMAT}).")
    wrong = [k for k, kind in _FIELDS.items() if not isinstance(data.get(k), kind)]
    if wrong:
        raise ValueError(f"{path} was written by export_weights but its contents were changed or damaged: "
                         f"{', '.join(wrong)} missing or of the wrong type. Export the fitted model again.")
    return data


def _rebuild(cls, data):
    """The fitted estimator a file describes."""
    params = _restored(dict(data["params"]))
    if isinstance(params.get("optimizer"), dict):
        params["optimizer"] = getattr(torch.optim, params["optimizer"]["torch.optim"])
    fitted = _restored(data["fitted"])
    if data["format"] in _OLD_FORMATS:
        _upgrade_v1(params, fitted)
    estimator = cls(**params)  # nested skorch parameters go to **kwargs, as when they were set
    for name, value in fitted.items():
        setattr(estimator, name, value)
    estimator.arch_spec_ = ArchSpec.from_dict(_restored(data["arch"]))
    estimator.target_spec_ = TargetSpec.from_dict(data["targets"])
    estimator.image_size_ = tuple(estimator.image_size_)
    estimator.history_ = History(data["history"])
    estimator.module_ = estimator.arch_spec_.load_network(data["state_dict"])
    return estimator


def _upgrade_v1(params, fitted):
    """Undo what version 1 files lost: tuples stored as lists, dict keys as strings (class_weight's classes)."""
    for name in ("hidden_units", "input_shape", "image_size"):
        if isinstance(params.get(name), list):
            params[name] = tuple(params[name])
    weights, classes = params.get("class_weight"), fitted.get("classes_")
    if isinstance(weights, dict) and classes is not None:
        by_text = {str(c): c.item() if isinstance(c, np.generic) else c for c in np.asarray(classes).ravel()}
        params["class_weight"] = {by_text.get(k, k): v for k, v in weights.items()}
