"""Elementwise arithmetic with numpy broadcasting: Tensor +, -, *, /, unary -, ** and abs.

Each Function's forward computes on the operands' arrays; its backward sums the gradient
back down to each operand's shape (`unbroadcast`), so broadcast operands get the sum over
the broadcast axes.
"""

from __future__ import annotations

import operator

import numpy as np

from gradcore import autograd as ag
from gradcore.autograd import Function, apply1, apply2
from gradcore.ops.arrays import as_array, const_like, unbroadcast

__all__ = [
    "add",
    "sub",
    "rsub",
    "mul",
    "truediv",
    "rtruediv",
    "neg",
    "pow",
    "abs",
    "python_scalar",
]

wrap = ag.wrap
_ndarray = np.ndarray
_asarray = np.asarray


class Add(Function):
    """out = a + b (broadcast); da = unbroadcast(g, a.shape), db = unbroadcast(g, b.shape)."""

    __slots__ = ()

    forward_no_grad = staticmethod(operator.add)

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved_tensors = (a.shape, b.shape)
        out = a + b
        return out if out.__class__ is _ndarray else as_array(out)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.saved_tensors
        n = ctx.needs_input_grad
        return (unbroadcast(g, sa) if n[0] else None, unbroadcast(g, sb) if n[1] else None)


class Sub(Function):
    """out = a - b (broadcast); da = unbroadcast(g), db = unbroadcast(-g)."""

    __slots__ = ()

    forward_no_grad = staticmethod(operator.sub)

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved_tensors = (a.shape, b.shape)
        return as_array(a - b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.saved_tensors
        n = ctx.needs_input_grad
        return (unbroadcast(g, sa) if n[0] else None, unbroadcast(-g, sb) if n[1] else None)


class AddScalar(Function):
    """out = a + s for a Python number s (a's dtype kept); da = g."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, s):
        return as_array(a + s).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return g, None


class MulScalar(Function):
    """out = a * s for a Python number s (a's dtype kept); da = g * s."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, s):
        ctx.saved_tensors = s
        return as_array(a * s).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return as_array(g * ctx.saved_tensors).astype(g.dtype, copy=False), None


class Mul(Function):
    """out = a * b (broadcast); da = unbroadcast(g * b), db = unbroadcast(g * a)."""

    __slots__ = ()

    forward_no_grad = staticmethod(operator.mul)

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved_tensors = (a, b)
        out = a * b
        return out if out.__class__ is _ndarray else as_array(out)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        n = ctx.needs_input_grad
        return (
            unbroadcast(as_array(g * b), a.shape) if n[0] else None,
            unbroadcast(as_array(g * a), b.shape) if n[1] else None,
        )


class Div(Function):
    """out = a / b (broadcast); da = unbroadcast(g / b), db = unbroadcast(-(g / b) * a / b)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved_tensors = (a, b)
        return as_array(a / b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        n = ctx.needs_input_grad
        ga = as_array(g / b)
        return (
            unbroadcast(ga, a.shape) if n[0] else None,
            unbroadcast(as_array(-ga * a / b), b.shape) if n[1] else None,
        )


class PowScalar(Function):
    """out = a ** p for a Python number p; da = g * p * a ** (p - 1) (zeros when p == 0)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, p):
        ctx.saved_tensors = (a, p)
        return as_array(a**p).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        a, p = ctx.saved_tensors
        if p == 0:
            return np.zeros_like(g), None
        return as_array(g * (p * a ** (p - 1))).astype(g.dtype, copy=False), None


class Abs(Function):
    """out = |a|; da = g * sign(a)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a):
        ctx.saved_tensors = a
        return as_array(np.abs(a))

    @staticmethod
    def backward(ctx, g):
        return as_array(g * np.sign(ctx.saved_tensors))


def python_scalar(other):
    """A numpy scalar as the Python number it holds: numpy scalars act like Python numbers
    in Tensor arithmetic (PyTorch's rule), so `x * np.float64(.5)` stays float32 for a
    float32 x, with and without grad mode. Other values pass through."""
    return other.item() if isinstance(other, np.generic) else other


def add(self, other):
    """self + other (Tensor.__add__ / __radd__); `other` a Tensor or a number."""
    if isinstance(other, ag.Tensor):
        return apply2(Add, self, other)
    if other.__class__ is not float and other.__class__ is not int:
        other = python_scalar(other)
    if self.requires_grad and ag.is_grad_enabled():
        return AddScalar.apply(self, other)
    return wrap(as_array(self._data + other), False, None)


def sub(self, other):
    """self - other (Tensor.__sub__)."""
    if isinstance(other, ag.Tensor):
        return apply2(Sub, self, other)
    if other.__class__ is not float and other.__class__ is not int:
        other = python_scalar(other)
    if self.requires_grad and ag.is_grad_enabled():
        return AddScalar.apply(self, -other)
    return wrap(as_array(self._data - other), False, None)


def rsub(self, other):
    """other - self (Tensor.__rsub__)."""
    return add(neg(self), other)


def mul(self, other):
    """self * other (Tensor.__mul__ / __rmul__); `other` a Tensor or a number."""
    if isinstance(other, ag.Tensor):
        return apply2(Mul, self, other)
    if other.__class__ is not float and other.__class__ is not int:
        other = python_scalar(other)
    if self.requires_grad and ag.is_grad_enabled():
        return MulScalar.apply(self, other)
    return wrap(as_array(self._data * other), False, None)


def truediv(self, other):
    """self / other (Tensor.__truediv__)."""
    if isinstance(other, ag.Tensor):
        return apply2(Div, self, other)
    if other.__class__ is not float and other.__class__ is not int:
        other = python_scalar(other)
    if self.requires_grad and ag.is_grad_enabled():
        return MulScalar.apply(self, 1.0 / other)
    return wrap(as_array(self._data / other), False, None)


def rtruediv(self, other):
    """other / self (Tensor.__rtruediv__)."""
    return apply2(Div, const_like(other, self), self)


def neg(self):
    """-self (Tensor.__neg__)."""
    if self.requires_grad and ag.is_grad_enabled():
        return MulScalar.apply(self, -1.0)
    return wrap(as_array(-self._data), False, None)


def pow(self, exponent):  # noqa: A001 - PyTorch's name
    """self ** exponent for a Python number exponent (Tensor.__pow__ / pow)."""
    if isinstance(exponent, ag.Tensor):
        raise TypeError("pow: tensor exponents are not supported; use a Python number")
    exponent = python_scalar(exponent)
    return PowScalar.apply(self, exponent)


def abs(self):  # noqa: A001 - PyTorch's name
    """|self| (Tensor.abs)."""
    return apply1(Abs, self)
