"""Gradient clipping (by total norm, by value) and L1/L2 weight penalties."""

from __future__ import annotations

import math
from typing import Any, Iterable, List, Union

import numpy as np

from gradcore import _C

__all__ = ["clip_grad_norm_", "clip_grad_value_", "l1_penalty", "l2_penalty"]


def _params_list(parameters: Union[Any, Iterable[Any]]) -> List[Any]:
    if hasattr(parameters, "numpy") and hasattr(parameters, "grad"):
        return [parameters]
    return list(parameters)


def _grads(parameters: Union[Any, Iterable[Any]]) -> List[np.ndarray]:
    out = []
    for p in _params_list(parameters):
        g = getattr(p, "grad", None)
        if g is None:
            continue
        out.append(g if isinstance(g, np.ndarray) else g.numpy())
    return out


def _grad_norm(grads: List[np.ndarray], norm_type: float) -> float:
    if norm_type == math.inf:
        return max((float(np.max(np.abs(g))) if g.size else 0.0) for g in grads)
    if norm_type == 2.0:
        return math.sqrt(sum(float(_C.sum_of_squares(np.ascontiguousarray(g))) for g in grads))
    if norm_type <= 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    total = sum(float(np.sum(np.abs(g.astype(np.float64)) ** norm_type)) for g in grads)
    return total ** (1.0 / norm_type)


def clip_grad_norm_(
    parameters: Union[Any, Iterable[Any]],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale the gradients in place so that their total `norm_type` norm is at most `max_norm`.

    As PyTorch: the norm is over all gradients together, as if concatenated; they are multiplied
    by min(1, max_norm / (total_norm + 1e-6)). Returns the total norm before clipping (a float).
    With ``error_if_nonfinite`` a NaN/Inf norm raises RuntimeError (gradients untouched).
    """
    norm_type = float(norm_type)
    grads = _grads(parameters)
    if not grads:
        return 0.0
    total = _grad_norm(grads, norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}: "
            "non-finite; set error_if_nonfinite=False to clip anyway"
        )
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1.0 or math.isnan(coef):
        for g in grads:
            _C.scale_(g, coef)
    return total


def clip_grad_value_(parameters: Union[Any, Iterable[Any]], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for g in _grads(parameters):
        _C.clamp_(g, -clip_value, clip_value)


def l1_penalty(parameters: Union[Any, Iterable[Any]]) -> Any:
    """sum over parameters of sum(|p|): a differentiable 0-d Tensor (add `lam * l1_penalty(...)`
    to the loss)."""
    params = _params_list(parameters)
    if not params:
        raise ValueError("l1_penalty: got no parameters")
    total = params[0].abs().sum()
    for p in params[1:]:
        total = total + p.abs().sum()
    return total


def l2_penalty(parameters: Union[Any, Iterable[Any]]) -> Any:
    """sum over parameters of sum(p^2) (no 1/2 factor): a differentiable 0-d Tensor."""
    params = _params_list(parameters)
    if not params:
        raise ValueError("l2_penalty: got no parameters")
    total = (params[0] * params[0]).sum()
    for p in params[1:]:
        total = total + (p * p).sum()
    return total
