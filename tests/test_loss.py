"""Losses: cross_entropy (fused), nll_loss, mse_loss, l1_loss, bce_with_logits."""

import numpy as np
import pytest
from conftest import assert_allclose, num_threads

from gradcore import _C

REDUCTIONS = ["mean", "sum", "none"]


# ------------------------------------------------------------------ float64 references


def log_softmax_ref(x):
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def reduce_ref(per, reduction, divisor):
    if reduction == "none":
        return per
    s = per.sum()
    return s / divisor if reduction == "mean" else s


def ce_ref(x, t, w=None, ignore_index=-100, ls=0.0, reduction="mean"):
    x = np.asarray(x, np.float64)
    n, c = x.shape
    w = np.ones(c) if w is None else np.asarray(w, np.float64)
    logp = log_softmax_ref(x)
    keep = t != ignore_index
    tt = np.where(keep, t, 0)
    nll = -w[tt] * logp[np.arange(n), tt] * keep
    smooth = -(logp * w).sum(axis=1) * keep
    per = (1 - ls) * nll + ls / c * smooth
    return reduce_ref(per, reduction, (w[tt] * keep).sum())


def nll_ref(lp, t, w=None, ignore_index=-100, reduction="mean"):
    lp = np.asarray(lp, np.float64)
    n, c = lp.shape
    w = np.ones(c) if w is None else np.asarray(w, np.float64)
    keep = t != ignore_index
    tt = np.where(keep, t, 0)
    per = -w[tt] * lp[np.arange(n), tt] * keep
    return reduce_ref(per, reduction, (w[tt] * keep).sum())


def mse_ref(x, t, reduction="mean"):
    d = np.asarray(x, np.float64) - np.asarray(t, np.float64)
    return reduce_ref(d * d, reduction, d.size)


def l1_ref(x, t, reduction="mean"):
    d = np.asarray(x, np.float64) - np.asarray(t, np.float64)
    return reduce_ref(np.abs(d), reduction, d.size)


def bce_ref(x, t, w=None, pw=None, reduction="mean"):
    x = np.asarray(x, np.float64)
    t = np.asarray(t, np.float64)
    logsig = -np.logaddexp(0.0, -x)
    lw = 1.0 if pw is None else 1.0 + (np.asarray(pw, np.float64) - 1.0) * t
    per = (1 - t) * x - lw * logsig
    if w is not None:
        per = per * np.asarray(w, np.float64)
    return reduce_ref(per, reduction, x.size)


def numeric_grad(f, x, g, h=1e-6):
    """Central differences of sum(g * f(x)) with respect to x (float64)."""
    num = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        num[idx] = np.sum((np.asarray(f(xp)) - np.asarray(f(xm))) * g) / (2 * h)
    return num


def grad_out_for(rng, reduction, shape, dtype=np.float64):
    if reduction == "none":
        return np.asarray(rng.standard_normal(shape), dtype)
    return np.asarray(rng.standard_normal(), dtype).reshape(())


def tol_for(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)


def class_problem(rng, n, c, dtype, ignore_index=-100, n_ignored=0):
    x = np.asarray(rng.standard_normal((n, c)) * 2, dtype)
    t = rng.integers(0, c, size=n).astype(np.int64)
    t[:n_ignored] = ignore_index
    w = np.asarray(rng.uniform(0.2, 2.0, size=c), dtype)
    return x, t, w


# ------------------------------------------------------------------ cross_entropy

CE_CASES = [(1, 1), (1, 5), (7, 3), (16, 10), (5, 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.1, 1.0])
def test_cross_entropy_vs_numpy(rng, dtype, reduction, weighted, ls):
    for n, c in CE_CASES:
        _check_cross_entropy(rng, dtype, reduction, weighted, ls, n, c)


def _check_cross_entropy(rng, dtype, reduction, weighted, ls, n, c):
    x, t, w = class_problem(rng, n, c, dtype, n_ignored=n // 3)
    w = w if weighted else None
    loss, lse = _C.cross_entropy_forward(x, t, w, -100, ls, reduction)
    assert loss.dtype == dtype and loss.shape == (() if reduction != "none" else (n,))
    assert lse.shape == (n,) and lse.dtype == dtype
    x64 = x.astype(np.float64)
    m = x64.max(axis=1)
    assert_allclose(lse, m + np.log(np.exp(x64 - m[:, None]).sum(1)), **tol_for(dtype))
    ref = ce_ref(x64, t, w, -100, ls, reduction)
    assert_allclose(loss, ref, **tol_for(dtype), what="cross_entropy forward")

    g = grad_out_for(rng, reduction, (n,), dtype)
    dx = _C.cross_entropy_backward(g, x, t, lse, w, -100, ls, reduction)
    assert dx.dtype == dtype and dx.shape == (n, c)
    if dtype == np.float64:
        num = numeric_grad(lambda z: ce_ref(z, t, w, -100, ls, reduction), x64, g)
        assert_allclose(dx, num, rtol=1e-6, atol=1e-8, what="cross_entropy finite differences")
        assert not dx[: n // 3].any()  # ignored rows get no gradient


def test_cross_entropy_ignore_index_in_range(rng):
    x, t, w = class_problem(rng, 9, 4, np.float64)
    t[::2] = 1
    for reduction in REDUCTIONS:
        loss, _ = _C.cross_entropy_forward(x, t, w, 1, 0.2, reduction)
        assert_allclose(loss, ce_ref(x, t, w, 1, 0.2, reduction), rtol=1e-12, atol=1e-13)


def test_cross_entropy_all_ignored_mean_is_nan(rng):
    x, t, _ = class_problem(rng, 4, 3, np.float64)
    t[:] = -100
    loss, lse = _C.cross_entropy_forward(x, t, None, -100, 0.0, "mean")
    assert np.isnan(loss)
    dx = _C.cross_entropy_backward(np.array(1.0), x, t, lse, None, -100, 0.0, "mean")
    assert not dx.any()
    loss, _ = _C.cross_entropy_forward(x, t, None, -100, 0.0, "sum")
    assert loss == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_stable_for_large_logits(dtype):
    x = np.array([[1e4, 0.0, -1e4], [-5e3, -5e3, -5e3 + 1]], dtype)
    t = np.array([1, 2], np.int64)
    with np.errstate(all="raise"):
        loss, lse = _C.cross_entropy_forward(x, t, None, -100, 0.0, "none")
        dx = _C.cross_entropy_backward(np.ones(2, dtype), x, t, lse, None, -100, 0.0, "none")
    assert_allclose(loss, ce_ref(x.astype(np.float64), t, reduction="none"), rtol=1e-6)
    assert np.isfinite(dx).all()


def test_cross_entropy_nan_propagates():
    x = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]])
    t = np.array([0, 1], np.int64)
    loss, lse = _C.cross_entropy_forward(x, t, None, -100, 0.0, "none")
    assert np.isnan(loss[0]) and np.isfinite(loss[1])
    assert np.isnan(_C.cross_entropy_forward(x, t, None, -100, 0.0, "mean")[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ls", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_vs_torch(torch, rng, dtype, reduction, ls, weighted):
    x, t, w = class_problem(rng, 13, 6, dtype, ignore_index=2)
    t[:4] = 2  # ignore_index inside [0, C)
    w = w if weighted else None
    xt = torch.tensor(x, requires_grad=True)
    wt = None if w is None else torch.tensor(w)
    ref = torch.nn.functional.cross_entropy(
        xt, torch.tensor(t), weight=wt, ignore_index=2, label_smoothing=ls, reduction=reduction
    )
    g = grad_out_for(rng, reduction, (13,), dtype)
    ref.backward(torch.tensor(g))
    loss, lse = _C.cross_entropy_forward(x, t, w, 2, ls, reduction)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    assert_allclose(loss, ref.detach().numpy(), **tol, what="cross_entropy vs torch")
    dx = _C.cross_entropy_backward(g, x, t, lse, w, 2, ls, reduction)
    assert_allclose(dx, xt.grad.numpy(), **tol, what="cross_entropy grad vs torch")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_threads_bitwise(rng, reduction):
    x, t, w = class_problem(rng, 4096, 100, np.float32, n_ignored=100)
    g = grad_out_for(rng, reduction, (4096,), np.float32)
    res = []
    for n in (1, 2):
        with num_threads(n):
            loss, lse = _C.cross_entropy_forward(x, t, w, -100, 0.1, reduction)
            dx = _C.cross_entropy_backward(g, x, t, lse, w, -100, 0.1, reduction)
            res.append((loss, lse, dx))
    for a, b in zip(*res):
        assert np.array_equal(a, b)


# ------------------------------------------------------------------ nll_loss


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_vs_numpy(rng, dtype, reduction, weighted):
    for n, c in CE_CASES:
        _check_nll(rng, dtype, reduction, weighted, n, c)


def _check_nll(rng, dtype, reduction, weighted, n, c):
    x, t, w = class_problem(rng, n, c, dtype, n_ignored=n // 3)
    lp = np.asarray(log_softmax_ref(x.astype(np.float64)), dtype)
    w = w if weighted else None
    loss = _C.nll_loss_forward(lp, t, w, -100, reduction)
    assert loss.dtype == dtype
    assert_allclose(loss, nll_ref(lp, t, w, -100, reduction), **tol_for(dtype))
    g = grad_out_for(rng, reduction, (n,), dtype)
    d = _C.nll_loss_backward(g, lp, t, w, -100, reduction)
    num = numeric_grad(lambda z: nll_ref(z, t, w, -100, reduction), lp.astype(np.float64), g)
    assert_allclose(d, num, rtol=1e-5, atol=1e-6, what="nll_loss finite differences")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_vs_torch(torch, rng, reduction, weighted):
    x, t, w = class_problem(rng, 11, 5, np.float64, n_ignored=3)
    lp = log_softmax_ref(x)
    w = w if weighted else None
    lpt = torch.tensor(lp, requires_grad=True)
    ref = torch.nn.functional.nll_loss(
        lpt, torch.tensor(t), weight=None if w is None else torch.tensor(w), reduction=reduction
    )
    g = grad_out_for(rng, reduction, (11,))
    ref.backward(torch.tensor(g))
    assert_allclose(_C.nll_loss_forward(lp, t, w, -100, reduction), ref.detach().numpy(), 1e-13)
    d = _C.nll_loss_backward(g, lp, t, w, -100, reduction)
    assert_allclose(d, lpt.grad.numpy(), rtol=1e-13, atol=1e-14)


# ------------------------------------------------------------------ mse / l1

PAIR = {
    "mse": (_C.mse_loss_forward, _C.mse_loss_backward, mse_ref, "mse_loss"),
    "l1": (_C.l1_loss_forward, _C.l1_loss_backward, l1_ref, "l1_loss"),
}


@pytest.mark.parametrize("name", sorted(PAIR))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pair_losses_vs_numpy(rng, name, dtype, reduction):
    for shape in [(), (1,), (7,), (3, 5), (2, 3, 4)]:
        _check_pair_loss(rng, name, dtype, reduction, shape)


def _check_pair_loss(rng, name, dtype, reduction, shape):
    fwd, bwd, ref, _ = PAIR[name]
    x = np.asarray(rng.standard_normal(shape), dtype)
    t = np.asarray(rng.standard_normal(shape), dtype)
    loss = fwd(x, t, reduction)
    assert loss.dtype == dtype and loss.shape == (shape if reduction == "none" else ())
    assert_allclose(loss, ref(x, t, reduction), **tol_for(dtype), what=f"{name} forward")
    g = grad_out_for(rng, reduction, shape, dtype)
    dx = bwd(g, x, t, reduction)
    assert dx.shape == shape and dx.dtype == dtype
    num = numeric_grad(lambda z: ref(z, t, reduction), x.astype(np.float64), g)
    assert_allclose(dx, num, rtol=1e-5, atol=1e-6, what=f"{name} finite differences")


def test_l1_subgradient_at_zero_is_zero():
    x = np.array([1.0, 2.0, -3.0])
    t = np.array([1.0, 1.0, 1.0])
    assert np.array_equal(_C.l1_loss_backward(np.array(1.0), x, t, "sum"), [0.0, 1.0, -1.0])


@pytest.mark.parametrize("name", sorted(PAIR))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pair_losses_vs_torch(torch, rng, name, reduction, dtype):
    fwd, bwd, _, tname = PAIR[name]
    x = np.asarray(rng.standard_normal((5, 7)), dtype)
    t = np.asarray(rng.standard_normal((5, 7)), dtype)
    t[0, :2] = x[0, :2]  # exact zeros of the difference
    xt = torch.tensor(x, requires_grad=True)
    ref = getattr(torch.nn.functional, tname)(xt, torch.tensor(t), reduction=reduction)
    g = grad_out_for(rng, reduction, x.shape, dtype)
    ref.backward(torch.tensor(g))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    assert_allclose(fwd(x, t, reduction), ref.detach().numpy(), **tol)
    assert_allclose(bwd(g, x, t, reduction), xt.grad.numpy(), **tol)


@pytest.mark.parametrize("name", sorted(PAIR))
def test_pair_losses_nan_propagates(name):
    fwd, _, _, _ = PAIR[name]
    x = np.array([1.0, np.nan, 2.0])
    t = np.zeros(3)
    assert np.isnan(fwd(x, t, "mean")) and np.isnan(fwd(x, t, "none")[1])


# ------------------------------------------------------------------ bce_with_logits


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, "full", "last", "one"])
@pytest.mark.parametrize("pos_weight", [None, "full", "last", "one"])
def test_bce_vs_numpy(rng, dtype, reduction, weight, pos_weight):
    for shape in [(1,), (4, 3), (2, 3, 5)]:
        _check_bce(rng, dtype, reduction, weight, pos_weight, shape)


def _check_bce(rng, dtype, reduction, weight, pos_weight, shape):
    x = np.asarray(rng.standard_normal(shape) * 3, dtype)
    t = np.asarray(rng.uniform(0, 1, shape), dtype)

    def make(kind):
        if kind is None:
            return None
        s = {"full": shape, "last": (1,) * (len(shape) - 1) + shape[-1:], "one": (1,)}[kind]
        return np.asarray(rng.uniform(0.1, 3.0, s), dtype)

    w, pw = make(weight), make(pos_weight)
    loss = _C.bce_with_logits_forward(x, t, w, pw, reduction)
    assert loss.dtype == dtype
    assert_allclose(loss, bce_ref(x, t, w, pw, reduction), **tol_for(dtype))
    g = grad_out_for(rng, reduction, shape, dtype)
    dx = _C.bce_with_logits_backward(g, x, t, w, pw, reduction)
    if dtype == np.float64:
        num = numeric_grad(lambda z: bce_ref(z, t, w, pw, reduction), x, g)
        assert_allclose(dx, num, rtol=1e-6, atol=1e-8, what="bce finite differences")
    else:
        x64 = x.astype(np.float64)
        num = numeric_grad(lambda z: bce_ref(z, t, w, pw, reduction), x64, g.astype(np.float64))
        assert_allclose(dx, num, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_stable_for_large_logits(dtype):
    x = np.array([-1e4, -100.0, 100.0, 1e4], dtype)
    t = np.array([1.0, 0.0, 1.0, 0.0], dtype)
    with np.errstate(all="raise"):
        loss = _C.bce_with_logits_forward(x, t, None, None, "none")
        dx = _C.bce_with_logits_backward(np.ones(4, dtype), x, t, None, None, "none")
    assert_allclose(loss, [1e4, 0.0, 0.0, 1e4], rtol=1e-6, atol=1e-30)
    assert_allclose(dx, [-1.0, 0.0, 0.0, 1.0], rtol=0, atol=1e-30)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_vs_torch(torch, rng, reduction, dtype):
    x = np.asarray(rng.standard_normal((6, 4)) * 3, dtype)
    t = np.asarray(rng.integers(0, 2, (6, 4)), dtype)
    w = np.asarray(rng.uniform(0.5, 2, (6, 4)), dtype)
    pw = np.asarray(rng.uniform(0.5, 4, 4), dtype)
    xt = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        xt,
        torch.tensor(t),
        weight=torch.tensor(w),
        pos_weight=torch.tensor(pw),
        reduction=reduction,
    )
    g = grad_out_for(rng, reduction, x.shape, dtype)
    ref.backward(torch.tensor(g))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    assert_allclose(_C.bce_with_logits_forward(x, t, w, pw, reduction), ref.detach().numpy(), **tol)
    dx = _C.bce_with_logits_backward(g, x, t, w, pw, reduction)
    assert_allclose(dx, xt.grad.numpy(), **tol)


# ------------------------------------------------------------------ determinism


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_elementwise_losses_threads_bitwise(rng, reduction):
    x = np.asarray(rng.standard_normal(300_001), np.float32)
    t = np.asarray(rng.uniform(0, 1, x.shape), np.float32)
    pw = np.asarray(rng.uniform(0.5, 2, 1), np.float32)
    res = []
    for n in (1, 2):
        with num_threads(n):
            res.append(
                (
                    _C.mse_loss_forward(x, t, reduction),
                    _C.l1_loss_forward(x, t, reduction),
                    _C.bce_with_logits_forward(x, t, None, pw, reduction),
                    _C.bce_with_logits_backward(
                        np.array(1.5, np.float32), x, t, None, pw, reduction
                    ),
                )
            )
    for a, b in zip(*res):
        assert np.array_equal(a, b)
    assert_allclose(res[0][0], mse_ref(x, t, reduction), rtol=1e-6)


# ------------------------------------------------------------------ errors


def test_errors_class_losses():
    x = np.zeros((3, 4))
    t = np.array([0, 1, 2], np.int64)
    ce, ceb = _C.cross_entropy_forward, _C.cross_entropy_backward
    with pytest.raises(
        ValueError, match="cross_entropy_forward: target 4 at index 1 is out of range"
    ):
        ce(x, np.array([0, 4, 1], np.int64), None, -100, 0.0, "mean")
    with pytest.raises(
        ValueError, match=r"nll_loss_forward: target -1 at index 0 is out of range \[0, 4\)"
    ):
        _C.nll_loss_forward(x, np.array([-1, 0, 0], np.int64), None, -100, "mean")
    with pytest.raises(ValueError, match="nll_loss_backward: target 9 at index 2"):
        _C.nll_loss_backward(np.array(1.0), x, np.array([0, 0, 9], np.int64), None, -100, "mean")
    with pytest.raises(TypeError, match="cross_entropy_forward: target must be int64, got int32"):
        ce(x, t.astype(np.int32), None, -100, 0.0, "mean")
    with pytest.raises(
        ValueError, match="cross_entropy_forward: target has 2 entries but the input"
    ):
        ce(x, t[:2].copy(), None, -100, 0.0, "mean")
    with pytest.raises(ValueError, match="cross_entropy_forward: target must have 1 dimensions"):
        ce(x, t.reshape(3, 1), None, -100, 0.0, "mean")
    with pytest.raises(
        ValueError, match=r"cross_entropy_forward: reduction must be one of 'mean', 'sum', 'none'"
    ):
        ce(x, t, None, -100, 0.0, "avg")
    with pytest.raises(ValueError, match="nll_loss_forward: reduction must be one of"):
        _C.nll_loss_forward(x, t, None, -100, "batchmean")
    with pytest.raises(
        ValueError, match=r"cross_entropy_forward: label_smoothing must be in \[0, 1\]"
    ):
        ce(x, t, None, -100, 1.5, "mean")
    with pytest.raises(ValueError, match="cross_entropy_backward: label_smoothing must be in"):
        ceb(np.array(1.0), x, t, np.zeros(3), None, -100, -0.1, "mean")
    with pytest.raises(ValueError, match=r"cross_entropy_forward: weight must have shape \(4,\)"):
        ce(x, t, np.ones(3), -100, 0.0, "mean")
    with pytest.raises(TypeError, match="cross_entropy_forward: weight must have the same dtype"):
        ce(x, t, np.ones(4, np.float32), -100, 0.0, "mean")
    with pytest.raises(TypeError, match="nll_loss_forward: weight must be a numpy array or None"):
        _C.nll_loss_forward(x, t, [1.0, 1.0, 1.0, 1.0], -100, "mean")
    with pytest.raises(ValueError, match="cross_entropy_forward: logits must have 2 dimensions"):
        ce(np.zeros((3, 4, 2)), t, None, -100, 0.0, "mean")
    with pytest.raises(TypeError, match="cross_entropy_forward: logits must be float32 or float64"):
        ce(np.zeros((3, 4), np.int64), t, None, -100, 0.0, "mean")
    with pytest.raises(ValueError, match=r"cross_entropy_backward: lse must have shape \(3,\)"):
        ceb(np.array(1.0), x, t, np.zeros(4), None, -100, 0.0, "mean")
    with pytest.raises(
        ValueError, match=r"cross_entropy_backward: grad_out must have shape \(3,\)"
    ):
        ceb(np.array(1.0), x, t, np.zeros(3), None, -100, 0.0, "none")
    with pytest.raises(ValueError, match="nll_loss_backward: grad_out must have one element"):
        _C.nll_loss_backward(np.ones(3), x, t, None, -100, "sum")
    with pytest.raises(
        TypeError, match="cross_entropy_backward: grad_out must have the same dtype"
    ):
        ceb(np.array(1.0, np.float32), x, t, np.zeros(3), None, -100, 0.0, "mean")


def test_errors_elementwise_losses():
    x = np.zeros((2, 3))
    for op in ("mse_loss", "l1_loss"):
        fwd, bwd = getattr(_C, op + "_forward"), getattr(_C, op + "_backward")
        with pytest.raises(ValueError, match=rf"{op}_forward: input \(2, 3\) and target \(3, 2\)"):
            fwd(x, np.zeros((3, 2)), "mean")
        with pytest.raises(TypeError, match=f"{op}_forward: target must have the same dtype"):
            fwd(x, x.astype(np.float32), "mean")
        with pytest.raises(ValueError, match=f"{op}_forward: reduction must be one of"):
            fwd(x, x, "Mean")
        with pytest.raises(ValueError, match=f"{op}_backward: grad_out must have shape"):
            bwd(np.ones(3), x, x, "none")
        with pytest.raises(ValueError, match=f"{op}_forward: input must be C-contiguous"):
            fwd(np.zeros((3, 4))[:, ::2], np.zeros((3, 2)), "sum")
    bce, bceb = _C.bce_with_logits_forward, _C.bce_with_logits_backward
    with pytest.raises(
        ValueError, match=r"bce_with_logits_forward: pos_weight of shape \(2,\) does not broadcast"
    ):
        bce(x, x, None, np.ones(2), "mean")
    with pytest.raises(ValueError, match=r"bce_with_logits_backward: weight of shape \(3, 2\)"):
        bceb(np.array(1.0), x, x, np.ones((3, 2)), None, "mean")
    with pytest.raises(ValueError, match=r"bce_with_logits_forward: weight of shape \(1, 2, 3\)"):
        bce(np.zeros(3), np.zeros(3), np.ones((1, 2, 3)), None, "mean")
    with pytest.raises(
        TypeError, match="bce_with_logits_forward: pos_weight must be a numpy array"
    ):
        bce(x, x, None, 2.0, "mean")
    with pytest.raises(TypeError, match="bce_with_logits_forward: weight must have the same dtype"):
        bce(x, x, np.ones(3, np.float32), None, "mean")
    with pytest.raises(ValueError, match="bce_with_logits_forward: reduction must be one of"):
        bce(x, x, None, None, "max")
