"""2-d convolution (cross-correlation) through the native im2col + GEMM kernels.

Shapes: x (N, C, H, W), w (K, C/groups, R, S), b (K,), y (N, K, OH, OW) with
OH = window_out_size(H, R, stride, padding, dilation) (likewise OW).
y[n, k] = sum_{c, r, s} w[k, c, r, s] * x_padded[n, g(k) * C/groups + c, oh*sh + r*dh, ow*sw + s*dw] + b[k].
Backward: dx = col2im(W^T @ dY), dW = dY @ cols^T summed over the batch, db = dY summed
over (N, OH, OW).
"""

from __future__ import annotations

import numpy as np

from gradcore import amp
from gradcore.autograd import Function
from gradcore.devices import KERNELS
from gradcore.ops.arrays import contiguous
from gradcore.ops.window import pair

__all__ = ["conv2d"]


class Conv2d(Function):
    """y = conv(x, w) + b (module docstring); `geom` = (stride, padding, dilation, groups),
    one argument so that apply's loop looks at four arguments, not seven."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b, geom):
        kern = ctx.kernels = KERNELS[x.__class__]
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        if not w.flags.c_contiguous:
            w = np.ascontiguousarray(w)
        if b is not None and not b.flags.c_contiguous:  # a strided view of a bias
            b = np.ascontiguousarray(b)
        ctx.saved_tensors = (x, w, geom)
        return kern.conv2d_forward(x, w, b, *geom)

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        x, w, (stride, padding, dilation, groups) = ctx.saved_tensors
        n = ctx.needs_input_grad
        g = contiguous(g)
        dx = (
            kern.conv2d_backward_input(g, w, x.shape[2:], stride, padding, dilation, groups)
            if n[0]
            else None
        )
        dw = (
            kern.conv2d_backward_weight(g, x, w.shape[2:], stride, padding, dilation, groups)
            if n[1]
            else None
        )
        db = kern.conv2d_backward_bias(g) if n[2] else None
        return dx, dw, db, None


class Conv2dBf16(Function):
    """Conv2d under CPU bfloat16 autocast (gradcore.amp), float32 x, w, b: each rounded to
    bfloat16 (RNE) once, on its way to bit patterns; the products on the bfloat16 kernels
    (cpu/conv_bf16.h: float32 sums); y rounded to bfloat16 values, kept float32. Backward: g
    rounded to bfloat16, and dx, dw, db rounded too (bfloat16 gradients, as in PyTorch): the
    same values as Conv2d between amp's rounding nodes, in fewer passes over memory."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b, geom):
        kern = ctx.kernels = KERNELS[x.__class__]
        xb = kern.float_to_bfloat16(np.ascontiguousarray(x))
        wb = kern.float_to_bfloat16(np.ascontiguousarray(w))
        ctx.saved_tensors = (xb, wb, geom)
        bias = None if b is None else amp.round_bfloat16(kern, np.ascontiguousarray(b))
        return amp.round_bfloat16(kern, kern.conv2d_forward_bf16(xb, wb, bias, *geom), True)

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        xb, wb, (stride, padding, dilation, groups) = ctx.saved_tensors
        n = ctx.needs_input_grad
        gb = kern.float_to_bfloat16(contiguous(g))
        dx = dw = db = None
        if n[0]:
            dx = kern.conv2d_backward_input_bf16(
                gb, wb, xb.shape[2:], stride, padding, dilation, groups
            )
            dx = amp.round_bfloat16(kern, dx, True)
        if n[1]:
            dw = kern.conv2d_backward_weight_bf16(
                gb, xb, wb.shape[2:], stride, padding, dilation, groups
            )
            dw = amp.round_bfloat16(kern, dw, True)
        if n[2]:
            db = kern.conv2d_backward_bias(kern.bfloat16_to_float(gb))
            db = amp.round_bfloat16(kern, db, True)
        return dx, dw, db, None


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution (cross-correlation) of (N, C, H, W) input with (K, C/groups, R, S)
    weight; `padding` may be an int, a pair, "valid" or "same" (stride 1)."""
    fn = Conv2d
    if amp._anywhere and amp.get_autocast_dtype() is not None:
        if not amp.cpu_bfloat16_operands(input, weight, bias):
            return amp.lower_precision(
                conv2d, (input, weight, bias), stride, padding, dilation, groups
            )
        fn = Conv2dBf16
    stride = pair(stride, "stride", "conv2d")
    dilation = pair(dilation, "dilation", "conv2d")
    x = input._data
    if x.ndim == 4 and padding.__class__ is not str:
        padding = pair(padding, "padding", "conv2d")
        return fn.apply(input, weight, bias, (stride, padding, dilation, int(groups)))
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
        padding = pair(padding, "padding", "conv2d")
    if input.ndim == 3:  # unbatched (C, H, W)
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(
            0
        )
    return fn.apply(input, weight, bias, (stride, padding, dilation, int(groups)))
