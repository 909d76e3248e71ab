"""What the trainers share: device choice and mixed precision (bf16 autocast, TF32 on CUDA)."""

from __future__ import annotations

import contextlib

import torch


def default_device() -> torch.device:
    """CUDA when present (with TF32 matmuls allowed), else the CPU."""
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return torch.device("cuda")
    return torch.device("cpu")


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; a no-op context on the CPU (the CPU path stays in float32)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
