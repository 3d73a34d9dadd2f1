"""Device selection and the CUDA fast path (pinned memory, autocast)."""

from __future__ import annotations

import contextlib
import copy
import os

import torch

#: Set in a worker process by ``sktransfer.dask.configure_workers``: torch
#: threads and CUDA device for the estimators' work there. Environment
#: variables, because torch's thread count and CUDA's current device belong
#: to the calling thread, and Dask runs tasks in threads of its own.
TORCH_THREADS_ENV = "SKTRANSFER_TORCH_THREADS"
CUDA_DEVICE_ENV = "SKTRANSFER_CUDA_DEVICE"


def resolve_device(device):
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a torch.device into a torch.device.

    ``"auto"`` picks CUDA when available. Asking for CUDA on a machine without
    it is an error that says what to pass instead (never a silent fall-back
    that would make a run 50x slower than the user planned for).

    On a worker configured by ``sktransfer.dask.configure_workers``, it also
    applies the worker's torch thread count to the calling thread, and
    ``"auto"`` picks the worker's GPU.

    Examples
    --------
    >>> from sktransfer._device import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("meta")
    Traceback (most recent call last):
    ...
    ValueError: device='meta' is not supported: sktransfer runs on 'cpu', 'cuda[:N]' or 'mps'; use device='auto' or device='cpu' (set_params(device='cpu') on a fitted model).
    """
    _apply_worker_threads()
    if device == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        index = _worker_gpu()
        return torch.device("cuda" if index is None else f"cuda:{index % torch.cuda.device_count()}")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda' or 'cuda:N'.") from exc
    fix = "use device='auto' or device='cpu' (set_params(device='cpu') on a fitted model)."
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} but CUDA is not available on this machine; {fix}")
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise ValueError(f"device={device!r} but this machine has {count} CUDA device(s), "
                             f"cuda:0..cuda:{count - 1}; pick one of them or {fix}")
    elif resolved.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"device={device!r} but Apple's MPS is not available on this machine; {fix}")
    elif resolved.type != "cpu":
        # "meta" holds no data, and other backends (xpu, ...) are untested: fail here, not deep in torch.
        raise ValueError(f"device={device!r} is not supported: sktransfer runs on 'cpu', 'cuda[:N]' or 'mps'; {fix}")
    return resolved


def _apply_worker_threads():
    """Apply ``$SKTRANSFER_TORCH_THREADS`` (set by configure_workers, or by hand) to the calling thread."""
    text = os.environ.get(TORCH_THREADS_ENV, "").strip()
    if not text:
        return
    try:
        threads = int(text)
    except ValueError:
        threads = 0
    if threads < 1:  # torch would raise a bare RuntimeError, or silently take 0 as "all"
        raise ValueError(
            f"The environment variable {TORCH_THREADS_ENV}={os.environ[TORCH_THREADS_ENV]!r} is not a positive "
            f"int (torch threads per task). Set it to a number such as 1 or 4, or unset it "
            f"(unset {TORCH_THREADS_ENV}; in Python: del os.environ[{TORCH_THREADS_ENV!r}])."
        )
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _worker_gpu():
    """``$SKTRANSFER_CUDA_DEVICE`` (set by configure_workers, or by hand) as an int, or None when unset."""
    text = os.environ.get(CUDA_DEVICE_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(
            f"The environment variable {CUDA_DEVICE_ENV}={os.environ[CUDA_DEVICE_ENV]!r} is not a GPU index (an int "
            f">= 0). Set it to a number such as 0, or unset it (in Python: del os.environ[{CUDA_DEVICE_ENV!r}])."
        )
    return int(text)


def autocast(device, enabled=True):
    """bf16 autocast on CUDA; a no-op elsewhere (bf16 on most CPUs is slower than fp32)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def pin(batch, device):
    """Page-lock a CPU batch bound for CUDA so the copy can be asynchronous."""
    if device.type != "cuda":
        return batch
    if isinstance(batch, torch.Tensor):
        return batch.pin_memory()
    return [t.pin_memory() for t in batch]


def release_cuda_memory(device):
    """Return cached CUDA blocks to the driver (between grid-search candidates)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()


@contextlib.contextmanager
def on_device(module, device):
    """Run ``module`` on ``device`` for the block, then put it back on the CPU.

    The one device round trip of the library: channels-last on every device
    (oneDNN's and cuDNN's convolutions prefer it; measured 2x faster training
    steps on CPU), back to a contiguous CPU copy afterwards so pickles and the
    next call see an ordinary module, and cached CUDA blocks released (between
    grid-search candidates, GPU memory is free again).

    Examples
    --------
    >>> import torch
    >>> from sktransfer._device import on_device
    >>> conv = torch.nn.Conv2d(1, 2, 3)
    >>> with on_device(conv, torch.device("cpu")) as moved:
    ...     moved.weight.is_contiguous(memory_format=torch.channels_last)
    True
    >>> conv.weight.is_contiguous()
    True
    """
    try:
        yield module.to(device, memory_format=torch.channels_last)
    finally:
        module.to("cpu", memory_format=torch.contiguous_format)
        release_cuda_memory(device)


@contextlib.contextmanager
def seeded(seed, device):
    """Seed torch's generators (CPU and ``device``'s CUDA one) for the block, and restore them after.

    ``seed=None`` leaves them alone: unseeded runs draw from the global state.

    Examples
    --------
    >>> import torch
    >>> from sktransfer._device import seeded
    >>> with seeded(0, torch.device("cpu")):
    ...     a = torch.rand(1)
    >>> with seeded(0, torch.device("cpu")):
    ...     b = torch.rand(1)
    >>> bool(a == b)
    True
    """
    devices = []
    if device.type == "cuda":
        devices = [torch.cuda.current_device() if device.index is None else device.index]
    with torch.random.fork_rng(devices=devices, enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(int(seed))
        yield


def cpu_copy(obj):
    """A CPU copy of a module or Backbone whose tensors live on another device; anything else unchanged.

    Examples
    --------
    >>> import torch
    >>> from sktransfer._device import cpu_copy
    >>> cpu_copy("efficientnet_lite0"), next(cpu_copy(torch.nn.Linear(2, 2)).parameters()).device
    ('efficientnet_lite0', device(type='cpu'))
    """
    module = getattr(obj, "trunk", obj)
    if not isinstance(module, torch.nn.Module):
        return obj
    tensors = list(module.parameters()) + list(module.buffers())
    if all(t.device.type == "cpu" for t in tensors):
        return obj
    copied = copy.deepcopy(obj)
    getattr(copied, "trunk", copied).to("cpu")
    return copied


def cpu_state_dict(module):
    """CPU copies of ``module``'s state dict, so that what was trained on CUDA loads on a machine without it.

    Examples
    --------
    >>> import torch
    >>> from sktransfer._device import cpu_state_dict
    >>> sorted(cpu_state_dict(torch.nn.Linear(2, 1)))
    ['bias', 'weight']
    """
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
