"""Array helpers shared by the op families: layouts, numpy's 0-d quirk, broadcasting.

Everything here works on numpy arrays (a Tensor's storage) except `const_like` and
`to_array`, which build storage for Tensors from Python values.
"""

from __future__ import annotations

import numpy as np

from gradcore import autograd as ag
from gradcore import versions

__all__ = ["contiguous", "as_array", "unbroadcast", "const_like", "to_array"]

_ndarray = np.ndarray
_asarray = np.asarray


def contiguous(a: np.ndarray) -> np.ndarray:
    """C-contiguous (the kernels' layout); a no-op for arrays that already are."""
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def as_array(a):
    """numpy returns scalars for 0-d results; keep arrays (and device storage as it is)."""
    if a.__class__ is _ndarray or isinstance(a, versions.STORAGE_TYPES):
        return a
    return _asarray(a)


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `g` down to `shape` (the inverse of numpy broadcasting)."""
    if g.shape == shape:
        return g
    nd = g.ndim - len(shape)
    if nd > 0:
        g = g.sum(axis=tuple(range(nd)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return as_array(g).reshape(shape)


def const_like(value, like):
    """`value` as a constant Tensor (no grad) with `like`'s float dtype; Tensors pass through."""
    if isinstance(value, ag.Tensor):
        return value
    arr = np.asarray(value)
    if arr.dtype.kind != "f" or arr.dtype != like.dtype and like.dtype.kind == "f":
        arr = arr.astype(like.dtype if like.dtype.kind == "f" else np.float32)
    return ag.wrap(arr, False, None)


def _numeric(arr: np.ndarray) -> np.ndarray:
    """`arr` when its dtype is numeric (bool, int, float, complex); else a TypeError, as
    PyTorch raises for object, string and structured arrays."""
    if arr.dtype.kind not in "biufc":
        raise TypeError(
            f"can't convert an array of dtype {arr.dtype} to a tensor: the only supported "
            "types are bool, integer, floating point and complex numbers"
        )
    return arr


def to_array(data, dtype) -> np.ndarray:
    """Storage for `gradcore.tensor(data)`: numpy arrays are kept (shared) when the dtype
    matches; Python floats become float32 and ints int64, like PyTorch. Object, string and
    structured data raise a TypeError."""
    if isinstance(data, ag.Tensor):
        data = data._data
    if isinstance(data, np.ndarray):
        _numeric(data)
        if dtype is not None and data.dtype != dtype:
            return data.astype(dtype)
        if data.dtype == np.float16 or data.dtype.kind == "b" and False:
            return data.astype(np.float32)
        return data
    if dtype is None:
        arr = _numeric(np.asarray(data))
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        elif arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
        return arr
    return np.asarray(data, dtype=dtype)
