"""Activations through the native kernels: relu, leaky_relu, sigmoid, tanh, gelu.

Elementwise; backward multiplies g by the derivative: relu' = [y > 0],
leaky_relu' = 1 or slope, sigmoid' = y (1 - y), tanh' = 1 - y^2, gelu' from x (erf or tanh
form).
"""

from __future__ import annotations

import numpy as np

from gradcore.autograd import Function, apply1
from gradcore.devices import KERNELS
from gradcore.ops.arrays import contiguous

__all__ = ["relu", "leaky_relu", "sigmoid", "silu", "tanh", "gelu"]


def _retry_contiguous(kernel, x):
    """kernel(x) once more on a contiguous copy, after kernel(x) raised ValueError (a layout
    the kernel does not take); re-raises that error when the layout is not what was wrong."""
    if x.flags.c_contiguous or x.dtype.kind != "f":
        raise  # noqa: PLE0704 - the caller's ValueError, being handled
    return kernel(np.ascontiguousarray(x))


class ReLU(Function):
    """y = max(x, 0); dx = g * [y > 0] (from the saved output)."""

    __slots__ = ()

    @staticmethod
    def forward_no_grad(x):
        kern = KERNELS[x.__class__]
        try:
            return kern.relu_forward(x)
        except ValueError:
            return _retry_contiguous(kern.relu_forward, x)

    @staticmethod
    def forward(ctx, x):
        kern = ctx.kernels = KERNELS[x.__class__]
        try:
            y = kern.relu_forward(x)
        except ValueError:
            y = _retry_contiguous(kern.relu_forward, x)
        ctx.saved_tensors = y
        return y

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        return kern.relu_backward(contiguous(g), ctx.saved_tensors)


def relu(input, inplace: bool = False):
    """max(x, 0) elementwise; with `inplace` written into `input` (Tensor.relu_)."""
    if inplace:
        # imported here: gradcore.ops.inplace builds on this module (ReLU)
        from gradcore.ops.inplace import relu_

        return relu_(input)
    return apply1(ReLU, input)


class LeakyReLU(Function):
    """y = x if x > 0 else slope * x; dx = g * (1 if x > 0 else slope)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, slope):
        kern = ctx.kernels = KERNELS[x.__class__]
        x = contiguous(x)
        ctx.saved_tensors = (x, slope)
        return kern.leaky_relu_forward(x, slope)

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        x, slope = ctx.saved_tensors
        return kern.leaky_relu_backward(contiguous(g), x, slope), None


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    return LeakyReLU.apply(input, float(negative_slope))


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x)); dx = g * y * (1 - y)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        kern = ctx.kernels = KERNELS[x.__class__]
        y = kern.sigmoid_forward(contiguous(x))
        ctx.saved_tensors = y
        return y

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        return kern.sigmoid_backward(contiguous(g), ctx.saved_tensors)


def sigmoid(input):
    return apply1(Sigmoid, input)


class SiLU(Function):
    """y = x * sigmoid(x); dx = g * s * (1 + x * (1 - s)), s = sigmoid(x) (from the saved x)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        kern = ctx.kernels = KERNELS[x.__class__]
        x = contiguous(x)
        ctx.saved_tensors = x
        return kern.silu_forward(x)

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        return kern.silu_backward(contiguous(g), ctx.saved_tensors)


def silu(input, inplace: bool = False):
    """x * sigmoid(x) elementwise (SiLU, also called swish)."""
    return apply1(SiLU, input)


class Tanh(Function):
    """y = tanh(x); dx = g * (1 - y^2)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        kern = ctx.kernels = KERNELS[x.__class__]
        y = kern.tanh_forward(contiguous(x))
        ctx.saved_tensors = y
        return y

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        return kern.tanh_backward(contiguous(g), ctx.saved_tensors)


def tanh(input):
    return apply1(Tanh, input)


class GELU(Function):
    """y = x * Phi(x) (erf form) or its tanh approximation; dx = g * dy/dx at x."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, approximate):
        kern = ctx.kernels = KERNELS[x.__class__]
        x = contiguous(x)
        ctx.saved_tensors = (x, approximate)
        return kern.gelu_forward(x, approximate)

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        x, approximate = ctx.saved_tensors
        return kern.gelu_backward(contiguous(g), x, approximate), None


def gelu(input, approximate: str = "none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate)
