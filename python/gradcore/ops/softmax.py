"""Softmax and log-softmax along one dim through the native row-wise kernels.

y = exp(x - max) / sum(exp(x - max)) along dim (log form: x - max - log(sum)).
Backward: dx = y * (g - sum(g * y)) (softmax), dx = g - exp(y) * sum(g) (log-softmax).
The dim is moved last and the rest flattened into rows for the kernels.
"""

from __future__ import annotations

import numpy as np

from gradcore.autograd import Function
from gradcore.devices import KERNELS
from gradcore.ops.arrays import contiguous

__all__ = ["softmax", "log_softmax"]


def _to_rows(x: np.ndarray, dim: int):
    """Move `dim` last and flatten the rest: (rows, cols) for the row-wise kernels."""
    moved = np.moveaxis(x, dim, -1) if dim != x.ndim - 1 else x
    return contiguous(moved).reshape(-1, x.shape[dim]), moved.shape


def _from_rows(y2: np.ndarray, moved_shape, dim: int, ndim: int):
    y = y2.reshape(moved_shape)
    return np.moveaxis(y, -1, dim) if dim != ndim - 1 else y


class Softmax(Function):
    """softmax (log=False) or log_softmax along `dim`; backward per row:
    dx = y (g - sum(g y)) or g - exp(y) sum(g)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, dim, log):
        kern = ctx.kernels = KERNELS[x.__class__]
        x2, moved = _to_rows(x, dim)
        y2 = kern.log_softmax_forward(x2) if log else kern.softmax_forward(x2)
        ctx.saved_tensors = (y2, moved, dim, log)
        return _from_rows(y2, moved, dim, x.ndim)

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        y2, moved, dim, log = ctx.saved_tensors
        g2, _ = _to_rows(g, dim)
        dx2 = kern.log_softmax_backward(g2, y2) if log else kern.softmax_backward(g2, y2)
        return _from_rows(dx2, moved, dim, g.ndim), None, None


def _softmax_dim(ndim: int) -> int:
    # PyTorch's legacy implicit choice
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, dtype=None):
    if dtype is not None:
        input = input.to(dtype=dtype)
    nd = input.ndim
    if nd == 0:
        return Softmax.apply(input.reshape(1), 0, False).reshape(())
    d = _softmax_dim(nd) if dim is None else dim % nd
    return Softmax.apply(input, d, False)


def log_softmax(input, dim=None, dtype=None):
    if dtype is not None:
        input = input.to(dtype=dtype)
    nd = input.ndim
    if nd == 0:
        return Softmax.apply(input.reshape(1), 0, True).reshape(())
    d = _softmax_dim(nd) if dim is None else dim % nd
    return Softmax.apply(input, d, True)
