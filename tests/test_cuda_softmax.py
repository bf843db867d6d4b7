"""CUDA softmax / log-softmax: the per-thread bodies through the CPU test driver (everywhere)
and the CUDA kernels on a GPU (skipped without one), both against _C's CPU kernels."""

import numpy as np
import pytest
from cuda_helpers import requires_gpu, to_cpu, to_gpu

from gradcore import _C

# (rows, cols): one row, odd sizes, columns below / above / far above a block (256 threads)
SHAPES = [
    (1, 1),
    (1, 7),
    (3, 10),
    (3, 1000),
    (257, 3),
    (5, 256),
    (2, 257),
    (4, 3001),
    (0, 5),
    (3, 0),
]
OPS = ("softmax", "log_softmax")


def _inputs(shape, rng):
    x = np.asarray(rng.standard_normal(shape) * 4, np.float32)
    dy = np.asarray(rng.standard_normal(shape), np.float32)
    if x.size:
        x.flat[0] = 60.0  # exp overflows without the max subtraction
    return x, dy


def _run(module, op, x, dy):
    y = getattr(module, f"{op}_forward")(x)
    dx = getattr(module, f"{op}_backward")(dy, y)
    return y, dx


def _check(op, y, dx, x, dy):
    y_ref = getattr(_C, f"{op}_forward")(x)
    dx_ref = getattr(_C, f"{op}_backward")(dy, y_ref)
    assert y.shape == x.shape and dx.shape == x.shape
    assert y.dtype == np.float32 and dx.dtype == np.float32
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("op", OPS)
def test_host_driver_matches_cpu_kernels(op, shape, rng):
    x, dy = _inputs(shape, rng)
    y, dx = _run(_C.cuda_host, op, x, dy)
    _check(op, y, dx, x, dy)


def test_host_driver_rows_sum_to_one(rng):
    x = np.asarray(rng.standard_normal((3, 1000)) * 10, np.float32)
    y = _C.cuda_host.softmax_forward(x)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("op", OPS)
def test_host_driver_non_finite_as_cpu(op):
    # NaN anywhere in a row: the row is NaN; +inf: NaN; a row of -inf: NaN (as the CPU kernel)
    x = np.array(
        [
            [0.0, np.nan, 1.0],
            [0.0, np.inf, 1.0],
            [-np.inf, -np.inf, -np.inf],
            [-np.inf, 0.0, 1.0],
        ],
        np.float32,
    )
    got = getattr(_C.cuda_host, f"{op}_forward")(x)
    ref = getattr(_C, f"{op}_forward")(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_host_driver_errors():
    h = _C.cuda_host
    with pytest.raises(TypeError, match="softmax_forward"):
        h.softmax_forward(np.ones((2, 3), np.float64))
    with pytest.raises(ValueError, match="log_softmax_forward.*2 dimensions"):
        h.log_softmax_forward(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="softmax_backward.*same shape"):
        h.softmax_backward(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match="log_softmax_backward.*y"):
        h.log_softmax_backward(np.ones((2, 3), np.float32), np.ones((2, 3), np.int64))


@requires_gpu
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("op", OPS)
def test_gpu_matches_cpu_kernels(op, shape, rng):
    from cuda_helpers import cuda_module

    x, dy = _inputs(shape, rng)
    y, dx = _run(cuda_module(), op, to_gpu(x), to_gpu(dy))
    _check(op, to_cpu(y), to_cpu(dx), x, dy)


@requires_gpu
def test_gpu_errors():
    from cuda_helpers import cuda_module

    c = cuda_module()
    with pytest.raises(TypeError, match="float32"):
        c.softmax_forward(to_gpu(np.ones((2, 3), np.float64)))
    with pytest.raises(ValueError, match="2 dimensions"):
        c.log_softmax_forward(to_gpu(np.ones(3, np.float32)))
    with pytest.raises(ValueError, match="same shape"):
        c.softmax_backward(to_gpu(np.ones((2, 3), np.float32)), to_gpu(np.ones((3, 2), np.float32)))
