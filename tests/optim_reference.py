"""numpy transcriptions of torch.optim's single-tensor update formulas (the tests' reference).

Each function takes float64 arrays and a state dict, updates them like one optimizer step and
returns the new parameter.
"""

from __future__ import annotations

import numpy as np


def sgd(
    p, g, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False
):
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    if momentum:
        buf = state.get("momentum_buffer")
        buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
        state["momentum_buffer"] = buf
        g = g + momentum * buf if nesterov else buf
    return p - lr * g


def adam(
    p,
    g,
    state,
    lr,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    amsgrad=False,
    maximize=False,
    decoupled=False,
):
    b1, b2 = betas
    if not state:
        state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
        if amsgrad:
            state["max_exp_avg_sq"] = np.zeros_like(p)
    state["step"] += 1
    t = state["step"]
    g = -g if maximize else g
    if weight_decay:
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    state["exp_avg"] = b1 * state["exp_avg"] + (1 - b1) * g
    state["exp_avg_sq"] = b2 * state["exp_avg_sq"] + (1 - b2) * g * g
    bc1, bc2 = 1 - b1**t, 1 - b2**t
    v = state["exp_avg_sq"]
    if amsgrad:
        state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], v)
        v = state["max_exp_avg_sq"]
    denom = np.sqrt(v) / np.sqrt(bc2) + eps
    return p - (lr / bc1) * state["exp_avg"] / denom


def rmsprop(
    p,
    g,
    state,
    lr,
    alpha=0.99,
    eps=1e-8,
    weight_decay=0.0,
    momentum=0.0,
    centered=False,
    maximize=False,
):
    if not state:
        state.update(square_avg=np.zeros_like(p))
        if momentum > 0:
            state["momentum_buffer"] = np.zeros_like(p)
        if centered:
            state["grad_avg"] = np.zeros_like(p)
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    state["square_avg"] = alpha * state["square_avg"] + (1 - alpha) * g * g
    if centered:
        state["grad_avg"] = alpha * state["grad_avg"] + (1 - alpha) * g
        avg = np.sqrt(state["square_avg"] - state["grad_avg"] ** 2) + eps
    else:
        avg = np.sqrt(state["square_avg"]) + eps
    if momentum > 0:
        state["momentum_buffer"] = momentum * state["momentum_buffer"] + g / avg
        return p - lr * state["momentum_buffer"]
    return p - lr * g / avg


def adagrad(
    p,
    g,
    state,
    lr,
    lr_decay=0.0,
    weight_decay=0.0,
    initial_accumulator_value=0.0,
    eps=1e-10,
    maximize=False,
):
    if not state:
        state.update(step=0, sum=np.full_like(p, initial_accumulator_value))
    state["step"] += 1
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    clr = lr / (1 + (state["step"] - 1) * lr_decay)
    state["sum"] = state["sum"] + g * g
    return p - clr * g / (np.sqrt(state["sum"]) + eps)


def adamw(p, g, state, lr, weight_decay=1e-2, **kw):
    return adam(p, g, state, lr, weight_decay=weight_decay, decoupled=True, **kw)


REFERENCES = {"SGD": sgd, "Adam": adam, "AdamW": adamw, "RMSprop": rmsprop, "Adagrad": adagrad}
