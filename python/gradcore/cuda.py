"""CUDA devices: whether gradcore's CUDA module is built and how many GPUs it sees.

The CUDA kernels would live in a second extension, `gradcore._C_cuda`, imported lazily on
the first question asked here (never by `import gradcore`, so importing gradcore needs no
CUDA libraries). In a build without it, `is_available()` is False, `device_count()` is 0
and moving a Tensor to "cuda" raises a RuntimeError saying so.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["is_available", "device_count"]

_UNSET = object()
_module: Any = _UNSET  # gradcore._C_cuda, or None when it is not built


def _cuda_module():
    """gradcore._C_cuda, imported on first use; None when this build has no CUDA module."""
    global _module
    if _module is _UNSET:
        try:
            _module = importlib.import_module("gradcore._C_cuda")
        except ImportError:
            _module = None
    return _module


def device_count() -> int:
    """Number of CUDA devices gradcore can use (0 without a CUDA build or GPU)."""
    m = _cuda_module()
    return 0 if m is None else int(m.device_count())


def is_available() -> bool:
    """True when gradcore was built with CUDA and at least one GPU is visible."""
    return device_count() > 0
