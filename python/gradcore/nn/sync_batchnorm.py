"""SyncBatchNorm: batch normalisation with statistics over the global batch of all ranks.

In training with more than one rank, per-channel statistics come from every rank's batch:
mean = sum_r sum(x_r) / M and var = sum_r sum((x_r - mean)^2) / M (M: values per channel on
all ranks, two all-reduces), y = (x - mean) / sqrt(var + eps) * w + b. Backward all-reduces
sum(dy) and sum(dy * xhat) per channel and returns
dx = w / sqrt(var + eps) * (dy - sum(dy) / M - xhat * sum(dy * xhat) / M); the gradients of w
and b stay local (DistributedDataParallel averages them). With one rank, or in eval, it runs
the native BatchNorm kernels, so single-process results are bitwise those of BatchNorm2d.
"""

from __future__ import annotations

import numpy as np

from gradcore import distributed as dist
from gradcore.autograd import Function
from gradcore.nn.module import Module
from gradcore.nn.norm import BatchNorm1d, BatchNorm2d
from gradcore.versions import bump

__all__ = ["SyncBatchNorm"]


def _channel_sum(a: np.ndarray) -> np.ndarray:
    """Per-channel float64 sum of an (N, C, *) array: shape (C,)."""
    axes = (0,) + tuple(range(2, a.ndim))
    return a.sum(axis=axes, dtype=np.float64)


def _per_channel(v: np.ndarray, ndim: int, dtype) -> np.ndarray:
    """A (C,) vector shaped (1, C, 1, ...) to broadcast against (N, C, *)."""
    return v.astype(dtype).reshape((1, -1) + (1,) * (ndim - 2))


class _SyncBatchNormTrain(Function):
    """(N, C, *) x, (C,) w, b -> y with global batch statistics (see the module docstring)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b, rm, rv, momentum, eps):
        count = np.array([x.size // x.shape[1]], dtype=np.float64)
        dist.all_reduce(count)
        m = float(count[0])
        s = _channel_sum(x)
        dist.all_reduce(s)
        mean = s / m
        centred = x - _per_channel(mean, x.ndim, x.dtype)
        q = _channel_sum(centred * centred)
        dist.all_reduce(q)
        var = q / m
        invstd = 1.0 / np.sqrt(var + eps)
        xhat = centred * _per_channel(invstd, x.ndim, x.dtype)
        y = xhat
        if w is not None:
            y = y * _per_channel(w, x.ndim, x.dtype) + _per_channel(b, x.ndim, x.dtype)
        if rm is not None:
            rm *= 1.0 - momentum
            rm += (momentum * mean).astype(rm.dtype)
            rv *= 1.0 - momentum
            rv += (momentum * var * m / max(m - 1.0, 1.0)).astype(rv.dtype)
        ctx.saved_tensors = (xhat, w, invstd, m)
        return np.ascontiguousarray(y, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        xhat, w, invstd, m = ctx.saved_tensors
        n = ctx.needs_input_grad
        sums = np.concatenate([_channel_sum(g), _channel_sum(g * xhat)])
        db_local = sums[: invstd.size].copy()
        dw_local = sums[invstd.size :].copy()
        dist.all_reduce(sums)
        c = invstd.size
        scale = invstd if w is None else invstd * w.astype(np.float64)
        dx = None
        if n[0]:
            dx = (
                g
                - _per_channel(sums[:c] / m, g.ndim, g.dtype)
                - xhat * _per_channel(sums[c:] / m, g.ndim, g.dtype)
            ) * _per_channel(scale, g.ndim, g.dtype)
        dw = dw_local.astype(g.dtype) if w is not None and n[1] else None
        db = db_local.astype(g.dtype) if w is not None and n[2] else None
        return dx, dw, db, None, None, None, None


class SyncBatchNorm(BatchNorm2d):
    """Batch norm over (N, C, *) input whose training statistics span every rank's batch
    (PyTorch's nn.SyncBatchNorm). Same arguments and state as BatchNorm2d."""

    _expected_dims = (2, 3, 4, 5)

    def forward(self, x):
        if not self.training or dist.get_world_size() == 1:
            return super().forward(x)
        self._check_input_dim(x)
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"SyncBatchNorm: input has {x.shape[1]} channels but the layer was built for "
                f"{self.num_features} (input {tuple(x.shape)})"
            )
        momentum = 0.1 if self.momentum is None else self.momentum
        rm = rv = None
        if self.track_running_stats and self.running_mean is not None:
            self.num_batches_tracked._data += 1
            bump(self.num_batches_tracked._data)
            if self.momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked._data)
            rm, rv = self.running_mean._data, self.running_var._data
            bump(rm)
            bump(rv)
        return _SyncBatchNormTrain.apply(
            x, self.weight, self.bias, rm, rv, float(momentum), float(self.eps)
        )

    @classmethod
    def convert_sync_batchnorm(cls, module: Module) -> Module:
        """`module` with every BatchNorm1d/2d replaced by a SyncBatchNorm sharing its
        parameters and buffers (returns the new module when `module` itself is one)."""
        if type(module) in (BatchNorm1d, BatchNorm2d):
            new = cls(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                dtype=module.weight._data.dtype if module.affine else None,
            )
            if module.affine:
                new.weight = module.weight
                new.bias = module.bias
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                new.register_buffer(name, getattr(module, name))
            new.train(module.training)
            return new
        children = list(module.named_children())
        for name, child in children:
            converted = cls.convert_sync_batchnorm(child)
            if converted is not child:
                setattr(module, name, converted)
        # re-assignment moves a child to the end of the registry: restore the order
        # (Sequential runs its children in registry order)
        registry = module.__dict__["_modules"]
        ordered = {name: registry[name] for name, _ in children}
        registry.clear()
        registry.update(ordered)
        return module
