"""Activation checkpointing: trade compute for memory.

`checkpoint(fn, *args)` runs `fn` without recording a graph (so none of its intermediate
activations are kept), saving only its inputs and the global RNG state. During backward the
segment's forward is run again with grad enabled (same RNG state, so dropout masks match) and
backpropagated; gradients reach the inputs and every parameter `fn` uses.
"""

from __future__ import annotations

import numpy as np

from gradcore import autograd as _ag
from gradcore import random as _random
from gradcore.autograd import Function
from gradcore.autograd import wrap as _wrap
from gradcore.tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]

_ANCHOR = Tensor(np.zeros((), dtype=np.float32), requires_grad=True)


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, fn, rng_state, is_tensor, *args):
        # args: the arrays of Tensor inputs, and other values as given
        ctx.fn = fn
        ctx.rng_state = rng_state
        ctx.is_tensor = is_tensor
        ctx.saved_tensors = args
        with _ag.no_grad():
            out = fn(*_rewrap(args[:-1], ctx.is_tensor, None))
        if not isinstance(out, Tensor):
            raise TypeError("checkpoint: the function must return a single Tensor")
        return out._data

    @staticmethod
    def backward(ctx, g):
        args = ctx.saved_tensors[:-1]
        needs = ctx.needs_input_grad[3:-1]
        inputs = _rewrap(args, ctx.is_tensor, needs)
        saved_state = None
        if ctx.rng_state is not None:  # replay the segment's random draws (dropout masks)
            saved_state = _random.get_rng_state()
            _random.set_rng_state(ctx.rng_state)
        try:
            with _ag.enable_grad():
                out = ctx.fn(*inputs)
        finally:
            if saved_state is not None:
                _random.set_rng_state(saved_state)
        if out.requires_grad:
            out.backward(_wrap(g, False, None))
        grads = tuple(
            (t.grad._data if t.grad is not None else None) if isinstance(t, Tensor) and n else None
            for t, n in zip(inputs, needs)
        )
        return (None, None, None) + grads + (None,)


def _rewrap(args, is_tensor, needs):
    out = []
    for i, (a, it) in enumerate(zip(args, is_tensor)):
        if it:
            t = _wrap(a, False, None)
            if needs is not None and needs[i]:
                t.requires_grad = True
            out.append(t)
        else:
            out.append(a)
    return tuple(out)


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state: bool = True):
    """Run `function(*args)` without storing its activations; recompute them in backward."""
    if not _ag.is_grad_enabled():
        return function(*args)
    flags = tuple(isinstance(a, Tensor) for a in args) + (False,)
    rng_state = _random.get_rng_state() if preserve_rng_state else None
    # _ANCHOR requires grad, so the node is recorded even when no input requires grad (the
    # segment's parameters still need their gradients); it never receives one.
    return _Checkpoint.apply(function, rng_state, flags, *args, _ANCHOR)


def checkpoint_sequential(functions, segments: int, input, preserve_rng_state: bool = True):
    """Split a Sequential (or list of modules) into `segments` checkpointed chunks."""
    mods = list(functions.children()) if hasattr(functions, "children") else list(functions)
    n = len(mods)
    size = max(1, int(np.ceil(n / max(segments, 1))))

    def run(chunk):
        def f(x):
            for m in chunk:
                x = m(x)
            return x

        return f

    x = input
    for start in range(0, n, size):
        x = checkpoint(run(mods[start : start + size]), x, preserve_rng_state=preserve_rng_state)
    return x
