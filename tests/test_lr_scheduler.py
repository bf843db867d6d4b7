"""LR schedulers: lr sequences against torch.optim.lr_scheduler and against their closed-form
formulas; state_dict round trips (also through gradcore.save/load)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradcore
from gradcore import optim
from gradcore.optim import lr_scheduler as L

BASE_LR = 0.1
EPOCHS = 25


def make_opt(kind="sgd", groups=1):
    ps = [gradcore.tensor(np.zeros(3, np.float32), requires_grad=True) for _ in range(groups)]
    params = [{"params": [p], "lr": BASE_LR * (i + 1)} for i, p in enumerate(ps)]
    if kind == "adam":
        return optim.Adam(params, lr=BASE_LR)
    return optim.SGD(params, lr=BASE_LR, momentum=0.9)


def make_torch_opt(torch, kind="sgd", groups=1):
    ps = [torch.zeros(3, requires_grad=True) for _ in range(groups)]
    params = [{"params": [p], "lr": BASE_LR * (i + 1)} for i, p in enumerate(ps)]
    if kind == "adam":
        return torch.optim.Adam(params, lr=BASE_LR)
    return torch.optim.SGD(params, lr=BASE_LR, momentum=0.9)


# name -> (constructor kwargs (the same for both libraries), steps)
CASES = {
    "StepLR": (dict(step_size=4, gamma=0.5), EPOCHS),
    "MultiStepLR": (dict(milestones=[3, 7, 7, 15], gamma=0.3), EPOCHS),
    "ExponentialLR": (dict(gamma=0.9), EPOCHS),
    "CosineAnnealingLR": (dict(T_max=10, eta_min=0.001), EPOCHS),
    "LinearLR": (dict(start_factor=0.1, end_factor=1.0, total_iters=6), EPOCHS),
    "ConstantLR": (dict(factor=0.5, total_iters=4), EPOCHS),
    "OneCycleLR": (dict(max_lr=1.0, total_steps=30, pct_start=0.3), 29),
    "OneCycleLR3": (
        dict(max_lr=1.0, total_steps=30, three_phase=True, anneal_strategy="linear"),
        29,
    ),
}


def _cls(lib, name):
    return getattr(lib, name.rstrip("3"))


def lr_sequence(opt, sched, steps, extra=None):
    seq = []
    for _ in range(steps):
        opt.step()
        sched.step()
        seq.append([g["lr"] for g in opt.param_groups] + (extra(opt) if extra else []))
    return seq


def momentum_of(opt):
    return [g["momentum"] if "momentum" in g else g["betas"][0] for g in opt.param_groups]


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("groups", [1, 2])
def test_matches_torch(name, groups, torch):
    kw, steps = CASES[name]
    opt = make_opt(groups=groups)
    topt = make_torch_opt(torch, groups=groups)
    s = _cls(L, name)(opt, **kw)
    ts = _cls(torch.optim.lr_scheduler, name)(topt, **kw)
    assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12, abs=0)
    extra = momentum_of if name.startswith("OneCycle") else None
    ours = lr_sequence(opt, s, steps, extra)
    theirs = lr_sequence(topt, ts, steps, extra)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12, abs=0)


def _closed_forms(epoch):
    b = BASE_LR
    return {
        "StepLR": b * 0.5 ** (epoch // 4),
        "MultiStepLR": b * 0.3 ** sum(m <= epoch for m in [3, 7, 7, 15]),
        "ExponentialLR": b * 0.9**epoch,
        "CosineAnnealingLR": 0.001 + (b - 0.001) * (1 + math.cos(math.pi * epoch / 10)) / 2,
        "LinearLR": b * (0.1 + 0.9 * min(epoch, 6) / 6),
        "ConstantLR": b * (0.5 if epoch < 4 else 1.0),
    }


@pytest.mark.parametrize("name", list(_closed_forms(0)))
def test_matches_formula(name):
    kw, steps = CASES[name]
    opt = make_opt()
    s = _cls(L, name)(opt, **kw)
    lrs = [opt.param_groups[0]["lr"]] + [row[0] for row in lr_sequence(opt, s, steps)]
    expected = [_closed_forms(e)[name] for e in range(steps + 1)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-9, atol=1e-15)
    # the closed form used when step() is given an epoch agrees too
    with pytest.warns(UserWarning):
        s.step(7)
    assert opt.param_groups[0]["lr"] == pytest.approx(_closed_forms(7)[name], rel=1e-12)


def test_onecycle_formula():
    opt = make_opt()
    total, max_lr = 20, 1.0
    s = L.OneCycleLR(opt, max_lr=max_lr, total_steps=total, pct_start=0.25)
    init, final = max_lr / 25, max_lr / 25 / 1e4
    up = 0.25 * total - 1

    def cos_anneal(a, b, pct):
        return b + (a - b) / 2 * (1 + math.cos(math.pi * pct))

    lrs = [opt.param_groups[0]["lr"]] + [r[0] for r in lr_sequence(opt, s, total - 1)]
    for t, lr in enumerate(lrs):
        want = (
            cos_anneal(init, max_lr, t / up)
            if t <= up
            else cos_anneal(max_lr, final, (t - up) / (total - 1 - up))
        )
        assert lr == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="Tried to step"):
        s.step()
        s.step()


def test_sequential_warmup_matches_torch(torch):
    def build(lib, opt):
        warm = lib.LinearLR(opt, start_factor=0.1, total_iters=3)
        cos = lib.CosineAnnealingLR(opt, T_max=7)
        return lib.SequentialLR(opt, [warm, cos], milestones=[3])

    opt, topt = make_opt(), make_torch_opt(torch)
    s, ts = build(L, opt), build(torch.optim.lr_scheduler, topt)
    np.testing.assert_allclose(lr_sequence(opt, s, 12), lr_sequence(topt, ts, 12), rtol=1e-12)


def test_warmup_cosine_helper():
    opt = make_opt()
    s = L.warmup_cosine(opt, warmup_epochs=2, total_epochs=6)
    lrs = [opt.param_groups[0]["lr"]] + [r[0] for r in lr_sequence(opt, s, 6)]
    assert lrs[0] == pytest.approx(0.1 * BASE_LR)
    assert lrs[1] == pytest.approx(0.55 * BASE_LR)
    assert lrs[2] == pytest.approx(BASE_LR)
    assert lrs[6] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(lrs[2:], lrs[3:]))


def test_reduce_on_plateau_matches_torch(torch):
    metrics = [1.0, 0.9, 0.91, 0.92, 0.93, 0.89, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0, 1.1]
    kw = dict(mode="min", factor=0.5, patience=2, cooldown=1, min_lr=0.01)
    opt, topt = make_opt(groups=2), make_torch_opt(torch, groups=2)
    s = L.ReduceLROnPlateau(opt, **kw)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    ours, theirs = [], []
    for m in metrics:
        s.step(m)
        ts.step(m)
        ours.append([g["lr"] for g in opt.param_groups])
        theirs.append([g["lr"] for g in topt.param_groups])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert ours[-1][0] < BASE_LR


def test_reduce_on_plateau_formula():
    opt = make_opt()
    s = L.ReduceLROnPlateau(
        opt, mode="max", factor=0.1, patience=1, threshold=0.0, threshold_mode="abs"
    )
    for m in [0.5, 0.6, 0.6, 0.6]:  # two epochs without improvement > patience 1
        s.step(m)
    assert opt.param_groups[0]["lr"] == pytest.approx(BASE_LR * 0.1)
    assert s.best == 0.6


SD_CASES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5], gamma=0.1)),
    ("CosineAnnealingLR", dict(T_max=8)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=20)),
]


@pytest.mark.parametrize(("name", "kw"), SD_CASES)
def test_state_dict_round_trip(name, kw, tmp_path):
    opt = make_opt()
    s = getattr(L, name)(opt, **kw)
    lr_sequence(opt, s, 4)
    gradcore.save({"opt": opt.state_dict(), "sched": s.state_dict()}, tmp_path / "s.npz")
    rest = lr_sequence(opt, s, 6, momentum_of)
    opt2 = make_opt()
    s2 = getattr(L, name)(opt2, **kw)
    loaded = gradcore.load(tmp_path / "s.npz")
    opt2.load_state_dict(loaded["opt"])
    s2.load_state_dict(loaded["sched"])
    assert lr_sequence(opt2, s2, 6, momentum_of) == rest


def test_sequential_and_plateau_state_dict(tmp_path):
    opt = make_opt()
    s = L.warmup_cosine(opt, 2, 8)
    lr_sequence(opt, s, 3)
    gradcore.save({"o": opt.state_dict(), "s": s.state_dict()}, tmp_path / "a.npz")
    rest = lr_sequence(opt, s, 5)
    opt2 = make_opt()
    s2 = L.warmup_cosine(opt2, 2, 8)
    d = gradcore.load(tmp_path / "a.npz")
    opt2.load_state_dict(d["o"])
    s2.load_state_dict(d["s"])
    assert lr_sequence(opt2, s2, 5) == rest

    opt = make_opt()
    p = L.ReduceLROnPlateau(opt, patience=0)
    p.step(1.0)
    gradcore.save(p.state_dict(), tmp_path / "p.npz")
    p2 = L.ReduceLROnPlateau(make_opt(), patience=0)
    p2.load_state_dict(gradcore.load(tmp_path / "p.npz"))
    assert p2.best == 1.0 and p2.num_bad_epochs == 0


def test_errors():
    opt = make_opt()
    with pytest.raises(TypeError, match="not an Optimizer"):
        L.StepLR(object(), 3)
    with pytest.raises(ValueError, match="step_size"):
        L.StepLR(opt, 0)
    with pytest.raises(ValueError, match="Factor"):
        L.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="total_steps"):
        L.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(KeyError, match="initial_lr"):
        L.StepLR(make_opt(), 3, last_epoch=4)
    with pytest.raises(ValueError, match="milestone"):
        L.SequentialLR(opt, [L.StepLR(opt, 2), L.StepLR(opt, 3)], milestones=[])
