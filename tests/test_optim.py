"""Optimizers: step-by-step against a numpy transcription (float64) and torch.optim (float32);
parameter groups, state_dict round trips, zero_grad, argument errors."""

from __future__ import annotations

import numpy as np
import optim_reference as ref
import pytest
from conftest import assert_allclose

import gradcore
from gradcore import optim

SHAPES = [(3, 4), (5,), (1,), (2, 1, 3, 3)]
STEPS = 6

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.01, alpha=0.9)),
    ("RMSprop", dict(lr=0.01, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.1, eps=1e-8, maximize=True)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in c.items())}" for n, c in CONFIGS]


def make_param(a):
    return gradcore.tensor(np.array(a), requires_grad=True)


def set_grad(p, g):
    p.grad = gradcore.tensor(np.array(g, dtype=p.numpy().dtype))


def problem(rng, dtype):
    """Initial parameters and a gradient function of (step, index, current value)."""
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    noise = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]

    def grad(step, i, value):
        return (noise[step][i] + 0.5 * value).astype(dtype)

    return init, grad


def run_gradcore(name, cfg, init, grad, steps=STEPS):
    params = [make_param(a) for a in init]
    opt = getattr(optim, name)(params, **cfg)
    for s in range(steps):
        for i, p in enumerate(params):
            set_grad(p, grad(s, i, p.numpy()))
        opt.step()
    return params, opt


@pytest.mark.parametrize(("name", "cfg"), CONFIGS, ids=IDS)
def test_step_by_step_vs_numpy_reference(name, cfg, rng):
    init, grad = problem(rng, np.float64)
    params = [make_param(a) for a in init]
    opt = getattr(optim, name)(params, **cfg)
    refs = [a.copy() for a in init]
    states = [{} for _ in init]
    fn = ref.REFERENCES[name]
    for s in range(STEPS):
        grads = [grad(s, i, r) for i, r in enumerate(refs)]
        for p, g in zip(params, grads):
            set_grad(p, g)
        opt.step()
        refs = [fn(r, g, st, **cfg) for r, g, st in zip(refs, grads, states)]
        for i, (p, r) in enumerate(zip(params, refs)):
            assert_allclose(p.numpy(), r, rtol=1e-12, atol=1e-14, what=f"step {s} param {i}")
    for p, st in zip(params, states):
        for k, v in st.items():
            if isinstance(v, np.ndarray):
                assert_allclose(opt.state[p][k], v, rtol=1e-12, atol=1e-14, what=k)


@pytest.mark.parametrize(("name", "cfg"), CONFIGS, ids=IDS)
def test_step_by_step_vs_torch(name, cfg, rng, torch):
    init, grad = problem(rng, np.float32)
    params = [make_param(a) for a in init]
    opt = getattr(optim, name)(params, **cfg)
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    topt = getattr(torch.optim, name)(tparams, **cfg)
    for s in range(STEPS):
        for i, (p, tp) in enumerate(zip(params, tparams)):
            g = grad(s, i, p.numpy())
            set_grad(p, g)
            tp.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        for i, (p, tp) in enumerate(zip(params, tparams)):
            assert_allclose(
                p.numpy(), tp.detach().numpy(), rtol=2e-6, atol=2e-6, what=f"step {s} param {i}"
            )
    # same state names as PyTorch's
    for p, tp in zip(params, tparams):
        assert set(opt.state[p]) == set(topt.state[tp]), (opt.state[p].keys(), topt.state[tp])


def test_param_groups_and_missing_grads(rng, torch):
    init, grad = problem(rng, np.float32)
    params = [make_param(a) for a in init]
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in init]

    def groups(ps):
        return [
            {"params": ps[:2], "lr": 0.1, "momentum": 0.9},
            {"params": ps[2:], "weight_decay": 0.5},
        ]

    opt = optim.SGD(groups(params), lr=0.01)
    topt = torch.optim.SGD(groups(tparams), lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[1]["momentum"] == 0.0
    for s in range(3):
        for i, (p, tp) in enumerate(zip(params, tparams)):
            if i == 3:  # never gets a gradient: untouched, no state
                continue
            g = grad(s, i, p.numpy())
            set_grad(p, g)
            tp.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    for p, tp in zip(params, tparams):
        assert_allclose(p.numpy(), tp.detach().numpy(), rtol=2e-6, atol=2e-6)
    np.testing.assert_array_equal(params[3].numpy(), init[3])
    assert params[3] not in opt.state
    assert "momentum_buffer" in opt.state[params[0]]
    assert "momentum_buffer" not in opt.state[params[2]]


def test_param_groups_numpy(rng):
    init, grad = problem(rng, np.float64)
    params = [make_param(a) for a in init]
    opt = optim.Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.1}], lr=0.01)
    refs = [a.copy() for a in init]
    states = [{} for _ in init]
    for s in range(3):
        grads = [grad(s, i, r) for i, r in enumerate(refs)]
        for p, g in zip(params, grads):
            set_grad(p, g)
        opt.step()
        refs = [
            ref.adam(r, g, st, lr=0.01 if i == 0 else 0.1)
            for i, (r, g, st) in enumerate(zip(refs, grads, states))
        ]
    for p, r in zip(params, refs):
        assert_allclose(p.numpy(), r, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("name", "cfg"), [CONFIGS[i] for i in (2, 7, 10, 14, 17)])
def test_state_dict_round_trip_continues_identically(name, cfg, rng, tmp_path):
    init, grad = problem(rng, np.float32)
    a_params, a_opt = run_gradcore(name, cfg, init, grad, steps=3)
    sd = a_opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [list(range(len(SHAPES)))]
    assert set(sd["state"]) == set(range(len(SHAPES)))
    gradcore.save(sd, tmp_path / "opt.npz")
    loaded = gradcore.load(tmp_path / "opt.npz")
    # a fresh optimizer over copies of the parameters, restored from the file
    b_params = [make_param(p.numpy().copy()) for p in a_params]
    b_opt = getattr(optim, name)(b_params, lr=123.0)
    b_opt.load_state_dict(loaded)
    assert b_opt.param_groups[0]["lr"] == cfg["lr"]
    assert b_opt.param_groups[0]["params"][0] is b_params[0]
    for s in range(3, STEPS):
        for ps, opt in ((a_params, a_opt), (b_params, b_opt)):
            for i, p in enumerate(ps):
                set_grad(p, grad(s, i, p.numpy()))
            opt.step()
    for pa, pb in zip(a_params, b_params):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy())
    # state_dict() returns copies: mutating it leaves the optimizer alone
    sd2 = a_opt.state_dict()
    key = next(k for k, v in sd2["state"][0].items() if isinstance(v, np.ndarray))
    sd2["state"][0][key][...] = 7
    assert not np.all(a_opt.state[a_params[0]][key] == 7)


def test_state_dict_matches_torch_layout(rng, torch):
    init, grad = problem(rng, np.float32)
    params, opt = run_gradcore("Adam", dict(lr=0.01), init, grad, steps=2)
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    topt = torch.optim.Adam(tparams, lr=0.01)
    for _ in range(2):
        for tp in tparams:
            tp.grad = torch.ones_like(tp)
        topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert set(sd) == set(tsd)
    assert sd["param_groups"][0]["params"] == tsd["param_groups"][0]["params"]
    assert set(sd["state"]) == set(tsd["state"])
    assert set(sd["state"][0]) == set(tsd["state"][0])
    assert int(sd["state"][0]["step"]) == int(tsd["state"][0]["step"])


def test_load_state_dict_errors(rng):
    init, grad = problem(rng, np.float32)
    params, opt = run_gradcore("SGD", dict(lr=0.1, momentum=0.9), init, grad, steps=1)
    sd = opt.state_dict()
    other = optim.SGD([make_param(init[0])], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="parameter group 0 has 1 parameters"):
        other.load_state_dict(sd)
    two = optim.SGD([{"params": [make_param(init[0])]}, {"params": [make_param(init[1])]}])
    with pytest.raises(ValueError, match="optimizer has 2"):
        two.load_state_dict(sd)
    bad = opt.state_dict()
    bad["state"][0]["momentum_buffer"] = np.zeros(7, np.float32)
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(bad)
    with pytest.raises(ValueError, match="param_groups"):
        opt.load_state_dict({"state": {}})


def test_zero_grad(rng):
    p = make_param(rng.standard_normal(4))
    opt = optim.SGD([p], lr=0.1)
    set_grad(p, np.ones(4))
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), np.zeros(4))
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # no gradient: nothing happens
    assert p not in opt.state


def test_argument_errors(rng):
    p = make_param(rng.standard_normal(3))
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta"):
        optim.Adam([p], betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(TypeError, match="iterable"):
        optim.Adam(p)
    with pytest.raises(ValueError, match="more than one"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one"):
        opt.add_param_group({"params": [p]})
    q = make_param(rng.standard_normal(2))
    opt.add_param_group({"params": [q], "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.0


def test_trains_a_model():
    """End to end through autograd: SGD with momentum fits a small linear regression."""
    from gradcore import nn

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    w = np.array([[1.5, -2.0, 0.5]], np.float32)
    y = x @ w.T + 0.25
    gradcore.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.MSELoss()
    for _ in range(100):
        opt.zero_grad()
        loss = loss_fn(model(gradcore.tensor(x)), gradcore.tensor(y))
        loss.backward()
        opt.step()
    assert loss.item() < 1e-4
    assert_allclose(model.weight.numpy(), w, rtol=1e-2, atol=1e-2)
