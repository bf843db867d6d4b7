"""Activations through the native kernels: relu, leaky_relu, sigmoid, tanh, gelu.

Elementwise; backward multiplies g by the derivative: relu' = [y > 0],
leaky_relu' = 1 or slope, sigmoid' = y (1 - y), tanh' = 1 - y^2, gelu' from x (erf or tanh
form).
"""

from __future__ import annotations

import numpy as np

from gradcore.autograd import Function
from gradcore.devices import KERNELS
from gradcore.ops.arrays import contiguous

__all__ = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu"]


class ReLU(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, x):
        kern = ctx.kernels = KERNELS[x.__class__]
        y = kern.relu_forward(x if x.flags.c_contiguous else np.ascontiguousarray(x))
        ctx.saved_tensors = y
        return y

    @staticmethod
    def backward(ctx, g):
        kern = ctx.kernels
        return kern.relu_backward(contiguous(g), ctx.saved_tensors)


def relu(input, inplace: bool = False):
    """max(x, 0) elementwise."""
    return ReLU.apply(input)


class LeakyReLU(Function):
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
    return Sigmoid.apply(input)


class Tanh(Function):
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
    return Tanh.apply(input)


class GELU(Function):
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
