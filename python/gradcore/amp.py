"""Automatic mixed precision: `gradcore.amp.autocast(device_type="cpu", dtype=gradcore.bfloat16)`,
and on a GPU `autocast("cuda", dtype=np.float16 or gradcore.bfloat16)`.

PyTorch's CPU semantics for bfloat16: inside the block, the ops PyTorch runs in lower
precision (conv2d, conv_transpose2d, linear, matmul and `@`) take their floating-point inputs
rounded to bfloat16 (round to nearest even), accumulate in float32, and give bfloat16 outputs;
their gradients are bfloat16 too (rounded on the way back). Every other op (losses, softmax,
batch norm, reductions, activations, pooling) runs in float32 as outside the block, and master
weights stay float32: the optimizer updates them with float32 gradients of bfloat16 values.

How it is computed today: the rounding is done by the native conversion kernels (convert.h);
linear and 2-d matmul multiply on the bfloat16 GEMM (gemm_bf16.h: `vdpbf16ps` with
AVX512_BF16, else widened to float32; ops/linear.py LinearBf16, ops/matmul.py MatMul2dBf16),
conv2d on the bfloat16 convolution kernels (conv_bf16.h: im2col in bfloat16 and gemm_bf16;
ops/conv.py Conv2dBf16), conv_transpose2d on the float32 kernels. LinearBf16 and Conv2dBf16
round their own inputs, output and gradients; the other ops run between rounding nodes
(lower_precision). Either way the results are those of bfloat16 inputs with float32
accumulation, and the "bfloat16" outputs are float32 tensors holding bfloat16 values (the
next op reads them without a conversion). A GradScaler is not needed for
bfloat16 (it has float32's exponent range); `device_type` and `dtype` are there so that a CUDA
float16 autocast can use `GradScaler` (gradcore.grad_scaler, re-exported here: torch's dynamic
loss scaling, which already works on CPU float32 gradients and on any device's storage).

On CUDA (device_type "cuda", dtype float16, the default there, or bfloat16) the same ops
and semantics apply to Tensors on a CUDA device: inputs rounded by the CUDA conversion kernels
(round_to_f16 / round_to_bf16: IEEE float16 or bfloat16, round to nearest even), linear and
2-d matmul multiplied on tensor cores by cublasGemmEx (gemm_lowp: 16-bit operands, float32
accumulation), outputs float32 tensors holding float16 / bfloat16 values, like the CPU's. The
convolutions are not on tensor cores yet: they run the float32 kernels on the rounded inputs
(exact, so the results are those of 16-bit inputs with float32 accumulation too). gradcore
has no float16 dtype object of its own: pass numpy's (`np.float16`). float16 gradients can
underflow: use `GradScaler`.

As in PyTorch, an autocast block changes only the ops on its device type: under
autocast("cuda") CPU tensors compute in float32, and the other way round. One autocast is in
force per thread: an inner block replaces the outer one's device type and dtype until it ends.

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
from gradcore.grad_scaler import GradScaler

__all__ = [
    "autocast",
    "is_autocast_enabled",
    "get_autocast_dtype",
    "get_autocast_device_type",
    "GradScaler",
]


class _ThreadState(threading.local):
    dtype: Optional[np.dtype] = None  # the autocast dtype in force in this thread
    device_type: str = "cpu"  # the device type whose ops it changes


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
    matmul on `device_type`'s Tensors compute from inputs rounded to `dtype` with float32
    accumulation and `dtype`-valued outputs (module docstring). `device_type`: "cpu" (dtype
    gradcore.bfloat16, the default) or "cuda" when gradcore.cuda.is_available() (dtype
    np.float16, the default, or gradcore.bfloat16); `enabled=False` turns it off inside."""

    def __init__(self, device_type: str = "cpu", dtype: Any = None, enabled: bool = True):
        if device_type == "cuda":
            _require_cuda()
        elif device_type != "cpu":
            raise RuntimeError(
                f"autocast: device_type {device_type!r} is not available in this build "
                "(only 'cpu' and 'cuda'; gradcore.cuda.is_available() says whether CUDA is)"
            )
        if dtype is not None:
            dt = np.dtype(dtype)
        elif not enabled:
            dt = None
        else:
            dt = np.dtype(np.float16) if device_type == "cuda" else bfloat16_dtype()
        if enabled and device_type == "cpu" and not is_bfloat16(dt):
            raise ValueError(
                f"autocast: on the CPU the dtype must be gradcore.bfloat16, got {dt} "
                "(float16 autocast is for CUDA)"
            )
        if enabled and device_type == "cuda" and not (is_bfloat16(dt) or dt == np.float16):
            raise ValueError(
                f"autocast: on CUDA the dtype must be np.float16 or gradcore.bfloat16, got {dt}"
            )
        self.device_type = device_type
        self.dtype = dt
        self.enabled = bool(enabled)
        self._prev: list = []

    def __enter__(self) -> autocast:
        prev_device = _state.device_type
        _state.device_type = self.device_type
        self._prev.append((_set(self.dtype if self.enabled else None), prev_device))
        return self

    def __exit__(self, *exc) -> None:
        dtype, _state.device_type = self._prev.pop()
        _set(dtype)

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device_type, self.dtype, self.enabled):
                return fn(*args, **kwargs)

        return wrapper


def _require_cuda() -> None:
    """A RuntimeError saying why when autocast("cuda") cannot be used."""
    from gradcore import cuda

    if cuda.is_available():
        return
    try:
        cuda._require()
        why = "gradcore.cuda.is_available() is False"
    except RuntimeError as e:
        why = str(e)
    raise RuntimeError(f"autocast: device_type 'cuda' is not available: {why}")


def get_autocast_device_type() -> Optional[str]:
    """The device type ("cpu" or "cuda") of the autocast in force in this thread, or None
    outside an enabled block."""
    return _state.device_type if get_autocast_dtype() is not None else None


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
    if not isinstance(a, np.ndarray):  # device storage: the CUDA rounding kernel
        return kern.round_to_bf16(a)
    return round_bfloat16(kern, a)


def round_bfloat16(kern, a: np.ndarray, inplace: bool = False) -> np.ndarray:
    """float32 numpy `a` rounded to bfloat16 (RNE), as float32: a new array, or `a` itself
    rounded in place (for arrays nobody else holds yet, such as a kernel's fresh output)."""
    if inplace:
        return kern.round_to_bfloat16(a, a)
    return kern.round_to_bfloat16(np.ascontiguousarray(a))


def round_bfloat16_each(kern, *arrays) -> tuple:
    """Each of `arrays` (fresh kernel outputs, or None) rounded to bfloat16 in place."""
    return tuple(None if a is None else round_bfloat16(kern, a, True) for a in arrays)


def cpu_bfloat16_operands(*tensors) -> bool:
    """True when the autocast in force is the CPU's bfloat16 one and every Tensor among
    `tensors` (None allowed) holds float32 numpy data: an op's bfloat16 kernels can take them
    (else it runs through lower_precision, on rounded float32 values)."""
    if _state.device_type != "cpu" or not is_bfloat16(_state.dtype):
        return False
    for t in tensors:
        if t is None:
            continue
        if not isinstance(t, ag.Tensor):
            return False
        d = t._data
        if d.__class__ is not np.ndarray or d.dtype != np.float32:
            return False
    return True


class RoundToFloat16(Function):
    """out = a rounded to IEEE float16 (RNE, overflow to inf), kept as float32, on a CUDA
    device (round_to_f16); da = g rounded the same way."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a):
        kern = ctx.kernels = KERNELS[a.__class__]
        return kern.round_to_f16(a) if a.dtype == np.float32 else a

    @staticmethod
    def backward(ctx, g):
        return (ctx.kernels.round_to_f16(g) if g.dtype == np.float32 else g,)


def lowp_name(dtype: np.dtype) -> str:
    """gemm_lowp's name of an autocast dtype: "float16" or "bfloat16"."""
    return "bfloat16" if is_bfloat16(dtype) else "float16"


def lower_precision(op: Callable, tensors: tuple, *rest, **kwargs) -> Any:
    """`op(*tensors, *rest, **kwargs)` under autocast: the Tensors in `tensors` (None allowed)
    rounded to the autocast dtype, the op run with autocast off in this thread (so it does not
    round again), its output rounded. When the Tensors are not on the autocast's device type
    the op runs as outside the block. A `lowp` keyword is replaced by the autocast dtype
    (None when the op runs as outside the block): ops with a 16-bit GEMM path read it."""
    dtype = _state.dtype
    data = next((t._data for t in tensors if isinstance(t, ag.Tensor)), None)
    on_cpu = data is None or isinstance(data, np.ndarray)
    active = on_cpu == (_state.device_type == "cpu")
    if "lowp" in kwargs:
        kwargs["lowp"] = dtype if active else None
    if not active:
        rounded = tensors
    else:
        rnd = RoundToBfloat16 if is_bfloat16(dtype) else RoundToFloat16
        rounded = tuple(
            rnd.apply(t) if isinstance(t, ag.Tensor) and t._data.dtype == np.float32 else t
            for t in tensors
        )
    prev = _set(None)
    try:
        out = op(*rounded, *rest, **kwargs)
    finally:
        _set(prev)
    if active and isinstance(out, ag.Tensor) and out._data.dtype == np.float32:
        return rnd.apply(out)
    return out
