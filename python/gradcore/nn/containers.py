"""Containers of modules: Sequential (which runs a ReLU -> MaxPool2d pair pool-first) and
ModuleList."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from gradcore.nn.activation import ReLU
from gradcore.nn.module import Module
from gradcore.nn.pool import MaxPool2d
from gradcore.ops.pool import is_2x2_cells, max_pool2d_relu

__all__ = ["Sequential", "ModuleList"]


def _position(idx: int, n: int, kind: str) -> int:
    """idx (negative from the end) as a position among n children; IndexError naming the
    container kind when it is out of range."""
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for {kind} of length {n}")
    return idx % n


def _relu_max_pool(relu: ReLU, pool: MaxPool2d, x):
    """relu then pool, run pool-first (see Sequential.forward); as one max_pool2d_relu kernel
    for 2x2/2 windows on a float32 CPU batch of planes at least 2x2 (the same values and
    gradients, one pass, one byte per output saved instead of an int64 index; float64 has no
    explicit SIMD kernel for it and keeps the two ops)."""
    d = getattr(x, "_data", None)
    if (
        d.__class__ is np.ndarray
        and d.ndim == 4
        and d.shape[2] >= 2
        and d.shape[3] >= 2
        and d.dtype == np.float32
        and is_2x2_cells(pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode)
    ):
        return max_pool2d_relu(x)
    return relu(pool(x))  # the modules themselves


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
        # Exact classes only: a subclass may change forward.
        mods = tuple(self._modules.values())
        i, n = 0, len(mods)
        while i < n:
            m = mods[i]
            i += 1
            if m.__class__ is ReLU and i < n:
                pool = mods[i]
                if pool.__class__ is MaxPool2d and not pool.return_indices:
                    x = _relu_max_pool(m, pool, x)
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
