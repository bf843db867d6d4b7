"""Helpers of the CUDA tests: the GPU marker and copies to and from the device.

Two kinds of CUDA test: the host-driver tests (gradcore._C.cuda_host runs each CUDA kernel's
per-thread bodies on the CPU) run everywhere; the GPU tests run the CUDA module itself and
skip, with the reason, where gradcore has no CUDA module or no GPU is visible."""

from __future__ import annotations

import numpy as np
import pytest

import gradcore.cuda


def _gpu_skip_reason() -> str:
    if gradcore.cuda._cuda_module() is None:
        return "gradcore was built without its CUDA module (no nvcc, or GRADCORE_CUDA=OFF)"
    if not gradcore.cuda.is_available():
        return "no CUDA GPU visible (gradcore._C_cuda is built; device_count() is 0)"
    return ""


requires_gpu = pytest.mark.skipif(bool(_gpu_skip_reason()), reason=_gpu_skip_reason() or "-")


def cuda_module():
    """gradcore._C_cuda (only called from tests marked requires_gpu)."""
    return gradcore.cuda._cuda_module()


def to_gpu(a: np.ndarray):
    return cuda_module().DeviceArray.from_numpy(np.ascontiguousarray(a))


def to_cpu(d) -> np.ndarray:
    return d.numpy()
