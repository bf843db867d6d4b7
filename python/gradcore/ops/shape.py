"""Shape and layout ops: clone, cast, reshape/view/flatten/squeeze/unsqueeze, expand,
permute/transpose, indexing, cat and stack.

These move or copy values without arithmetic; each backward routes the gradient back to
where the values came from (reshape back, sum over expanded axes, inverse permutation,
scatter into zeros for indexing, split for cat).
"""

from __future__ import annotations

import numpy as np

from gradcore import autograd as ag
from gradcore import devices
from gradcore.autograd import Function
from gradcore.bf16 import cast_array
from gradcore.devices import KERNELS
from gradcore.ops.arrays import as_array, to_array, unbroadcast
from gradcore.versions import storage_root

__all__ = [
    "clone",
    "contiguous",
    "cast",
    "reshape",
    "view",
    "flatten",
    "squeeze",
    "unsqueeze",
    "expand",
    "transpose",
    "permute",
    "getitem",
    "cat",
    "stack",
    "to_device",
    "pin_memory",
]


def _view_output(ctx, a: np.ndarray, out: np.ndarray):
    """`out` when it is a view of `a`'s storage and `ctx` is being recorded, else None.

    A recorded view node saves its output so that the backward pass checks the storage's
    version: an in-place write to the viewed tensor after the view was taken (whose graph
    the view's node does not see) raises instead of giving a wrong gradient. The node is
    also marked `_makes_view`: in-place ops on its output raise (gradcore.ops.inplace)."""
    if not ctx.needs_input_grad[0]:
        return None
    if out.base is None or storage_root(out) is not storage_root(a):
        return None
    ctx._makes_view = True
    return out


class Clone(Function):
    """out = a copied into fresh C-contiguous storage; da = g."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a):
        return np.array(a, copy=True, order="C")

    @staticmethod
    def backward(ctx, g):
        return g


class Cast(Function):
    """out = a as `dtype`; da = g cast back to a's dtype."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.saved_tensors = a.dtype
        ctx.kernels = KERNELS[a.__class__]
        return cast_array(ctx.kernels, a, dtype)

    @staticmethod
    def backward(ctx, g):
        return cast_array(ctx.kernels, g, ctx.saved_tensors), None


class ToDevice(Function):
    """out = a copied to device `dst` (Tensor.to(device); `non_blocking` as in devices.move);
    da = g copied back to a's device."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, dst, non_blocking=False):
        ctx.saved_tensors = devices.device_of(a)
        return devices.move(a, dst, non_blocking)

    @staticmethod
    def backward(ctx, g):
        return devices.move(g, ctx.saved_tensors), None, None


class PinMemory(Function):
    """out = a copied into pinned host memory (Tensor.pin_memory()); da = g."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a):
        from gradcore import cuda

        return cuda._pinned_copy(a)

    @staticmethod
    def backward(ctx, g):
        return g


class Reshape(Function):
    """out = a viewed (or copied) as `shape` (one -1 allowed); da = g reshaped to a.shape."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, shape):
        try:
            out = a.reshape(shape)
        except ValueError:
            raise RuntimeError(
                f"shape {tuple(shape)} is invalid for input of size {a.size} "
                f"(shape {tuple(a.shape)})"
            ) from None
        ctx.saved_tensors = (a.shape, _view_output(ctx, a, out))
        return out

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.saved_tensors[0]), None


class Expand(Function):
    """out = a broadcast to `shape` (a read-only view); da = g summed over expanded axes."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, shape):
        out = np.broadcast_to(a, shape)
        ctx.saved_tensors = (a.shape, _view_output(ctx, a, out))
        return out

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.saved_tensors[0]), None


class Permute(Function):
    """out = a with its axes reordered by `perm` (a view); da = g by the inverse permutation."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, perm):
        out = a.transpose(perm)
        ctx.saved_tensors = (perm, _view_output(ctx, a, out))
        return out

    @staticmethod
    def backward(ctx, g):
        return g.transpose(np.argsort(ctx.saved_tensors[0])), None


def _is_basic_index(idx) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    for i in items:
        if not (i is None or i is Ellipsis or isinstance(i, (int, slice, np.integer))):
            return False
    return True


class GetItem(Function):
    """out = a[idx] (numpy indexing); da = zeros with g written (basic) or accumulated
    (advanced indexing, which may repeat elements) at idx."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, idx):
        out = as_array(a[idx])
        ctx.saved_tensors = (a.shape, a.dtype, idx, _view_output(ctx, a, out))
        return out

    @staticmethod
    def backward(ctx, g):
        shape, dtype, idx, _ = ctx.saved_tensors
        out = np.zeros(shape, dtype=g.dtype)
        if _is_basic_index(idx):
            out[idx] = g
        else:  # advanced indexing may repeat elements: accumulate
            np.add.at(out, idx, g)
        return out, None


class Cat(Function):
    """out = concatenate(arrays, dim); each input's gradient is its slice of g along dim."""

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


# ------------------------------------------------------------ Tensor methods
def _shape_arg(shape: tuple) -> tuple:
    """`t.reshape(2, 3)` and `t.reshape((2, 3))` both mean (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return shape


def clone(self):
    """A copy with its own storage, in the graph (Tensor.clone)."""
    return Clone.apply(self)


def contiguous(self):
    """self when C-contiguous, else a contiguous copy (Tensor.contiguous)."""
    if self._data.flags.c_contiguous:
        return self
    return Clone.apply(self)


def cast(self, dtype):
    """self as numpy dtype `dtype` (differentiable; Tensor.to(dtype))."""
    return Cast.apply(self, dtype)


def to_device(self, dev, non_blocking: bool = False):
    """self on device `dev` (a string or gradcore.device): self when it is already there,
    else a copy in the graph. Devices that are not available raise a RuntimeError.
    `non_blocking`: copy to CUDA from pinned memory asynchronously (devices.move)."""
    d = dev if isinstance(dev, devices.device) else devices.device(dev)
    devices.backend(d)  # a clear error for a device this build does not have
    if devices.device_of(self._data).type == d.type:
        return self
    if non_blocking:
        return ToDevice.apply(self, d, True)
    return ToDevice.apply(self, d)


def pin_memory(self):
    """self copied into pinned host memory (self when it is already pinned): a CPU tensor
    whose copies to CUDA with non_blocking=True run asynchronously. A RuntimeError for a
    tensor that is not on the CPU, or when CUDA is not available."""
    from gradcore import cuda

    dev = devices.device_of(self._data)
    if dev.type != "cpu":
        raise RuntimeError(
            f"pin_memory: cannot pin a tensor on '{dev}': only CPU tensors can be pinned"
        )
    cuda._require("Tensor.pin_memory")
    if cuda.is_pinned(self._data):
        return self
    return PinMemory.apply(self)


def reshape(self, *shape):
    """Tensor.reshape(*shape)."""
    return Reshape.apply(self, _shape_arg(shape))


def view(self, *shape):
    """Tensor.view(*shape): like reshape, but only for contiguous storage."""
    shape = _shape_arg(shape)
    if not self._data.flags.c_contiguous and self._data.size > 1:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride; use .reshape()"
        )
    return Reshape.apply(self, shape)


def flatten(self, start_dim: int = 0, end_dim: int = -1):
    """Merge dims start_dim..end_dim into one (Tensor.flatten, F.flatten)."""
    nd = self._data.ndim
    if nd == 0:
        return reshape(self, 1)
    s = start_dim % nd
    e = end_dim % nd
    if s > e:
        raise ValueError("flatten: start_dim must not come after end_dim")
    shp = self._data.shape
    return Reshape.apply(self, shp[:s] + (-1,) + shp[e + 1 :]) if s != e else self


def squeeze(self, dim=None):
    """Drop size-1 dims (all, or those in `dim`)."""
    shp = self._data.shape
    if dim is None:
        new = tuple(d for d in shp if d != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        dims = {d % max(len(shp), 1) for d in dims}
        new = tuple(d for i, d in enumerate(shp) if not (i in dims and d == 1))
    return Reshape.apply(self, new)


def unsqueeze(self, dim: int):
    """Insert a size-1 dim at `dim`."""
    shp = self._data.shape
    d = dim if dim >= 0 else dim + len(shp) + 1
    if not 0 <= d <= len(shp):
        raise IndexError(f"unsqueeze: dim {dim} out of range for a tensor with {len(shp)} dims")
    return Reshape.apply(self, shp[:d] + (1,) + shp[d:])


def expand(self, *sizes):
    """Broadcast to `sizes` (-1 keeps a dim) without copying."""
    sizes = _shape_arg(sizes)
    shp = self._data.shape
    off = len(sizes) - len(shp)
    tgt = tuple(shp[i - off] if (s == -1 and i >= off) else s for i, s in enumerate(sizes))
    return Expand.apply(self, tgt)


def transpose(self, dim0: int, dim1: int):
    """Swap two dims (a view)."""
    nd = self._data.ndim
    perm = list(range(nd))
    d0, d1 = dim0 % nd, dim1 % nd
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return Permute.apply(self, tuple(perm))


def permute(self, *dims):
    """Reorder all dims (a view)."""
    dims = _shape_arg(dims)
    nd = self._data.ndim
    dims = tuple(d % nd for d in dims)
    if sorted(dims) != list(range(nd)):
        raise ValueError(f"permute: {dims} is not a permutation of {nd} dims")
    return Permute.apply(self, dims)


def index_arg(idx):
    """A Tensor index (or Tensors inside a tuple index) as numpy arrays."""
    Tensor = ag.Tensor
    if isinstance(idx, Tensor):
        return idx._data
    if isinstance(idx, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in idx)
    return idx


def getitem(self, idx):
    """self[idx] (Tensor.__getitem__): numpy's basic and advanced indexing."""
    idx = index_arg(idx)
    if self.requires_grad and ag.is_grad_enabled():
        return GetItem.apply(self, idx)
    return ag.wrap(as_array(self._data[idx]), False, None)


def _tensors(tensors, op: str) -> list:
    Tensor = ag.Tensor
    out = [t if isinstance(t, Tensor) else ag.wrap(to_array(t, None)) for t in tensors]
    if not out:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    return out


def cat(tensors, dim: int = 0):
    """Concatenate tensors along an existing dim (differentiable)."""
    tensors = _tensors(tensors, "cat")
    return Cat.apply(dim % tensors[0].ndim if tensors[0].ndim else 0, *tensors)


def stack(tensors, dim: int = 0):
    """Stack same-shaped tensors along a new dim (differentiable)."""
    tensors = _tensors(tensors, "stack")
    d = dim % (tensors[0].ndim + 1)
    return cat([unsqueeze(t, d) for t in tensors], d)
