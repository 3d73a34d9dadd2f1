"""A fitted model as one self-contained ONNX file, which plain ``onnxruntime`` runs without this library.

The file's contract (also written into its metadata, ``doc_string``):

- input ``images``: float32 ``(N, C, H, W)`` with values in [0, 1]; ``C`` is
  ``channels`` (given to :func:`export_onnx`; 3 by default), ``H`` and ``W``
  any size: the file resizes (antialiased bilinear, as the library does) and
  normalises inside. The library reads every image as 8-bit, so its
  predictions are the file's on ``uint8_pixels / 255`` (float images
  rounded to 256 levels first);
- output ``outputs``: a classifier's class probabilities (columns in the
  order of the metadata's ``classes``; one sigmoid per label for
  multi-label), a regressor's predictions in the units of ``y`` (one column
  per target), or a feature extractor's features. Test-time views are
  included as the fitted model predicts.

Needs the ``onnx`` extra (``pip install "sktransfer[onnx]"``).
"""

from __future__ import annotations

import importlib.metadata
import json

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._tensors import to_float_images
from .estimators import NETWORK_ESTIMATORS, PretrainedFeatureExtractor
from .export import file_to_write, write_replacing
from .images import as_image_set
from .nn import views_of
from .runtimes import InferenceGraph, onnx_bytes, quantize_int8

__all__ = ["export_onnx"]


class _Predictions(nn.Module):
    """A graph's outputs as what the estimator returns: probabilities, or targets in ``y``'s units."""

    def __init__(self, graph, spec):
        super().__init__()
        self.network, self.kind = graph, spec.kind  # not "graph": torch.export's modules have one of their own
        if spec.kind == "regression":
            self.register_buffer("mean", torch.as_tensor(np.asarray(spec.mean, dtype=np.float32)))
            self.register_buffer("scale", torch.as_tensor(np.asarray(spec.scale, dtype=np.float32)))

    def forward(self, x):
        out = self.network(x)
        if self.kind == "softmax":
            return torch.softmax(out, dim=1)
        if self.kind == "sigmoid":
            return torch.sigmoid(out)
        return out * self.scale + self.mean


def export_onnx(estimator, path, *, channels=3, calibration=None):
    """Write a fitted estimator's network, pre- and post-processing included, to an ONNX file.

    Parameters
    ----------
    estimator : FineTunedClassifier, FineTunedRegressor, DomainAdaptiveClassifier or PretrainedFeatureExtractor
        Fitted.
    path : str or path-like
        The ``.onnx`` file to write, in an existing folder (written next to
        its place and renamed, so a failure leaves no half-written file).
    channels : {1, 3}, default=3
        Channels of the images the file takes: 1 for grayscale (repeated to
        the backbone's 3 inside), 3 for colour.
    calibration : images or None, default=None
        Images (any form ``fit`` takes) to calibrate a static int8 file on
        (convolutions in int8, about 3.5x smaller and 1.5x faster on CPU).
        Check its accuracy on your own validation data before shipping it;
        ``quantize="int8"`` in ``fit`` does that check for you. None: float32.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Examples
    --------
    >>> import numpy as np, onnxruntime, tempfile, os
    >>> from sklearn.datasets import load_digits
    >>> from sktransfer import FineTunedClassifier
    >>> from sktransfer import export_onnx
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = FineTunedClassifier("timm/test_resnet", weights=None, image_size=16, max_epochs=1, min_steps=0,
    ...                           tta=0, input_shape=(8, 8), verbose=0, random_state=0).fit(X[:60] / 16, y[:60])
    >>> path = export_onnx(clf, os.path.join(tempfile.mkdtemp(), "digits.onnx"), channels=1)
    >>> session = onnxruntime.InferenceSession(str(path))
    >>> images = (np.round(X[60:65] / 16 * 255) / 255).reshape(-1, 1, 8, 8).astype(np.float32)  # 8-bit levels
    >>> probabilities = session.run(None, {"images": images})[0]
    >>> bool(np.allclose(probabilities, clf.predict_proba(X[60:65] / 16), atol=1e-4))
    True
    """
    network, spec, n_views = _fitted_network(estimator)
    if getattr(getattr(network, "encoder", network), "modality", "image") == "text":
        raise ValueError("export_onnx writes image networks; this model's backbone is a language model. Save it with "
                         "pickle or sktransfer.export_weights instead.")
    if channels not in (1, 3):
        raise ValueError(f"channels={channels!r}: the file takes 1 (grayscale) or 3 (colour) channel images.")
    path = file_to_write(path, caller="export_onnx", example="model.onnx")
    graph = InferenceGraph(network, n_views=n_views, resize=True)
    graph = graph if spec is None else _Predictions(graph, spec).eval()
    model = onnx_bytes(graph, torch.rand(2, channels, 48, 40), dynamic_size=True)
    if calibration is not None:
        size = getattr(network, "encoder", network).image_size
        model = quantize_int8(model, _calibration_images(calibration, estimator.input_shape, size, channels))
    model = _with_metadata(model, estimator, spec, channels)
    write_replacing(path, lambda partial: partial.write_bytes(model))
    return path


def _fitted_network(estimator):
    """``(network, TargetSpec or None, n_views)`` of a fitted estimator, or a clear error."""
    if isinstance(estimator, PretrainedFeatureExtractor):
        check_is_fitted(estimator, "encoder_")
        return estimator.encoder_, None, 1
    if not isinstance(estimator, NETWORK_ESTIMATORS):
        names = ", ".join(c.__name__ for c in (*NETWORK_ESTIMATORS, PretrainedFeatureExtractor))
        raise TypeError(f"export_onnx writes a fitted {names}; got a {type(estimator).__name__}. For a Pipeline, "
                        "export its sktransfer step and run the other steps after the ONNX session.")
    check_is_fitted(estimator, "module_")
    return estimator.module_, estimator.target_spec_, views_of(estimator.tta, trained=bool(estimator.n_steps_))


def _calibration_images(X, input_shape, size, channels):
    """``X`` as float32 ``(N, channels, *size)`` in [0, 1], as the file takes them (its input is resized inside,
    so calibrating at the network's size calibrates every layer after the resize)."""
    images = as_image_set(X, input_shape=input_shape)
    return np.concatenate([to_float_images(batch, size, channels=channels).numpy()
                           for batch in images.iter_batches(64)])


def _with_metadata(model, estimator, spec, channels):
    """The model with its contract in ``doc_string`` and facts in ``metadata_props``."""
    import onnx

    proto = onnx.load_from_string(model)
    proto.doc_string = __doc__.split("The file's contract", 1)[1].split("Needs the", 1)[0].strip()
    facts = {"sktransfer_version": importlib.metadata.version("sktransfer"), "estimator": type(estimator).__name__,
             "channels": channels,
             "outputs": {None: "features", "softmax": "probabilities", "sigmoid": "label probabilities",
                         "regression": "predictions"}[None if spec is None else spec.kind]}
    if spec is not None:
        facts["classes" if spec.kind != "regression" else "targets"] = np.asarray(spec.labels).tolist()
    for key, value in facts.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value, default=str)
    return proto.SerializeToString()
