"""Automatic mixed precision: `gradcore.amp.autocast(device_type="cpu", dtype=gradcore.bfloat16)`.

PyTorch's CPU semantics for bfloat16: inside the block, the ops PyTorch runs in lower
precision (conv2d, conv_transpose2d, linear, matmul and `@`) take their floating-point inputs
rounded to bfloat16 (round to nearest even), accumulate in float32, and give bfloat16 outputs;
their gradients are bfloat16 too (rounded on the way back). Every other op (losses, softmax,
batch norm, reductions, activations, pooling) runs in float32 as outside the block, and master
weights stay float32: the optimizer updates them with float32 gradients of bfloat16 values.

How it is computed today: the rounding is done by the native conversion kernels (convert.h);
linear and 2-d matmul multiply on the bfloat16 GEMM (gemm_bf16.h: `vdpbf16ps` with
AVX512_BF16, else widened to float32; ops/linear.py LinearBf16, ops/matmul.py MatMul2dBf16),
the convolutions on the float32 kernels. Either way the results are those of bfloat16 inputs
with float32 accumulation, and the "bfloat16" outputs are float32 tensors holding bfloat16
values (the next op reads them without a conversion). A GradScaler is not needed for
bfloat16 (it has float32's exponent range); `device_type` and `dtype` are there so that a CUDA
float16 autocast can add one with the same API.

Autocast state is per thread, like grad mode.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, Optional

import numpy as np

from gradcore import autograd as ag
from gradcore.autograd import Function
from gradcore.bf16 import bfloat16_dtype, is_bfloat16
from gradcore.devices import KERNELS

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype"]


class _ThreadState(threading.local):
    dtype: Optional[np.dtype] = None  # the autocast dtype in force in this thread


_state = _ThreadState()
_lock = threading.Lock()
# How many threads are inside an enabled autocast block: while 0, an op pays one read.
_anywhere = 0


def get_autocast_dtype() -> Optional[np.dtype]:
    """The dtype autocast uses in this thread, or None outside an enabled block."""
    return _state.dtype if _anywhere else None


def is_autocast_enabled() -> bool:
    """True inside an enabled `autocast` block (in this thread)."""
    return get_autocast_dtype() is not None


def _set(dtype: Optional[np.dtype]) -> Optional[np.dtype]:
    """Set this thread's autocast dtype; returns the previous one."""
    global _anywhere
    prev = _state.dtype
    with _lock:
        _anywhere += (dtype is not None) - (prev is not None)
        _state.dtype = dtype
    return prev


class autocast:
    """Context manager (and decorator): inside it, conv2d, conv_transpose2d, linear and
    matmul compute from bfloat16-rounded inputs with float32 accumulation and bfloat16
    outputs (module docstring). `device_type`: "cpu" (a CUDA build will add "cuda");
    `dtype`: gradcore.bfloat16 (the default); `enabled=False` turns it off inside."""

    def __init__(self, device_type: str = "cpu", dtype: Any = None, enabled: bool = True):
        if device_type != "cpu":
            raise RuntimeError(
                f"autocast: device_type {device_type!r} is not available in this build "
                "(only 'cpu'; gradcore.cuda.is_available() says whether CUDA is)"
            )
        if dtype is None:
            dt = bfloat16_dtype() if enabled else None
        else:
            dt = np.dtype(dtype)
        if enabled and not is_bfloat16(dt):
            raise ValueError(
                f"autocast: on the CPU the dtype must be gradcore.bfloat16, got {dt} "
                "(float16 autocast is for CUDA)"
            )
        self.device_type = device_type
        self.dtype = dt
        self.enabled = bool(enabled)
        self._prev: list = []

    def __enter__(self) -> autocast:
        self._prev.append(_set(self.dtype if self.enabled else None))
        return self

    def __exit__(self, *exc) -> None:
        _set(self._prev.pop())

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device_type, self.dtype, self.enabled):
                return fn(*args, **kwargs)

        return wrapper


class RoundToBfloat16(Function):
    """out = a rounded to bfloat16 (RNE), kept as float32; da = g rounded the same way (the
    gradient of a bfloat16 value is bfloat16, as in PyTorch's autocast)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a):
        kern = ctx.kernels = KERNELS[a.__class__]
        return _round(kern, a)

    @staticmethod
    def backward(ctx, g):
        return (_round(ctx.kernels, g),)


def _round(kern, a: np.ndarray) -> np.ndarray:
    if a.dtype != np.float32:  # float64 and integers are left alone, as in PyTorch
        return a
    return kern.bfloat16_to_float(kern.float_to_bfloat16(a))


def lower_precision(op: Callable, tensors: tuple, *rest, **kwargs) -> Any:
    """`op(*tensors, *rest, **kwargs)` under autocast: the Tensors in `tensors` (None allowed)
    rounded to bfloat16, the op run with autocast off in this thread (so it does not round
    again), its output rounded."""
    rounded = tuple(
        RoundToBfloat16.apply(t) if isinstance(t, ag.Tensor) and t._data.dtype == np.float32 else t
        for t in tensors
    )
    prev = _set(None)
    try:
        out = op(*rounded, *rest, **kwargs)
    finally:
        _set(prev)
    if isinstance(out, ag.Tensor) and out._data.dtype == np.float32:
        return RoundToBfloat16.apply(out)
    return out
