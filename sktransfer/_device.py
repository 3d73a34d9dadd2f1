"""Device selection and the CUDA fast path (pinned memory, autocast)."""

from __future__ import annotations

import contextlib

import torch


def resolve_device(device):
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a torch.device into a torch.device.

    ``"auto"`` picks CUDA when available. Asking for CUDA on a machine without
    it is an error that says what to pass instead (never a silent fall-back
    that would make a run 50x slower than the user planned for).
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda' or 'cuda:N'.") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available on this machine; "
            "use device='auto' or device='cpu' (set_params(device='cpu') on a fitted model)."
        )
    return resolved


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
