"""Transposed 2-d convolution (PyTorch's conv_transpose2d), built from the conv2d kernels.

A transposed convolution is the adjoint of a convolution with the same weight: if
conv2d maps (N, C_out, H_out, W_out) -> (N, C_in, H, W) with weight (C_in, C_out/groups, kH, kW),
then conv_transpose2d maps (N, C_in, H, W) -> (N, C_out, H_out, W_out). So

    forward:      y  = conv2d_backward_input(x, w)       (x plays conv2d's output gradient)
    input grad:   dx = conv2d_forward(dy, w)
    weight grad:  dw = conv2d_backward_weight(x, dy)     (x and dy swap roles)
    bias grad:    db[c] = sum_{n, h, w} dy[n, c, h, w]

with stride, padding, dilation and groups passed through unchanged, and

    H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1

(likewise W_out). No native kernel of its own: every kernel call is in ConvTranspose2d.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gradcore import amp, autograd
from gradcore.autograd import Function
from gradcore.devices import KERNELS
from gradcore.ops.arrays import contiguous
from gradcore.ops.window import pair

if TYPE_CHECKING:  # annotations only: ops come before tensor in the import order
    from gradcore.tensor import Tensor

__all__ = ["ConvTranspose2d", "conv_transpose2d"]

_OP = "conv_transpose2d"


def conv_transpose2d_output_hw(
    in_hw: tuple[int, int],
    kernel_hw: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    output_padding: tuple[int, int],
    dilation: tuple[int, int],
) -> tuple[int, int]:
    """(H_out, W_out), each (in - 1) * stride - 2 * padding + dilation * (k - 1) + out_pad + 1."""
    return tuple(
        (i - 1) * s - 2 * p + d * (k - 1) + op + 1
        for i, k, s, p, op, d in zip(in_hw, kernel_hw, stride, padding, output_padding, dilation)
    )


class ConvTranspose2d(Function):
    """y (N, C_out, H_out, W_out) = conv_transpose2d(x (N, C_in, H, W),
    w (C_in, C_out/groups, kH, kW)) + b (C_out,).

    y[n, c, oh, ow] = b[c] + sum over k in group(c), ih, iw, r, s with
    oh = ih * sh - ph + r * dh and ow = iw * sw - pw + s * dw of
    x[n, k, ih, iw] * w[k, c mod (C_out/groups), r, s].

    When output_padding >= stride (allowed while it is < dilation), conv2d over an
    (H_out, W_out) input has H + output_padding // stride rows; x gets that many zero rows
    (and columns) at the end, which add nothing to y, so the conv2d kernels' shapes agree.
    backward crops dx back to (H, W).
    """

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, output_padding, dilation, groups, out_hw):
        kernels = ctx.kernels = KERNELS[x.__class__]
        x = contiguous(x)
        w = contiguous(w)
        in_hw = x.shape[2:]
        extra = (output_padding[0] // stride[0], output_padding[1] // stride[1])
        if extra != (0, 0):  # zero rows/columns so that conv2d(out_hw) has x's spatial size
            x = np.pad(x, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
        ctx.saved_tensors = (x, w, in_hw, stride, padding, dilation, groups)
        # y (N, C_out, H_out, W_out) = conv2d's input gradient for "output gradient" x
        y = kernels.conv2d_backward_input(x, w, out_hw, stride, padding, dilation, groups)
        if b is not None:
            y += b.reshape(-1, 1, 1)
        return y

    @staticmethod
    def backward(ctx, g):
        kernels = ctx.kernels
        x, w, in_hw, stride, padding, dilation, groups = ctx.saved_tensors
        n = ctx.needs_input_grad
        g = contiguous(g)
        dx = None
        if n[0]:  # dx (N, C_in, H, W) = conv2d(dy, w), cropped when x was zero-extended
            dx = kernels.conv2d_forward(g, w, None, stride, padding, dilation, groups)
            if dx.shape[2:] != in_hw:
                dx = np.ascontiguousarray(dx[:, :, : in_hw[0], : in_hw[1]])
        dw = None
        if n[1]:  # dw (C_in, C_out/groups, kH, kW) = conv2d's weight gradient, x and dy swapped
            dw = kernels.conv2d_backward_weight(
                x, g, w.shape[2:], stride, padding, dilation, groups
            )
        db = kernels.conv2d_backward_bias(g) if n[2] else None  # db (C_out,) = sum of dy
        return dx, dw, db, None, None, None, None, None, None


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _array(t, name: str) -> np.ndarray:
    """The float32/float64 array of Tensor `t`; TypeError naming `name` otherwise."""
    if not isinstance(t, autograd.Tensor):
        raise TypeError(f"{_OP}: {name} must be a Tensor, got {type(t).__name__}")
    a = t._data
    if a.dtype not in _FLOATS:
        raise TypeError(f"{_OP}: {name} must be float32 or float64, got {a.dtype}")
    return a


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """2-d transposed convolution ("deconvolution"), PyTorch's semantics and argument order.

    input (N, C_in, H, W) or unbatched (C_in, H, W); weight (C_in, C_out/groups, kH, kW);
    bias (C_out,) or None; stride, padding, output_padding, dilation: an int or an (h, w)
    pair. Returns (N, C_out, H_out, W_out) with
    H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1.
    output_padding adds rows/columns at the bottom/right (it picks among the input sizes
    that a conv2d with this stride maps to the same size); it must be smaller than stride
    or dilation.
    """
    if amp._anywhere and amp.get_autocast_dtype() is not None:
        return amp.lower_precision(
            conv_transpose2d,
            (input, weight, bias),
            stride,
            padding,
            output_padding,
            groups,
            dilation,
        )
    x = _array(input, "input")
    w = _array(weight, "weight")
    b = None if bias is None else _array(bias, "bias")
    if x.ndim != 3 and x.ndim != 4:
        raise ValueError(
            f"{_OP}: expected a 3-d (unbatched) or 4-d (batched) input, got shape {x.shape}"
        )
    if w.ndim != 4:
        raise ValueError(
            f"{_OP}: weight must have 4 dimensions (C_in, C_out/groups, kH, kW), got shape "
            f"{w.shape}"
        )
    if w.dtype != x.dtype or (b is not None and b.dtype != x.dtype):
        got = f"input {x.dtype}, weight {w.dtype}" + ("" if b is None else f", bias {b.dtype}")
        raise TypeError(f"{_OP}: input, weight and bias must have the same dtype, got {got}")
    stride = pair(stride, "stride", _OP)
    padding = pair(padding, "padding", _OP)
    output_padding = pair(output_padding, "output_padding", _OP)
    dilation = pair(dilation, "dilation", _OP)
    if groups.__class__ is not int:
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
            raise TypeError(f"{_OP}: groups must be an int, got {groups!r}")
        groups = int(groups)
    if stride[0] < 1 or stride[1] < 1:
        raise ValueError(f"{_OP}: stride must be > 0, got {stride}")
    if dilation[0] < 1 or dilation[1] < 1:
        raise ValueError(f"{_OP}: dilation must be > 0, got {dilation}")
    if padding[0] < 0 or padding[1] < 0:
        raise ValueError(f"{_OP}: padding must be >= 0, got {padding}")
    if output_padding[0] < 0 or output_padding[1] < 0:
        raise ValueError(f"{_OP}: output_padding must be >= 0, got {output_padding}")
    if groups < 1:
        raise ValueError(f"{_OP}: groups must be > 0, got {groups}")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(
                f"{_OP}: output_padding must be smaller than either stride or dilation, got "
                f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
            )
    c_in, c_out_g, kh, kw = w.shape
    if min(w.shape) < 1:
        raise ValueError(f"{_OP}: weight must have positive sizes, got shape {w.shape}")
    if c_in % groups:
        raise ValueError(
            f"{_OP}: weight's {c_in} input channels (weight.shape[0]) are not divisible by "
            f"groups={groups}"
        )
    c, h, wd = x.shape[-3:]
    if c != c_in:
        raise ValueError(
            f"{_OP}: input has {c} channels but weight {w.shape} expects {c_in} (weight.shape[0])"
        )
    if h < 1 or wd < 1:
        raise ValueError(f"{_OP}: input must have positive spatial sizes, got shape {x.shape}")
    if b is not None and b.shape != (c_out_g * groups,):
        raise ValueError(
            f"{_OP}: bias must have shape ({c_out_g * groups},) (output channels), got {b.shape}"
        )
    out_hw = (
        (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1,
        (wd - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1,
    )
    if out_hw[0] < 1 or out_hw[1] < 1:
        raise ValueError(
            f"{_OP}: the output size {out_hw} is not positive (input {(h, wd)}, "
            f"kernel {(kh, kw)}, stride {stride}, padding {padding}, "
            f"output_padding {output_padding}, dilation {dilation})"
        )
    if x.ndim == 3:  # unbatched (C_in, H, W)
        args = (stride, padding, output_padding, dilation, groups, out_hw)
        return ConvTranspose2d.apply(input.unsqueeze(0), weight, bias, *args).squeeze(0)
    return ConvTranspose2d.apply(
        input, weight, bias, stride, padding, output_padding, dilation, groups, out_hw
    )
