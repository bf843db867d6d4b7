"""CUDA sum_rows (F.linear's bias gradient): the per-thread bodies through the CPU test driver
(everywhere) and the CUDA kernel on a GPU (skipped without one), against _C.sum_rows."""

import numpy as np
import pytest
from cuda_helpers import requires_gpu, to_cpu, to_gpu

from gradcore import _C

SHAPES = [(1, 1), (3, 5), (0, 4), (4, 0), (300, 7), (1000, 3), (2, 257), (257, 2)]


def _check(got, x):
    ref = _C.sum_rows(x)
    assert got.shape == ref.shape and got.dtype == np.float32
    scale = np.abs(x).sum(axis=0) if x.size else np.zeros(x.shape[1])
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6 * np.max(scale, initial=1.0))


@pytest.mark.parametrize("shape", SHAPES)
def test_host_sum_rows_matches_cpu(shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    _check(_C.cuda_host.sum_rows(x), x)


def test_host_sum_rows_errors():
    with pytest.raises(TypeError, match="sum_rows"):
        _C.cuda_host.sum_rows(np.ones((2, 3), np.float64))
    with pytest.raises(ValueError, match="sum_rows"):
        _C.cuda_host.sum_rows(np.ones(3, np.float32))


@requires_gpu
@pytest.mark.parametrize("shape", SHAPES)
def test_gpu_sum_rows_matches_cpu(shape, rng):
    from cuda_helpers import cuda_module

    x = rng.standard_normal(shape).astype(np.float32)
    got = to_cpu(cuda_module().sum_rows(to_gpu(x)))
    _check(got, x)
    # the same bits as the host driver (same partials, same tree)
    np.testing.assert_array_equal(got, _C.cuda_host.sum_rows(x))


@requires_gpu
def test_gpu_sum_rows_errors():
    from cuda_helpers import cuda_module

    c = cuda_module()
    with pytest.raises(TypeError, match="float32"):
        c.sum_rows(to_gpu(np.ones((2, 3))))
    with pytest.raises(ValueError, match="2 dimensions"):
        c.sum_rows(to_gpu(np.ones(3, np.float32)))
