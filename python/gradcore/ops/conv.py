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
from gradcore.autograd import Function, apply3
from gradcore.devices import KERNELS
from gradcore.ops.arrays import contiguous
from gradcore.ops.window import pair

__all__ = ["conv2d", "conv2d_grads", "contiguous_operands"]


def contiguous_operands(x, w, b) -> tuple:
    """x, w and b (or None) as C-contiguous arrays, the only layout the conv kernels take
    (copies only of strided views, such as a transposed input or a sliced bias). The kernel
    table is looked up before: a copy of a device's storage subclass is a plain array."""
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    if not w.flags.c_contiguous:
        w = np.ascontiguousarray(w)
    if b is not None and not b.flags.c_contiguous:
        b = np.ascontiguousarray(b)
    return x, w, b


class Conv2d(Function):
    """y = conv(x, w) + b (module docstring); `geom` = (stride, padding, dilation, groups),
    one argument so that apply's loop looks at four arguments, not seven."""

    __slots__ = ()

    @staticmethod
    def forward_no_grad(x, w, b, geom):
        kern = KERNELS[x.__class__]
        # contiguous_operands only when one is strided: a frame less on the common call
        if not (
            x.flags.c_contiguous and w.flags.c_contiguous and (b is None or b.flags.c_contiguous)
        ):
            x, w, b = contiguous_operands(x, w, b)
        return kern.conv2d_forward(x, w, b, *geom)

    @staticmethod
    def forward(ctx, x, w, b, geom):
        kern = ctx.kernels = KERNELS[x.__class__]
        x, w, b = contiguous_operands(x, w, b)
        ctx.saved_tensors = (x, w, geom)
        return kern.conv2d_forward(x, w, b, *geom)

    @staticmethod
    def backward(ctx, g):
        x, w, geom = ctx.saved_tensors
        return conv2d_grads(ctx.kernels, contiguous(g), x, w, geom, ctx.needs_input_grad)


def conv2d_grads(kern, g, x, w, geom, needs) -> tuple:
    """(dx, dw, db, None) of y = conv(x, w) + b for the contiguous output gradient g, each
    computed only where `needs` (needs_input_grad of (x, w, b, geom)) asks for it."""
    stride, padding, dilation, groups = geom
    dx = (
        kern.conv2d_backward_input(g, w, x.shape[2:], stride, padding, dilation, groups)
        if needs[0]
        else None
    )
    dw = (
        kern.conv2d_backward_weight(g, x, w.shape[2:], stride, padding, dilation, groups)
        if needs[1]
        else None
    )
    db = kern.conv2d_backward_bias(g) if needs[2] else None
    return dx, dw, db, None


class Conv2dBf16(Function):
    """Conv2d under CPU bfloat16 autocast (gradcore.amp), float32 x, w, b: each rounded to
    bfloat16 (RNE) once; y rounded to bfloat16 values, kept float32. Backward: g rounded to
    bfloat16, and dx, dw, db rounded too (bfloat16 gradients, as in PyTorch): the values of
    Conv2d between amp's rounding nodes, in fewer passes over memory. Where the bfloat16
    kernels multiply natively (cpu/conv_bf16.h: gemm_bf16, C/groups*R*S >= 32) x, w and g go
    to them as bit patterns; elsewhere (a first layer, no AVX512_BF16, or a layer of 64 or
    more channels that the float32 Winograd convolution takes, faster there) the float32
    kernels run on the rounded float32 values, which saves widening the bits back."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b, geom):
        kern = ctx.kernels = KERNELS[x.__class__]
        x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
        bias = None if b is None else amp.round_bfloat16(kern, b)
        if kern.conv_bf16_native(x.shape, w.shape, geom[3], *geom[:3]):
            xb, wb = kern.float_to_bfloat16(x), kern.float_to_bfloat16(w)
            ctx.saved_tensors = (xb, wb, geom, True)
            y = kern.conv2d_forward_bf16(xb, wb, bias, *geom)
        else:
            xr, wr = amp.round_bfloat16(kern, x), amp.round_bfloat16(kern, w)
            ctx.saved_tensors = (xr, wr, geom, False)
            y = kern.conv2d_forward(xr, wr, bias, *geom)
        return amp.round_bfloat16(kern, y, True)

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        x, w, geom, native = ctx.saved_tensors
        n = ctx.needs_input_grad
        g = contiguous(g)
        if native:
            gb = kern.float_to_bfloat16(g)
            input_grad, weight_grad, bias_grad = (
                kern.conv2d_backward_input_bf16,
                kern.conv2d_backward_weight_bf16,
                kern.conv2d_backward_bias_bf16,
            )
        else:
            gb = amp.round_bfloat16(kern, g)
            input_grad, weight_grad = kern.conv2d_backward_input, kern.conv2d_backward_weight
            bias_grad = kern.conv2d_backward_bias
        dx = input_grad(gb, w, x.shape[2:], *geom) if n[0] else None
        dw = weight_grad(gb, x, w.shape[2:], *geom) if n[1] else None
        db = bias_grad(gb) if n[2] else None
        return amp.round_bfloat16_each(kern, dx, dw, db) + (None,)


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
    if (  # the common call (int arguments, a batch) without the general argument checks
        stride.__class__ is int
        and padding.__class__ is int
        and dilation.__class__ is int
        and groups.__class__ is int
        and input._data.ndim == 4
    ):
        s, p, d = (stride, stride), (padding, padding), (dilation, dilation)
        return apply3(fn, input, weight, bias, (s, p, d, groups))
    stride = pair(stride, "stride", "conv2d")
    dilation = pair(dilation, "dilation", "conv2d")
    x = input._data
    if x.ndim == 4 and padding.__class__ is not str:
        padding = pair(padding, "padding", "conv2d")
        return apply3(fn, input, weight, bias, (stride, padding, dilation, int(groups)))
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
    return apply3(fn, input, weight, bias, (stride, padding, dilation, int(groups)))
