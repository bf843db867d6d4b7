"""Version counters of tensor storages, as in PyTorch: every in-place write that gradcore
performs bumps the counter of the storage it writes, autograd records the versions of the
arrays a node saves for backward (only while recording), and the backward pass checks
them, so a saved value changed in place raises instead of giving a wrong gradient.

A storage is the numpy array that owns the memory: a view's root, found by following
`.base` (numpy collapses chains of views to the owner). Views of one storage (reshape,
slicing, `.T`, `detach()`, `.data`, Tensors built on the same numpy array) therefore share
one counter. Counters live in a registry keyed by the root's id: an entry is created on the
first write and dropped when the root is freed (weakref callback), so a storage never
written in place costs nothing and is at version 0, and the registry is empty in programs
that never write in place.

Writes gradcore cannot see do not bump: writes through the array returned by
`Tensor.numpy()` (or any other numpy alias of the storage) and native kernels called
directly. Gradient accumulation into `.grad` does not bump either (gradcore has no double
backward, so no node ever saves a `.grad` array).
"""

from __future__ import annotations

import weakref

import numpy as np

__all__ = ["COUNTERS", "storage_root", "version", "bump"]

# id(root) -> [version, weakref to the root]; mutated in place, never rebound (autograd
# tests its truthiness on the hot path: empty means every storage is at version 0).
COUNTERS: dict = {}

_ndarray = np.ndarray


def storage_root(a):
    """The array that owns `a`'s memory (`a` itself when it is not a view)."""
    b = a.base
    while isinstance(b, _ndarray):
        a = b
        b = a.base
    return a


def version(a) -> int:
    """How many in-place writes gradcore has made to the storage of array `a`."""
    if not COUNTERS:
        return 0
    e = COUNTERS.get(id(storage_root(a)))
    return 0 if e is None else e[0]


def _forget(key: int) -> None:
    COUNTERS.pop(key, None)


def bump(a) -> None:
    """Record one in-place write to the storage of array `a` (every view of it sees it)."""
    if not isinstance(a, _ndarray):
        return
    root = storage_root(a)
    key = id(root)
    e = COUNTERS.get(key)
    if e is None:
        # The callback runs while the root is being freed, before its id can be reused.
        e = COUNTERS[key] = [0, weakref.ref(root, lambda _r, k=key: _forget(k))]
    e[0] += 1
