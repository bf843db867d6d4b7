"""CUDA activations: the per-thread bodies through the CPU test driver (everywhere) and the
CUDA kernels on a GPU (skipped without one), both against _C's CPU kernels."""

import numpy as np
import pytest
from cuda_helpers import requires_gpu, to_cpu, to_gpu

from gradcore import _C

SHAPES = [(), (1,), (7,), (3, 5), (2, 3, 4, 5), (1023,), (257, 3)]

# name -> (extra args, exact): forward f(x, *args), backward f(dy, x or y, *args)
OPS = {
    "relu": ((), True),
    "leaky_relu": ((0.2,), True),
    "sigmoid": ((), False),
    "tanh": ((), False),
    "silu": ((), False),
    "gelu": (("none",), False),
    "gelu_tanh": (("tanh",), False),
}
# backward kernels take the forward's output (y) or its input (x)
TAKES_Y = ("relu", "sigmoid", "tanh")


def _inputs(shape, rng):
    x = np.asarray(rng.standard_normal(shape) * 3, np.float32)
    dy = np.asarray(rng.standard_normal(shape), np.float32)
    if x.size >= 7:  # the edge values every kernel must get right
        x.flat[:7] = [0.0, -0.0, np.inf, -np.inf, 40.0, -40.0, 1e-30]
    return x, dy


def _run(module, name, x, dy):
    args, _ = OPS[name]
    op = "gelu" if name == "gelu_tanh" else name
    y = getattr(module, f"{op}_forward")(x, *args)
    y_cpu = getattr(_C, f"{op}_forward")(x if isinstance(x, np.ndarray) else x.numpy(), *args)
    saved = y if name in TAKES_Y else x
    dx = getattr(module, f"{op}_backward")(dy, saved, *args)
    return y, dx, y_cpu


def _check(name, y, dx, x, dy):
    args, exact = OPS[name]
    op = "gelu" if name == "gelu_tanh" else name
    y_ref = getattr(_C, f"{op}_forward")(x, *args)
    dx_ref = getattr(_C, f"{op}_backward")(dy, y_ref if name in TAKES_Y else x, *args)
    if exact:
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(dx, dx_ref)
    else:
        np.testing.assert_allclose(y, y_ref, rtol=4e-6, atol=1e-6)
        np.testing.assert_allclose(dx, dx_ref, rtol=4e-6, atol=1e-6)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(OPS))
def test_host_driver_matches_cpu_kernels(name, shape, rng):
    x, dy = _inputs(shape, rng)
    y, dx, _ = _run(_C.cuda_host, name, x, dy)
    assert y.shape == x.shape and dx.shape == x.shape and y.dtype == np.float32
    _check(name, y, dx, x, dy)


def test_host_driver_relu_nan_propagates():
    x = np.array([np.nan, -1.0, 2.0], np.float32)
    y = _C.cuda_host.relu_forward(x)
    assert np.isnan(y[0]) and y[1] == 0 and y[2] == 2
    # y = NaN passes dy, as PyTorch's threshold_backward
    dx = _C.cuda_host.relu_backward(np.ones(3, np.float32), y)
    np.testing.assert_array_equal(dx, [1.0, 0.0, 1.0])


def test_host_driver_errors():
    with pytest.raises(TypeError, match="relu_forward"):
        _C.cuda_host.relu_forward(np.ones(3, np.float64))
    with pytest.raises(ValueError, match="same shape"):
        _C.cuda_host.relu_backward(np.ones(3, np.float32), np.ones(4, np.float32))
    with pytest.raises(ValueError, match="approximate"):
        _C.cuda_host.gelu_forward(np.ones(3, np.float32), "fast")


@requires_gpu
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(OPS))
def test_gpu_matches_cpu_kernels(name, shape, rng):
    from cuda_helpers import cuda_module

    x, dy = _inputs(shape, rng)
    y, dx, _ = _run(cuda_module(), name, to_gpu(x), to_gpu(dy))
    _check(name, to_cpu(y), to_cpu(dx), x, dy)


@requires_gpu
def test_gpu_errors():
    from cuda_helpers import cuda_module

    c = cuda_module()
    with pytest.raises(TypeError, match="float32"):
        c.relu_forward(to_gpu(np.ones(3, np.float64)))
    with pytest.raises(ValueError, match="same shape"):
        c.relu_backward(to_gpu(np.ones(3, np.float32)), to_gpu(np.ones(4, np.float32)))
