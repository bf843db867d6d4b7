"""numpy-like methods for device storage (gradcore._C_cuda.DeviceArray), built on the CUDA
module's array kernels, so that the op layer's array expressions (``a + b`` with broadcasting,
``g.sum(axis)``, ``x.astype(t)``, ``-g``, ``a += b``) work on CUDA storage unchanged.

`install_array_methods(cls, kernels)` adds them to a storage class whose instances have
``shape``, ``dtype``, ``size``, ``copy()`` and ``reshape()`` and whose kernel table has
``binary_op``, ``binary_op_scalar_left``, ``unary_op``, ``reduce`` and ``astype`` (the names
of csrc/cuda/bindings/bind_array_ops.cpp). gradcore.cuda installs them on DeviceArray; the
tests install them on an emulated device whose kernels are gradcore._C.cuda_host, the CPU
test driver of the same CUDA kernels.

Device storage is always C-contiguous. In-place operators (``+=``) compute a new array and
rebind it; there is no implicit conversion to numpy: ``np.asarray`` on device storage raises
a TypeError saying to call ``.cpu()`` first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["install_array_methods"]


class _ContiguousFlags:
    """numpy's `flags` as far as gradcore reads them: device storage is C-contiguous and
    writable."""

    c_contiguous = True
    f_contiguous = False
    writeable = True


def _axes(axis, ndim: int):
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for an array of dimension {ndim}")
        out.append(a % max(ndim, 1))
    return tuple(out)


def install_array_methods(cls: type, kernels: Any) -> None:
    """Give device storage class `cls` the numpy-like methods above, computed by `kernels`."""
    k = kernels

    def binary(op):
        def method(self, other):
            if isinstance(other, (int, float, bool, np.number)) or isinstance(other, cls):
                return k.binary_op(op, self, other)
            return NotImplemented

        return method

    def reflected(op):
        def method(self, other):
            if isinstance(other, (int, float, bool, np.number)):
                return k.binary_op_scalar_left(op, other, self)
            return NotImplemented

        return method

    def inplace(op):
        def method(self, other):
            out = k.binary_op(op, self, other)
            if out.dtype != self.dtype:
                out = k.astype(out, self.dtype)
            return out

        return method

    for name, op in (
        ("add", "add"),
        ("sub", "sub"),
        ("mul", "mul"),
        ("truediv", "div"),
        ("pow", "pow"),
        ("gt", "gt"),
        ("ge", "ge"),
        ("lt", "lt"),
        ("le", "le"),
        ("eq", "eq"),
        ("ne", "ne"),
    ):
        setattr(cls, f"__{name}__", binary(op))
    for name, op in (("add", "add"), ("mul", "mul")):
        setattr(cls, f"__r{name}__", binary(op))
    for name, op in (("sub", "sub"), ("truediv", "div"), ("pow", "pow")):
        setattr(cls, f"__r{name}__", reflected(op))
    for name, op in (("add", "add"), ("sub", "sub"), ("mul", "mul"), ("truediv", "div")):
        setattr(cls, f"__i{name}__", inplace(op))
    cls.__neg__ = lambda self: k.unary_op("neg", self)
    cls.__abs__ = lambda self: k.unary_op("abs", self)
    cls.__hash__ = object.__hash__  # __eq__ above is elementwise, as numpy's

    def reduction(op):
        def method(self, axis=None, dtype=None, keepdims=False, **unsupported):
            if unsupported:
                raise TypeError(f"{op}(): unsupported arguments {sorted(unsupported)} on CUDA")
            out = k.reduce(op, self, _axes(axis, len(self.shape)), bool(keepdims))
            return out if dtype is None else k.astype(out, np.dtype(dtype))

        method.__name__ = op
        return method

    for op in ("sum", "mean", "max", "min"):
        setattr(cls, op, reduction(op))

    def astype(self, dtype, copy=True):
        dt = np.dtype(dtype)
        if dt == self.dtype:
            return self.copy() if copy else self
        return k.astype(self, dt)

    def item(self):
        if self.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return self.numpy().reshape(-1)[0].item()

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"{cls.__name__} lives on a GPU: it cannot be used as a numpy array; copy it "
            "to the host first (Tensor.cpu(), or .numpy() on the storage)"
        )

    cls.astype = astype
    cls.item = item
    cls.__array__ = __array__
    cls.flags = _ContiguousFlags()
    cls.__array_priority__ = 1000  # numpy defers `ndarray + device array` to us (then raises)
