"""CUDA batch norm: the per-thread bodies through the CPU test driver (everywhere) and the
CUDA kernels on a GPU (skipped without one), both against _C's CPU kernels."""

import numpy as np
import pytest
from cuda_helpers import requires_gpu, to_cpu, to_gpu

from gradcore import _C

# x shapes (N, C, *): odd sizes, a 2-d input (S = 1), channels with more values than a block
SHAPES = [(3, 5, 7, 9), (2, 3), (257, 4), (1, 3, 2), (4, 2, 300), (2, 1, 3, 5)]
RTOL, ATOL = 1e-5, 2e-5


def _inputs(shape, rng):
    C = shape[1]
    x = np.asarray(rng.standard_normal(shape) * 2 + 1.5, np.float32)
    dy = np.asarray(rng.standard_normal(shape), np.float32)
    w = np.asarray(rng.uniform(0.5, 1.5, C), np.float32)
    b = np.asarray(rng.standard_normal(C), np.float32)
    rm = np.asarray(rng.standard_normal(C), np.float32)
    rv = np.asarray(rng.uniform(0.5, 2.0, C), np.float32)
    return x, dy, w, b, rm, rv


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("track", [True, False])
def test_host_driver_train_forward_and_backward(shape, affine, track, rng):
    x, dy, w, b, rm, rv = _inputs(shape, rng)
    w, b = (w, b) if affine else (None, None)
    rm_h, rv_h = (rm.copy(), rv.copy()) if track else (None, None)
    rm_c, rv_c = (rm.copy(), rv.copy()) if track else (None, None)
    y, mean, invstd = _C.cuda_host.batch_norm_forward_train(x, w, b, rm_h, rv_h, 0.1, 1e-5)
    y_r, mean_r, invstd_r = _C.batch_norm_forward_train(x, w, b, rm_c, rv_c, 0.1, 1e-5)
    assert y.shape == x.shape and mean.shape == (shape[1],) and y.dtype == np.float32
    _close(y, y_r)
    _close(mean, mean_r)
    _close(invstd, invstd_r)
    if track:
        _close(rm_h, rm_c)
        _close(rv_h, rv_c)
    dx, dw, db = _C.cuda_host.batch_norm_backward(dy, x, w, mean_r, invstd_r, True)
    dx_r, dw_r, db_r = _C.batch_norm_backward(dy, x, w, mean_r, invstd_r, True)
    _close(dx, dx_r)
    assert (dw is None) == (dw_r is None) and (db is None) == (db_r is None)
    if affine:
        _close(dw, dw_r)
        _close(db, db_r)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_host_driver_eval_forward_and_backward(shape, affine, rng):
    x, dy, w, b, rm, rv = _inputs(shape, rng)
    w, b = (w, b) if affine else (None, None)
    _close(
        _C.cuda_host.batch_norm_forward_eval(x, w, b, rm, rv, 1e-3),
        _C.batch_norm_forward_eval(x, w, b, rm, rv, 1e-3),
    )
    invstd = np.asarray(1 / np.sqrt(rv + 1e-5), np.float32)
    for need in (None, True, False):
        got = _C.cuda_host.batch_norm_backward(dy, x, w, rm, invstd, False, need, need)
        ref = _C.batch_norm_backward(dy, x, w, rm, invstd, False, need, need)
        for g, r in zip(got, ref, strict=True):
            assert (g is None) == (r is None)
            if r is not None:
                _close(g, r)


def test_host_driver_empty_batch_backward():
    x = np.zeros((0, 3, 4), np.float32)
    w = np.ones(3, np.float32)
    m = np.zeros(3, np.float32)
    s = np.ones(3, np.float32)
    dx, dw, db = _C.cuda_host.batch_norm_backward(x, x, w, m, s, True)
    assert dx.shape == x.shape
    np.testing.assert_array_equal(dw, 0)
    np.testing.assert_array_equal(db, 0)


def test_host_driver_errors():
    h = _C.cuda_host
    x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(TypeError, match="batch_norm_forward_train.*x"):
        h.batch_norm_forward_train(x.astype(np.float64))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        h.batch_norm_forward_train(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="more than 1 value"):
        h.batch_norm_forward_train(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match="weight"):
        h.batch_norm_forward_train(x, np.ones(2, np.float32))
    with pytest.raises(ValueError, match="momentum"):
        h.batch_norm_forward_train(x, momentum=1.5)
    with pytest.raises(ValueError, match="eps"):
        h.batch_norm_forward_eval(
            x, None, None, np.zeros(3, np.float32), np.ones(3, np.float32), 0.0
        )
    rm = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="running_mean"):
        h.batch_norm_forward_train(x, None, None, rm, rm)  # aliased running stats
    with pytest.raises(ValueError, match="same shape"):
        h.batch_norm_backward(np.ones((2, 3, 5), np.float32), x, None, rm, rm, True)


@requires_gpu
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_gpu_matches_cpu_kernels(shape, affine, rng):
    from cuda_helpers import cuda_module

    c = cuda_module()
    x, dy, w, b, rm, rv = _inputs(shape, rng)
    w, b = (w, b) if affine else (None, None)
    g = to_gpu
    wd, bd = (g(w), g(b)) if affine else (None, None)
    rm_d, rv_d = g(rm), g(rv)
    rm_c, rv_c = rm.copy(), rv.copy()
    y, mean, invstd = c.batch_norm_forward_train(g(x), wd, bd, rm_d, rv_d, 0.1, 1e-5)
    y_r, mean_r, invstd_r = _C.batch_norm_forward_train(x, w, b, rm_c, rv_c, 0.1, 1e-5)
    _close(to_cpu(y), y_r)
    _close(to_cpu(mean), mean_r)
    _close(to_cpu(invstd), invstd_r)
    _close(to_cpu(rm_d), rm_c)
    _close(to_cpu(rv_d), rv_c)
    for training in (True, False):
        dx, dw, db = c.batch_norm_backward(g(dy), g(x), wd, g(mean_r), g(invstd_r), training)
        dx_r, dw_r, db_r = _C.batch_norm_backward(dy, x, w, mean_r, invstd_r, training)
        _close(to_cpu(dx), dx_r)
        assert (dw is None) == (dw_r is None)
        if affine:
            _close(to_cpu(dw), dw_r)
            _close(to_cpu(db), db_r)
    _close(
        to_cpu(c.batch_norm_forward_eval(g(x), wd, bd, g(rm), g(rv), 1e-3)),
        _C.batch_norm_forward_eval(x, w, b, rm, rv, 1e-3),
    )


@requires_gpu
def test_gpu_errors():
    from cuda_helpers import cuda_module

    c = cuda_module()
    x = to_gpu(np.ones((2, 3, 4), np.float32))
    with pytest.raises(TypeError, match="float32"):
        c.batch_norm_forward_train(to_gpu(np.ones((2, 3, 4))))
    with pytest.raises(ValueError, match="more than 1 value"):
        c.batch_norm_forward_train(to_gpu(np.ones((1, 3), np.float32)))
    with pytest.raises(ValueError, match="weight"):
        c.batch_norm_forward_train(x, to_gpu(np.ones(2, np.float32)))
    with pytest.raises(TypeError, match="weight"):
        c.batch_norm_forward_train(x, np.ones(3, np.float32))
    rm = to_gpu(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="share memory"):
        c.batch_norm_forward_train(x, None, None, rm, rm)
