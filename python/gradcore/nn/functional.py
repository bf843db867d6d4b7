# long-file: being split into ops/ (issue 15)
"""Differentiable operations (PyTorch's names, arguments and defaults), each a Function whose
forward and backward call the native kernels in gradcore._C.

Gradients nobody needs are not computed (e.g. the input gradient of a network's first
convolution): each backward looks at ctx.needs_input_grad.
"""

from __future__ import annotations

import math

import numpy as np

from gradcore import _C
from gradcore import autograd as _ag
from gradcore import profiler as _profiler
from gradcore import random as _random
from gradcore.autograd import Function, _node1
from gradcore.ops.conv_transpose import conv_transpose2d
from gradcore.tensor import Tensor, _wrap, matmul

__all__ = [
    "conv2d",
    "conv_transpose2d",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "linear",
    "relu",
    "leaky_relu",
    "sigmoid",
    "tanh",
    "gelu",
    "softmax",
    "log_softmax",
    "dropout",
    "batch_norm",
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "binary_cross_entropy_with_logits",
    "flatten",
    "matmul",
]


def _c(a: np.ndarray) -> np.ndarray:
    """C-contiguous (the kernels' layout); a no-op for arrays that already are."""
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _pair(v, name: str, op: str) -> tuple:
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    try:
        t = tuple(int(x) for x in v)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}") from None
    if len(t) == 1:
        return (t[0], t[0])
    if len(t) != 2:
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    return t


def _reduction(reduction: str, op: str) -> str:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def _arr(t):
    if t is None:
        return None
    return _c(t._data) if isinstance(t, Tensor) else _c(np.asarray(t))


# ---------------------------------------------------------------- convolution
class _Conv2d(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups):
        x = _c(x)
        w = _c(w)
        ctx.saved_tensors = (x, w, stride, padding, dilation, groups)
        b = None if b is None else _c(b)  # a strided view of a bias (issue 16 property test)
        return _C.conv2d_forward(x, w, b, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, g):
        x, w, stride, padding, dilation, groups = ctx.saved_tensors
        n = ctx.needs_input_grad
        g = _c(g)
        dx = (
            _C.conv2d_backward_input(g, w, x.shape[2:], stride, padding, dilation, groups)
            if n[0]
            else None
        )
        dw = (
            _C.conv2d_backward_weight(g, x, w.shape[2:], stride, padding, dilation, groups)
            if n[1]
            else None
        )
        db = _C.conv2d_backward_bias(g) if n[2] else None
        return dx, dw, db, None, None, None, None


_PAIRS = {}  # int or tuple argument -> (h, w) pair, so repeated calls skip the parsing


def _pair_fast(v, name, op):
    try:
        return _PAIRS[v]
    except (KeyError, TypeError):
        p = _pair(v, name, op)
        if isinstance(v, (int, tuple)) and not isinstance(v, bool):
            _PAIRS[v] = p
        return p


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution (cross-correlation) of (N, C, H, W) input with (K, C/groups, R, S)
    weight; `padding` may be an int, a pair, "valid" or "same" (stride 1)."""
    stride = _pair_fast(stride, "stride", "conv2d")
    dilation = _pair_fast(dilation, "dilation", "conv2d")
    x = input._data
    if x.ndim == 4 and padding.__class__ is not str:
        padding = _pair_fast(padding, "padding", "conv2d")
        if _ag._grad_enabled and (
            input.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
        ):
            return _Conv2d.apply(input, weight, bias, stride, padding, dilation, int(groups))
        # inference: no node, straight to the kernel
        w = weight._data
        b = None if bias is None else bias._data
        try:
            y = _C.conv2d_forward(x, w, b, stride, padding, dilation, groups)
        except ValueError:
            b = None if b is None else _c(b)
            y = _C.conv2d_forward(_c(x), _c(w), b, stride, padding, dilation, groups)
        if _ag._anomaly:
            _ag._check_finite(y, "Conv2d", "forward output")
        return _wrap(y, False, None)
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError("conv2d: padding='same' is not supported for strided convolutions")
            r, s = weight.shape[2], weight.shape[3]
            tot = (dilation[0] * (r - 1), dilation[1] * (s - 1))
            if tot[0] % 2 or tot[1] % 2:
                raise ValueError("conv2d: padding='same' needs an odd (dilated) kernel size here")
            padding = (tot[0] // 2, tot[1] // 2)
        else:
            raise ValueError(
                f"conv2d: padding must be 'valid', 'same', an int or a pair, got {padding!r}"
            )
    else:
        padding = _pair(padding, "padding", "conv2d")
    if input.ndim == 3:  # unbatched (C, H, W)
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(
            0
        )
    return _Conv2d.apply(input, weight, bias, stride, padding, dilation, int(groups))


# -------------------------------------------------------------------- pooling
class _MaxPool2d(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, k, s, p, d, ceil_mode):
        y, idx = _C.max_pool2d_forward(_c(x), k, s, p, d, ceil_mode)
        ctx.saved_tensors = (idx, x.shape)
        return y, idx

    @staticmethod
    def backward(ctx, g):
        idx, shape = ctx.saved_tensors
        return _C.max_pool2d_backward(_c(g), idx, shape), None, None, None, None, None


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    k = _pair(kernel_size, "kernel_size", "max_pool2d")
    s = (
        k
        if stride is None or (not isinstance(stride, int) and len(stride) == 0)
        else _pair(stride, "stride", "max_pool2d")
    )
    p = _pair(padding, "padding", "max_pool2d")
    d = _pair(dilation, "dilation", "max_pool2d")
    if input.ndim == 3:
        r = max_pool2d(input.unsqueeze(0), k, s, p, d, ceil_mode, True)
        return (r[0].squeeze(0), r[1].squeeze(0)) if return_indices else r[0].squeeze(0)
    y, idx = _MaxPool2d.apply(input, k, s, p, d, bool(ceil_mode))
    return (y, idx) if return_indices else y


class _AvgPool2d(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, k, s, p, ceil_mode, cip, div):
        ctx.saved_tensors = (x.shape, k, s, p, ceil_mode, cip, div)
        return _C.avg_pool2d_forward(_c(x), k, s, p, ceil_mode, cip, div)

    @staticmethod
    def backward(ctx, g):
        shape, k, s, p, ceil_mode, cip, div = ctx.saved_tensors
        dx = _C.avg_pool2d_backward(_c(g), shape, k, s, p, ceil_mode, cip, div)
        return dx, None, None, None, None, None, None


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    k = _pair(kernel_size, "kernel_size", "avg_pool2d")
    s = (
        k
        if stride is None or (not isinstance(stride, int) and len(stride) == 0)
        else _pair(stride, "stride", "avg_pool2d")
    )
    p = _pair(padding, "padding", "avg_pool2d")
    div = 0 if divisor_override is None else int(divisor_override)
    if input.ndim == 3:
        return avg_pool2d(
            input.unsqueeze(0), k, s, p, ceil_mode, count_include_pad, divisor_override
        ).squeeze(0)
    return _AvgPool2d.apply(input, k, s, p, bool(ceil_mode), bool(count_include_pad), div)


class _AdaptiveAvgPool2d(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, out_hw):
        ctx.saved_tensors = x.shape
        return _C.adaptive_avg_pool2d_forward(_c(x), out_hw)

    @staticmethod
    def backward(ctx, g):
        return _C.adaptive_avg_pool2d_backward(_c(g), ctx.saved_tensors), None


def adaptive_avg_pool2d(input, output_size):
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size, output_size)
    h, w = input.shape[-2:]
    oh = h if output_size[0] is None else int(output_size[0])
    ow = w if output_size[1] is None else int(output_size[1])
    if input.ndim == 3:
        return _AdaptiveAvgPool2d.apply(input.unsqueeze(0), (oh, ow)).squeeze(0)
    return _AdaptiveAvgPool2d.apply(input, (oh, ow))


# --------------------------------------------------------------------- linear
_gemm = _C.gemm


class _Linear(Function):
    """y = x @ W^T + b on (N, in) rows, through the native GEMM (no transposed copies)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b):
        x = _c(x)
        w = _c(w)
        ctx.saved_tensors = (x, w)
        if b is None:
            return _gemm(x, w, None, False, True)
        y = np.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
        y[...] = b
        return _gemm(x, w, y, False, True, 1.0, 1.0)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        n = ctx.needs_input_grad
        g = _c(g)
        dx = _gemm(g, w) if n[0] else None
        dw = _gemm(g, x, None, True, False) if n[1] else None
        db = _C.sum_rows(g) if n[2] else None
        return dx, dw, db


def linear(input, weight, bias=None):
    """y = input @ weight^T + bias for input (..., in_features), weight (out, in)."""
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
    if len(shp) == 2:
        return _Linear.apply(input, weight, bias)
    y = _Linear.apply(input.reshape(-1, shp[-1]), weight, bias)
    return y.reshape(shp[:-1] + (weight.shape[0],))


# ---------------------------------------------------------------- activations
_relu_forward = _C.relu_forward
_relu_backward = _C.relu_backward


class _ReLU(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        y = _C.relu_forward(_c(x))
        ctx.saved_tensors = y
        return y

    @staticmethod
    def backward(ctx, g):
        try:
            return _relu_backward(g, ctx.saved_tensors)
        except ValueError:
            return _relu_backward(np.ascontiguousarray(g), ctx.saved_tensors)


def relu(input, inplace: bool = False):
    if _profiler._active is not None:  # the general path records a "ReLU.forward" span
        return _ReLU.apply(input)
    x = input._data
    try:
        y = _relu_forward(x)
    except ValueError:  # not C-contiguous (or the binding's own error, raised again below)
        y = _relu_forward(np.ascontiguousarray(x))
    if input.requires_grad and _ag._grad_enabled:
        ctx = _node1(_ReLU, input)
        ctx.saved_tensors = y
        if _ag._anomaly:
            _ag._check_finite(y, "ReLU", "forward output")
        return _wrap(y, True, ctx)
    return _wrap(y, False, None)


class _LeakyReLU(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, slope):
        x = _c(x)
        ctx.saved_tensors = (x, slope)
        return _C.leaky_relu_forward(x, slope)

    @staticmethod
    def backward(ctx, g):
        x, slope = ctx.saved_tensors
        return _C.leaky_relu_backward(_c(g), x, slope), None


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    return _LeakyReLU.apply(input, float(negative_slope))


class _Sigmoid(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        y = _C.sigmoid_forward(_c(x))
        ctx.saved_tensors = y
        return y

    @staticmethod
    def backward(ctx, g):
        return _C.sigmoid_backward(_c(g), ctx.saved_tensors)


def sigmoid(input):
    return _Sigmoid.apply(input)


class _Tanh(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        y = _C.tanh_forward(_c(x))
        ctx.saved_tensors = y
        return y

    @staticmethod
    def backward(ctx, g):
        return _C.tanh_backward(_c(g), ctx.saved_tensors)


def tanh(input):
    return _Tanh.apply(input)


class _GELU(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, approximate):
        x = _c(x)
        ctx.saved_tensors = (x, approximate)
        return _C.gelu_forward(x, approximate)

    @staticmethod
    def backward(ctx, g):
        x, approximate = ctx.saved_tensors
        return _C.gelu_backward(_c(g), x, approximate), None


def gelu(input, approximate: str = "none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _GELU.apply(input, approximate)


# -------------------------------------------------------------------- softmax
def _to_rows(x: np.ndarray, dim: int):
    """Move `dim` last and flatten the rest: (rows, cols) for the row-wise kernels."""
    moved = np.moveaxis(x, dim, -1) if dim != x.ndim - 1 else x
    return _c(moved).reshape(-1, x.shape[dim]), moved.shape


def _from_rows(y2: np.ndarray, moved_shape, dim: int, ndim: int):
    y = y2.reshape(moved_shape)
    return np.moveaxis(y, -1, dim) if dim != ndim - 1 else y


class _Softmax(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, dim, log):
        x2, moved = _to_rows(x, dim)
        y2 = _C.log_softmax_forward(x2) if log else _C.softmax_forward(x2)
        ctx.saved_tensors = (y2, moved, dim, log)
        return _from_rows(y2, moved, dim, x.ndim)

    @staticmethod
    def backward(ctx, g):
        y2, moved, dim, log = ctx.saved_tensors
        g2, _ = _to_rows(g, dim)
        dx2 = _C.log_softmax_backward(g2, y2) if log else _C.softmax_backward(g2, y2)
        return _from_rows(dx2, moved, dim, g.ndim), None, None


def _softmax_dim(ndim: int) -> int:
    # PyTorch's legacy implicit choice
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, dtype=None):
    if dtype is not None:
        input = input.to(dtype=dtype)
    nd = input.ndim
    if nd == 0:
        return _Softmax.apply(input.reshape(1), 0, False).reshape(())
    d = _softmax_dim(nd) if dim is None else dim % nd
    return _Softmax.apply(input, d, False)


def log_softmax(input, dim=None, dtype=None):
    if dtype is not None:
        input = input.to(dtype=dtype)
    nd = input.ndim
    if nd == 0:
        return _Softmax.apply(input.reshape(1), 0, True).reshape(())
    d = _softmax_dim(nd) if dim is None else dim % nd
    return _Softmax.apply(input, d, True)


# -------------------------------------------------------------------- dropout
class _Dropout(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, p, seed):
        y, mask = _C.dropout_forward(_c(x), p, seed)
        ctx.saved_tensors = (mask, p)
        return y

    @staticmethod
    def backward(ctx, g):
        mask, p = ctx.saved_tensors
        return _C.dropout_backward(_c(g), mask, p), None, None


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero elements with probability p and scale the rest by 1/(1-p) (training only). The
    native RNG is seeded from the global generator, so gradcore.manual_seed reproduces it."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    return _Dropout.apply(input, float(p), _random.draw_seed())


# ----------------------------------------------------------------- batch norm
class _BatchNorm(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b, rm, rv, training, momentum, eps):
        x = _c(x)
        if training:
            y, mean, invstd = _C.batch_norm_forward_train(x, w, b, rm, rv, momentum, eps)
        else:
            y = _C.batch_norm_forward_eval(x, w, b, rm, rv, eps)
            mean = rm.copy()
            invstd = (1.0 / np.sqrt(rv + eps)).astype(rv.dtype)
        ctx.saved_tensors = (x, w, mean, invstd, training)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w, mean, invstd, training = ctx.saved_tensors
        n = ctx.needs_input_grad
        dx, dw, db = _C.batch_norm_backward(_c(g), x, w, mean, invstd, training)
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
    return _BatchNorm.apply(
        input,
        weight,
        bias,
        rm,
        rv,
        bool(training),
        0.1 if momentum is None else float(momentum),
        float(eps),
    )


# --------------------------------------------------------------------- losses
def _target_array(target, op: str) -> np.ndarray:
    t = target._data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype != np.int64:
        if t.dtype.kind in "iu":
            t = t.astype(np.int64)
        else:
            raise TypeError(f"{op}: target must hold class indices (int64), got dtype {t.dtype}")
    return _c(t)


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


class _CrossEntropy(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, label_smoothing, reduction):
        x = _c(x)
        loss, lse = _C.cross_entropy_forward(
            x, target, weight, ignore_index, label_smoothing, reduction
        )
        ctx.saved_tensors = (x, target, lse, weight, ignore_index, label_smoothing, reduction)
        return loss

    @staticmethod
    def backward(ctx, g):
        x, target, lse, weight, ii, ls, reduction = ctx.saved_tensors
        dx = _C.cross_entropy_backward(_c(g), x, target, lse, weight, ii, ls, reduction)
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
    loss = _CrossEntropy.apply(
        rows, trows, _arr(weight), int(ignore_index), float(label_smoothing), reduction
    )
    if reduction == "none" and out_shape is not None:
        loss = loss.reshape(out_shape)
    return loss


class _NLLLoss(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        x = _c(x)
        ctx.saved_tensors = (x, target, weight, ignore_index, reduction)
        return _C.nll_loss_forward(x, target, weight, ignore_index, reduction)

    @staticmethod
    def backward(ctx, g):
        x, target, weight, ii, reduction = ctx.saved_tensors
        dx = _C.nll_loss_backward(_c(g), x, target, weight, ii, reduction)
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
    loss = _NLLLoss.apply(rows, trows, _arr(weight), int(ignore_index), reduction)
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
    if not isinstance(target, Tensor):
        target = _wrap(np.asarray(target, dtype=input.dtype), False, None)
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


class _PointwiseLoss(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, t, reduction, which):
        x = _c(x)
        t = _c(t)
        ctx.saved_tensors = (x, t, reduction, which)
        f = _C.mse_loss_forward if which == 0 else _C.l1_loss_forward
        return f(x, t, reduction)

    @staticmethod
    def backward(ctx, g):
        x, t, reduction, which = ctx.saved_tensors
        f = _C.mse_loss_backward if which == 0 else _C.l1_loss_backward
        dx = f(_c(g), x, t, reduction)
        n = ctx.needs_input_grad
        return (dx if n[0] else None, -dx if n[1] else None, None, None)


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    reduction = _reduction(_legacy_reduction(size_average, reduce, reduction), "mse_loss")
    input, target = _same_shape(input, target, "mse_loss")
    return _PointwiseLoss.apply(input, target, reduction, 0)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    reduction = _reduction(_legacy_reduction(size_average, reduce, reduction), "l1_loss")
    input, target = _same_shape(input, target, "l1_loss")
    return _PointwiseLoss.apply(input, target, reduction, 1)


class _BCEWithLogits(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, t, weight, pos_weight, reduction):
        x = _c(x)
        t = _c(t)
        ctx.saved_tensors = (x, t, weight, pos_weight, reduction)
        return _C.bce_with_logits_forward(x, t, weight, pos_weight, reduction)

    @staticmethod
    def backward(ctx, g):
        x, t, weight, pw, reduction = ctx.saved_tensors
        dx = _C.bce_with_logits_backward(_c(g), x, t, weight, pw, reduction)
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
    if not isinstance(target, Tensor):
        target = _wrap(np.asarray(target, dtype=input.dtype), False, None)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"binary_cross_entropy_with_logits: target size {tuple(target.shape)} must be the "
            f"same as input size {tuple(input.shape)}"
        )
    shape = tuple(input.shape)
    w = None if weight is None else _c(np.broadcast_to(_arr(weight), shape))
    pw = None if pos_weight is None else _c(np.broadcast_to(_arr(pos_weight), shape))
    return _BCEWithLogits.apply(input, target, w, pw, reduction)


# ---------------------------------------------------------------------- misc
def flatten(input, start_dim: int = 0, end_dim: int = -1):
    return input.flatten(start_dim, end_dim)


def pad_size_out(size: int, k: int, s: int, p: int, d: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a conv/pool window along one axis (PyTorch's formula)."""
    num = size + 2 * p - d * (k - 1) - 1
    out = (math.ceil(num / s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out
