"""Other runtimes for a fitted network: ONNX export, ONNX Runtime and OpenVINO sessions, static int8.

- ``_graph``: :class:`InferenceGraph`, a fitted network as one traceable function;
- ``_onnx``: export to ONNX bytes, :class:`Session` (ONNX Runtime or OpenVINO), int8 quantization;
- ``_state``: :class:`NetworkRuntime`, what a fitted estimator caches to predict through them.
"""

from ._graph import InferenceGraph
from ._onnx import RUNTIMES, Session, check_deployment, check_runtime, onnx_bytes, quantize_int8
from ._state import MAX_INT8_LOSS, NetworkRuntime, placed

__all__ = ["MAX_INT8_LOSS", "RUNTIMES", "InferenceGraph", "NetworkRuntime", "Session", "check_deployment",
           "check_runtime", "onnx_bytes", "placed", "quantize_int8"]
