"""Version counters of tensor storages, as in PyTorch: every in-place write that gradcore
performs bumps the counter of the storage it writes, and the backward pass raises when an
array a node saved for backward was written after the node was recorded, instead of
giving a wrong gradient.

A storage is the numpy array that owns the memory: a view's root, found by following
`.base` (numpy collapses chains of views to the owner). Views of one storage (reshape,
slicing, `.T`, `detach()`, `.data`, Tensors built on the same numpy array) therefore share
one counter. Counters live in a registry keyed by the root's id: an entry is created on the
first write and dropped when the root is freed (weakref callback), so a storage never
written in place costs nothing and is at version 0, and the registry is empty in programs
that never write in place.

Every write also takes the next value of a global write clock (EPOCH). A node being
recorded notes the clock (one read, only while recording and only once the registry is
non-empty); in backward, a node whose noted clock is behind checks its saved arrays: one
whose storage was written at a later tick was modified. The entry keeps the ticks of the
storage's last writes, which give the version the array had when it was saved.

Writes gradcore cannot see do not bump: writes through the array returned by
`Tensor.numpy()` (or any other numpy alias of the storage) and native kernels called
directly. Gradient accumulation into `.grad` does not bump either (gradcore has no double
backward, so no node ever saves a `.grad` array).
"""

from __future__ import annotations

import weakref

import numpy as np

__all__ = ["COUNTERS", "EPOCH", "storage_root", "version", "bump", "written_since"]

# id(root) -> [version, weakref to the root, ticks of the last writes (at most _KEEP)];
# mutated in place, never rebound (autograd tests its truthiness on the hot path: empty
# means every storage is at version 0).
COUNTERS: dict = {}
# [tick of the latest write]; a list so that importers read the current value.
EPOCH = [0]
_KEEP = 8

_ndarray = np.ndarray
# Storage types whose `.base` chains lead to the owning array: numpy's, plus each registered
# device backend's storage type (gradcore.devices.register_backend adds it).
STORAGE_TYPES: tuple = (np.ndarray,)


def storage_root(a):
    """The array that owns `a`'s memory (`a` itself when it is not a view)."""
    b = a.base
    while isinstance(b, STORAGE_TYPES):
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
        e = COUNTERS[key] = [0, weakref.ref(root, lambda _r, k=key: _forget(k)), []]
    tick = EPOCH[0] + 1
    EPOCH[0] = tick
    e[0] += 1
    ticks = e[2]
    ticks.append(tick)
    if len(ticks) > _KEEP:
        del ticks[0]


def written_since(a, tick: int):
    """None when the storage of array `a` was not written after clock value `tick`; else
    (its version now, its version at `tick`). `tick` -1 means "before any write": then the
    version at `tick` is 0. When more than the kept number of writes followed `tick`, the
    version at `tick` is the highest it can have been."""
    e = COUNTERS.get(id(storage_root(a)))
    if e is None or e[2][-1] <= tick:
        return None
    if tick < 0:
        return e[0], 0
    after = sum(1 for t in e[2] if t > tick)
    return e[0], e[0] - after
