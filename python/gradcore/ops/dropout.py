"""Dropout through the native kernel: y = x * mask / (1 - p), mask ~ Bernoulli(1 - p);
dx = g * mask / (1 - p)."""

from __future__ import annotations

from gradcore import random as _random
from gradcore.autograd import Function
from gradcore.devices import KERNELS
from gradcore.ops.arrays import contiguous

__all__ = ["dropout"]


class Dropout(Function):
    """y = x * mask / (1 - p) with a native Bernoulli(1 - p) mask; dx = g * mask / (1 - p)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, p, seed):
        kern = ctx.kernels = KERNELS[x.__class__]
        y, mask = kern.dropout_forward(contiguous(x), p, seed)
        ctx.saved_tensors = (mask, p)
        return y

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        mask, p = ctx.saved_tensors
        return kern.dropout_backward(contiguous(g), mask, p), None, None


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero elements with probability p and scale the rest by 1/(1-p) (training only). The
    native RNG is seeded from the global generator, so gradcore.manual_seed reproduces it."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    return Dropout.apply(input, float(p), _random.draw_seed())
