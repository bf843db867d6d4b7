"""Optimizer hyper-parameter validation against torch.optim 2.x: where torch raises, gradcore
raises ValueError with torch's message at construction; where torch accepts a value the native
kernels cannot use, gradcore refuses it at construction too (never at step()); and a value
made invalid after construction fails at step() before any parameter or state changes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradcore
from gradcore import optim

NAN, INF = math.nan, math.inf

# (optimizer, option, bad value): every value torch.optim refuses
TORCH_REFUSES = (
    [
        (name, opt, value)
        for name, opts in {
            "SGD": ["lr", "momentum", "weight_decay"],
            "Adam": ["lr", "eps", "weight_decay"],
            "AdamW": ["lr", "eps", "weight_decay"],
            "RMSprop": ["lr", "eps", "momentum", "weight_decay", "alpha"],
            "Adagrad": ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"],
        }.items()
        for opt in opts
        for value in (-1.0, -1e-12, -INF)
    ]
    + [(name, "lr", NAN) for name in ("Adam", "AdamW", "RMSprop", "Adagrad")]
    + [
        (name, opt, NAN)
        for name, opts in {
            "Adam": ["eps", "weight_decay"],
            "RMSprop": ["eps", "momentum", "weight_decay", "alpha"],
            "Adagrad": ["lr_decay", "weight_decay", "initial_accumulator_value", "eps"],
        }.items()
        for opt in opts
    ]
    + [
        (name, "betas", betas)
        for name in ("Adam", "AdamW")
        for betas in ((1.0, 0.999), (0.9, 1.0), (-0.1, 0.9), (0.9, NAN), (NAN, 0.9))
    ]
)


def _params():
    p = gradcore.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    p.grad = gradcore.tensor(np.full((2, 3), 0.5, np.float32))
    return [p]


@pytest.mark.parametrize("name,option,value", TORCH_REFUSES)
def test_refused_like_torch(torch, name, option, value):
    tp = torch.nn.Parameter(torch.ones(2, 3))
    with pytest.raises(ValueError) as expected:
        getattr(torch.optim, name)([tp], **{option: value})
    with pytest.raises(ValueError) as got:
        getattr(optim, name)(_params(), **{option: value})
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize(
    "name,kwargs,match",
    [
        # torch.optim.SGD checks `lr < 0`, so it takes NaN (and then writes NaN weights)
        ("SGD", dict(lr=NAN), "Invalid learning rate: nan"),
        ("SGD", dict(momentum=NAN), "Invalid momentum value: nan"),
        ("SGD", dict(weight_decay=NAN), "Invalid weight_decay value: nan"),
        # torch takes momentum > 1 and alpha > 1; the native kernels support [0, 1]
        ("SGD", dict(momentum=5.0), r"Invalid momentum value: 5.0 \(gradcore's SGD"),
        ("SGD", dict(momentum=0.9, dampening=INF), "Invalid dampening value: inf"),
        ("RMSprop", dict(momentum=1.5), r"Invalid momentum value: 1.5 \(gradcore's RMSprop"),
        ("RMSprop", dict(alpha=1.01), r"Invalid alpha value: 1.01 \(gradcore's RMSprop"),
    ],
)
def test_refused_where_the_kernels_cannot_follow_torch(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(optim, name)(_params(), lr=kwargs.pop("lr", 0.1), **kwargs)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("SGD", dict(lr=0.0, momentum=1.0, weight_decay=0.0)),
        ("SGD", dict(lr=INF)),
        ("Adam", dict(lr=0.0, eps=0.0, betas=(0.0, 0.0))),
        ("RMSprop", dict(alpha=1.0, momentum=1.0, eps=0.0)),
        ("Adagrad", dict(eps=0.0, lr_decay=0.0, initial_accumulator_value=0.0)),
    ],
)
def test_boundary_values_accepted(torch, name, kwargs):
    getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(2))], **kwargs)  # torch takes them
    getattr(optim, name)(_params(), **kwargs)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_bad_value_set_after_construction_fails_before_any_change(name):
    """Adam(lr=nan) used to be accepted, then step() raised after counting the step. A value
    made invalid through param_groups now fails at step() with nothing changed."""
    params = _params() + _params()
    kwargs = dict(momentum=0.9) if name in ("SGD", "RMSprop") else {}
    opt = getattr(optim, name)([{"params": params[:1]}, {"params": params[1:]}], lr=0.1, **kwargs)
    opt.step()
    weights = [p.numpy().copy() for p in params]
    state = opt.state_dict()
    opt.param_groups[1]["lr"] = NAN  # the second group: the first must not move either
    with pytest.raises(ValueError, match="Invalid learning rate: nan"):
        opt.step()
    for p, w in zip(params, weights):
        np.testing.assert_array_equal(p.numpy(), w)
    after = opt.state_dict()["state"]
    for i, s in state["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(after[i][k], v)


def test_load_state_dict_of_another_optimizer_is_refused():
    params = _params()
    adam = optim.Adam(params, lr=0.1)
    adam.step()
    sgd = optim.SGD(_params(), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="has no 'momentum', 'dampening', 'nesterov'"):
        sgd.load_state_dict(adam.state_dict())
    with pytest.raises(ValueError, match="has no 'betas', 'eps', 'amsgrad'"):
        optim.Adam(_params()).load_state_dict(sgd.state_dict())
    sd = adam.state_dict()
    sd["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="Invalid learning rate: -1.0"):
        optim.Adam(_params()).load_state_dict(sd)
    # a state dict from before the 'maximize' option existed gets the default
    sd = adam.state_dict()
    del sd["param_groups"][0]["maximize"]
    fresh = optim.Adam(_params())
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["maximize"] is False
