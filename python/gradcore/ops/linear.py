"""Fully connected layer op: y = x @ W^T + b through the native GEMM (no transposed copies).

Shapes: x (N, in), W (out, in), b (out,), y (N, out); inputs (..., in) are flattened to rows.
Backward: dx = g @ W, dW = g^T @ x, db = sum of g's rows.
"""

from __future__ import annotations

import numpy as np

from gradcore import amp
from gradcore.autograd import Function, apply3
from gradcore.devices import KERNELS
from gradcore.ops.arrays import contiguous
from gradcore.ops.matmul import bf16_bits, mm_bf16

__all__ = ["linear"]


class Linear(Function):
    """y = x @ W^T + b on (N, in) rows; dx = g @ W, dW = g^T @ x, db = sum_rows(g)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b):
        kern = ctx.kernels = KERNELS[x.__class__]
        x = contiguous(x)
        w = contiguous(w)
        ctx.saved_tensors = (x, w)
        if b is None:
            return kern.gemm(x, w, None, False, True)
        if not isinstance(x, np.ndarray):
            return kern.gemm(x, w, None, False, True) + b  # device storage: broadcast add
        y = np.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
        y[...] = b  # the GEMM adds x @ W^T onto the bias rows (beta = 1)
        return kern.gemm(x, w, y, False, True, 1.0, 1.0)

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        x, w = ctx.saved_tensors
        n = ctx.needs_input_grad
        g = contiguous(g)
        dx = kern.gemm(g, w) if n[0] else None
        dw = kern.gemm(g, x, None, True, False) if n[1] else None
        db = kern.sum_rows(g) if n[2] else None
        return dx, dw, db


class LinearBf16(Function):
    """Linear under CPU bfloat16 autocast (gradcore.amp), float32 x, W, b: each rounded to
    bfloat16 (RNE) once, on the way to bit patterns; the products on gemm_bf16 (float32
    sums); y rounded to bfloat16 values, kept float32. y = x @ W^T + b; backward: g rounded
    to bfloat16, dx = g @ W, dW = g^T @ x, db = sum_rows(g), each rounded too (bfloat16
    gradients, as in PyTorch). Saves x and W as bfloat16 (half the bytes)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b):
        kern = ctx.kernels = KERNELS[x.__class__]
        xb, wb = bf16_bits(kern, x), bf16_bits(kern, w)
        ctx.saved_tensors = (xb, wb)
        y = mm_bf16(kern, xb, wb, False, True)
        if b is not None:
            y += amp.round_bfloat16(kern, b)
        return amp.round_bfloat16(kern, y, True)

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        xb, wb = ctx.saved_tensors
        n = ctx.needs_input_grad
        gb = bf16_bits(kern, g)
        dx = mm_bf16(kern, gb, wb) if n[0] else None
        dw = mm_bf16(kern, gb, xb, True, False) if n[1] else None
        db = kern.sum_rows(kern.bfloat16_to_float(gb)) if n[2] else None
        return amp.round_bfloat16_each(kern, dx, dw, db)


class LinearLowp(Function):
    """Linear under CUDA autocast (gradcore.amp): x, W, b hold float16 / bfloat16 values in
    float32 (`dtype`: gemm_lowp's "float16" or "bfloat16") and g arrives rounded the same way
    (amp rounds it); the products run on tensor cores through gemm_lowp (float32 sums).
    y = x @ W^T + b; dx = g @ W, dW = g^T @ x, db = sum_rows(g)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b, dtype):
        kern = ctx.kernels = KERNELS[x.__class__]
        ctx.saved_tensors = (x, w, dtype)
        y = kern.gemm_lowp(x, w, None, False, True, 1.0, 0.0, dtype)
        return y if b is None else y + b

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        x, w, dtype = ctx.saved_tensors
        n = ctx.needs_input_grad
        g = contiguous(g)
        dx = kern.gemm_lowp(g, w, None, False, False, 1.0, 0.0, dtype) if n[0] else None
        dw = kern.gemm_lowp(g, x, None, True, False, 1.0, 0.0, dtype) if n[1] else None
        db = kern.sum_rows(g) if n[2] else None
        return dx, dw, db, None


def linear(input, weight, bias=None):
    """y = input @ weight^T + bias for input (..., in_features), weight (out, in)."""
    if amp._anywhere and amp.get_autocast_dtype() is not None:
        if amp.cpu_bfloat16_operands(input, weight, bias):  # LinearBf16 rounds its own
            return _linear(input, weight, bias, lowp=amp.get_autocast_dtype())
        return amp.lower_precision(_linear, (input, weight, bias), lowp=True)
    return _linear(input, weight, bias)


def _linear(input, weight, bias=None, lowp=None):
    """linear's checks and its Function: under autocast (`lowp`: its dtype) LinearBf16 on the
    CPU (which rounds its inputs and output itself), LinearLowp on a device (inputs already
    rounded by amp.lower_precision); else Linear."""
    shp = input.shape
    if shp[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input has {shp[-1]} features but weight expects {weight.shape[1]} "
            f"(input {tuple(shp)}, weight {tuple(weight.shape)})"
        )
    if input.dtype != weight.dtype:
        raise TypeError(
            f"linear: input dtype {input.dtype} differs from weight dtype {weight.dtype}"
        )
    if bias is not None and (bias.shape != weight.shape[:1] or bias.dtype != weight.dtype):
        raise ValueError(
            f"linear: bias must have shape {weight.shape[:1]} and the weight's dtype "
            f"{weight.dtype}, got {bias.shape} {bias.dtype}"
        )
    fn, extra = Linear, ()
    if lowp is not None and weight.dtype == np.float32:
        if isinstance(getattr(weight, "_data", weight), np.ndarray):
            fn = LinearBf16
        else:
            fn, extra = LinearLowp, (amp.lowp_name(lowp),)
    if len(shp) == 2:
        return apply3(fn, input, weight, bias, *extra)
    y = apply3(fn, input.reshape(-1, shp[-1]), weight, bias, *extra)
    return y.reshape(shp[:-1] + (weight.shape[0],))
