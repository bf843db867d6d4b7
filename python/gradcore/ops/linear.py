"""Fully connected layer op: y = x @ W^T + b through the native GEMM (no transposed copies).

Shapes: x (N, in), W (out, in), b (out,), y (N, out); inputs (..., in) are flattened to rows.
Backward: dx = g @ W, dW = g^T @ x, db = sum of g's rows.
"""

from __future__ import annotations

import numpy as np

from gradcore import amp
from gradcore.autograd import Function
from gradcore.devices import KERNELS
from gradcore.ops.arrays import contiguous

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
        y = np.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
        y[...] = b
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


def linear(input, weight, bias=None):
    """y = input @ weight^T + bias for input (..., in_features), weight (out, in)."""
    if amp._anywhere and amp.get_autocast_dtype() is not None:
        return amp.lower_precision(linear, (input, weight, bias))
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
    if len(shp) == 2:
        return Linear.apply(input, weight, bias)
    y = Linear.apply(input.reshape(-1, shp[-1]), weight, bias)
    return y.reshape(shp[:-1] + (weight.shape[0],))
