"""Batch normalisation kernels: numpy float64 reference, finite differences, PyTorch, threads."""

import numpy as np
import pytest
from conftest import assert_allclose, num_threads

from gradcore import _C

SHAPES = [(8, 3), (7, 1), (1, 5, 2), (5, 4, 7), (3, 2, 5, 6), (2, 1, 1, 3), (4, 300)]


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _bshape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def ref_train(x, w, b, rm, rv, momentum, eps):
    """float64 reference: (y, mean, invstd, new_rm, new_rv) like torch's training batch_norm."""
    xd = x.astype(np.float64)
    mean = xd.mean(_axes(x))
    var = xd.var(_axes(x))
    m = x.size // x.shape[1]
    invstd = 1.0 / np.sqrt(var + eps)
    y = (xd - mean.reshape(_bshape(x))) * invstd.reshape(_bshape(x))
    if w is not None:
        y = y * w.astype(np.float64).reshape(_bshape(x))
    if b is not None:
        y = y + b.astype(np.float64).reshape(_bshape(x))
    new_rm = new_rv = None
    if rm is not None:
        new_rm = (1 - momentum) * rm.astype(np.float64) + momentum * mean
    if rv is not None:
        new_rv = (1 - momentum) * rv.astype(np.float64) + momentum * var * m / (m - 1)
    return y, mean, invstd, new_rm, new_rv


def ref_eval(x, w, b, rm, rv, eps):
    bs = _bshape(x)
    y = (x.astype(np.float64) - rm.reshape(bs)) / np.sqrt(rv.astype(np.float64).reshape(bs) + eps)
    if w is not None:
        y = y * w.reshape(bs)
    if b is not None:
        y = y + b.reshape(bs)
    return y


def ref_backward(dy, x, w, mean, invstd, training):
    """float64 reference of (dx, dweight, dbias) from the closed-form gradient."""
    dy = dy.astype(np.float64)
    x = x.astype(np.float64)
    bs = _bshape(x)
    g = np.ones(x.shape[1]) if w is None else w.astype(np.float64)
    xhat = (x - mean.reshape(bs)) * invstd.reshape(bs)
    sum_dy = dy.sum(_axes(x))
    sum_dy_xhat = (dy * xhat).sum(_axes(x))
    m = x.size // x.shape[1]
    if training:
        dx = (
            (invstd * g).reshape(bs)
            / m
            * (m * dy - sum_dy.reshape(bs) - xhat * sum_dy_xhat.reshape(bs))
        )
    else:
        dx = dy * (invstd * g).reshape(bs)
    return dx, sum_dy_xhat, sum_dy


def _params(rng, c, dtype, affine):
    if not affine:
        return None, None
    return (rng.uniform(0.5, 1.5, c).astype(dtype), rng.standard_normal(c).astype(dtype))


def _stats(rng, c, dtype):
    return rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2.0, c).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_train_matches_reference(rng, shape, affine, dtype):
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    c = shape[1]
    w, b = _params(rng, c, dtype, affine)
    rm, rv = _stats(rng, c, dtype)
    rm0, rv0 = rm.copy(), rv.copy()
    y, mean, invstd = _C.batch_norm_forward_train(x, w, b, rm, rv, 0.1, 1e-5)
    ry, rmean, rinvstd, rrm, rrv = ref_train(x, w, b, rm0, rv0, 0.1, 1e-5)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    assert y.dtype == dtype and y.shape == x.shape
    assert mean.shape == (c,) and invstd.shape == (c,) and mean.dtype == dtype
    assert_allclose(y, ry, **tol, what="y")
    assert_allclose(mean, rmean, **tol, what="save_mean")
    assert_allclose(invstd, rinvstd, **tol, what="save_invstd")
    assert_allclose(rm, rrm, **tol, what="running_mean")
    assert_allclose(rv, rrv, **tol, what="running_var (unbiased)")


def test_forward_train_without_running_stats_and_momentum_edges(rng):
    x = rng.standard_normal((6, 3, 4))
    y, mean, invstd = _C.batch_norm_forward_train(x, None, None, None, None, 0.1, 1e-3)
    ry, rmean, rinvstd, _, _ = ref_train(x, None, None, None, None, 0.1, 1e-3)
    assert_allclose(y, ry, rtol=1e-12, atol=1e-12)
    # momentum 0 keeps the running stats, momentum 1 replaces them by the batch's.
    rm, rv = np.zeros(3), np.ones(3)
    _C.batch_norm_forward_train(x, None, None, rm, rv, 0.0, 1e-5)
    assert np.array_equal(rm, np.zeros(3)) and np.array_equal(rv, np.ones(3))
    _C.batch_norm_forward_train(x, None, None, rm, rv, 1.0, 1e-5)
    assert_allclose(rm, x.mean((0, 2)), rtol=1e-12, atol=1e-14)
    assert_allclose(rv, x.var((0, 2), ddof=1), rtol=1e-12)


def test_forward_train_large_offset_is_accurate(rng):
    # Float32 data far from zero: double accumulation and (x - mean) keep the output accurate.
    x = (1000.0 + rng.standard_normal((64, 4, 16))).astype(np.float32)
    y, mean, _ = _C.batch_norm_forward_train(x, None, None, None, None, 0.1, 1e-5)
    ry, rmean, *_ = ref_train(x, None, None, None, None, 0.1, 1e-5)
    assert_allclose(mean, rmean, rtol=1e-7)
    assert_allclose(y, ry, rtol=0, atol=2e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_eval_matches_reference(rng, shape, affine, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    w, b = _params(rng, shape[1], dtype, affine)
    rm, rv = _stats(rng, shape[1], dtype)
    y = _C.batch_norm_forward_eval(x, w, b, rm, rv, 1e-5)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    assert y.dtype == dtype
    assert_allclose(y, ref_eval(x, w, b, rm, rv, 1e-5), **tol)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_closed_form(rng, shape, dtype, training):
    x = rng.standard_normal(shape).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    w, _ = _params(rng, shape[1], dtype, True)
    if training:
        _, mean, invstd = _C.batch_norm_forward_train(x, w, None, None, None, 0.1, 1e-5)
    else:
        rm, rv = _stats(rng, shape[1], dtype)
        mean, invstd = rm, (1 / np.sqrt(rv.astype(np.float64) + 1e-5)).astype(dtype)
    dx, dw, db = _C.batch_norm_backward(dy, x, w, mean, invstd, training)
    rdx, rdw, rdb = ref_backward(dy, x, w, mean, invstd, training)
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)
    assert dx.dtype == dtype and dx.shape == x.shape
    assert_allclose(dx, rdx, **tol, what="dx")
    assert_allclose(dw, rdw, **tol, what="dweight")
    assert_allclose(db, rdb, **tol, what="dbias")


def test_backward_grad_selection(rng):
    x, dy = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
    _, mean, invstd = _C.batch_norm_forward_train(x, None, None, None, None, 0.1, 1e-5)
    dx, dw, db = _C.batch_norm_backward(dy, x, None, mean, invstd, True)
    assert dw is None and db is None
    dx2, dw, db = _C.batch_norm_backward(dy, x, None, mean, invstd, True, need_bias_grad=True)
    assert dw is None and np.array_equal(dx, dx2)
    assert_allclose(db, dy.sum((0, 2)), rtol=1e-12)
    w = np.ones(3)
    _, dw, db = _C.batch_norm_backward(dy, x, w, mean, invstd, True, need_weight_grad=False)
    assert dw is None and db is not None


def _numeric_grads(f, arrays, h=1e-6):
    """Central differences of the scalar f() with respect to each array (in place)."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + h
            fp = f()
            a[i] = old - h
            fm = f()
            a[i] = old
            g[i] = (fp - fm) / (2 * h)
        grads.append(g)
    return grads


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4), (2, 3, 2, 3)])
def test_backward_train_finite_differences(rng, shape):
    x = rng.standard_normal(shape)
    w = rng.uniform(0.5, 1.5, shape[1])
    b = rng.standard_normal(shape[1])
    gy = rng.standard_normal(shape)

    def loss():
        y, _, _ = _C.batch_norm_forward_train(x, w, b, None, None, 0.1, 1e-3)
        return float((y * gy).sum())

    ndx, ndw, ndb = _numeric_grads(loss, [x, w, b])
    _, mean, invstd = _C.batch_norm_forward_train(x, w, b, None, None, 0.1, 1e-3)
    dx, dw, db = _C.batch_norm_backward(gy, x, w, mean, invstd, True)
    assert_allclose(dx, ndx, rtol=1e-6, atol=1e-7, what="dx")
    assert_allclose(dw, ndw, rtol=1e-6, atol=1e-7, what="dweight")
    assert_allclose(db, ndb, rtol=1e-6, atol=1e-7, what="dbias")


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 2, 3)])
def test_backward_eval_finite_differences(rng, shape):
    x = rng.standard_normal(shape)
    w = rng.uniform(0.5, 1.5, shape[1])
    b = rng.standard_normal(shape[1])
    rm, rv = rng.standard_normal(shape[1]), rng.uniform(0.5, 2, shape[1])
    gy = rng.standard_normal(shape)

    def loss():
        return float((_C.batch_norm_forward_eval(x, w, b, rm, rv, 1e-5) * gy).sum())

    ndx, ndw, ndb = _numeric_grads(loss, [x, w, b])
    dx, dw, db = _C.batch_norm_backward(gy, x, w, rm, 1 / np.sqrt(rv + 1e-5), False)
    assert_allclose(dx, ndx, rtol=1e-6, atol=1e-7, what="dx")
    assert_allclose(dw, ndw, rtol=1e-6, atol=1e-7, what="dweight")
    assert_allclose(db, ndb, rtol=1e-6, atol=1e-7, what="dbias")


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 9), (2, 4, 6, 5)])
def test_matches_torch(torch, rng, shape, training):
    x = rng.standard_normal(shape).astype(np.float32) * 3 + 1
    w = rng.uniform(0.5, 1.5, shape[1]).astype(np.float32)
    b = rng.standard_normal(shape[1]).astype(np.float32)
    rm, rv = _stats(rng, shape[1], np.float32)
    gy = rng.standard_normal(shape).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training, 0.1, 1e-5)
    ty.backward(torch.tensor(gy))
    if training:
        y, mean, invstd = _C.batch_norm_forward_train(x, w, b, rm, rv, 0.1, 1e-5)
    else:
        y = _C.batch_norm_forward_eval(x, w, b, rm, rv, 1e-5)
        mean, invstd = rm, (1 / np.sqrt(rv.astype(np.float64) + 1e-5)).astype(np.float32)
    dx, dw, db = _C.batch_norm_backward(gy, x, w, mean, invstd, training)
    tol = dict(rtol=1e-5, atol=1e-5)
    assert_allclose(y, ty.detach().numpy(), **tol, what="y")
    assert_allclose(rm, trm.numpy(), **tol, what="running_mean")
    assert_allclose(rv, trv.numpy(), **tol, what="running_var")
    assert_allclose(dx, tx.grad.numpy(), rtol=1e-4, atol=1e-5, what="dx")
    assert_allclose(dw, tw.grad.numpy(), rtol=1e-4, atol=1e-4, what="dweight")
    assert_allclose(db, tb.grad.numpy(), rtol=1e-5, atol=1e-4, what="dbias")


@pytest.mark.parametrize("shape", [(32, 16, 8, 8), (4096, 16), (8, 64, 100)])
def test_threads_bitwise(rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    w = rng.uniform(0.5, 1.5, shape[1]).astype(np.float32)
    b = rng.standard_normal(shape[1]).astype(np.float32)
    results = []
    for n in (1, 2):
        with num_threads(n):
            rm, rv = np.zeros(shape[1], np.float32), np.ones(shape[1], np.float32)
            y, mean, invstd = _C.batch_norm_forward_train(x, w, b, rm, rv, 0.1, 1e-5)
            ye = _C.batch_norm_forward_eval(x, w, b, rm, rv, 1e-5)
            grads = _C.batch_norm_backward(dy, x, w, mean, invstd, True)
            grads_e = _C.batch_norm_backward(dy, x, w, rm, invstd, False)
            results.append((y, mean, invstd, rm, rv, ye, *grads, *grads_e))
    for a, b_ in zip(*results):
        assert np.array_equal(a, b_)


def test_nan_propagates(rng):
    x = rng.standard_normal((4, 2, 3))
    x[1, 0, 2] = np.nan
    y, mean, _ = _C.batch_norm_forward_train(x, None, None, None, None, 0.1, 1e-5)
    assert np.isnan(y[:, 0]).all() and np.isnan(mean[0])
    assert np.isfinite(y[:, 1]).all()


def test_errors(rng):
    f = _C.batch_norm_forward_train
    x = rng.standard_normal((4, 3, 5))
    c3 = np.ones(3)
    with pytest.raises(ValueError, match="batch_norm_forward_train: expected more than 1 value"):
        f(np.ones((1, 3)), None, None, None, None, 0.1, 1e-5)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        f(np.ones((1, 3, 1, 1)), None, None, None, None, 0.1, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward_train: x must have at least 2"):
        f(np.ones(5), None, None, None, None, 0.1, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward_train: weight must have shape"):
        f(x, np.ones(4), None, None, None, 0.1, 1e-5)
    with pytest.raises(TypeError, match="batch_norm_forward_train: bias"):
        f(x, None, np.ones(3, np.float32), None, None, 0.1, 1e-5)
    with pytest.raises(TypeError, match="batch_norm_forward_train: x must be float32 or float64"):
        f(x.astype(np.int64), None, None, None, None, 0.1, 1e-5)
    with pytest.raises(TypeError, match="batch_norm_forward_train: weight must be a numpy array"):
        f(x, [1.0, 1.0, 1.0], None, None, None, 0.1, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward_train: x must be C-contiguous"):
        f(x.transpose(2, 1, 0), None, None, None, None, 0.1, 1e-5)
    ro = np.zeros(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="batch_norm_forward_train: running_mean must be writ"):
        f(x, None, None, ro, c3.copy(), 0.1, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward_train: running_var must not share"):
        f(x, None, None, None, x.reshape(-1)[:3], 0.1, 1e-5)
    rm = np.zeros(3)
    with pytest.raises(ValueError, match="running_mean must not share memory with running_var"):
        f(x, None, None, rm, rm, 0.1, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward_train: eps must be in"):
        f(x, None, None, None, None, 0.1, 0.0)
    with pytest.raises(ValueError, match="batch_norm_forward_train: momentum must be in"):
        f(x, None, None, None, None, 1.5, 1e-5)
    with pytest.raises(ValueError, match="momentum must be in"):
        f(x, None, None, None, None, float("nan"), 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward_eval: running_var must have shape"):
        _C.batch_norm_forward_eval(x, None, None, c3, np.ones(2), 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward_eval: eps"):
        _C.batch_norm_forward_eval(x, None, None, c3, c3, -1.0)
    with pytest.raises(ValueError, match="batch_norm_backward: dy .* must have the same shape"):
        _C.batch_norm_backward(np.ones((4, 3, 4)), x, None, c3, c3, True)
    with pytest.raises(TypeError, match="batch_norm_backward: dy must have the same dtype"):
        _C.batch_norm_backward(x.astype(np.float32), x, None, c3, c3, True)
    with pytest.raises(ValueError, match="batch_norm_backward: invstd must have shape"):
        _C.batch_norm_backward(x, x, None, c3, np.ones(4), True)
    # Nothing was modified by the failed calls.
    assert np.array_equal(rm, np.zeros(3))
