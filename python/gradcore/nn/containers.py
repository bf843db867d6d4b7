"""Containers of modules: Sequential (which runs a ReLU -> MaxPool2d pair pool-first, and a
Conv2d -> ReLU -> MaxPool2d(2) block as one op) and ModuleList."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from gradcore import amp
from gradcore.nn.activation import ReLU
from gradcore.nn.conv import Conv2d
from gradcore.nn.module import Module
from gradcore.nn.pool import MaxPool2d
from gradcore.ops.conv_relu_pool import conv2d_relu_max_pool2d, conv_output_hw
from gradcore.ops.pool import is_2x2_cells, max_pool2d_relu

__all__ = ["Sequential", "ModuleList"]


def _position(idx: int, n: int, kind: str) -> int:
    """idx (negative from the end) as a position among n children; IndexError naming the
    container kind when it is out of range."""
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for {kind} of length {n}")
    return idx % n


def _max_pool_without_indices(m) -> bool:
    """Whether m is an nn.MaxPool2d itself (a subclass may change forward) returning no
    indices: the pool that Sequential's ReLU -> pool rewrites stand for."""
    return m.__class__ is MaxPool2d and not m.return_indices


def _is_2x2_pool(pool: MaxPool2d) -> bool:
    return is_2x2_cells(pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode)


def _relu_max_pool(relu: ReLU, pool: MaxPool2d, x):
    """relu then pool, run pool-first (see Sequential.forward); as one max_pool2d_relu kernel
    for 2x2/2 windows on a float32 CPU batch of planes at least 2x2 (the same values and
    gradients, one pass, one byte per output saved instead of an int64 index; float64 has no
    explicit SIMD kernel for it and keeps the two ops)."""
    if _fusable_2x2_relu_pool(x) and _is_2x2_pool(pool):
        return max_pool2d_relu(x)
    return relu(pool(x))  # the modules themselves


def _float32_cpu_batch(d) -> bool:
    """Whether the storage d is a 4-d float32 numpy batch: what the fused kernels take."""
    return d.__class__ is np.ndarray and d.ndim == 4 and d.dtype == np.float32


def _fusable_2x2_relu_pool(x) -> bool:
    """Whether max_pool2d_relu takes x: a float32 CPU batch of planes at least 2x2."""
    d = getattr(x, "_data", None)
    return _float32_cpu_batch(d) and d.shape[2] >= 2 and d.shape[3] >= 2


def _conv_block_geometry(conv: Conv2d, x):
    """geom = (stride, padding, dilation, groups) when conv -> relu -> 2x2 max pool can run as
    one conv2d_relu_max_pool2d on x, else None: a float32 CPU batch with conv's channels and
    dtypes, int-pair padding (not "same"), no bfloat16 autocast (Conv2dBf16 rounds), an
    output of at least 2x2, and conv.forward not replaced on the instance (a wrapper must see
    its calls)."""
    d = getattr(x, "_data", None)
    w = conv.weight
    b = conv.bias
    if (
        not _float32_cpu_batch(d)
        or d.shape[1] != conv.in_channels
        or w._data.__class__ is not np.ndarray
        or w._data.dtype != np.float32
        or (b is not None and (b._data.__class__ is not np.ndarray or b._data.dtype != np.float32))
        or isinstance(conv.padding, str)
        or "forward" in conv.__dict__
        or (amp._anywhere and amp.get_autocast_dtype() is not None)
    ):
        return None
    geom = (conv.stride, conv.padding, conv.dilation, conv.groups)
    oh, ow = conv_output_hw(d.shape[2:], w._data.shape[2:], geom)
    return geom if oh >= 2 and ow >= 2 else None


def _conv_relu_max_pool(conv: Conv2d, pool: MaxPool2d, x):
    """conv -> relu -> pool on x as one conv2d_relu_max_pool2d, or None where that op does
    not apply (the caller then runs the modules)."""
    if not _is_2x2_pool(pool):
        return None
    geom = _conv_block_geometry(conv, x)
    return None if geom is None else conv2d_relu_max_pool2d(x, conv.weight, conv.bias, geom)


class Sequential(Module):
    """Modules applied in order; Sequential(m0, m1, ...) or Sequential(OrderedDict)."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for k, m in args[0].items():
                self.add_module(k, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def forward(self, x):
        # An nn.ReLU followed by an nn.MaxPool2d without indices (the usual CNN block) runs
        # pool-first: relu then max pool equals max pool then relu in values and gradients
        # (relu is monotone, so the pooled maximum of relu(x) is relu of the pooled maximum,
        # and relu' = [y > 0] is the same at it; a window whose maximum is <= 0 gives 0 and
        # passes no gradient either way; they differ at most in the sign of a zero output, and
        # in the gradient of a window holding a denormal, which relu first compares as 0
        # under DAZ), and the relu runs on a tensor k*k times smaller, or inside the pool's
        # kernel (_relu_max_pool).
        # A Conv2d -> ReLU -> MaxPool2d(2) block runs as one op (conv2d_relu_max_pool2d:
        # the same bits as the conv followed by that pair, without writing the conv's output).
        # Exact classes only: a subclass may change forward.
        mods = tuple(self._modules.values())
        i, n = 0, len(mods)
        while i < n:
            m = mods[i]
            i += 1
            if (
                m.__class__ is Conv2d
                and i + 1 < n
                and mods[i].__class__ is ReLU
                and _max_pool_without_indices(mods[i + 1])
            ):
                y = _conv_relu_max_pool(m, mods[i + 1], x)
                if y is not None:
                    x = y
                    i += 2
                    continue
            if m.__class__ is ReLU and i < n and _max_pool_without_indices(mods[i]):
                x = _relu_max_pool(m, mods[i], x)
                i += 1
                continue
            x = m(x)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_position(idx, len(self._modules), "Sequential")]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules.keys())[idx]
        self.add_module(key, module)

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """A list of modules, registered as children "0", "1", ..."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[str(_position(idx, len(self._modules), "ModuleList"))]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(idx % len(self._modules)), module)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        mods = list(self._modules.values())
        mods.insert(index, module)
        for k in list(self._modules):
            self._discard(k)
            del self.__dict__[k]
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def __iadd__(self, modules) -> ModuleList:
        return self.extend(modules)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList is a container; iterate over it in forward()")
