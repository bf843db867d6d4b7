"""Conv2d -> ReLU -> MaxPool2d(2), the usual CNN block, as one op (nn.Sequential runs the
three modules through it on float32 CPU batches).

Shapes: x (N, C, H, W), w (K, C/groups, R, S), b (K,), the convolution's output c
(N, K, OH, OW), y (N, K, OH // 2, OW // 2).
Forward: y = relu(max of each 2x2 cell of c) by one native kernel that pools each image's c
while it is in cache and never writes c (cpu/conv_relu_pool.h); it saves one byte per output,
the maximum's place in its cell (or "no gradient" where relu passes none).
Backward: dc = g at each cell's chosen element (max_pool2d_relu_backward), then conv2d's
dx, dw, db from dc; one kernel (conv2d_relu_max_pool2d_backward) unpools each image's dc in
cache and consumes it there where the convolution allows (a frozen weight takes the
kernels one by one). Values and gradients are bit for bit those of conv2d followed by
max_pool2d_relu (the pool-first ReLU -> MaxPool2d pair Sequential ran before).
"""

from __future__ import annotations

from gradcore.autograd import Function, apply3
from gradcore.devices import KERNELS
from gradcore.ops.arrays import contiguous
from gradcore.ops.conv import contiguous_operands, conv2d_grads
from gradcore.ops.window import window_out_size

__all__ = ["conv2d_relu_max_pool2d", "conv_output_hw"]


def conv_output_hw(hw: tuple, kernel_hw: tuple, geom: tuple) -> tuple:
    """(OH, OW) of a convolution of (H, W) planes with an (R, S) kernel and geom =
    (stride, padding, dilation, groups)."""
    (sh, sw), (ph, pw), (dh, dw), _ = geom
    return (
        window_out_size(hw[0], kernel_hw[0], sh, ph, dh),
        window_out_size(hw[1], kernel_hw[1], sw, pw, dw),
    )


class Conv2dReLUMaxPool2d(Function):
    """y = relu(max_pool2d(conv2d(x, w, b), 2)) (module docstring); geom = (stride, padding,
    dilation, groups), pairs of ints and an int."""

    __slots__ = ()

    @staticmethod
    def forward_no_grad(x, w, b, geom):
        kern = KERNELS[x.__class__]
        x, w, b = contiguous_operands(x, w, b)
        return kern.conv2d_relu_max_pool2d_forward(x, w, b, *geom)[0]

    @staticmethod
    def forward(ctx, x, w, b, geom):
        kern = ctx.kernels = KERNELS[x.__class__]
        x, w, b = contiguous_operands(x, w, b)
        y, cells = kern.conv2d_relu_max_pool2d_forward(x, w, b, *geom)
        ctx.saved_tensors = (x, w, cells, geom)
        return y

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        x, w, cells, geom = ctx.saved_tensors
        needs = ctx.needs_input_grad
        g = contiguous(g)
        if needs[1]:  # dw (and dx, db) with each image's dc unpooled in cache
            return kern.conv2d_relu_max_pool2d_backward(
                g, cells, x, w, *geom, needs[0], needs[2]
            ) + (None,)
        conv_shape = (x.shape[0], w.shape[0]) + conv_output_hw(x.shape[2:], w.shape[2:], geom)
        dc = kern.max_pool2d_relu_backward(g, cells, conv_shape)
        return conv2d_grads(kern, dc, x, w, geom, needs)


def conv2d_relu_max_pool2d(input, weight, bias, geom: tuple):
    """relu(max_pool2d(conv2d(input, weight, bias, *geom), 2)) for a 4-d batch; geom =
    ((sh, sw), (ph, pw), (dh, dw), groups). The caller (nn.Sequential) checks that the
    arguments are valid for conv2d; the kernel checks them again."""
    return apply3(Conv2dReLUMaxPool2d, input, weight, bias, geom)
