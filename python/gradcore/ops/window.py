"""Window arguments of convolution and pooling: the one `pair` parser and the output-size
formula (PyTorch's)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["pair", "window_out_size"]


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def pair(v, name: str, op: str) -> tuple:
    """(h, w) from an int or a 1- or 2-sequence of ints; `name` and `op` name the argument
    and the op in the TypeError/ValueError raised for anything else (bools and floats
    included, as PyTorch)."""
    if v.__class__ is int:  # the common cases first, without the general checks
        return (v, v)
    if v.__class__ is tuple and len(v) == 2 and v[0].__class__ is int and v[1].__class__ is int:
        return v
    if _is_int(v):
        return (int(v), int(v))
    try:
        t = tuple(v)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}") from None
    if not all(_is_int(e) for e in t):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    if len(t) == 1:
        return (int(t[0]), int(t[0]))
    if len(t) != 2:
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    return (int(t[0]), int(t[1]))


def window_out_size(size: int, k: int, s: int, p: int, d: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a conv/pool window along one axis (PyTorch's formula):
    floor-or-ceil((size + 2p - d(k - 1) - 1) / s) + 1, less one when ceil mode would start
    the last window in the right padding."""
    num = size + 2 * p - d * (k - 1) - 1
    out = (math.ceil(num / s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out
