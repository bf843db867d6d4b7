"""DistributedDataParallel: one model replica per MPI rank, gradients averaged in buckets.

At wrap time the parameters and buffers are broadcast from rank 0 and a checksum of the
model's names, shapes and dtypes (and an optional `config`, e.g. the hyper-parameters) is
compared across ranks. The parameters are split into buckets of about `bucket_cap_mb`, in
reverse registration order (the order backward produces their gradients). A hook on each
parameter counts its gradient accumulations; when every parameter of a bucket has its
gradient, the bucket's gradients are copied into one flat buffer and a non-blocking
`Iallreduce` (sum) starts, so communication overlaps the rest of backward (each later hook
polls the requests in flight, which is what moves MPI's progress along). When the last bucket
has started, the hook waits for all of them, divides by the world size and copies the
averages back into each `.grad`: when `loss.backward()` returns, every rank holds the same
averaged gradients, before any `optimizer.step()` or gradient clipping.

Buckets start strictly in index order on every rank (MPI requires collectives in the same
order everywhere). Parameters that get no gradient: with `find_unused_parameters=True`
forward walks the autograd graph from the outputs and marks parameters it does not reach as
ready (their gradient counts as zero); without it the first forward walks the graph once and
raises naming the parameters that cannot get a gradient. A parameter used twice in one
forward (two accumulations), or a second backward after one forward, raises a clear error:
each parameter is averaged once per forward. A backward that left some parameters without a
gradient (a dynamic graph without find_unused_parameters) raises at the next forward.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any, Iterator

import numpy as np

from gradcore import distributed as dist
from gradcore.autograd import is_grad_enabled, no_grad, wrap
from gradcore.nn.module import Module
from gradcore.versions import bump

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """Parameters (indices into DDP's list) whose gradients travel in one flat buffer."""

    __slots__ = ("indices", "offsets", "buffer", "pending", "request")

    def __init__(self, indices: list, params: list):
        self.indices = indices
        self.offsets = []
        total = 0
        for i in indices:
            self.offsets.append(total)
            total += params[i]._data.size
        self.buffer = np.empty((total,), dtype=params[indices[0]]._data.dtype)
        self.pending = len(indices)
        self.request = None


class DistributedDataParallel(Module):
    """Wraps `module` for data-parallel training over the ranks of gradcore.distributed.

    `bucket_cap_mb`: the size of a gradient bucket (MB); smaller buckets start earlier and
    overlap more of backward, larger ones cost fewer messages. `broadcast_buffers`: copy rank
    0's buffers (e.g. BatchNorm running stats) to every rank before each forward in training.
    `config`: anything JSON-like (e.g. the hyper-parameters) that must agree across ranks;
    it enters the wrap-time checksum."""

    def __init__(
        self,
        module: Module,
        bucket_cap_mb: float = 1.0,
        find_unused_parameters: bool = False,
        broadcast_buffers: bool = True,
        config: Any = None,
    ):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a Module, got {type(module)}")
        if bucket_cap_mb <= 0:
            raise ValueError(
                f"DistributedDataParallel: bucket_cap_mb must be > 0, got {bucket_cap_mb}"
            )
        if not dist.is_initialized():
            dist.init()
        self.module = module
        self.find_unused_parameters = bool(find_unused_parameters)
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = float(bucket_cap_mb)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        object.__setattr__(self, "_names", [n for n, _ in named])
        object.__setattr__(self, "_params", [p for _, p in named])
        self._check_same_model(config)
        with no_grad():
            for t in list(module.parameters()) + [b for b in module.buffers() if b is not None]:
                dist.broadcast(t, 0)
        object.__setattr__(self, "_buckets", self._make_buckets())
        where = {}
        for b, bucket in enumerate(self._buckets):
            for i in bucket.indices:
                where[i] = b
        object.__setattr__(self, "_bucket_of", where)
        object.__setattr__(self, "_count", [0] * len(self._params))
        object.__setattr__(self, "_next_bucket", 0)  # the next bucket to start, in order
        object.__setattr__(self, "_done", False)  # this forward's gradients are averaged
        object.__setattr__(self, "_sync", True)
        object.__setattr__(self, "_checked_graph", False)
        object.__setattr__(self, "_handles", [])
        for i, p in enumerate(self._params):
            self._handles.append(p.register_post_accumulate_grad_hook(self._hook_for(i)))

    # ------------------------------------------------------------------ wrap time
    def _check_same_model(self, config: Any) -> None:
        """Compare a checksum of names, shapes, dtypes and `config` across ranks."""
        h = hashlib.sha256()
        for name, t in list(self.module.named_parameters()) + list(self.module.named_buffers()):
            if t is None:
                continue
            h.update(f"{name}:{tuple(t.shape)}:{t._data.dtype};".encode())
        h.update(repr(config).encode())
        mine = np.frombuffer(h.digest()[:8], dtype=np.int64).copy()
        every = [int(t._data[0]) for t in dist.all_gather(mine)]
        if len(set(every)) > 1:
            differ = [r for r, v in enumerate(every) if v != every[0]]
            raise dist.DistributedError(
                "DistributedDataParallel: the model (parameter/buffer names, shapes, dtypes) or "
                f"the config differ across ranks: ranks {differ} disagree with rank 0 "
                f"(checksums {every})"
            )

    def _make_buckets(self) -> list:
        """Reverse registration order, a new bucket at the size cap or a dtype change."""
        cap = int(self.bucket_cap_mb * 1024 * 1024)
        buckets, cur, size = [], [], 0
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            if cur and (size >= cap or p._data.dtype != self._params[cur[0]]._data.dtype):
                buckets.append(_Bucket(cur, self._params))
                cur, size = [], 0
            cur.append(i)
            size += p._data.nbytes
        if cur:
            buckets.append(_Bucket(cur, self._params))
        return buckets

    # ------------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        partial = not self._done and (self._next_bucket != 0 or any(self._count))
        self._reset()
        if partial:
            if self._sync and not self.find_unused_parameters:
                raise RuntimeError(
                    "DistributedDataParallel: the previous backward did not produce a gradient "
                    "for every parameter, so its gradients were not averaged across ranks. "
                    "Pass find_unused_parameters=True when some parameters go unused."
                )
        if self.broadcast_buffers and self.training and dist.get_world_size() > 1:
            with no_grad():
                for b in self.module.buffers():
                    if b is not None:
                        dist.broadcast(b, 0)
        out = self.module(*args, **kwargs)
        if (
            self._sync
            and self.training
            and is_grad_enabled()
            and (self.find_unused_parameters or not self._checked_graph)
        ):
            self._mark_unreached(out)
        return out

    def _mark_unreached(self, out) -> None:
        """Walk the graph from the outputs; parameters not reached get no gradient."""
        reached = set()
        stack = [t.grad_fn for t in _tensors(out) if t.grad_fn is not None]
        seen = set()
        for t in _tensors(out):
            if t.grad_fn is None and t.requires_grad:
                reached.add(id(t))
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen or node.next_functions is None:
                continue
            seen.add(id(node))
            for p in node.next_functions:
                if p is None:
                    continue
                if p._is_node:
                    stack.append(p)
                else:
                    reached.add(id(p))
        unused = [i for i, p in enumerate(self._params) if id(p) not in reached]
        object.__setattr__(self, "_checked_graph", True)
        if not unused:
            return
        if not self.find_unused_parameters:
            names = ", ".join(self._names[i] for i in unused)
            raise RuntimeError(
                f"DistributedDataParallel: parameters {names} get no gradient from this forward's "
                "output; pass find_unused_parameters=True (their gradients then count as zero "
                "in the average) or set requires_grad=False on them"
            )
        for i in unused:  # zero gradient, ready now
            p = self._params[i]
            if p.grad is None:
                p.grad = wrap(np.zeros_like(p._data), False, None)
            self._count[i] = 1
            self._bucket_arrived(self._bucket_of[i])

    # ------------------------------------------------------------------ backward side
    def _hook_for(self, i: int):
        def hook(_param) -> None:
            if not self._sync:
                return
            if self._count[i] or self._done:
                raise RuntimeError(
                    f"DistributedDataParallel: parameter {self._names[i]} received a second "
                    "gradient after one forward (it is used more than once per forward, or "
                    "backward ran twice); DistributedDataParallel averages each parameter once"
                )
            self._count[i] = 1
            self._bucket_arrived(self._bucket_of[i])

        return hook

    def _bucket_arrived(self, b: int) -> None:
        bucket = self._buckets[b]
        bucket.pending -= 1
        started = self._start_ready_buckets()
        if not started and self._next_bucket < len(self._buckets):
            self._poll()  # drive MPI's progress for buckets in flight
        if self._next_bucket == len(self._buckets):
            self._finish()

    def _start_ready_buckets(self) -> bool:
        started = False
        while self._next_bucket < len(self._buckets):
            bucket = self._buckets[self._next_bucket]
            if bucket.pending:
                break
            for i, off in zip(bucket.indices, bucket.offsets):
                g = self._params[i].grad._data
                bucket.buffer[off : off + g.size] = g.reshape(-1)
            if dist.get_world_size() > 1:
                bucket.request = dist.all_reduce_start(bucket.buffer)
            object.__setattr__(self, "_next_bucket", self._next_bucket + 1)
            started = True
        return started

    def _poll(self) -> None:
        for bucket in self._buckets[: self._next_bucket]:
            if bucket.request is not None:
                bucket.request.Test()

    def _finish(self) -> None:
        """Wait for every bucket, average, copy back into .grad; ready for the next step."""
        requests = [b.request for b in self._buckets if b.request is not None]
        dist.poll_wait(requests, "DistributedDataParallel gradient all-reduce")
        scale = 1.0 / dist.get_world_size()
        for bucket in self._buckets:
            if bucket.request is not None:
                bucket.buffer *= bucket.buffer.dtype.type(scale)
                for i, off in zip(bucket.indices, bucket.offsets):
                    g = self._params[i].grad._data
                    g.reshape(-1)[...] = bucket.buffer[off : off + g.size]
                    bump(g)
        object.__setattr__(self, "_done", True)  # until the next forward

    def _reset(self) -> None:
        for bucket in self._buckets:
            bucket.pending = len(bucket.indices)
            bucket.request = None
        for i in range(len(self._count)):
            self._count[i] = 0
        object.__setattr__(self, "_next_bucket", 0)
        object.__setattr__(self, "_done", False)

    # ------------------------------------------------------------------ public helpers
    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside, backward accumulates gradients locally without averaging (gradient
        accumulation); the first backward after the block averages the accumulated sum."""
        prev = self._sync
        object.__setattr__(self, "_sync", False)
        try:
            yield
        finally:
            object.__setattr__(self, "_sync", prev)

    def remove_hooks(self) -> None:
        """Unregister the gradient hooks (the wrapped module trains alone again)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    @property
    def bucket_sizes(self) -> list:
        """The number of parameters in each bucket, in start order."""
        return [len(b.indices) for b in self._buckets]

    def state_dict(self, *args, **kwargs):
        """The wrapped module's state dict (keys without a "module." prefix), so a
        checkpoint loads into the bare model."""
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict, strict: bool = True):
        return self.module.load_state_dict(state_dict, strict)


def _tensors(out) -> list:
    """The Tensors in a forward's output (a Tensor, or a tuple/list/dict of them)."""
    if hasattr(out, "grad_fn"):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _tensors(o)]
    return []
