"""ONNX files of a fitted network, the sessions that run them (ONNX Runtime, OpenVINO), and static int8.

Both runtimes are optional extras (``pip install "sktransfer[onnx]"`` or
``"sktransfer[openvino]"``); a missing one is a clear ImportError naming the
extra. Measured on a 2-core AVX2 CPU (``benchmarks/bench_runtimes.py``,
docs/deployment.md): the same EfficientNet-Lite0 runs 3-4x faster in either
than in torch eager, and int8 another ~1.5x.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import tempfile
import warnings

import numpy as np
import torch

__all__ = ["RUNTIMES", "Session", "check_deployment", "check_runtime", "onnx_bytes", "quantize_int8"]

RUNTIMES = ("torch", "onnx", "openvino")
_PACKAGES = {"onnx": ("onnxruntime", "onnx"), "openvino": ("openvino", "openvino"), "export": ("onnxscript", "onnx")}
#: Whichever ONNX opset the exporter writes at least; 18 is the first with antialiased Resize.
OPSET = 18


def check_runtime(runtime):
    """Raise a clear error when ``runtime`` is unknown or its package is missing; return it.

    Examples
    --------
    >>> from sktransfer.runtimes import check_runtime
    >>> check_runtime("torch")
    'torch'
    >>> check_runtime("tensorrt")
    Traceback (most recent call last):
    ...
    ValueError: runtime='tensorrt' is not one of 'torch', 'onnx', 'openvino'.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime={runtime!r} is not one of {', '.join(repr(r) for r in RUNTIMES)}.")
    needed = {"onnx": ("onnx", "export"), "openvino": ("openvino", "export")}.get(runtime, ())
    for key in needed:
        _require(*_PACKAGES[key], what=f"runtime={runtime!r}")
    return runtime


def check_deployment(runtime, quantize=None):
    """:func:`check_runtime`, and that ``quantize`` can run in it; return ``runtime``.

    Examples
    --------
    >>> from sktransfer.runtimes import check_deployment
    >>> check_deployment("torch", quantize="int8")
    Traceback (most recent call last):
    ...
    ValueError: quantize='int8' runs in ONNX Runtime or OpenVINO, not torch; set runtime='onnx' or runtime='openvino' (or quantize=None).
    """
    if quantize is not None and runtime == "torch":
        raise ValueError(f"quantize={quantize!r} runs in ONNX Runtime or OpenVINO, not torch; set runtime='onnx' or "
                         "runtime='openvino' (or quantize=None).")
    if quantize is not None:
        _require(*_PACKAGES["onnx"], what=f"quantize={quantize!r}")  # ONNX Runtime calibrates, whatever runs it
    return check_runtime(runtime)


def _require(module, extra, what):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{what} needs the {module} package: pip install \"sktransfer[{extra}]\" (or runtime='torch')."
        ) from exc


def onnx_bytes(graph, example, *, dynamic_size=False):
    """Export ``graph`` (a traceable module, e.g. :class:`InferenceGraph`) to an ONNX model, as bytes.

    The batch dimension is dynamic; with ``dynamic_size`` the image height
    and width too. BatchNorm is folded into the convolutions by the
    exporter's optimisation pass.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer.nn import ImageEncoder
    >>> from sktransfer.runtimes import InferenceGraph, onnx_bytes
    >>> encoder = ImageEncoder(get_backbone("timm/test_resnet", weights=None), (32, 32))
    >>> onnx_bytes(InferenceGraph(encoder), torch.rand(2, 3, 32, 32))[:2]  # a protobuf
    b'\\x08\\n'
    """
    _require(*_PACKAGES["export"], what="ONNX export")
    dims = {0: torch.export.Dim("batch", min=1, max=1 << 20)}
    if dynamic_size:
        dims.update({2: torch.export.Dim("height", min=2, max=16384), 3: torch.export.Dim("width", min=2, max=16384)})
    buffer = io.BytesIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # the exporter prints progress
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals are not the user's concern
        torch.onnx.export(graph, (example,), buffer, dynamo=True, input_names=["images"], output_names=["outputs"],
                          dynamic_shapes=(dims,), opset_version=OPSET, optimize=True, verbose=False)
    return _without_exporter_notes(buffer.getvalue())


def _without_exporter_notes(model):
    """The model without the exporter's notes on each node and on the graph (stack traces with this
    machine's file paths, FX names, the program's signature): no runtime reads them, and they were 2% of
    a float Lite0 file and 5% of its int8 file."""
    import onnx

    proto = onnx.load_from_string(model)
    for node in proto.graph.node:
        del node.metadata_props[:]
    del proto.graph.metadata_props[:]
    return proto.SerializeToString()


_CORE = []


def _openvino_core(ov):
    """The process's one OpenVINO Core, never released.

    OpenVINO's CPU plugin (2026.4) gives the calling thread a new alternate
    signal stack when a Core loads it, and on the Core's destruction frees it
    and puts back the one it found. Cores destroyed in another order than they
    were made (two estimators' sessions, collected as Python pleases) leave the
    thread on freed memory: its next signal, a Ctrl-C, is a segmentation
    fault. One Core for the life of the process keeps that stack valid.
    """
    if not _CORE:
        _CORE.append(ov.Core())
    return _CORE[0]


class Session:
    """One ONNX model compiled for a runtime: float32 numpy in, float32 numpy out.

    Parameters
    ----------
    model : bytes
        An ONNX model (:func:`onnx_bytes`).
    runtime : {"onnx", "openvino"}
    threads : int
        Intra-op threads (the caller's torch thread count, so one setting
        governs every runtime).
    device : torch.device
        ONNX Runtime uses its CUDA provider for a CUDA device; OpenVINO runs
        on the CPU.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer.nn import ImageEncoder
    >>> from sktransfer.runtimes import InferenceGraph, Session, onnx_bytes
    >>> encoder = ImageEncoder(get_backbone("timm/test_resnet", weights=None), (32, 32)).eval()
    >>> session = Session(onnx_bytes(InferenceGraph(encoder), torch.rand(2, 3, 32, 32)), "onnx", 1,
    ...                   torch.device("cpu"))
    >>> x = np.random.default_rng(0).random((3, 3, 32, 32), dtype=np.float32)
    >>> bool(np.allclose(session(x), encoder(torch.from_numpy(x)).detach().numpy(), atol=1e-4))
    True
    """

    def __init__(self, model, runtime, threads, device):
        self.runtime = runtime
        if runtime == "onnx":
            ort = _require(*_PACKAGES["onnx"], what="runtime='onnx'")
            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = int(threads), 1
            options.log_severity_level = 3  # errors only
            providers = ["CPUExecutionProvider"]
            if device.type == "cuda":
                if "CUDAExecutionProvider" not in ort.get_available_providers():
                    raise ValueError(
                        "device is CUDA but this onnxruntime has no CUDA provider; pip install onnxruntime-gpu, "
                        "or set device='cpu'.")
                providers.insert(0, ("CUDAExecutionProvider", {"device_id": device.index or 0}))
            self._session = ort.InferenceSession(model, options, providers=providers)
        elif runtime == "openvino":
            ov = _require(*_PACKAGES["openvino"], what="runtime='openvino'")
            with tempfile.TemporaryDirectory() as folder:  # read_model takes a path for ONNX
                path = os.path.join(folder, "model.onnx")
                with open(path, "wb") as file:
                    file.write(model)
                try:
                    network = _openvino_core(ov).read_model(path)
                except RuntimeError as exc:  # e.g. a pooling kernel larger than a tiny map, which torch pads
                    first = str(exc).split("Failed operations detailed log:")[-1].strip().splitlines()[0]
                    raise ValueError(f"OpenVINO cannot convert this network ({first}); use runtime='onnx' or "
                                     "runtime='torch', or a larger image_size.") from exc
            config = {"INFERENCE_NUM_THREADS": int(threads), "PERFORMANCE_HINT": "LATENCY",
                      "INFERENCE_PRECISION_HINT": "f32"}  # never bf16/fp16 behind the user's back
            self._session = _openvino_core(ov).compile_model(network, "CPU", config)
        else:
            raise ValueError(f"a Session runs runtime 'onnx' or 'openvino', not {runtime!r}.")

    def __call__(self, x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.runtime == "onnx":
            return self._session.run(None, {"images": x})[0]
        return np.asarray(self._session(x)[0], dtype=np.float32)


def quantize_int8(model, calibration):
    """Static int8 (QDQ, per-channel weights) of an ONNX model, calibrated on images; bytes.

    ``calibration`` is a float32 array of images at the model's input
    size. Activations are calibrated by their min-max on it; weights use a
    7-bit range (``reduce_range``), which on CPUs without VNNI avoids the
    saturation of 8-bit products that drifted the features most in our
    measurements (feature cosine 0.96 against 0.76 without it).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sktransfer.backbones import get_backbone
    >>> from sktransfer.nn import ImageEncoder
    >>> from sktransfer.runtimes import InferenceGraph, onnx_bytes, quantize_int8
    >>> encoder = ImageEncoder(get_backbone("timm/test_resnet", weights=None), (32, 32)).eval()
    >>> model = onnx_bytes(InferenceGraph(encoder), torch.rand(2, 3, 32, 32))
    >>> images = np.random.default_rng(0).random((8, 3, 32, 32), dtype=np.float32)
    >>> len(quantize_int8(model, images)) < len(model)
    True
    """
    _require(*_PACKAGES["onnx"], what="quantize='int8'")
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._batches = iter(np.array_split(calibration, max(1, len(calibration) // 16)))

        def get_next(self):
            batch = next(self._batches, None)
            return None if batch is None else {"images": np.ascontiguousarray(batch, dtype=np.float32)}

    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source, prepared, target = (os.path.join(folder, f"{name}.onnx") for name in ("float", "prepared", "int8"))
        with open(source, "wb") as file:
            file.write(model)
        quant_pre_process(source, prepared, skip_symbolic_shape=True)
        # Every op but the first convolution (it reads raw pixels) and the head's matrix product: on
        # MNIST and Fashion-MNIST this lost least of the variants we measured (docs/deployment.md), and
        # OpenVINO 2026.4 crashed compiling a graph whose head was quantized.
        import onnx

        nodes = onnx.load(prepared).graph.node
        keep_float = [n.name for n in nodes if n.op_type in ("Gemm", "MatMul")]
        keep_float += [n.name for n in nodes if n.op_type == "Conv"][:1]
        quantize_static(prepared, target, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=keep_float)
        return _compact(onnx.load(target)).SerializeToString()


def _compact(proto):
    """``proto`` with short tensor names, no node names and no inferred inner shapes: they carry nothing a
    runtime needs, and were 2% of an int8 Lite0 file (3.41x smaller than float with them)."""
    keep = {v.name for v in (*proto.graph.input, *proto.graph.output)}
    names = {}

    def short(name):
        if name in keep or not name:
            return name
        return names.setdefault(name, f"t{len(names)}")

    for node in proto.graph.node:
        node.name, node.doc_string = "", ""
        node.input[:] = [short(x) for x in node.input]
        node.output[:] = [short(x) for x in node.output]
    for tensor in proto.graph.initializer:
        tensor.name = short(tensor.name)
    del proto.graph.value_info[:]  # inferred shapes of inner tensors: optional, runtimes infer them again
    return proto
