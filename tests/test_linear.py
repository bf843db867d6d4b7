"""Linear layer: y = x W^T + b, dx = dy W, dW = dy^T x (through the GEMM)."""

import numpy as np
import pytest
from conftest import assert_allclose, num_threads

from gradcore import _C

SHAPES = [(1, 1, 1), (1, 5, 3), (7, 1, 4), (6, 9, 1), (13, 17, 11), (64, 33, 70)]


def tol_for(dtype, k):
    if dtype == np.float32:
        return dict(rtol=1e-4, atol=1e-5 * max(1.0, np.sqrt(k)))
    return dict(rtol=1e-12, atol=1e-12 * max(1.0, np.sqrt(k)))


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
    y = _C.linear_forward(x, w, b)
    assert y.shape == (n, fout) and y.dtype == dtype
    ref = x64 @ w64.T + (0 if b is None else b.astype(np.float64))
    assert_allclose(y, ref, **tol_for(dtype, fin), what="linear_forward")
    dx = _C.linear_backward_input(dy, w)
    assert dx.shape == (n, fin) and dx.dtype == dtype
    assert_allclose(dx, dy64 @ w64, **tol_for(dtype, fout), what="linear_backward_input")
    dw = _C.linear_backward_weight(dy, x)
    assert dw.shape == (fout, fin) and dw.dtype == dtype
    assert_allclose(dw, dy64.T @ x64, **tol_for(dtype, n), what="linear_backward_weight")


def test_linear_backward_vs_finite_differences(rng):
    x = rng.standard_normal((4, 5))
    w = rng.standard_normal((3, 5))
    b = rng.standard_normal(3)
    dy = rng.standard_normal((4, 3))
    h = 1e-6

    def num(f, a):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            ap, am = a.copy(), a.copy()
            ap[idx] += h
            am[idx] -= h
            g[idx] = np.sum((f(ap) - f(am)) * dy) / (2 * h)
        return g

    assert_allclose(
        _C.linear_backward_input(dy, w), num(lambda z: _C.linear_forward(z, w, b), x), 1e-7, 1e-8
    )
    assert_allclose(
        _C.linear_backward_weight(dy, x), num(lambda z: _C.linear_forward(x, z, b), w), 1e-7, 1e-8
    )
    assert_allclose(
        _C.sum_rows(dy), num(lambda z: _C.linear_forward(x, w, z), b), 1e-7, 1e-8, "bias grad"
    )


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
    assert_allclose(_C.linear_forward(x, w, b), yt.detach().numpy(), **tol)
    assert_allclose(_C.linear_backward_input(dy, w), xt.grad.numpy(), **tol)
    assert_allclose(_C.linear_backward_weight(dy, x), wt.grad.numpy(), **tol)
    assert_allclose(_C.sum_rows(dy), bt.grad.numpy(), **tol)


def test_linear_nan_propagates():
    x = np.array([[1.0, np.nan], [1.0, 2.0]])
    w = np.ones((3, 2))
    y = _C.linear_forward(x, w, np.zeros(3))
    assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()


def test_linear_threads_bitwise(rng):
    x = np.asarray(rng.standard_normal((256, 300)), np.float32)
    w = np.asarray(rng.standard_normal((200, 300)), np.float32)
    b = np.asarray(rng.standard_normal(200), np.float32)
    dy = np.asarray(rng.standard_normal((256, 200)), np.float32)
    res = []
    for n in (1, 2):
        with num_threads(n):
            res.append(
                (
                    _C.linear_forward(x, w, b),
                    _C.linear_backward_input(dy, w),
                    _C.linear_backward_weight(dy, x),
                )
            )
    for a, c in zip(*res):
        assert np.array_equal(a, c)


def test_linear_empty_sizes():
    x = np.zeros((0, 3))
    w = np.ones((2, 3))
    assert _C.linear_forward(x, w, None).shape == (0, 2)
    assert _C.linear_backward_weight(np.zeros((0, 2)), x).tolist() == [[0.0] * 3] * 2
    y = _C.linear_forward(np.zeros((4, 0)), np.zeros((2, 0)), np.array([1.0, 2.0]))
    assert y.tolist() == [[1.0, 2.0]] * 4
    assert _C.linear_forward(np.zeros((4, 0)), np.zeros((2, 0)), None).tolist() == [[0.0] * 2] * 4
    assert _C.linear_backward_input(np.zeros((4, 0)), np.zeros((0, 3))).tolist() == [[0.0] * 3] * 4


def test_linear_errors():
    x = np.ones((4, 3))
    w = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"linear_forward: x has 3 features but weight expects 5"):
        _C.linear_forward(x, np.ones((2, 5)), None)
    with pytest.raises(
        ValueError, match=r"linear_forward: bias must have shape \(2,\), got \(3,\)"
    ):
        _C.linear_forward(x, w, np.ones(3))
    with pytest.raises(TypeError, match="linear_forward: weight must have the same dtype as x"):
        _C.linear_forward(x, w.astype(np.float32), None)
    with pytest.raises(TypeError, match="linear_forward: bias must have the same dtype as x"):
        _C.linear_forward(x, w, np.ones(2, np.float32))
    with pytest.raises(ValueError, match="linear_forward: x must have 2 dimensions"):
        _C.linear_forward(np.ones(3), w, None)
    with pytest.raises(ValueError, match="linear_forward: weight must be C-contiguous"):
        _C.linear_forward(x, np.ones((3, 2)).T, None)
    with pytest.raises(TypeError, match="linear_forward: x must be float32 or float64"):
        _C.linear_forward(x.astype(np.int64), w, None)
    with pytest.raises(
        ValueError, match="linear_backward_input: dy has 4 features but weight has 2"
    ):
        _C.linear_backward_input(np.ones((4, 4)), w)
    with pytest.raises(ValueError, match="linear_backward_weight: dy has 4 rows but x has 5"):
        _C.linear_backward_weight(np.ones((4, 2)), np.ones((5, 3)))
    with pytest.raises(TypeError, match="linear_backward_weight: x must have the same dtype as dy"):
        _C.linear_backward_weight(np.ones((4, 2)), x.astype(np.float32))
