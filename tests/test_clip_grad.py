"""clip_grad_norm_ / clip_grad_value_ against torch and numpy; L1/L2 penalties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_allclose

import gradcore
from gradcore.nn.utils import clip_grad_norm_, clip_grad_value_, l1_penalty, l2_penalty

SHAPES = [(3, 4), (7,), (1,), (2, 3, 3)]


def params_with_grads(rng, dtype=np.float32, scale=1.0):
    ps = []
    for s in SHAPES:
        p = gradcore.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
        p.grad = gradcore.tensor((scale * rng.standard_normal(s)).astype(dtype))
        ps.append(p)
    return ps


def torch_copies(torch, ps):
    out = []
    for p in ps:
        t = torch.tensor(p.numpy().copy(), requires_grad=True)
        t.grad = torch.tensor(p.grad.numpy().copy())
        out.append(t)
    return out


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_vs_torch(rng, torch, norm_type, max_norm):
    ps = params_with_grads(rng)
    ts = torch_copies(torch, ps)
    total = clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type=norm_type)
    assert total == pytest.approx(float(ttotal), rel=1e-6)
    for p, t in zip(ps, ts):
        assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_vs_numpy(rng, norm_type):
    ps = params_with_grads(rng, np.float64, scale=3.0)
    grads = [p.grad.numpy().copy() for p in ps]
    flat = np.concatenate([g.ravel() for g in grads])
    want = np.linalg.norm(flat, ord=norm_type)
    total = clip_grad_norm_(ps, 1.0, norm_type=norm_type)
    assert total == pytest.approx(want, rel=1e-12)
    coef = min(1.0, 1.0 / (want + 1e-6))
    for p, g in zip(ps, grads):
        assert_allclose(p.grad.numpy(), g * coef, rtol=1e-12, atol=0)
    clipped = np.concatenate([p.grad.numpy().ravel() for p in ps])
    assert np.linalg.norm(clipped, ord=norm_type) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_no_clip_single_tensor_and_missing_grads(rng):
    ps = params_with_grads(rng, np.float64)
    before = [p.grad.numpy().copy() for p in ps]
    ps[1].grad = None
    total = clip_grad_norm_(ps, 1e6)
    want = math.sqrt(sum(float(np.sum(g**2)) for i, g in enumerate(before) if i != 1))
    assert total == pytest.approx(want, rel=1e-12)
    for i, p in enumerate(ps):
        if i != 1:
            np.testing.assert_array_equal(p.grad.numpy(), before[i])
    assert clip_grad_norm_(ps[0], 1e6) == pytest.approx(np.linalg.norm(before[0]), rel=1e-12)
    assert clip_grad_norm_([ps[1]], 1.0) == 0.0


def test_clip_grad_norm_nonfinite(rng):
    ps = params_with_grads(rng)
    ps[0].grad.numpy()[0, 0] = np.nan
    saved = [p.grad.numpy().copy() for p in ps]
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    for p, g in zip(ps, saved):
        np.testing.assert_array_equal(p.grad.numpy(), g)
    assert math.isnan(clip_grad_norm_(ps, 1.0))
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_(ps, 1.0, norm_type=-1)


def test_clip_grad_value_vs_torch(rng, torch):
    ps = params_with_grads(rng, scale=2.0)
    ts = torch_copies(torch, ps)
    clip_grad_value_(ps, 0.7)
    torch.nn.utils.clip_grad_value_(ts, 0.7)
    for p, t in zip(ps, ts):
        np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())


def test_clip_grad_value_vs_numpy(rng):
    ps = params_with_grads(rng, np.float64, scale=2.0)
    want = [np.clip(p.grad.numpy(), -0.5, 0.5) for p in ps]
    clip_grad_value_(ps, 0.5)
    for p, w in zip(ps, want):
        np.testing.assert_array_equal(p.grad.numpy(), w)
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_(ps, -1.0)


def test_penalties_value_and_gradient(rng):
    a = rng.standard_normal((3, 2))
    b = rng.standard_normal(4)
    pa = gradcore.tensor(a.copy(), requires_grad=True)
    pb = gradcore.tensor(b.copy(), requires_grad=True)
    l1 = l1_penalty([pa, pb])
    assert l1.item() == pytest.approx(np.abs(a).sum() + np.abs(b).sum(), rel=1e-12)
    l1.backward()
    assert_allclose(pa.grad.numpy(), np.sign(a), rtol=0, atol=0)
    pa.grad = None
    pb.grad = None
    l2 = l2_penalty([pa, pb])
    assert l2.item() == pytest.approx((a**2).sum() + (b**2).sum(), rel=1e-12)
    l2.backward()
    assert_allclose(pa.grad.numpy(), 2 * a, rtol=1e-12, atol=0)
    assert_allclose(pb.grad.numpy(), 2 * b, rtol=1e-12, atol=0)
