"""CUDA pooling: the per-thread bodies through the CPU test driver (everywhere) and the CUDA
kernels on a GPU (skipped without one), both against _C's CPU kernels. Max pooling must agree
bitwise (values, argmax indices, gradients); the backward kernels gather per input element
and add the windows' contributions in the CPU's (ascending output) order."""

import numpy as np
import pytest
from cuda_helpers import requires_gpu, to_cpu, to_gpu

from gradcore import _C

# (input shape, kernel_size, stride, padding, dilation, ceil_mode)
MAX_CASES = [
    ((3, 5, 5, 7), 3, 2, 1, 1, False),
    ((3, 5, 5, 7), 3, 2, 1, 1, True),
    ((3, 5, 5, 7), 3, 1, 1, 2, False),
    ((3, 5, 5, 7), 3, 2, 1, 2, True),
    ((1, 1, 1, 1), 1, None, 0, 1, False),
    ((2, 3, 8, 6), 2, None, 0, 1, False),  # the CPU's 2x2 path
    ((2, 3, 7, 9), 2, None, 0, 1, True),
    ((1, 2, 6, 5), (3, 2), (2, 1), (1, 0), (1, 2), True),
    ((2, 2, 9, 4), (4, 1), (3, 1), (2, 0), 1, False),
]

# (input shape, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
AVG_CASES = [
    ((3, 5, 5, 7), 3, 2, 1, False, True, None),
    ((3, 5, 5, 7), 3, 2, 1, True, True, None),
    ((3, 5, 5, 7), 3, 2, 1, True, False, None),
    ((3, 5, 5, 7), 3, 2, 1, False, False, 5),
    ((1, 1, 1, 1), 1, None, 0, False, True, None),
    ((2, 3, 8, 6), 2, None, 0, False, True, None),  # the CPU's 2x2 path
    ((2, 3, 7, 9), 2, None, 0, True, False, 0),
    ((1, 2, 6, 5), (3, 2), (2, 1), (1, 0), True, True, None),
    ((2, 2, 5, 7), (4, 3), (3, 2), (2, 1), True, False, None),
]

# (input shape, output_size)
ADAPTIVE_CASES = [
    ((3, 5, 5, 7), (3, 2)),
    ((3, 5, 5, 7), (5, 7)),
    ((1, 1, 1, 1), 1),
    ((2, 3, 5, 7), (7, 9)),  # windows overlap: the output is larger than the input
    ((2, 3, 6, 6), 4),
    ((1, 2, 13, 1), (5, 1)),
]


def _max_input(shape, rng, kind):
    if kind == "ties":  # many equal values: the first maximum of each window must win
        return rng.integers(-2, 2, size=shape).astype(np.float32)
    x = rng.standard_normal(shape).astype(np.float32)
    if kind == "special" and x.size >= 4:
        x.flat[::3] = -np.inf
        x.flat[1::7] = np.nan
    return x


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def _max_geometry(k, s, p, d, ceil):
    return dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)


@pytest.mark.parametrize("kind", ["normal", "ties", "special"])
@pytest.mark.parametrize("case", MAX_CASES)
def test_host_max_pool_matches_cpu(case, kind, rng):
    shape, k, s, p, d, ceil = case
    x = _max_input(shape, rng, kind)
    y_ref, idx_ref = _C.max_pool2d_forward(x, k, s, p, d, ceil)
    y, idx = _C.cuda_host.max_pool2d_forward(x, k, s, p, d, ceil)
    assert y.dtype == np.float32 and idx.dtype == np.int64
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx_ref = _C.max_pool2d_backward(dy, idx_ref, shape)
    np.testing.assert_array_equal(_C.cuda_host.max_pool2d_backward(dy, idx, shape), dx_ref)
    dx = _C.cuda_host.max_pool2d_backward(dy, idx, shape, **_max_geometry(k, s, p, d, ceil))
    np.testing.assert_array_equal(dx, dx_ref)


@pytest.mark.parametrize("case", AVG_CASES)
def test_host_avg_pool_matches_cpu(case, rng):
    shape, k, s, p, ceil, cip, div = case
    x = rng.standard_normal(shape).astype(np.float32)
    args = (k, s, p, ceil, cip, div)
    y = _C.cuda_host.avg_pool2d_forward(x, *args)
    _close(y, _C.avg_pool2d_forward(x, *args))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    _close(
        _C.cuda_host.avg_pool2d_backward(dy, shape, *args),
        _C.avg_pool2d_backward(dy, shape, *args),
    )


@pytest.mark.parametrize("case", ADAPTIVE_CASES)
def test_host_adaptive_avg_pool_matches_cpu(case, rng):
    shape, out = case
    x = rng.standard_normal(shape).astype(np.float32)
    y = _C.cuda_host.adaptive_avg_pool2d_forward(x, out)
    _close(y, _C.adaptive_avg_pool2d_forward(x, out))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    _close(
        _C.cuda_host.adaptive_avg_pool2d_backward(dy, shape),
        _C.adaptive_avg_pool2d_backward(dy, shape),
    )


def test_host_max_pool_backward_with_chosen_indices():
    # indices need not be the argmax: every one inside the plane is added, in output order
    dy = np.arange(1, 5, dtype=np.float32).reshape(1, 1, 2, 2)
    idx = np.array([0, 0, 3, 0], np.int64).reshape(1, 1, 2, 2)
    dx = _C.cuda_host.max_pool2d_backward(dy, idx, (1, 1, 3, 3))
    np.testing.assert_array_equal(dx, _C.max_pool2d_backward(dy, idx, (1, 1, 3, 3)))
    assert dx[0, 0, 0, 0] == 1 + 2 + 4 and dx[0, 0, 1, 0] == 3


def test_host_errors():
    h = _C.cuda_host
    x = np.ones((1, 1, 4, 4), np.float32)
    with pytest.raises(TypeError, match="max_pool2d_forward"):
        h.max_pool2d_forward(x.astype(np.float64), 2)
    with pytest.raises(ValueError, match="avg_pool2d_forward"):
        h.avg_pool2d_forward(np.ones((4, 4), np.float32), 2)
    with pytest.raises(ValueError, match="at most half"):
        h.max_pool2d_forward(x, 2, 1, 2)
    with pytest.raises(ValueError, match="too small"):
        h.max_pool2d_forward(x, 5)
    with pytest.raises(TypeError, match="adaptive_avg_pool2d_forward"):
        h.adaptive_avg_pool2d_forward(x.astype(np.float64), 2)
    with pytest.raises(ValueError, match="adaptive_avg_pool2d_backward"):
        h.adaptive_avg_pool2d_backward(np.ones((1, 1, 2), np.float32), (1, 1, 4, 4))
    y, idx = h.max_pool2d_forward(x, 2)
    with pytest.raises(TypeError, match="indices"):
        h.max_pool2d_backward(y, idx.astype(np.int32), x.shape)
    with pytest.raises(ValueError, match="outside the input plane"):
        h.max_pool2d_backward(y, idx + 100, x.shape)
    with pytest.raises(ValueError, match="dy must have shape"):
        h.max_pool2d_backward(y, idx, x.shape, kernel_size=3)
    with pytest.raises(ValueError, match="dy must have shape"):
        h.avg_pool2d_backward(y, (1, 1, 8, 8), 2)
    with pytest.raises(ValueError, match="divisor_override"):
        h.avg_pool2d_forward(x, 2, divisor_override=-1)


@requires_gpu
@pytest.mark.parametrize("kind", ["normal", "ties", "special"])
@pytest.mark.parametrize("case", MAX_CASES)
def test_gpu_max_pool_matches_cpu(case, kind, rng):
    from cuda_helpers import cuda_module

    c = cuda_module()
    shape, k, s, p, d, ceil = case
    x = _max_input(shape, rng, kind)
    y_ref, idx_ref = _C.max_pool2d_forward(x, k, s, p, d, ceil)
    y, idx = c.max_pool2d_forward(to_gpu(x), k, s, p, d, ceil)
    np.testing.assert_array_equal(to_cpu(y), y_ref)
    np.testing.assert_array_equal(to_cpu(idx), idx_ref)
    dy = rng.standard_normal(y_ref.shape).astype(np.float32)
    dx_ref = _C.max_pool2d_backward(dy, idx_ref, shape)
    np.testing.assert_array_equal(to_cpu(c.max_pool2d_backward(to_gpu(dy), idx, shape)), dx_ref)
    dx = c.max_pool2d_backward(to_gpu(dy), idx, shape, **_max_geometry(k, s, p, d, ceil))
    np.testing.assert_array_equal(to_cpu(dx), dx_ref)


@requires_gpu
@pytest.mark.parametrize("case", AVG_CASES)
def test_gpu_avg_pool_matches_cpu(case, rng):
    from cuda_helpers import cuda_module

    c = cuda_module()
    shape, k, s, p, ceil, cip, div = case
    x = rng.standard_normal(shape).astype(np.float32)
    args = (k, s, p, ceil, cip, div)
    y_ref = _C.avg_pool2d_forward(x, *args)
    _close(to_cpu(c.avg_pool2d_forward(to_gpu(x), *args)), y_ref)
    dy = rng.standard_normal(y_ref.shape).astype(np.float32)
    _close(
        to_cpu(c.avg_pool2d_backward(to_gpu(dy), shape, *args)),
        _C.avg_pool2d_backward(dy, shape, *args),
    )


@requires_gpu
@pytest.mark.parametrize("case", ADAPTIVE_CASES)
def test_gpu_adaptive_avg_pool_matches_cpu(case, rng):
    from cuda_helpers import cuda_module

    c = cuda_module()
    shape, out = case
    x = rng.standard_normal(shape).astype(np.float32)
    y_ref = _C.adaptive_avg_pool2d_forward(x, out)
    _close(to_cpu(c.adaptive_avg_pool2d_forward(to_gpu(x), out)), y_ref)
    dy = rng.standard_normal(y_ref.shape).astype(np.float32)
    _close(
        to_cpu(c.adaptive_avg_pool2d_backward(to_gpu(dy), shape)),
        _C.adaptive_avg_pool2d_backward(dy, shape),
    )


@requires_gpu
def test_gpu_errors():
    from cuda_helpers import cuda_module

    c = cuda_module()
    x = np.ones((1, 1, 4, 4), np.float32)
    with pytest.raises(TypeError, match="float32"):
        c.max_pool2d_forward(to_gpu(x.astype(np.float64)), 2)
    with pytest.raises(ValueError, match="4 dimensions"):
        c.avg_pool2d_forward(to_gpu(np.ones((4, 4), np.float32)), 2)
    with pytest.raises(ValueError, match="at most half"):
        c.max_pool2d_forward(to_gpu(x), 2, 1, 2)
    y, idx = c.max_pool2d_forward(to_gpu(x), 2)
    bad = to_gpu(to_cpu(idx) + 100)
    with pytest.raises(ValueError, match="outside the input plane"):
        c.max_pool2d_backward(y, bad, x.shape)
    with pytest.raises(ValueError, match="dy must have shape"):
        c.max_pool2d_backward(y, idx, x.shape, kernel_size=3)
