"""Losses through the native kernels: cross-entropy (fused log-softmax + NLL, label
smoothing), NLL, MSE, L1 and binary cross-entropy with logits.

Class losses take (N, C) or (N, C, d1, ...) logits and int64 class targets; pointwise
losses take same-shaped (or broadcastable) input and target. Reductions: 'mean', 'sum',
'none' (and PyTorch's legacy size_average/reduce).
"""

from __future__ import annotations

import numpy as np

from gradcore import autograd as ag
from gradcore.autograd import Function
from gradcore.devices import KERNELS
from gradcore.ops.arrays import contiguous

__all__ = [
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "binary_cross_entropy_with_logits",
]

wrap = ag.wrap


def _reduction(reduction: str, op: str) -> str:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def _arr(t):
    if t is None:
        return None
    return contiguous(t._data) if isinstance(t, ag.Tensor) else contiguous(np.asarray(t))


def _target_array(target, op: str) -> np.ndarray:
    t = target._data if isinstance(target, ag.Tensor) else np.asarray(target)
    if t.dtype != np.int64:
        if t.dtype.kind in "iu":
            t = t.astype(np.int64)
        else:
            raise TypeError(f"{op}: target must hold class indices (int64), got dtype {t.dtype}")
    return contiguous(t)


def _class_rows(input, target_arr, op: str):
    """(N, C, d1, ...) logits and (N, d1, ...) targets -> (M, C) rows and (M,) targets."""
    if input.ndim == 1:
        return input.reshape(1, -1), target_arr.reshape(1), ()
    if input.ndim == 2:
        return input, target_arr, None
    c = input.shape[1]
    perm = (0,) + tuple(range(2, input.ndim)) + (1,)
    rows = input.permute(perm).reshape(-1, c)
    return rows, target_arr.reshape(-1), (input.shape[0],) + tuple(input.shape[2:])


class CrossEntropy(Function):
    """(M, C) logits, (M,) int64 targets -> loss (reduced or (M,)): fused log-softmax +
    NLL with class weights, ignore_index and label smoothing; dx = (softmax - smoothed
    one-hot) * weights * g, from the saved log-sum-exp."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, label_smoothing, reduction):
        kern = ctx.kernels = KERNELS[x.__class__]
        x = contiguous(x)
        loss, lse = kern.cross_entropy_forward(
            x, target, weight, ignore_index, label_smoothing, reduction
        )
        ctx.saved_tensors = (x, target, lse, weight, ignore_index, label_smoothing, reduction)
        return loss

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        x, target, lse, weight, ii, ls, reduction = ctx.saved_tensors
        dx = kern.cross_entropy_backward(contiguous(g), x, target, lse, weight, ii, ls, reduction)
        return dx, None, None, None, None, None


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
):
    """Log-softmax + negative log-likelihood over class dim 1, fused in one kernel."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _reduction(reduction, "cross_entropy")
    t = _target_array(target, "cross_entropy")
    rows, trows, out_shape = _class_rows(input, t, "cross_entropy")
    if rows.shape[0] != trows.shape[0]:
        raise ValueError(
            f"cross_entropy: expected target with {rows.shape[0]} elements for input "
            f"{tuple(input.shape)}, got target {tuple(t.shape)}"
        )
    loss = CrossEntropy.apply(
        rows, trows, _arr(weight), int(ignore_index), float(label_smoothing), reduction
    )
    if reduction == "none" and out_shape is not None:
        loss = loss.reshape(out_shape)
    return loss


class NLLLoss(Function):
    """(M, C) log-probabilities, (M,) int64 targets -> -w[t] * x[t] (reduced or (M,));
    dx = -w[t] * g at the target class, zero elsewhere."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        kern = ctx.kernels = KERNELS[x.__class__]
        x = contiguous(x)
        ctx.saved_tensors = (x, target, weight, ignore_index, reduction)
        return kern.nll_loss_forward(x, target, weight, ignore_index, reduction)

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        x, target, weight, ii, reduction = ctx.saved_tensors
        dx = kern.nll_loss_backward(contiguous(g), x, target, weight, ii, reduction)
        return dx, None, None, None, None


def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _reduction(reduction, "nll_loss")
    t = _target_array(target, "nll_loss")
    rows, trows, out_shape = _class_rows(input, t, "nll_loss")
    if rows.shape[0] != trows.shape[0]:
        raise ValueError(
            f"nll_loss: expected target with {rows.shape[0]} elements for input "
            f"{tuple(input.shape)}, got target {tuple(t.shape)}"
        )
    loss = NLLLoss.apply(rows, trows, _arr(weight), int(ignore_index), reduction)
    if reduction == "none" and out_shape is not None:
        loss = loss.reshape(out_shape)
    return loss


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _same_shape(input, target, op):
    if not isinstance(target, ag.Tensor):
        target = wrap(np.asarray(target, dtype=input.dtype), False, None)
    if tuple(target.shape) != tuple(input.shape):
        try:
            shape = np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ValueError(
                f"{op}: target shape {tuple(target.shape)} does not broadcast with input shape "
                f"{tuple(input.shape)}"
            ) from None
        input = input.expand(shape) if tuple(input.shape) != shape else input
        target = target.expand(shape) if tuple(target.shape) != shape else target
    if target.dtype != input.dtype:
        raise TypeError(f"{op}: target dtype {target.dtype} differs from input dtype {input.dtype}")
    return input, target


class PointwiseLoss(Function):
    """MSE (which=0): (x - t)^2, L1 (which=1): |x - t|, reduced by `reduction`;
    dx = 2 (x - t) g or sign(x - t) g (divided by n for "mean"); dt = -dx."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, t, reduction, which):
        kern = ctx.kernels = KERNELS[x.__class__]
        x = contiguous(x)
        t = contiguous(t)
        ctx.saved_tensors = (x, t, reduction, which)
        f = kern.mse_loss_forward if which == 0 else kern.l1_loss_forward
        return f(x, t, reduction)

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        x, t, reduction, which = ctx.saved_tensors
        f = kern.mse_loss_backward if which == 0 else kern.l1_loss_backward
        dx = f(contiguous(g), x, t, reduction)
        n = ctx.needs_input_grad
        return (dx if n[0] else None, -dx if n[1] else None, None, None)


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    reduction = _reduction(_legacy_reduction(size_average, reduce, reduction), "mse_loss")
    input, target = _same_shape(input, target, "mse_loss")
    return PointwiseLoss.apply(input, target, reduction, 0)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    reduction = _reduction(_legacy_reduction(size_average, reduce, reduction), "l1_loss")
    input, target = _same_shape(input, target, "l1_loss")
    return PointwiseLoss.apply(input, target, reduction, 1)


class BCEWithLogits(Function):
    """loss = -w [pw t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], stable form;
    dx = w [(pw t + 1 - t) sigmoid(x) - pw t] g."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, t, weight, pos_weight, reduction):
        kern = ctx.kernels = KERNELS[x.__class__]
        x = contiguous(x)
        t = contiguous(t)
        ctx.saved_tensors = (x, t, weight, pos_weight, reduction)
        return kern.bce_with_logits_forward(x, t, weight, pos_weight, reduction)

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        x, t, weight, pw, reduction = ctx.saved_tensors
        dx = kern.bce_with_logits_backward(contiguous(g), x, t, weight, pw, reduction)
        return dx, None, None, None, None


def binary_cross_entropy_with_logits(
    input,
    target,
    weight=None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight=None,
):
    """Sigmoid + binary cross-entropy, numerically stable. `weight` broadcasts to the input;
    `pos_weight` weighs positives per class (last dim)."""
    reduction = _reduction(
        _legacy_reduction(size_average, reduce, reduction), "binary_cross_entropy_with_logits"
    )
    if not isinstance(target, ag.Tensor):
        target = wrap(np.asarray(target, dtype=input.dtype), False, None)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"binary_cross_entropy_with_logits: target size {tuple(target.shape)} must be the "
            f"same as input size {tuple(input.shape)}"
        )
    shape = tuple(input.shape)
    w = None if weight is None else contiguous(np.broadcast_to(_arr(weight), shape))
    pw = None if pos_weight is None else contiguous(np.broadcast_to(_arr(pos_weight), shape))
    return BCEWithLogits.apply(input, target, w, pw, reduction)
