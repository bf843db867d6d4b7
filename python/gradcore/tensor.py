# long-file: the Tensor class is ~350 lines of storage plumbing and one-line op bindings; its factories follow it
"""Tensor: a numpy array (the storage, shared without copies) plus requires_grad, grad and
grad_fn, and the tensor factories (tensor, zeros, randn, ...).

Storage is a numpy array (float32, float64 or int64) for device "cpu". The Tensor's
differentiable methods are one-line bindings of the functions in gradcore.ops (one module
per op family); this module registers the class with gradcore.autograd at import so that
the ops can create Tensors without importing it (see gradcore/ops/__init__.py).
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from gradcore import autograd as _ag
from gradcore import devices
from gradcore import random as _random
from gradcore import versions as _versions
from gradcore.ops import activation, elementwise, inplace, reduce
from gradcore.ops import matmul as _matmul
from gradcore.ops import shape as shape_ops
from gradcore.ops import softmax as _softmax
from gradcore.ops.arrays import as_array as _fix
from gradcore.ops.arrays import to_array as _to_array
from gradcore.ops.shape import cat, stack

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
_asarray = np.asarray
matmul = _matmul.matmul


def _as_dtype(dtype) -> np.dtype | None:
    if dtype is None:
        return None
    return np.dtype(dtype)


class Tensor:
    """A multi-dimensional array with autograd.

    `Tensor(data)` wraps `data` (a numpy array is used as is, sharing memory).
    """

    # _post_acc_hooks: set only on leaves given a post-accumulate-grad hook (autograd.py)
    __slots__ = ("_data", "requires_grad", "grad", "grad_fn", "_post_acc_hooks", "__weakref__")
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
    def device(self) -> devices.device:
        """Where the storage lives (a gradcore.device; equal to "cpu" for numpy storage)."""
        return devices.device_of(self._data)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def is_cuda(self) -> bool:
        return devices.device_of(self._data).type == "cuda"

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
        """The storage itself (shares memory; writes are visible to the tensor, but autograd
        cannot see them: they do not bump the storage's version, see gradcore.versions).
        A tensor on a GPU raises, as in PyTorch: copy it with .cpu() first."""
        d = self._data
        if d.__class__ is not np.ndarray and not isinstance(d, np.ndarray):
            raise TypeError(
                f"can't convert a tensor on device '{self.device}' to numpy; "
                "use Tensor.cpu() to copy it to host memory first"
            )
        return d

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
        return self._data.item()

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
                "only Tensors of floating point dtype can require gradients, got dtype "
                f"{self._data.dtype}"
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

    def register_post_accumulate_grad_hook(self, fn) -> Any:
        """Call `fn(self)` after each gradient accumulation into this leaf's .grad during
        backward; returns a handle with `remove()` (see autograd.register_post_accumulate_grad_hook)."""
        return _ag.register_post_accumulate_grad_hook(self, fn)

    @property
    def retains_grad(self) -> bool:
        return self.grad_fn is not None and self.grad_fn._retained is not None

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad (frees the graph unless
        retain_graph=True). A non-scalar tensor needs an explicit `gradient`."""
        _ag.backward(self, gradient, retain_graph)

    zero_ = inplace.zero_
    fill_ = inplace.fill_
    copy_ = inplace.copy_

    def is_contiguous(self) -> bool:
        return self._data.flags.c_contiguous

    # --------------------------------------------------------------- devices
    def to(self, device=None, dtype=None, non_blocking=False, *args, **kwargs) -> Tensor:
        """`.to(device)`, `.to(dtype)` or `.to(device, dtype)` (device: a string or a
        gradcore.device; "cuda" needs a CUDA build). Returns self when nothing changes.
        `non_blocking=True`: a copy to CUDA from pinned memory (pin_memory(), DataLoader(
        pin_memory=True)) returns before it is done, ordered on the current stream; other
        copies wait as without it."""
        if device is not None and not isinstance(device, (str, devices.device)) and dtype is None:
            try:
                dtype = np.dtype(device)
                device = None
            except TypeError:
                pass
        t = self if device is None else shape_ops.to_device(self, device, non_blocking)
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype != t._data.dtype:
                return shape_ops.cast(t, dtype)
        return t

    def cpu(self) -> Tensor:
        return shape_ops.to_device(self, devices.CPU)

    def cuda(self, device=None, non_blocking=False) -> Tensor:
        return shape_ops.to_device(
            self, "cuda" if device is None else devices.device("cuda", device), non_blocking
        )

    def pin_memory(self) -> Tensor:
        """A copy in pinned (page-locked) host memory, or self when already pinned; see
        `to(..., non_blocking=True)`. A RuntimeError saying why when CUDA is not available."""
        return shape_ops.pin_memory(self)

    def is_pinned(self) -> bool:
        """Whether this tensor's storage is pinned host memory (False without CUDA)."""
        a = self._data
        if not isinstance(a, np.ndarray):
            return False
        from gradcore import cuda

        return cuda.is_available() and cuda.is_pinned(a)

    def type(self, dtype=None):
        if dtype is None:
            return f"gradcore.{_DTYPE_NAMES.get(self._data.dtype, str(self._data.dtype))}"
        return self.to(dtype=dtype)

    def float(self) -> Tensor:
        return self.to(dtype=float32)

    def double(self) -> Tensor:
        return self.to(dtype=float64)

    def bfloat16(self) -> Tensor:
        """self as gradcore.bfloat16 (round to nearest even; needs ml_dtypes)."""
        from gradcore.bf16 import bfloat16_dtype

        return self.to(dtype=bfloat16_dtype())

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

    # ------------------------------------------------ ops (gradcore.ops.<family>)
    __add__ = __radd__ = elementwise.add
    __sub__ = elementwise.sub
    __rsub__ = elementwise.rsub
    __mul__ = __rmul__ = elementwise.mul
    __truediv__ = elementwise.truediv
    __rtruediv__ = elementwise.rtruediv
    __neg__ = elementwise.neg
    __pow__ = pow = elementwise.pow
    __matmul__ = matmul = _matmul.matmul
    __rmatmul__ = _matmul.rmatmul
    abs = elementwise.abs

    def __pos__(self):
        return self

    def __rpow__(self, base):
        raise TypeError("pow: tensor exponents are not supported; use a Python number")

    def add(self, other, alpha=1):
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other, alpha=1):
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    clone = shape_ops.clone
    contiguous = shape_ops.contiguous
    reshape = shape_ops.reshape
    view = shape_ops.view
    flatten = shape_ops.flatten
    squeeze = shape_ops.squeeze
    unsqueeze = shape_ops.unsqueeze
    expand = shape_ops.expand
    transpose = shape_ops.transpose
    permute = shape_ops.permute
    __getitem__ = shape_ops.getitem

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def t(self):
        if self._data.ndim > 2:
            raise RuntimeError("t() expects a tensor with <= 2 dimensions")
        return self.T

    def __setitem__(self, idx, value):
        inplace.setitem(self, shape_ops.index_arg(idx), value)

    sum = reduce.sum
    mean = reduce.mean
    var = reduce.var
    std = reduce.std
    max = reduce.max
    min = reduce.min
    argmax = reduce.argmax
    argmin = reduce.argmin

    relu = activation.relu
    sigmoid = activation.sigmoid
    tanh = activation.tanh

    def softmax(self, dim: int):
        return _softmax.softmax(self, dim)

    def log_softmax(self, dim: int):
        return _softmax.log_softmax(self, dim)

    # ---------------------------------------- in-place ops (gradcore.ops.inplace)
    __iadd__ = add_ = inplace.iadd
    __isub__ = sub_ = inplace.isub
    __imul__ = mul_ = inplace.imul
    __itruediv__ = div_ = inplace.itruediv
    relu_ = inplace.relu_

    @property
    def _version(self) -> int:
        """How many in-place writes gradcore made to this tensor's storage (PyTorch's
        `_version`; shared by views of the storage, see gradcore.versions)."""
        return _versions.version(self._data)

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


# ------------------------------------------------------------------- helpers
_wrap = _ag.wrap


def check_device(device) -> None:
    """Raise for a device this build cannot place tensors on: ValueError for an unknown
    device type, RuntimeError for one that is not available (CUDA without a CUDA build)."""
    devices.backend(device)


# --------------------------------------------------------------- factories
def tensor(data, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A Tensor from data (nested lists, numbers, numpy arrays: shares memory when the dtype
    already matches). Python floats become float32 and ints int64, like PyTorch."""
    arr = _to_array(data, _as_dtype(dtype))
    t = _wrap(arr if device is None else devices.move(arr, device), False, None)
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
    return _wrap(_to_array(a, None), False, None)


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _make(arr, requires_grad, device=None) -> Tensor:
    t = _wrap(arr if device is None else devices.move(arr, device), False, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _make(np.zeros(_shape(size), dtype=_as_dtype(dtype) or float32), requires_grad, device)


def ones(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _make(np.ones(_shape(size), dtype=_as_dtype(dtype) or float32), requires_grad, device)


def full(size, fill_value, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _make(
        np.full(_shape((size,)), fill_value, dtype=_as_dtype(dtype) or float32),
        requires_grad,
        device,
    )


def empty(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _make(np.empty(_shape(size), dtype=_as_dtype(dtype) or float32), requires_grad, device)


def randn(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Standard normal samples from the global generator (gradcore.manual_seed)."""
    dt = _as_dtype(dtype) or float32
    g = _random.default_generator()
    return _make(g.standard_normal(_shape(size)).astype(dt, copy=False), requires_grad, device)


def rand(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Uniform [0, 1) samples from the global generator."""
    dt = _as_dtype(dtype) or float32
    g = _random.default_generator()
    return _make(g.random(_shape(size)).astype(dt, copy=False), requires_grad, device)


def randint(low, high=None, size=(), dtype=None, device=None) -> Tensor:
    if high is None:
        low, high = 0, low
    g = _random.default_generator()
    return _make(
        g.integers(low, high, size=tuple(size)).astype(_as_dtype(dtype) or int64), False, device
    )


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    if end is None:
        start, end = 0, start
    dt = _as_dtype(dtype)
    if dt is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dt = int64 if is_int else float32
    return _make(np.arange(start, end, step).astype(dt), requires_grad, device)


def zeros_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    a = t._data if isinstance(t, Tensor) else np.asarray(t)
    return _make(np.zeros(a.shape, dtype=_as_dtype(dtype) or a.dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    a = t._data if isinstance(t, Tensor) else np.asarray(t)
    return _make(np.ones(a.shape, dtype=_as_dtype(dtype) or a.dtype), requires_grad)


def empty_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    a = t._data if isinstance(t, Tensor) else np.asarray(t)
    return _make(np.empty(a.shape, dtype=_as_dtype(dtype) or a.dtype), requires_grad)


_ag.register_tensor_type(Tensor)
