"""Pooling through the native kernels: max (with argmax indices for backward), average
(padding counted or not, divisor override) and adaptive average.

Shapes: x (N, C, H, W) -> y (N, C, OH, OW), OH = window_out_size(H, k, s, p, d, ceil_mode).
Backward: max pool routes each output gradient to its argmax; average pool spreads it
evenly over its window (divided by the window's divisor).
"""

from __future__ import annotations

import numpy as np

from gradcore.autograd import Function, apply1
from gradcore.devices import KERNELS
from gradcore.ops.arrays import contiguous
from gradcore.ops.window import pair

__all__ = ["max_pool2d", "max_pool2d_relu", "avg_pool2d", "adaptive_avg_pool2d"]


class MaxPool2d(Function):
    """(N, C, H, W) -> (N, C, OH, OW) window maxima and their flat argmax indices;
    dx = g scattered to the argmax positions."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, k, s, p, d, ceil_mode):
        kern = ctx.kernels = KERNELS[x.__class__]
        y, idx = kern.max_pool2d_forward(contiguous(x), k, s, p, d, ceil_mode)
        ctx.saved_tensors = (idx, x.shape)
        return y, idx

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        idx, shape = ctx.saved_tensors
        return kern.max_pool2d_backward(contiguous(g), idx, shape), None, None, None, None, None


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    k = pair(kernel_size, "kernel_size", "max_pool2d")
    s = (
        k
        if stride is None or (not isinstance(stride, int) and len(stride) == 0)
        else pair(stride, "stride", "max_pool2d")
    )
    p = pair(padding, "padding", "max_pool2d")
    d = pair(dilation, "dilation", "max_pool2d")
    if input.ndim == 3:
        r = max_pool2d(input.unsqueeze(0), k, s, p, d, ceil_mode, True)
        return (r[0].squeeze(0), r[1].squeeze(0)) if return_indices else r[0].squeeze(0)
    y, idx = MaxPool2d.apply(input, k, s, p, d, bool(ceil_mode))
    return (y, idx) if return_indices else y


class MaxPool2dReLU(Function):
    """The CNN block's ReLU and 2x2/2 max pool as one kernel: (N, C, H, W) -> (N, C, H // 2,
    W // 2), y = relu(max of each 2x2 cell); dx = g at that maximum, 0 elsewhere in the cell.

    Values and gradients are bit for bit those of relu(max_pool2d(x, 2)). relu is monotone,
    so max_pool2d(relu(x), 2) agrees too, up to the sign of a zero output and the gradient of
    a cell holding a denormal (which relu first compares as 0 under DAZ). Saves one byte per
    output: the maximum's place in its cell, or 4 where relu passes no gradient."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        kern = ctx.kernels = KERNELS[x.__class__]
        y, cells = kern.max_pool2d_relu_forward(contiguous(x))
        ctx.saved_tensors = (cells, x.shape)
        return y

    @staticmethod
    def backward(ctx, g):
        cells, shape = ctx.saved_tensors
        return ctx.kernels.max_pool2d_relu_backward(contiguous(g), cells, shape)


def max_pool2d_relu(input):
    """relu(max_pool2d(input, 2)): 2x2 windows, stride 2, no padding, floor mode, in one pass
    (what nn.Sequential runs for nn.ReLU followed by nn.MaxPool2d(2)). `input` (N, C, H, W),
    float32 or float64 on the CPU."""
    return apply1(MaxPool2dReLU, input)


def is_2x2_cells(kernel_size, stride, padding, dilation, ceil_mode) -> bool:
    """Whether max_pool2d with these arguments takes 2x2 windows at stride 2, with no padding
    or dilation, in floor mode (max_pool2d_relu's geometry)."""
    try:
        k = pair(kernel_size, "kernel_size", "max_pool2d")
        s = k if stride is None else pair(stride, "stride", "max_pool2d")
        p = pair(padding, "padding", "max_pool2d")
        d = pair(dilation, "dilation", "max_pool2d")
    except (TypeError, ValueError):
        return False  # max_pool2d itself reports it
    return k == (2, 2) and s == (2, 2) and p == (0, 0) and d == (1, 1) and not ceil_mode


class AvgPool2d(Function):
    """(N, C, H, W) -> (N, C, OH, OW) window means (divisor: window size, with or
    without padding, or divisor_override); dx = g / divisor spread over each window."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, k, s, p, ceil_mode, cip, div):
        kern = ctx.kernels = KERNELS[x.__class__]
        ctx.saved_tensors = (x.shape, k, s, p, ceil_mode, cip, div)
        return kern.avg_pool2d_forward(contiguous(x), k, s, p, ceil_mode, cip, div)

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        shape, k, s, p, ceil_mode, cip, div = ctx.saved_tensors
        dx = kern.avg_pool2d_backward(contiguous(g), shape, k, s, p, ceil_mode, cip, div)
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
    k = pair(kernel_size, "kernel_size", "avg_pool2d")
    s = (
        k
        if stride is None or (not isinstance(stride, int) and len(stride) == 0)
        else pair(stride, "stride", "avg_pool2d")
    )
    p = pair(padding, "padding", "avg_pool2d")
    div = 0 if divisor_override is None else int(divisor_override)
    if input.ndim == 3:
        return avg_pool2d(
            input.unsqueeze(0), k, s, p, ceil_mode, count_include_pad, divisor_override
        ).squeeze(0)
    return AvgPool2d.apply(input, k, s, p, bool(ceil_mode), bool(count_include_pad), div)


class AdaptiveAvgPool2d(Function):
    """(N, C, H, W) -> (N, C, oh, ow) means over PyTorch's adaptive windows;
    dx = g / window size spread over each window."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, out_hw):
        kern = ctx.kernels = KERNELS[x.__class__]
        ctx.saved_tensors = x.shape
        return kern.adaptive_avg_pool2d_forward(contiguous(x), out_hw)

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        return kern.adaptive_avg_pool2d_backward(contiguous(g), ctx.saved_tensors), None


def adaptive_avg_pool2d(input, output_size):
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size, output_size)
    h, w = input.shape[-2:]
    oh = h if output_size[0] is None else int(output_size[0])
    ow = w if output_size[1] is None else int(output_size[1])
    if input.ndim == 3:
        return AdaptiveAvgPool2d.apply(input.unsqueeze(0), (oh, ow)).squeeze(0)
    return AdaptiveAvgPool2d.apply(input, (oh, ow))
