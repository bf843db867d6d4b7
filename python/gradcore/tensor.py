# long-file: being split into ops/ (issue 15)
"""Tensor: a numpy array (the storage, shared without copies) plus requires_grad, grad and
grad_fn; tensor factories; the elementwise/shape/reduction ops with their backward formulas.

Storage is a numpy array (float32, float64 or int64) for device "cpu". Tensor ops that are
mere glue (broadcasting arithmetic, reshapes, reductions, indexing) run in numpy; the heavy
ops (matmul, convolution, activations, losses, ...) call the native kernels in gradcore._C.
"""

from __future__ import annotations

import builtins
from collections import namedtuple
from typing import Any

import numpy as np

from gradcore import _C
from gradcore import autograd as _ag
from gradcore import profiler as _profiler
from gradcore import random as _random
from gradcore.autograd import Function, _node1, _node2

__all__ = [
    "Tensor",
    "tensor",
    "from_numpy",
    "as_tensor",
    "zeros",
    "ones",
    "full",
    "empty",
    "randn",
    "rand",
    "randint",
    "arange",
    "zeros_like",
    "ones_like",
    "empty_like",
    "matmul",
    "cat",
    "stack",
    "float32",
    "float64",
    "int64",
    "float",
    "double",
    "long",
]

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
float = float32  # noqa: A001 - PyTorch's aliases
double = float64
long = int64
bool_ = np.dtype(np.bool_)

_DTYPE_NAMES = {float32: "float32", float64: "float64", int64: "int64", bool_: "bool"}
_ndarray = np.ndarray
_add_reduce = np.add.reduce
_new = object.__new__
_asarray = np.asarray

MinMax = namedtuple("MinMax", ["values", "indices"])


def _as_dtype(dtype) -> np.dtype | None:
    if dtype is None:
        return None
    return np.dtype(dtype)


class Tensor:
    """A multi-dimensional array with autograd.

    `Tensor(data)` wraps `data` (a numpy array is used as is, sharing memory).
    """

    __slots__ = ("_data", "requires_grad", "grad", "grad_fn", "__weakref__")
    _is_node = False  # the autograd engine tells leaves from nodes by this
    __array_priority__ = 1000  # numpy defers to Tensor's reflected operators

    def __init__(self, data: Any = None, requires_grad: bool = False, dtype=None):
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        self._data = _to_array(data, _as_dtype(dtype))
        self.grad = None
        self.grad_fn = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---------------------------------------------------------------- basics
    @property
    def data(self) -> Tensor:
        """A detached Tensor sharing this tensor's storage (PyTorch's `.data`)."""
        return _wrap(self._data, False, None)

    @data.setter
    def data(self, value) -> None:
        arr = value._data if isinstance(value, Tensor) else _asarray(value)
        self._data = arr

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def T(self) -> Tensor:  # noqa: N802
        return self.permute(*reversed(range(self._data.ndim)))

    def dim(self) -> int:
        return self._data.ndim

    def size(self, dim: int | None = None):
        return self._data.shape if dim is None else self._data.shape[dim]

    def numel(self) -> int:
        return self._data.size

    def element_size(self) -> int:
        return self._data.itemsize

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    __hash__ = object.__hash__

    def numpy(self) -> np.ndarray:
        """The storage itself (shares memory; writes are visible to the tensor)."""
        return self._data

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self._data.dtype:
            return self._data.astype(dtype)
        return self._data

    def item(self):
        if self._data.size != 1:
            raise ValueError(
                f"item(): only one-element tensors can be converted to Python scalars, "
                f"got shape {tuple(self._data.shape)}"
            )
        return self._data.reshape(-1)[0].item()

    def tolist(self):
        return self._data.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing storage, outside the graph."""
        return _wrap(self._data, False, None)

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                f"only floating point tensors can require gradients, got dtype {self._data.dtype}"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False) is only allowed on leaf tensors")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep .grad for this non-leaf tensor after backward()."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that does not require grad")
        if self.grad_fn is not None:
            import weakref

            self.grad_fn._retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self.grad_fn is not None and self.grad_fn._retained is not None

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad (frees the graph unless
        retain_graph=True). A non-scalar tensor needs an explicit `gradient`."""
        _ag.backward(self, gradient, retain_graph)

    def zero_(self) -> Tensor:
        self._data[...] = 0
        return self

    def fill_(self, value) -> Tensor:
        self._data[...] = value
        return self

    def copy_(self, src) -> Tensor:
        """Copy `src` (Tensor or array, broadcastable) into this tensor's storage."""
        arr = src._data if isinstance(src, Tensor) else _asarray(src)
        np.copyto(self._data, arr, casting="same_kind")
        return self

    def clone(self) -> Tensor:
        return _Clone.apply(self)

    def contiguous(self) -> Tensor:
        if self._data.flags.c_contiguous:
            return self
        return _Clone.apply(self)

    def is_contiguous(self) -> bool:
        return self._data.flags.c_contiguous

    # --------------------------------------------------------------- devices
    def to(self, device=None, dtype=None, *args, **kwargs) -> Tensor:
        """`.to("cpu")`, `.to(dtype)` or `.to("cpu", dtype)`; "cuda" needs a CUDA build."""
        if device is not None and not isinstance(device, str) and dtype is None:
            try:
                dtype = np.dtype(device)
                device = None
            except TypeError:
                pass
        if device is not None:
            _check_device(device)
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype != self._data.dtype:
                return _Cast.apply(self, dtype)
        return self

    def cpu(self) -> Tensor:
        return self

    def cuda(self, device=None) -> Tensor:
        _check_device("cuda")
        return self  # pragma: no cover - unreachable without CUDA

    def type(self, dtype=None):
        if dtype is None:
            return f"gradcore.{_DTYPE_NAMES.get(self._data.dtype, str(self._data.dtype))}"
        return self.to(dtype=dtype)

    def float(self) -> Tensor:
        return self.to(dtype=float32)

    def double(self) -> Tensor:
        return self.to(dtype=float64)

    def long(self) -> Tensor:
        return self.to(dtype=int64)

    # --------------------------------------------------------------- printing
    def __repr__(self) -> str:
        a = self._data
        mode = "maxprec_equal"
        if a.dtype.kind == "f" and a.size:
            fin = a[np.isfinite(a)]
            if fin.size and not np.all(fin == np.round(fin)):
                mode = "fixed"
        body = np.array2string(a, separator=", ", prefix="tensor(", precision=4, floatmode=mode)
        extras = []
        if a.dtype not in (float32, int64) or (a.size == 0 and a.dtype != float32):
            extras.append(f"dtype=gradcore.{_DTYPE_NAMES.get(a.dtype, str(a.dtype))}")
        if a.size == 0 and a.ndim != 1:
            extras.append(f"size={tuple(a.shape)}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__.lstrip('_')}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        return repr(self)

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of a tensor with more than one element is ambiguous")
        return bool(self._data.reshape(-1)[0])

    def __float__(self) -> float:
        return builtins.float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self._data.reshape(-1)[0])

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other):
        if other.__class__ is not Tensor and not isinstance(other, Tensor):
            if not self.requires_grad or not _ag._grad_enabled:
                return _wrap(_fix(self._data + other), False, None)
            return _AddScalar.apply(self, other)
        if _profiler._active is not None:  # the general path records an "Add.forward" span
            return _Add.apply(self, other)
        a, b = self._data, other._data
        out = a + b
        if out.__class__ is not _ndarray:
            out = _asarray(out)
        if (self.requires_grad or other.requires_grad) and _ag._grad_enabled:
            ctx = _node2(_Add, self, other)
            ctx.saved_tensors = (a.shape, b.shape)
            if _ag._anomaly:
                _ag._check_finite(out, "Add", "forward output")
            return _wrap(out, True, ctx)
        return _wrap(out, False, None)

    __radd__ = __add__

    def __sub__(self, other):
        if other.__class__ is not Tensor and not isinstance(other, Tensor):
            if not self.requires_grad or not _ag._grad_enabled:
                return _wrap(_fix(self._data - other), False, None)
            return _AddScalar.apply(self, -other)
        if (self.requires_grad or other.requires_grad) and _ag._grad_enabled:
            return _Sub.apply(self, other)
        return _wrap(_fix(self._data - other._data), False, None)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        if other.__class__ is not Tensor and not isinstance(other, Tensor):
            if not self.requires_grad or not _ag._grad_enabled:
                return _wrap(_fix(self._data * other), False, None)
            return _MulScalar.apply(self, other)
        if _profiler._active is not None:
            return _Mul.apply(self, other)
        a, b = self._data, other._data
        out = a * b
        if out.__class__ is not _ndarray:
            out = _asarray(out)
        if (self.requires_grad or other.requires_grad) and _ag._grad_enabled:
            ctx = _node2(_Mul, self, other)
            ctx.saved_tensors = (a, b)
            if _ag._anomaly:
                _ag._check_finite(out, "Mul", "forward output")
            return _wrap(out, True, ctx)
        return _wrap(out, False, None)

    __rmul__ = __mul__

    def __truediv__(self, other):
        if other.__class__ is not Tensor and not isinstance(other, Tensor):
            if not self.requires_grad or not _ag._grad_enabled:
                return _wrap(_fix(self._data / other), False, None)
            return _MulScalar.apply(self, 1.0 / other)
        if (self.requires_grad or other.requires_grad) and _ag._grad_enabled:
            return _Div.apply(self, other)
        return _wrap(_fix(self._data / other._data), False, None)

    def __rtruediv__(self, other):
        return _Div.apply(_const_like(other, self), self)

    def __neg__(self):
        if not self.requires_grad or not _ag._grad_enabled:
            return _wrap(_fix(-self._data), False, None)
        return _MulScalar.apply(self, -1.0)

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            raise TypeError("pow: tensor exponents are not supported; use a Python number")
        return _PowScalar.apply(self, exponent)

    def __rpow__(self, base):
        raise TypeError("pow: tensor exponents are not supported; use a Python number")

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(_const_like(other, self), self)

    def pow(self, exponent):
        return self.__pow__(exponent)

    def add(self, other, alpha=1):
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other, alpha=1):
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def matmul(self, other):
        return matmul(self, other)

    def abs(self):
        return _Abs.apply(self)

    # ------------------------------------------------------ in-place helpers
    # (no autograd; for parameter updates under no_grad, like PyTorch's in-place ops)
    def _inplace_check(self):
        if self.requires_grad and _ag._grad_enabled and self.grad_fn is None:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation "
                "(wrap the update in gradcore.no_grad())"
            )

    def __iadd__(self, other):
        self._inplace_check()
        self._data += other._data if isinstance(other, Tensor) else other
        return self

    def __isub__(self, other):
        self._inplace_check()
        self._data -= other._data if isinstance(other, Tensor) else other
        return self

    def __imul__(self, other):
        self._inplace_check()
        self._data *= other._data if isinstance(other, Tensor) else other
        return self

    def __itruediv__(self, other):
        self._inplace_check()
        self._data /= other._data if isinstance(other, Tensor) else other
        return self

    def add_(self, other, alpha=1):
        self._inplace_check()
        o = other._data if isinstance(other, Tensor) else other
        self._data += o if alpha == 1 else alpha * o
        return self

    def mul_(self, other):
        return self.__imul__(other)

    # ----------------------------------------------------------- comparisons
    def _cmp(self, other, op):
        if other is None:
            return op is np.not_equal
        o = other._data if isinstance(other, Tensor) else other
        return _wrap(_fix(op(self._data, o)), False, None)

    def __eq__(self, other):  # type: ignore[override]
        return self._cmp(other, np.equal)

    def __ne__(self, other):  # type: ignore[override]
        return self._cmp(other, np.not_equal)

    def __lt__(self, other):
        return self._cmp(other, np.less)

    def __le__(self, other):
        return self._cmp(other, np.less_equal)

    def __gt__(self, other):
        return self._cmp(other, np.greater)

    def __ge__(self, other):
        return self._cmp(other, np.greater_equal)

    def eq(self, other):
        return self.__eq__(other)

    def equal(self, other) -> bool:
        return bool(np.array_equal(self._data, other._data))

    def all(self) -> Tensor:
        return _wrap(_asarray(self._data.all()), False, None)

    def any(self) -> Tensor:
        return _wrap(_asarray(self._data.any()), False, None)

    def isfinite(self) -> Tensor:
        return _wrap(np.isfinite(self._data), False, None)

    # ---------------------------------------------------------------- shapes
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _Reshape.apply(self, shape)

    def view(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if not self._data.flags.c_contiguous and self._data.size > 1:
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride; use .reshape()"
            )
        return _Reshape.apply(self, shape)

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        nd = self._data.ndim
        if nd == 0:
            return self.reshape(1)
        s = start_dim % nd
        e = end_dim % nd
        if s > e:
            raise ValueError("flatten: start_dim must not come after end_dim")
        shp = self._data.shape
        return _Reshape.apply(self, shp[:s] + (-1,) + shp[e + 1 :]) if s != e else self

    def squeeze(self, dim=None):
        shp = self._data.shape
        if dim is None:
            new = tuple(d for d in shp if d != 1)
        else:
            dims = (dim,) if isinstance(dim, int) else tuple(dim)
            dims = {d % max(len(shp), 1) for d in dims}
            new = tuple(d for i, d in enumerate(shp) if not (i in dims and d == 1))
        return _Reshape.apply(self, new)

    def unsqueeze(self, dim: int):
        shp = self._data.shape
        d = dim if dim >= 0 else dim + len(shp) + 1
        if not 0 <= d <= len(shp):
            raise IndexError(f"unsqueeze: dim {dim} out of range for a tensor with {len(shp)} dims")
        return _Reshape.apply(self, shp[:d] + (1,) + shp[d:])

    def expand(self, *sizes):
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        shp = self._data.shape
        off = len(sizes) - len(shp)
        tgt = tuple(shp[i - off] if (s == -1 and i >= off) else s for i, s in enumerate(sizes))
        return _Expand.apply(self, tgt)

    def transpose(self, dim0: int, dim1: int):
        nd = self._data.ndim
        perm = list(range(nd))
        d0, d1 = dim0 % nd, dim1 % nd
        perm[d0], perm[d1] = perm[d1], perm[d0]
        return _Permute.apply(self, tuple(perm))

    def t(self):
        if self._data.ndim > 2:
            raise RuntimeError("t() expects a tensor with <= 2 dimensions")
        return self.T

    def permute(self, *dims):
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        nd = self._data.ndim
        dims = tuple(d % nd for d in dims)
        if sorted(dims) != list(range(nd)):
            raise ValueError(f"permute: {dims} is not a permutation of {nd} dims")
        return _Permute.apply(self, dims)

    def __getitem__(self, idx):
        idx = _index(idx)
        if self.requires_grad and _ag._grad_enabled:
            return _GetItem.apply(self, idx)
        return _wrap(_fix(self._data[idx]), False, None)

    def __setitem__(self, idx, value):
        if self.requires_grad and _ag._grad_enabled:
            raise RuntimeError(
                "in-place assignment to a tensor that requires grad is not supported "
                "(use gradcore.no_grad())"
            )
        self._data[_index(idx)] = value._data if isinstance(value, Tensor) else value

    # ------------------------------------------------------------- reductions
    def sum(self, dim=None, keepdim: bool = False, dtype=None):
        if dim is None and not keepdim and dtype is None:  # the common full reduction
            if _profiler._active is not None:
                return _SumAll.apply(self)
            a = self._data
            out = _asarray(_add_reduce(a, None))
            if self.requires_grad and _ag._grad_enabled:
                ctx = _node1(_SumAll, self)
                ctx.saved_tensors = a.shape
                if _ag._anomaly:
                    _ag._check_finite(out, "Sum", "forward output")
                return _wrap(out, True, ctx)
            return _wrap(out, False, None)
        t = self if dtype is None else self.to(dtype=dtype)
        return _Sum.apply(t, _dims(dim), keepdim)

    def mean(self, dim=None, keepdim: bool = False):
        if self._data.dtype.kind not in "fc":
            raise RuntimeError(f"mean(): expected a floating point tensor, got {self._data.dtype}")
        return _Mean.apply(self, _dims(dim), keepdim)

    def var(self, dim=None, unbiased: bool = True, keepdim: bool = False):
        mu = self.mean(dim, keepdim=True)
        d = self - mu
        n = self._data.size if dim is None else int(np.prod([self.shape[i] for i in _dims(dim)]))
        return (d * d).sum(dim, keepdim=keepdim) / max(n - (1 if unbiased else 0), 1)

    def std(self, dim=None, unbiased: bool = True, keepdim: bool = False):
        return self.var(dim, unbiased, keepdim) ** 0.5

    def max(self, dim=None, keepdim: bool = False):
        if dim is None:
            return _MaxAll.apply(self, True)
        return _reduce_minmax(self, dim, keepdim, True)

    def min(self, dim=None, keepdim: bool = False):
        if dim is None:
            return _MaxAll.apply(self, False)
        return _reduce_minmax(self, dim, keepdim, False)

    def argmax(self, dim=None, keepdim: bool = False):
        return _argext(self._data, dim, keepdim, np.argmax)

    def argmin(self, dim=None, keepdim: bool = False):
        return _argext(self._data, dim, keepdim, np.argmin)

    # ----------------------------------------------------- nn shortcuts
    def relu(self):
        from gradcore.nn import functional as F

        return F.relu(self)

    def sigmoid(self):
        from gradcore.nn import functional as F

        return F.sigmoid(self)

    def tanh(self):
        from gradcore.nn import functional as F

        return F.tanh(self)

    def softmax(self, dim: int):
        from gradcore.nn import functional as F

        return F.softmax(self, dim)

    def log_softmax(self, dim: int):
        from gradcore.nn import functional as F

        return F.log_softmax(self, dim)


# ------------------------------------------------------------------- helpers
def _wrap(arr, requires_grad, grad_fn) -> Tensor:
    t = _new(Tensor)
    t._data = arr
    t.requires_grad = requires_grad
    t.grad = None
    t.grad_fn = grad_fn
    return t


def _fix(a):
    """numpy returns scalars for 0-d results; keep arrays."""
    return a if a.__class__ is _ndarray else _asarray(a)


def _to_array(data, dtype) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, np.ndarray):
        if dtype is not None and data.dtype != dtype:
            return data.astype(dtype)
        if data.dtype == np.float16 or data.dtype.kind == "b" and False:
            return data.astype(np.float32)
        return data
    if dtype is None:
        arr = np.asarray(data)
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        elif arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
        return arr
    return np.asarray(data, dtype=dtype)


def _check_device(device) -> None:
    d = str(device)
    if d == "cpu" or d.startswith("cpu:"):
        return
    if d.startswith("cuda"):
        raise RuntimeError(
            f"device '{d}': CUDA is not available in this build of gradcore "
            "(gradcore.cuda.is_available() is False); use device 'cpu'"
        )
    raise ValueError(f"unknown device '{d}' (expected 'cpu' or 'cuda')")


def _const_like(value, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        return value
    arr = np.asarray(value)
    if arr.dtype.kind != "f" or arr.dtype != like.dtype and like.dtype.kind == "f":
        arr = arr.astype(like.dtype if like.dtype.kind == "f" else np.float32)
    return _wrap(arr, False, None)


def _dims(dim):
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        return tuple(dim)
    return (dim,)


def _index(idx):
    if isinstance(idx, Tensor):
        return idx._data
    if isinstance(idx, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in idx)
    return idx


def _is_basic_index(idx) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    for i in items:
        if not (i is None or i is Ellipsis or isinstance(i, (int, slice, np.integer))):
            return False
    return True


def _unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `g` down to `shape` (the inverse of numpy broadcasting)."""
    if g.shape == shape:
        return g
    nd = g.ndim - len(shape)
    if nd > 0:
        g = g.sum(axis=tuple(range(nd)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return _fix(g).reshape(shape)


def _reduce_minmax(t: Tensor, dim: int, keepdim: bool, is_max: bool):
    a = t._data
    d = dim % a.ndim if a.ndim else 0
    idx = (np.argmax if is_max else np.argmin)(a, axis=d)
    idx_k = np.expand_dims(idx, d)
    vals = _TakeAlong.apply(t, idx_k, d, keepdim)
    return MinMax(vals, _wrap(idx_k if keepdim else _fix(idx), False, None))


def _argext(a: np.ndarray, dim, keepdim, fn) -> Tensor:
    if dim is None:
        r = _asarray(fn(a))
        if keepdim:
            r = r.reshape((1,) * a.ndim)
        return _wrap(r.astype(np.int64), False, None)
    r = fn(a, axis=dim)
    if keepdim:
        r = np.expand_dims(r, dim)
    return _wrap(_fix(r).astype(np.int64, copy=False), False, None)


# --------------------------------------------------------------- functions
class _Add(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved_tensors = (a.shape, b.shape)
        return _fix(a + b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.saved_tensors
        n = ctx.needs_input_grad
        return (_unbroadcast(g, sa) if n[0] else None, _unbroadcast(g, sb) if n[1] else None)


class _Sub(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved_tensors = (a.shape, b.shape)
        return _fix(a - b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.saved_tensors
        n = ctx.needs_input_grad
        return (_unbroadcast(g, sa) if n[0] else None, _unbroadcast(-g, sb) if n[1] else None)


class _AddScalar(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, s):
        return _fix(a + s).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return g, None


class _MulScalar(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, s):
        ctx.saved_tensors = s
        return _fix(a * s).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return _fix(g * ctx.saved_tensors).astype(g.dtype, copy=False), None


class _Mul(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved_tensors = (a, b)
        return _fix(a * b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        n = ctx.needs_input_grad
        return (
            _unbroadcast(_fix(g * b), a.shape) if n[0] else None,
            _unbroadcast(_fix(g * a), b.shape) if n[1] else None,
        )


class _Div(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved_tensors = (a, b)
        return _fix(a / b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        n = ctx.needs_input_grad
        ga = _fix(g / b)
        return (
            _unbroadcast(ga, a.shape) if n[0] else None,
            _unbroadcast(_fix(-ga * a / b), b.shape) if n[1] else None,
        )


class _PowScalar(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, p):
        ctx.saved_tensors = (a, p)
        return _fix(a**p).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        a, p = ctx.saved_tensors
        if p == 0:
            return np.zeros_like(g), None
        return _fix(g * (p * a ** (p - 1))).astype(g.dtype, copy=False), None


class _Abs(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a):
        ctx.saved_tensors = a
        return _fix(np.abs(a))

    @staticmethod
    def backward(ctx, g):
        return _fix(g * np.sign(ctx.saved_tensors))


class _Clone(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a):
        return np.array(a, copy=True, order="C")

    @staticmethod
    def backward(ctx, g):
        return g


class _Cast(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.saved_tensors = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.saved_tensors), None


class _Reshape(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, shape):
        ctx.saved_tensors = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise RuntimeError(
                f"shape {tuple(shape)} is invalid for input of size {a.size} "
                f"(shape {tuple(a.shape)})"
            ) from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.saved_tensors), None


class _Expand(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, shape):
        ctx.saved_tensors = a.shape
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return _unbroadcast(g, ctx.saved_tensors), None


class _Permute(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, perm):
        ctx.saved_tensors = perm
        return a.transpose(perm)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(np.argsort(ctx.saved_tensors)), None


class _GetItem(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, idx):
        ctx.saved_tensors = (a.shape, a.dtype, idx)
        return _fix(a[idx])

    @staticmethod
    def backward(ctx, g):
        shape, dtype, idx = ctx.saved_tensors
        out = np.zeros(shape, dtype=g.dtype)
        if _is_basic_index(idx):
            out[idx] = g
        else:  # advanced indexing may repeat elements: accumulate
            np.add.at(out, idx, g)
        return out, None


class _TakeAlong(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, idx_k, d, keepdim):
        ctx.saved_tensors = (a.shape, idx_k, d, keepdim)
        v = np.take_along_axis(a, idx_k, axis=d)
        return v if keepdim else _fix(v.squeeze(d))

    @staticmethod
    def backward(ctx, g):
        shape, idx_k, d, keepdim = ctx.saved_tensors
        out = np.zeros(shape, dtype=g.dtype)
        np.put_along_axis(out, idx_k, g if keepdim else np.expand_dims(g, d), axis=d)
        return out, None, None, None


class _MaxAll(Function):
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
        mask = a == v
        # PyTorch spreads the gradient evenly over ties
        return (mask * (g / mask.sum())).astype(g.dtype), None


class _Sum(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.saved_tensors = (a.shape, dims, keepdim)
        return _fix(a.sum(axis=dims, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        shape, dims, keepdim = ctx.saved_tensors
        if dims is not None and not keepdim:
            g = np.expand_dims(g, tuple(d % len(shape) for d in dims))
        return np.broadcast_to(g, shape), None, None


class _SumAll(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a):
        ctx.saved_tensors = a.shape
        return _asarray(_add_reduce(a, None))

    @staticmethod
    def backward(ctx, g):
        return np.full(ctx.saved_tensors, g, dtype=g.dtype)


class _Mean(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.saved_tensors = (a.shape, dims, keepdim)
        return _fix(a.mean(axis=dims, keepdims=keepdim)).astype(a.dtype, copy=False)

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


# ------------------------------------------------------------------- matmul
_gemm = _C.gemm


def _gemm_operand(a):
    """(matrix, transposed) for gemm without copies where the layout allows."""
    if a.flags.c_contiguous:
        return a, False
    if a.ndim == 2 and a.flags.f_contiguous:
        return a.T, True
    return np.ascontiguousarray(a), False


def _mm(a, b, ta=False, tb=False):
    try:  # the binding accepts any row-major layout with unit inner stride
        return _gemm(a, b, None, ta, tb)
    except ValueError:
        a2, t1 = _gemm_operand(a)
        b2, t2 = _gemm_operand(b)
        if a2 is a and b2 is b:
            raise
        return _gemm(a2, b2, None, ta ^ t1, tb ^ t2)


class _MatMul2d(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved_tensors = (a, b)
        return _mm(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        n = ctx.needs_input_grad
        return (_mm(g, b, False, True) if n[0] else None, _mm(a, g, True, False) if n[1] else None)


class _BatchedMatMul(Function):
    """(..., n, k) @ (..., k, m) with broadcast batch dims: one gemm per batch entry."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved_tensors = (a, b)
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        ab = np.broadcast_to(a, batch + a.shape[-2:])
        bb = np.broadcast_to(b, batch + b.shape[-2:])
        out = np.empty(batch + (a.shape[-2], b.shape[-1]), dtype=np.result_type(a, b))
        for i in np.ndindex(*batch):
            out[i] = _mm(ab[i], bb[i])
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        batch = g.shape[:-2]
        ab = np.broadcast_to(a, batch + a.shape[-2:])
        bb = np.broadcast_to(b, batch + b.shape[-2:])
        n = ctx.needs_input_grad
        ga = np.empty(batch + a.shape[-2:], dtype=g.dtype) if n[0] else None
        gb = np.empty(batch + b.shape[-2:], dtype=g.dtype) if n[1] else None
        for i in np.ndindex(*batch):
            if n[0]:
                ga[i] = _mm(g[i], bb[i], False, True)
            if n[1]:
                gb[i] = _mm(ab[i], g[i], True, False)
        return (
            _unbroadcast(ga, a.shape) if n[0] else None,
            _unbroadcast(gb, b.shape) if n[1] else None,
        )


def matmul(a, b):
    """Matrix product (PyTorch/numpy semantics for 1-d, 2-d and batched operands), computed
    by the native GEMM. Tensors in: a Tensor with autograd; numpy arrays in: a numpy array."""
    if a.__class__ is Tensor and b.__class__ is Tensor:
        da, db = a._data, b._data
        if da.ndim == 2 and db.ndim == 2 and da.shape[1] == db.shape[0] and da.dtype == db.dtype:
            if _profiler._active is not None:
                return _MatMul2d.apply(a, b)
            out = _mm(da, db)
            if (a.requires_grad or b.requires_grad) and _ag._grad_enabled:
                ctx = _node2(_MatMul2d, a, b)
                ctx.saved_tensors = (da, db)
                if _ag._anomaly:
                    _ag._check_finite(out, "MatMul2d", "forward output")
                return _wrap(out, True, ctx)
            return _wrap(out, False, None)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = np.asarray(a)
        b = np.asarray(b)
        return matmul(_wrap(a, False, None), _wrap(b, False, None))._data
    if not isinstance(a, Tensor):
        a = _const_like(a, b)
    if not isinstance(b, Tensor):
        b = _const_like(b, a)
    da, db = a._data, b._data
    if da.ndim == 0 or db.ndim == 0:
        raise RuntimeError("matmul: both arguments need at least 1 dimension (use * for scalars)")
    if da.dtype != db.dtype:
        raise TypeError(
            f"matmul: expected both tensors to have the same dtype, got {da.dtype} and {db.dtype}"
        )
    ka = da.shape[-1]
    kb = db.shape[-2] if db.ndim > 1 else db.shape[0]
    if ka != kb:
        raise ValueError(
            f"matmul: shapes {tuple(da.shape)} and {tuple(db.shape)} cannot be multiplied "
            f"({ka} != {kb})"
        )
    if da.ndim == 2 and db.ndim == 2:
        return _MatMul2d.apply(a, b)
    if da.ndim == 1 and db.ndim == 1:
        return (a.reshape(1, -1) @ b.reshape(-1, 1)).reshape(())
    if da.ndim == 1:
        return (a.unsqueeze(0) @ b).squeeze(-2)
    if db.ndim == 1:
        return (a @ b.unsqueeze(-1)).squeeze(-1)
    if db.ndim == 2:  # (..., n, k) @ (k, m): one gemm on the flattened rows
        lead = da.shape[:-1]
        return (a.reshape(-1, ka) @ b).reshape(lead + (db.shape[1],))
    return _BatchedMatMul.apply(a, b)


# ------------------------------------------------------------- cat / stack
class _Cat(Function):
    __slots__ = ()

    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.saved_tensors = (dim, [a.shape[dim] for a in arrays])
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        dim, sizes = ctx.saved_tensors
        cuts = np.cumsum(sizes)[:-1]
        return (None,) + tuple(np.split(g, cuts, axis=dim))


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate tensors along an existing dim (differentiable)."""
    tensors = [t if isinstance(t, Tensor) else tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    return _Cat.apply(dim % tensors[0].ndim if tensors[0].ndim else 0, *tensors)


def stack(tensors, dim: int = 0) -> Tensor:
    """Stack same-shaped tensors along a new dim (differentiable)."""
    tensors = [t if isinstance(t, Tensor) else tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    d = dim % (tensors[0].ndim + 1)
    return cat([t.unsqueeze(d) for t in tensors], d)


# --------------------------------------------------------------- factories
def tensor(data, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A Tensor from data (nested lists, numbers, numpy arrays: shares memory when the dtype
    already matches). Python floats become float32 and ints int64, like PyTorch."""
    if device is not None:
        _check_device(device)
    t = _wrap(_to_array(data, _as_dtype(dtype)), False, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    if isinstance(data, Tensor) and dtype is None:
        return data
    return tensor(data, dtype=dtype, device=device)


def from_numpy(a: np.ndarray) -> Tensor:
    """A Tensor sharing memory with the numpy array `a` (dtype kept)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(a).__name__}")
    return _wrap(a, False, None)


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _make(arr, requires_grad) -> Tensor:
    t = _wrap(arr, False, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _make(np.zeros(_shape(size), dtype=_as_dtype(dtype) or float32), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _make(np.ones(_shape(size), dtype=_as_dtype(dtype) or float32), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _make(
        np.full(_shape((size,)), fill_value, dtype=_as_dtype(dtype) or float32), requires_grad
    )


def empty(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _make(np.empty(_shape(size), dtype=_as_dtype(dtype) or float32), requires_grad)


def randn(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Standard normal samples from the global generator (gradcore.manual_seed)."""
    dt = _as_dtype(dtype) or float32
    g = _random.default_generator()
    return _make(g.standard_normal(_shape(size)).astype(dt, copy=False), requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Uniform [0, 1) samples from the global generator."""
    dt = _as_dtype(dtype) or float32
    g = _random.default_generator()
    return _make(g.random(_shape(size)).astype(dt, copy=False), requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None) -> Tensor:
    if high is None:
        low, high = 0, low
    g = _random.default_generator()
    return _wrap(
        g.integers(low, high, size=tuple(size)).astype(_as_dtype(dtype) or int64), False, None
    )


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    if end is None:
        start, end = 0, start
    dt = _as_dtype(dtype)
    if dt is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dt = int64 if is_int else float32
    return _make(np.arange(start, end, step).astype(dt), requires_grad)


def zeros_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    a = t._data if isinstance(t, Tensor) else np.asarray(t)
    return _make(np.zeros(a.shape, dtype=_as_dtype(dtype) or a.dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    a = t._data if isinstance(t, Tensor) else np.asarray(t)
    return _make(np.ones(a.shape, dtype=_as_dtype(dtype) or a.dtype), requires_grad)


def empty_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    a = t._data if isinstance(t, Tensor) else np.asarray(t)
    return _make(np.empty(a.shape, dtype=_as_dtype(dtype) or a.dtype), requires_grad)


# wire the engine to Tensor
_ag.Tensor = Tensor
_ag._wrap = _wrap
