"""What a fitted estimator keeps to run its network outside torch: compiled sessions and the int8 model.

An estimator's ``runtime`` parameter picks the engine at predict time; the
network is exported once per fitted model (and per runtime and thread count)
and the session is cached here. Sessions are not pickled: they are rebuilt
on first use after unpickling. The int8 model is fitted state (it was
calibrated on the training images), so it is pickled.
"""

from __future__ import annotations

import contextlib
import time
import warnings

import numpy as np
import torch

from .._device import on_device
from .._tensors import batch_to_device
from ..nn import PRESETS, TTA_PRESET, BackboneNetwork, BatchAugment, encode_batches, encode_views
from ._graph import InferenceGraph
from ._onnx import Session, check_runtime, onnx_bytes, quantize_int8

__all__ = ["NetworkRuntime", "placed"]

#: At most this many training images calibrate int8 (min-max ranges need a sample, not the whole set).
N_CALIBRATION = 128
#: int8 is kept only if it loses at most this much of the task's score (accuracy, or R^2) on the check.
MAX_INT8_LOSS = 0.01
#: ... and only if it predicts at least this many times as fast as the torch eager path, timed at fit on
#: this machine. The float runtimes alone give about 3x at 224 px (docs/deployment.md), so int8's drift
#: must buy clearly more; on small images an AVX2-only CPU gains far less from int8.
MIN_INT8_SPEEDUP = 4.0
#: The speed check times predictions on at most this many of the check images, best of ``TIMING_ROUNDS``
#: after a warm-up call.
N_TIMED, TIMING_ROUNDS = 32, 3


class NetworkRuntime:
    """A fitted network's runtime state: cached sessions per runtime, and its int8 model if kept.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer.images import as_image_set
    >>> from sktransfer.nn import BackboneNetwork, ImageEncoder, make_head
    >>> from sktransfer.runtimes import NetworkRuntime
    >>> bb = get_backbone("timm/test_resnet", weights=None)
    >>> net = BackboneNetwork(ImageEncoder(bb, (32, 32)), make_head(bb.feature_dim, 2)).eval()
    >>> images = as_image_set(np.random.default_rng(0).random((5, 8, 8)))
    >>> state, cpu = NetworkRuntime(), torch.device("cpu")
    >>> eager = state.outputs(net, images, runtime="torch", n_views=2, batch_size=4, device=cpu)
    >>> onnx = state.outputs(net, images, runtime="onnx", n_views=2, batch_size=4, device=cpu)
    >>> bool(np.allclose(eager, onnx, atol=1e-4))
    True
    """

    def __init__(self):
        self.int8 = None  # ONNX bytes of the int8 network, when quantize="int8" kept it
        self.scores = None  # {"float": ..., "int8": ..., "n_images": ...}: what decided
        self._float_model = None  # ONNX bytes of the float network, exported once, whatever runtime or threads
        self._sessions = {}

    def __getstate__(self):  # sessions and the float export are rebuilt on first use
        return {"int8": self.int8, "scores": self.scores}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._float_model, self._sessions = None, {}

    # ------------------------------------------------------------------ predict

    def outputs(self, network, images, *, runtime, n_views, batch_size, device, progress=None, int8=False):
        """``network``'s outputs (or an encoder's features) for ``images``, averaged over ``n_views`` views.

        ``runtime="torch"`` is the eager path; the others run the same
        network exported to ONNX, with the views made in torch (they are
        cheap next to the network). ``int8``: run the int8 network (never in
        torch, which runs the float one).
        """
        if runtime == "torch":
            if isinstance(network, BackboneNetwork):
                return encode_views(network, images, n_views=n_views, batch_size=batch_size, device=device,
                                    progress=progress)
            return encode_batches(network, images, batch_size=batch_size, device=device, progress=progress)
        session = self.session(network, runtime, device, int8=int8)
        views = [BatchAugment(**PRESETS[TTA_PRESET], seed=k) for k in range(1, n_views)]
        parts = []
        for x in _unit_batches(network, images, batch_size):
            with torch.inference_mode():
                # One call for the image and its views: small images leave each call little work.
                stacked = torch.cat([x, *(view(x.clone()) for view in views)]).numpy()
            parts.append(session(stacked).reshape(n_views, len(x), -1).mean(axis=0))
            if progress is not None:
                progress.update(len(x) * n_views)
        return np.concatenate(parts).astype(np.float32, copy=False)

    def session(self, network, runtime, device, *, int8=False):
        """The cached session of ``network`` in ``runtime`` (exported on first use)."""
        check_runtime(runtime)
        if int8 and self.int8 is None:
            raise ValueError("this model has no int8 network: fit it with quantize='int8' first.")
        threads = torch.get_num_threads()
        key = (runtime, bool(int8), threads, str(device))
        if key not in self._sessions:
            if not int8 and self._float_model is None:
                self._float_model = float_model(network)
            self._sessions[key] = Session(self.int8 if int8 else self._float_model, runtime, threads, device)
        return self._sessions[key]

    # ------------------------------------------------------------------ fit

    def quantize(self, network, images, data, score, owner, n_views):
        """Calibrate int8 on training rows of ``images``; keep it if the task keeps its score and it pays.

        ``data`` is the fit's :class:`~sktransfer.training.TrainingData`: up
        to ``N_CALIBRATION`` of its training rows calibrate, and its
        validation rows (the training rows without them) check.
        ``score(outputs, rows)`` is the task's score of outputs for the
        images at ``rows`` (higher is better). int8 is kept when it loses at
        most ``MAX_INT8_LOSS`` of that score and then predicts (in
        ``owner.runtime``, with ``n_views`` views, at ``owner.batch_size``)
        at least ``MIN_INT8_SPEEDUP`` times as fast as the torch eager path
        on the CPU; else a warning says what was measured. Returns whether
        it was kept; what decided is in ``scores``.
        """
        who = type(owner).__name__
        train_rows = np.unique(data.train_idx)  # whole-number weights repeat rows: calibrate on each image once
        check_rows = train_rows if data.valid_idx is None else np.unique(data.valid_idx)
        calibration_rows = train_rows[np.linspace(0, len(train_rows) - 1, min(N_CALIBRATION, len(train_rows)))
                                      .round().astype(int)]
        model = self._float_model = float_model(network)  # predictions in float reuse it if int8 is refused
        int8 = quantize_int8(model, _unit_images(network, images, calibration_rows))
        check = _unit_images(network, images, check_rows)
        cpu = torch.device("cpu")
        scores = {name: float(score(Session(m, "onnx", torch.get_num_threads(), cpu)(check), check_rows))
                  for name, m in (("float", model), ("int8", int8))}
        self.scores = {**scores, "n_images": len(check_rows),
                       "images": "validation" if data.valid_idx is not None else "training", "speedup": None}
        self.int8, self._sessions = None, {}
        if scores["int8"] < scores["float"] - MAX_INT8_LOSS:
            warnings.warn(
                f"{who}: int8 refused, the float network is kept. On {len(check_rows)} "
                f"{self.scores['images']} images the int8 network scored {scores['int8']:.4f} against "
                f"{scores['float']:.4f} for float (more than {MAX_INT8_LOSS:.2f} lost).", UserWarning, stacklevel=3)
            return False
        self.int8 = int8
        timed = images.subset(check_rows[:N_TIMED])
        self.scores.update(self._speedup(network, timed, owner.runtime, n_views, owner.batch_size))
        if self.scores["speedup"] < MIN_INT8_SPEEDUP:
            self.int8, self._sessions = None, {}
            warnings.warn(
                f"{who}: int8 refused, the float network is kept: it kept the task's score "
                f"({scores['int8']:.4f} against {scores['float']:.4f}) but predicted only "
                f"{self.scores['speedup']:.2f}x as fast as torch eager on this machine "
                f"({self.scores['int8_images_per_s']:.0f} against {self.scores['eager_images_per_s']:.0f} images/s, "
                f"{len(timed)} images, {n_views} view(s), {torch.get_num_threads()} thread(s); at least "
                f"{MIN_INT8_SPEEDUP:g}x is asked, as int8 drifts from float). The float runtime still runs; "
                "export_onnx(..., calibration=X) writes an int8 file regardless.", UserWarning, stacklevel=3)
        return self.int8 is not None

    def _speedup(self, network, images, runtime, n_views, batch_size):
        """Images/s of the int8 network in ``runtime`` and of torch eager on ``images``, best of a few rounds."""
        cpu = torch.device("cpu")
        self.session(network, runtime, cpu, int8=True)  # compiled outside the timing, as a fitted model has it
        best = {}
        # One path after the other, eager first: ONNX Runtime's threads keep spinning for a while after a
        # run, which would slow a torch run interleaved after it. Eager runs the network as it is, as
        # predict does on the CPU (see placed).
        for path, (rt, int8) in (("eager", ("torch", False)), ("int8", (runtime, True))):
            seconds = []
            for _ in range(1 + TIMING_ROUNDS):  # the first call warms up
                start = time.perf_counter()
                self.outputs(network, images, runtime=rt, n_views=n_views, batch_size=batch_size, device=cpu,
                             int8=int8)
                seconds.append(time.perf_counter() - start)
            best[path] = min(seconds[1:])
        rates = {path: len(images) / max(fastest, 1e-9) for path, fastest in best.items()}
        return {"speedup": rates["int8"] / rates["eager"], "int8_images_per_s": rates["int8"],
                "eager_images_per_s": rates["eager"]}


def placed(network, runtime, device):
    """``network`` where ``runtime`` runs it, for a ``with`` block of inference.

    torch on CUDA: moved there, channels-last, and back to a contiguous CPU
    copy after (:func:`~sktransfer._device.on_device`). torch on the CPU:
    left as it is. The encoder hands the convolutions channels-last input
    either way, and converting the weights costs 6-10 ms per call for
    nothing at inference: measured on Lite0, 1 and 2 threads, 1 to 64
    images per call, no call was faster with the conversion (one image:
    27.0 against 35.5 ms at 224 px). The other runtimes hold their own
    copy of the weights, so the network stays as it is, on the CPU where
    its export runs.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.runtimes import placed
    >>> conv = torch.nn.Conv2d(1, 2, 3)
    >>> with placed(conv, "onnx", torch.device("cpu")) as moved:
    ...     moved is conv and moved.weight.is_contiguous()
    True
    >>> with placed(conv, "torch", torch.device("cpu")) as moved:
    ...     moved is conv
    True
    """
    if runtime == "torch" and device.type != "cpu":
        return on_device(network, device)
    return contextlib.nullcontext(network)


def float_model(network):
    """The ONNX bytes of ``network`` at its own input size (dynamic batch)."""
    encoder = _encoder(network)
    return onnx_bytes(InferenceGraph(network), torch.rand(2, encoder.in_chans, *encoder.image_size))


def _encoder(network):
    """The :class:`~sktransfer.nn.ImageEncoder` of a network (an encoder is its own)."""
    return network.encoder if isinstance(network, BackboneNetwork) else network


def _unit_batches(network, images, batch_size, rows=None):
    """Batches of ``images`` (at ``rows``) as float tensors in [0, 1] at the network's size and channels."""
    encoder = _encoder(network)
    for batch in images.iter_batches(batch_size, indices=None if rows is None else np.asarray(rows)):
        with torch.inference_mode():  # not across the yield: the caller's code is its own
            x = batch_to_device(batch, torch.device("cpu"), encoder.image_size, encoder.in_chans)
            x = encoder.to_unit_range(x)
        yield x


def _unit_images(network, images, rows):
    """The images at ``rows`` as float32 numpy in [0, 1] at the network's size."""
    return np.concatenate([x.numpy() for x in _unit_batches(network, images, 64, rows)])
