"""Linear layer as the product runs it (F.linear and nn.Linear: gemm + sum_rows):
y = x W^T + b, dx = dy W, dW = dy^T x, db = sum of dy over the rows."""

import numpy as np
import pytest
from conftest import assert_allclose, num_threads

import gradcore as gc
import gradcore.nn.functional as F
from gradcore import nn
from gradcore.autograd import gradcheck

SHAPES = [(1, 1, 1), (1, 5, 3), (7, 1, 4), (6, 9, 1), (13, 17, 11), (64, 33, 70)]


def tol_for(dtype, k):
    if dtype == np.float32:
        return dict(rtol=1e-4, atol=1e-5 * max(1.0, np.sqrt(k)))
    return dict(rtol=1e-12, atol=1e-12 * max(1.0, np.sqrt(k)))


def _t(a, rg=True):
    return gc.tensor(np.array(a), requires_grad=rg)


def linear_fwd_bwd(x, w, b, dy):
    """(y, dx, dw, db) of F.linear(x, w, b) with upstream gradient dy (db None without b)."""
    xt, wt = _t(x), _t(w)
    bt = None if b is None else _t(b)
    y = F.linear(xt, wt, bt)
    y.backward(gc.tensor(dy))
    db = None if bt is None else bt.grad.numpy()
    return y.numpy(), xt.grad.numpy(), wt.grad.numpy(), db


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("with_bias", [False, True])
def test_linear_vs_numpy(rng, dtype, shape, with_bias):
    n, fin, fout = shape
    x = np.asarray(rng.standard_normal((n, fin)), dtype)
    w = np.asarray(rng.standard_normal((fout, fin)), dtype)
    b = np.asarray(rng.standard_normal(fout), dtype) if with_bias else None
    dy = np.asarray(rng.standard_normal((n, fout)), dtype)
    x64, w64, dy64 = x.astype(np.float64), w.astype(np.float64), dy.astype(np.float64)
    y, dx, dw, db = linear_fwd_bwd(x, w, b, dy)
    assert y.shape == (n, fout) and y.dtype == dtype
    ref = x64 @ w64.T + (0 if b is None else b.astype(np.float64))
    assert_allclose(y, ref, **tol_for(dtype, fin), what="linear forward")
    assert dx.shape == (n, fin) and dx.dtype == dtype
    assert_allclose(dx, dy64 @ w64, **tol_for(dtype, fout), what="linear input grad")
    assert dw.shape == (fout, fin) and dw.dtype == dtype
    assert_allclose(dw, dy64.T @ x64, **tol_for(dtype, n), what="linear weight grad")
    if with_bias:
        assert db.shape == (fout,) and db.dtype == dtype
        assert_allclose(db, dy64.sum(axis=0), **tol_for(dtype, n), what="linear bias grad")


def test_linear_backward_vs_finite_differences(rng):
    x = rng.standard_normal((4, 5))
    w = rng.standard_normal((3, 5))
    b = rng.standard_normal(3)
    assert gradcheck(F.linear, (_t(x), _t(w), _t(b)))
    assert gradcheck(lambda a, c: F.linear(a, c), (_t(x), _t(w)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_vs_torch(torch, rng, dtype):
    x = np.asarray(rng.standard_normal((10, 12)), dtype)
    w = np.asarray(rng.standard_normal((7, 12)), dtype)
    b = np.asarray(rng.standard_normal(7), dtype)
    dy = np.asarray(rng.standard_normal((10, 7)), dtype)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = torch.nn.functional.linear(xt, wt, bt)
    yt.backward(torch.tensor(dy))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    y, dx, dw, db = linear_fwd_bwd(x, w, b, dy)
    assert_allclose(y, yt.detach().numpy(), **tol)
    assert_allclose(dx, xt.grad.numpy(), **tol)
    assert_allclose(dw, wt.grad.numpy(), **tol)
    assert_allclose(db, bt.grad.numpy(), **tol)
    # nn.Linear with the same parameters runs the same op.
    m = nn.Linear(12, 7, dtype=dtype)
    m.weight.numpy()[...] = w
    m.bias.numpy()[...] = b
    xm = _t(x)
    ym = m(xm)
    ym.backward(gc.tensor(dy))
    assert_allclose(ym.numpy(), yt.detach().numpy(), **tol)
    assert_allclose(xm.grad.numpy(), xt.grad.numpy(), **tol)
    assert_allclose(m.weight.grad.numpy(), wt.grad.numpy(), **tol)
    assert_allclose(m.bias.grad.numpy(), bt.grad.numpy(), **tol)


def test_linear_nan_propagates():
    x = np.array([[1.0, np.nan], [1.0, 2.0]])
    y = F.linear(gc.tensor(x), gc.tensor(np.ones((3, 2))), gc.tensor(np.zeros(3))).numpy()
    assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()


def test_linear_threads_bitwise(rng):
    x = np.asarray(rng.standard_normal((256, 300)), np.float32)
    w = np.asarray(rng.standard_normal((200, 300)), np.float32)
    b = np.asarray(rng.standard_normal(200), np.float32)
    dy = np.asarray(rng.standard_normal((256, 200)), np.float32)
    res = []
    for n in (1, 2):
        with num_threads(n):
            res.append(linear_fwd_bwd(x, w, b, dy))
    for a, c in zip(*res):
        assert np.array_equal(a, c)


def test_linear_empty_sizes():
    w = np.ones((2, 3))
    y, dx, dw, db = linear_fwd_bwd(np.zeros((0, 3)), w, np.ones(2), np.zeros((0, 2)))
    assert y.shape == (0, 2) and dx.shape == (0, 3)
    assert dw.tolist() == [[0.0] * 3] * 2 and db.tolist() == [0.0, 0.0]
    y, dx, dw, db = linear_fwd_bwd(
        np.zeros((4, 0)), np.zeros((2, 0)), np.array([1.0, 2.0]), np.ones((4, 2))
    )
    assert y.tolist() == [[1.0, 2.0]] * 4 and dx.shape == (4, 0) and dw.shape == (2, 0)
    assert db.tolist() == [4.0, 4.0]
    y = F.linear(gc.tensor(np.zeros((4, 0))), gc.tensor(np.zeros((2, 0))))
    assert y.numpy().tolist() == [[0.0] * 2] * 4
    # No output features: the input gradient is all zeros.
    y, dx, dw, _ = linear_fwd_bwd(np.ones((4, 3)), np.zeros((0, 3)), None, np.zeros((4, 0)))
    assert y.shape == (4, 0) and dx.tolist() == [[0.0] * 3] * 4 and dw.shape == (0, 3)


def test_linear_input_layouts(rng):
    # A 1-d input is one row (like torch); a non-contiguous weight is read as its values.
    x = rng.standard_normal(3)
    w = rng.standard_normal((3, 2)).T
    assert not w.flags.c_contiguous
    y = F.linear(gc.tensor(x), gc.tensor(w)).numpy()
    assert y.shape == (2,)
    assert_allclose(y, w @ x, 1e-12, 1e-12)
    x3 = rng.standard_normal((2, 4, 3))
    assert_allclose(F.linear(gc.tensor(x3), gc.tensor(w)).numpy(), x3 @ w.T, 1e-12, 1e-12)


def test_linear_errors():
    x = _t(np.ones((4, 3)))
    w = _t(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"linear: input has 3 features but weight expects 5"):
        F.linear(x, _t(np.ones((2, 5))))
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(2,\).*got \(3,\)"):
        F.linear(x, w, _t(np.ones(3)))
    with pytest.raises(TypeError, match="linear: input dtype float64 differs from weight dtype"):
        F.linear(x, _t(np.ones((2, 3), np.float32)))
    with pytest.raises(ValueError, match="linear: bias must have .* dtype float64, got .* float32"):
        F.linear(x, w, _t(np.ones(2, np.float32)))
    with pytest.raises(TypeError, match="must be float32 or float64"):
        F.linear(gc.tensor(np.ones((4, 3), np.int64)), gc.tensor(np.ones((2, 3), np.int64)))
    y = F.linear(x, w)
    with pytest.raises(RuntimeError, match=r"gradient has shape \(4, 4\) but the tensor has"):
        y.backward(gc.tensor(np.ones((4, 4))))
