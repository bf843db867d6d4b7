"""Batch normalisation through the native kernels, over every axis but 1 of (N, C, *).

y = (x - mean) * invstd * w + b per channel, with batch statistics (training; running
stats updated in place) or the running ones (eval). Backward from the saved mean/invstd.
"""

from __future__ import annotations

import numpy as np

from gradcore.autograd import Function
from gradcore.devices import KERNELS
from gradcore.ops.arrays import contiguous
from gradcore.versions import bump

__all__ = ["batch_norm"]


class BatchNorm(Function):
    """(N, C, *) x, per-channel w, b -> y = (x - mean) * invstd * w + b; backward from
    the saved mean/invstd (batch statistics in training, running ones in eval)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b, rm, rv, training, momentum, eps):
        kern = ctx.kernels = KERNELS[x.__class__]
        x = contiguous(x)
        if training:
            y, mean, invstd = kern.batch_norm_forward_train(x, w, b, rm, rv, momentum, eps)
        else:
            y = kern.batch_norm_forward_eval(x, w, b, rm, rv, eps)
            mean = rm.copy()
            invstd = (1.0 / np.sqrt(rv + eps)).astype(rv.dtype)
        ctx.saved_tensors = (x, w, mean, invstd, training)
        return y

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        x, w, mean, invstd, training = ctx.saved_tensors
        n = ctx.needs_input_grad
        dx, dw, db = kern.batch_norm_backward(contiguous(g), x, w, mean, invstd, training)
        return (
            dx if n[0] else None,
            dw if n[1] else None,
            db if n[2] else None,
            None,
            None,
            None,
            None,
            None,
        )


def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
):
    """Batch normalisation over all axes but 1 of (N, C, *) input. In training, batch
    statistics normalise and the running stats (if given) are updated in place."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected at least 2-d input (N, C, ...), got {input.ndim}-d")
    if training:
        sz = input.shape
        if sz[0] * (int(np.prod(sz[2:])) if len(sz) > 2 else 1) <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {tuple(sz)}"
            )
    elif running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are needed when not training")
    rm = None if running_mean is None else running_mean._data
    rv = None if running_var is None else running_var._data
    if training:  # the kernel updates the running stats in place
        if rm is not None:
            bump(rm)
        if rv is not None:
            bump(rv)
    return BatchNorm.apply(
        input,
        weight,
        bias,
        rm,
        rv,
        bool(training),
        0.1 if momentum is None else float(momentum),
        float(eps),
    )
