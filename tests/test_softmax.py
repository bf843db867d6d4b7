"""Softmax and log-softmax over the last axis of a 2-d array."""

import numpy as np
import pytest
from conftest import assert_allclose, num_threads

from gradcore import _C

SHAPES = [(1, 1), (1, 7), (5, 1), (3, 10), (17, 33), (2, 1000)]


def softmax_ref(x):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax_ref(x):
    x = np.asarray(x, np.float64)
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def softmax_vjp_ref(dy, x):
    y = softmax_ref(x)
    return y * (dy - (dy * y).sum(axis=1, keepdims=True))


def log_softmax_vjp_ref(dy, x):
    return dy - softmax_ref(x) * dy.sum(axis=1, keepdims=True)


OPS = {
    "softmax": (_C.softmax_forward, _C.softmax_backward, softmax_ref, softmax_vjp_ref),
    "log_softmax": (
        _C.log_softmax_forward,
        _C.log_softmax_backward,
        log_softmax_ref,
        log_softmax_vjp_ref,
    ),
}


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_vs_numpy(rng, name, dtype, shape):
    fwd, bwd, f, vjp = OPS[name]
    x = np.asarray(rng.standard_normal(shape) * 3, dtype)
    dy = np.asarray(rng.standard_normal(shape), dtype)
    y = fwd(x)
    assert y.dtype == dtype and y.shape == shape
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    assert_allclose(y, f(x64), **tol, what=f"{name} forward")
    dx = bwd(dy, y)
    assert dx.dtype == dtype
    assert_allclose(dx, vjp(dy64, x64), **tol, what=f"{name} backward")


@pytest.mark.parametrize("name", sorted(OPS))
def test_backward_vs_finite_differences(rng, name):
    fwd, bwd, _, _ = OPS[name]
    x = rng.standard_normal((3, 6))
    dy = rng.standard_normal(x.shape)
    dx = bwd(dy, fwd(x))
    h = 1e-6
    num = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        num[idx] = np.sum((fwd(xp) - fwd(xm)) * dy) / (2 * h)
    assert_allclose(dx, num, rtol=1e-6, atol=1e-8, what=f"{name} finite differences")


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_large_logits(name, dtype):
    fwd, _, f, _ = OPS[name]
    x = np.array([[1000.0, 999.0, -1000.0], [-1e4, -1e4 + 1, -1e4 + 2], [0.0, 0.0, 0.0]], dtype)
    with np.errstate(all="raise"):
        y = fwd(x)
    assert np.isfinite(y).all()
    assert_allclose(y, f(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(OPS))
def test_nan_propagates_within_row(name):
    fwd, _, _, _ = OPS[name]
    x = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]])
    y = fwd(x)
    assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vs_torch(torch, rng, name, dtype):
    fwd, bwd, _, _ = OPS[name]
    F = torch.nn.functional
    tf = F.softmax if name == "softmax" else F.log_softmax
    x = np.asarray(rng.standard_normal((6, 19)) * 5, dtype)
    dy = np.asarray(rng.standard_normal(x.shape), dtype)
    xt = torch.tensor(x, requires_grad=True)
    yt = tf(xt, dim=-1)
    yt.backward(torch.tensor(dy))
    y = fwd(x)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    assert_allclose(y, yt.detach().numpy(), **tol, what=f"{name} forward vs torch")
    assert_allclose(bwd(dy, y), xt.grad.numpy(), **tol, what=f"{name} backward vs torch")


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("shape", [(4096, 40), (3, 70_000)])
def test_threads_bitwise(rng, name, shape):
    fwd, bwd, _, _ = OPS[name]
    x = np.asarray(rng.standard_normal(shape), np.float32)
    dy = np.asarray(rng.standard_normal(shape), np.float32)
    res = []
    for n in (1, 2):
        with num_threads(n):
            y = fwd(x)
            res.append((y, bwd(dy, y)))
    assert np.array_equal(res[0][0], res[1][0])
    assert np.array_equal(res[0][1], res[1][1])


@pytest.mark.parametrize(
    "op", ["softmax_forward", "log_softmax_forward", "softmax_backward", "log_softmax_backward"]
)
def test_errors(op):
    f = getattr(_C, op)
    backward = op.endswith("backward")
    args = (lambda a: (a, a)) if backward else (lambda a: (a,))
    first = "dy" if backward else "x"
    with pytest.raises(ValueError, match=f"{op}: {first} must have 2 dimensions, got shape"):
        f(*args(np.ones((2, 3, 4))))
    with pytest.raises(TypeError, match=f"{op}: {first} must be float32 or float64"):
        f(*args(np.ones((2, 3), np.int32)))
    with pytest.raises(ValueError, match=f"{op}: {first} must be C-contiguous"):
        f(*args(np.ones((3, 4))[:, ::2]))
    if backward:
        with pytest.raises(ValueError, match=rf"{op}: dy \(2, 3\) and y \(3, 2\) must have"):
            f(np.ones((2, 3)), np.ones((3, 2)))
        with pytest.raises(TypeError, match=f"{op}: y must have the same dtype as dy"):
            f(np.ones((2, 3)), np.ones((2, 3), np.float32))


def test_masked_entries_give_exact_zero():
    # on each CPU path (conftest.py)
    for dtype in (np.float32, np.float64):
        x = np.array([[0.0, -np.inf, 1.0, -1e30], [-np.inf, 2.0, -np.inf, -200.0]], dtype)
        y = _C.softmax_forward(x)
        assert y[0, 1] == 0 and y[0, 3] == 0 and y[1, 0] == 0 and y[1, 2] == 0
        assert_allclose(y.sum(axis=1), [1.0, 1.0], rtol=1e-6)
        ly = _C.log_softmax_forward(x)
        assert ly[0, 1] == -np.inf and ly[1, 2] == -np.inf
        assert_allclose(ly[0, [0, 2]], log_softmax_ref(x[:1, [0, 2]])[0], rtol=1e-6)
