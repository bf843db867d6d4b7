"""Reductions: sum, mean, var/std, max/min (whole tensor or along a dim), argmax/argmin.

Backward spreads the output gradient back over the reduced elements: equally for sum and
mean (divided by the count), to the extreme element(s) for max/min (evenly over ties for
the whole-tensor form, to the returned index along a dim).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from gradcore import autograd as ag
from gradcore.autograd import Function, apply1
from gradcore.ops.arrays import as_array
from gradcore.ops.elementwise import mul, sub, truediv

__all__ = ["MinMax", "SqrtOfVar", "sum", "mean", "var", "std", "max", "min", "argmax", "argmin"]

MinMax = namedtuple("MinMax", ["values", "indices"])

_asarray = np.asarray
_add_reduce = np.add.reduce
wrap = ag.wrap


class Sum(Function):
    """out = a summed over `dims` (None: all); da = g broadcast back to a.shape."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.saved_tensors = (a.shape, dims, keepdim)
        return as_array(a.sum(axis=dims, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        shape, dims, keepdim = ctx.saved_tensors
        if dims is not None and not keepdim:
            g = np.expand_dims(g, tuple(d % len(shape) for d in dims))
        return np.broadcast_to(g, shape), None, None


class SumAll(Function):
    """out = the 0-d sum of all of a; da = g everywhere (a fresh array of a.shape)."""

    __slots__ = ()

    @staticmethod
    def forward_no_grad(a):
        return _asarray(_add_reduce(a, None))

    @staticmethod
    def forward(ctx, a):
        ctx.saved_tensors = a.shape
        return _asarray(_add_reduce(a, None))

    @staticmethod
    def backward(ctx, g):
        return np.full(ctx.saved_tensors, g, dtype=g.dtype)


class Mean(Function):
    """out = a averaged over `dims` (None: all); da = g / n broadcast back (n reduced)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.saved_tensors = (a.shape, dims, keepdim)
        return as_array(a.mean(axis=dims, keepdims=keepdim)).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        shape, dims, keepdim = ctx.saved_tensors
        if dims is None:
            n = int(np.prod(shape))
        else:
            n = int(np.prod([shape[d] for d in dims]))
            if not keepdim:
                g = np.expand_dims(g, tuple(d % len(shape) for d in dims))
        return np.broadcast_to(g / np.asarray(n, dtype=g.dtype), shape), None, None


class MaxAll(Function):
    """out = max (is_max) or min of all of a; da = g spread evenly over the tied extremes
    (PyTorch's rule). When a holds NaN the result is NaN and g goes to the NaN elements
    only (spread evenly over them), as in PyTorch."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, is_max):
        if a.size == 0:
            raise RuntimeError("max(): expected a non-empty tensor")
        v = a.max() if is_max else a.min()
        ctx.saved_tensors = (a, v)
        return _asarray(v)

    @staticmethod
    def backward(ctx, g):
        a, v = ctx.saved_tensors
        mask = a == v if v == v else np.isnan(a)
        # PyTorch spreads the gradient evenly over ties
        return (mask * (g / mask.sum())).astype(g.dtype), None


class TakeAlong(Function):
    """out = a's values at indices idx_k (keepdim-shaped) along dim d; da = g put back at
    those indices, zeros elsewhere."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, idx_k, d, keepdim):
        ctx.saved_tensors = (a.shape, idx_k, d, keepdim)
        v = np.take_along_axis(a, idx_k, axis=d)
        return v if keepdim else as_array(v.squeeze(d))

    @staticmethod
    def backward(ctx, g):
        shape, idx_k, d, keepdim = ctx.saved_tensors
        out = np.zeros(shape, dtype=g.dtype)
        np.put_along_axis(out, idx_k, g if keepdim else np.expand_dims(g, d), axis=d)
        return out, None, None, None


def dims_arg(dim):
    """None, an int or a sequence of ints -> None or a tuple of dims."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        return tuple(dim)
    return (dim,)


# ------------------------------------------------------------ Tensor methods
def sum(self, dim=None, keepdim: bool = False, dtype=None):  # noqa: A001 - PyTorch's name
    """Sum over `dim` (None: all elements), optionally cast to `dtype` first."""
    if dim is None and not keepdim and dtype is None:  # the common full reduction
        return apply1(SumAll, self)
    t = self if dtype is None else self.to(dtype=dtype)
    return Sum.apply(t, dims_arg(dim), keepdim)


def mean(self, dim=None, keepdim: bool = False):
    """Mean over `dim` (None: all elements) of a floating point tensor."""
    if self._data.dtype.kind not in "fc":
        raise RuntimeError(f"mean(): expected a floating point tensor, got {self._data.dtype}")
    return Mean.apply(self, dims_arg(dim), keepdim)


class SqrtOfVar(Function):
    """out = v ** 0.5 for a variance v >= 0 (std); dv = g * 0.5 * v ** -0.5 where v > 0 and
    0 where v == 0 (a constant input has std gradient 0, as in PyTorch, not NaN)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, v):
        ctx.saved_tensors = v
        return as_array(v**0.5).astype(v.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        v = ctx.saved_tensors
        zero = v == 0
        if zero.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                dv = as_array(g * (0.5 * v**-0.5)).astype(g.dtype, copy=False)
            return np.where(zero, np.zeros((), dtype=dv.dtype), dv)
        return as_array(g * (0.5 * v**-0.5)).astype(g.dtype, copy=False)


def var(self, dim=None, unbiased: bool = True, keepdim: bool = False):
    """Variance over `dim`: sum((x - mean)^2) / (n - 1) (unbiased) or / n; NaN when the
    divisor is <= 0 (one element, unbiased), as in PyTorch."""
    mu = mean(self, dim, keepdim=True)
    d = sub(self, mu)
    n = self._data.size if dim is None else int(np.prod([self.shape[i] for i in dims_arg(dim)]))
    dof = n - (1 if unbiased else 0)
    ss = sum(mul(d, d), dim, keepdim=keepdim)
    if dof <= 0:
        return mul(ss, float("nan"))
    return truediv(ss, dof)


def std(self, dim=None, unbiased: bool = True, keepdim: bool = False):
    """Standard deviation: var(...) ** 0.5 (gradient 0 where the variance is 0)."""
    return SqrtOfVar.apply(var(self, dim, unbiased, keepdim))


def _reduce_minmax(t, dim: int, keepdim: bool, is_max: bool) -> MinMax:
    a = t._data
    d = dim % a.ndim if a.ndim else 0
    idx = (np.argmax if is_max else np.argmin)(a, axis=d)
    idx_k = np.expand_dims(idx, d)
    vals = TakeAlong.apply(t, idx_k, d, keepdim)
    return MinMax(vals, wrap(idx_k if keepdim else as_array(idx), False, None))


def max(self, dim=None, keepdim: bool = False):  # noqa: A001 - PyTorch's name
    """The largest element (dim None) or MinMax(values, indices) along `dim`."""
    if dim is None:
        return MaxAll.apply(self, True)
    return _reduce_minmax(self, dim, keepdim, True)


def min(self, dim=None, keepdim: bool = False):  # noqa: A001 - PyTorch's name
    """The smallest element (dim None) or MinMax(values, indices) along `dim`."""
    if dim is None:
        return MaxAll.apply(self, False)
    return _reduce_minmax(self, dim, keepdim, False)


def _argext(a: np.ndarray, dim, keepdim, fn):
    if dim is None:
        r = _asarray(fn(a))
        if keepdim:
            r = r.reshape((1,) * a.ndim)
        return wrap(r.astype(np.int64), False, None)
    r = fn(a, axis=dim)
    if keepdim:
        r = np.expand_dims(r, dim)
    return wrap(as_array(r).astype(np.int64, copy=False), False, None)


def argmax(self, dim=None, keepdim: bool = False):
    """int64 index of the largest element (flattened when dim is None)."""
    return _argext(self._data, dim, keepdim, np.argmax)


def argmin(self, dim=None, keepdim: bool = False):
    """int64 index of the smallest element (flattened when dim is None)."""
    return _argext(self._data, dim, keepdim, np.argmin)
