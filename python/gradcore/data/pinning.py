"""Pinned batches of DataLoader(pin_memory=True): each array of a batch is copied into a
pinned (page-locked) host buffer, from which `Tensor.to("cuda", non_blocking=True)` copies
asynchronously.

Buffers are reused, not allocated per batch (cudaHostAlloc is slow): the pool keeps up to
`per_shape` buffers for each (shape, dtype) and hands one out again only when nothing else
refers to it. A batch the training loop still holds (its Tensors, views of them, the
prefetch queue) refers to its buffers, and so does a non_blocking copy from them until the
copy is done (gradcore._C_cuda holds the source of an asynchronous copy and drops it once an
event recorded after the copy has completed). So a buffer is never overwritten while it is
in use or being read by the GPU; when every pooled buffer of a shape is busy, the batch gets
a new buffer of its own, freed with it.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Dict, List, Tuple

import numpy as np

from gradcore.profiler import record_function


def _refs(buffers: List[np.ndarray], i: int) -> int:
    return sys.getrefcount(buffers[i])


def _baseline() -> int:
    """References `_refs` sees to an object that only its pool list refers to."""
    probe = [np.empty(1)]
    return _refs(probe, 0)


_FREE = _baseline()


class PinnedBufferPool:
    """Pinned buffers per (shape, dtype), reused once nothing refers to them (see the module
    docstring). Thread-safe: the prefetch thread pins while another epoch's may still run."""

    def __init__(self, per_shape: int = 4) -> None:
        self.per_shape = int(per_shape)
        self._buffers: Dict[Tuple[Tuple[int, ...], np.dtype], List[np.ndarray]] = {}
        self._lock = threading.Lock()
        self.allocated = 0  # buffers allocated so far (pooled or not): for tests and tuning

    def buffer(self, shape: Tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A pinned buffer of `shape` and `dtype` that nothing else refers to."""
        from gradcore import cuda

        cuda._release_finished_copies()  # copies that are done let go of their buffers
        key = (tuple(shape), np.dtype(dtype))
        with self._lock:
            bufs = self._buffers.setdefault(key, [])
            for i in range(len(bufs)):
                if _refs(bufs, i) == _FREE:
                    return bufs[i]
            buf = cuda.pinned_empty(key[0], key[1])
            self.allocated += 1
            if len(bufs) < self.per_shape:
                bufs.append(buf)
            return buf

    def pin(self, batch: Any) -> Any:
        """`batch` (a tuple / list / dict of numpy arrays, or one array) with every numeric
        array copied into a pinned buffer; other fields unchanged."""
        if isinstance(batch, np.ndarray):
            if batch.dtype.hasobject:
                return batch
            buf = self.buffer(batch.shape, batch.dtype)
            np.copyto(buf, batch, casting="no")
            return buf
        if isinstance(batch, tuple):
            return tuple(self.pin(b) for b in batch)
        if isinstance(batch, list):
            return [self.pin(b) for b in batch]
        if isinstance(batch, dict):
            return {k: self.pin(v) for k, v in batch.items()}
        return batch


def pin_batches(batches, pool: PinnedBufferPool):
    """The numpy batches of `batches` in pinned buffers of `pool` (runs in the prefetch
    thread, like the assembly)."""
    try:
        for batch in batches:
            with record_function("DataLoader.pin_memory"):
                pinned = pool.pin(batch)
            yield pinned
    finally:
        batches.close()
