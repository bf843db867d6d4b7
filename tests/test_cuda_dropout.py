"""CUDA dropout: the per-thread bodies through the CPU test driver (everywhere) and the CUDA
kernels on a GPU (skipped without one).

The CUDA mask comes from a counter-based generator (a SplitMix64 hash of (seed, element index),
cuda/dropout_threads.h): element t's draw depends only on (seed, t), so any launch geometry
gives the same mask. It is written to be the same generator as _C's CPU kernels
(cpu/dropout.cpp), and the tests check that the masks agree bit for bit; the brief only required
the host driver and the GPU to agree, so should the CPU generator ever change, the statistical
tests below are the ones that define correctness and the equality tests with _C must follow."""

import numpy as np
import pytest
from cuda_helpers import requires_gpu, to_cpu, to_gpu

from gradcore import _C

SIZES = [1, 7, 1023, 4097]
H = _C.cuda_host


def _x(rng, n):
    return np.asarray(rng.standard_normal(n) * 2, np.float32)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_host_driver_matches_cpu_kernels(n, p, rng):
    x, dy = _x(rng, n), _x(rng, n)
    y, m = H.dropout_forward(x, p, 42)
    assert y.dtype == np.float32 and m.dtype == np.uint8 and y.shape == m.shape == x.shape
    y_ref, m_ref = _C.dropout_forward(x, p, 42)
    np.testing.assert_array_equal(m, m_ref)  # the same generator as the CPU kernels
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(H.dropout_backward(dy, m, p), _C.dropout_backward(dy, m, p))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_host_driver_keep_fraction_and_scale(p):
    n = 200_003
    x = np.linspace(-3, 3, n, dtype=np.float32)
    y, m = H.dropout_forward(x, p, 2024)
    kept = int(m.sum())
    assert abs(kept - n * (1 - p)) <= 4 * np.sqrt(n * p * (1 - p))
    keep = m.astype(bool)
    np.testing.assert_allclose(y[keep], x[keep] * np.float32(1 / (1 - p)), rtol=1e-6)
    assert np.all(y[~keep] == 0)
    # backward: the same mask, the same scale
    dy = np.ones(n, np.float32)
    dx = H.dropout_backward(dy, m, p)
    np.testing.assert_array_equal(dx != 0, keep)
    np.testing.assert_allclose(dx[keep], np.float32(1 / (1 - p)), rtol=1e-6)


def test_host_driver_uniform_chi_square():
    # u(seed, t) >= k/16 is the mask at p = k/16, so the masks at p = 0, 1/16, ..., 1 give the
    # histogram of the uniforms over 16 equal bins.
    n = 160_000
    x = np.ones(n, np.float32)
    masks = [H.dropout_forward(x, k / 16, 777)[1].astype(np.int64) for k in range(17)]
    assert masks[0].sum() == n and masks[16].sum() == 0
    counts = np.array([(masks[k] - masks[k + 1]).sum() for k in range(16)])
    assert all((masks[k] >= masks[k + 1]).all() for k in range(16))  # nested
    assert counts.sum() == n
    expected = n / 16
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 40.0, (chi2, counts)  # 15 degrees of freedom: P(chi2 > 40) ~ 5e-4


def test_host_driver_seeds(rng):
    x = _x(rng, 4097)
    _, m1 = H.dropout_forward(x, 0.5, 7)
    _, m2 = H.dropout_forward(x, 0.5, 7)
    _, m3 = H.dropout_forward(x, 0.5, 8)
    _, m4 = H.dropout_forward(x, 0.5, 2**64 - 1)
    np.testing.assert_array_equal(m1, m2)
    assert (m1 != m3).any() and (m1 != m4).any()
    np.testing.assert_array_equal(H.dropout_forward(x, 0.5, np.uint64(7))[1], m1)
    # counter-based: element t depends on (seed, t) only, not on the size or shape
    _, m_prefix = H.dropout_forward(x[:100].copy(), 0.5, 7)
    np.testing.assert_array_equal(m_prefix, m1[:100])
    _, m_2d = H.dropout_forward(x[:4096].reshape(64, 64).copy(), 0.5, 7)
    np.testing.assert_array_equal(m_2d.reshape(-1), m1[:4096])


def test_host_driver_p0_p1(rng):
    x = _x(rng, 1023)
    y, m = H.dropout_forward(x, 0.0, 3)
    np.testing.assert_array_equal(y, x)
    assert m.all()
    y, m = H.dropout_forward(x, 1.0, 3)
    assert not m.any() and not y.any()
    assert not H.dropout_backward(x, m, 1.0).any()
    # x * 0 where dropped: NaN propagates, as in the CPU kernels
    xn = np.array([np.nan, 1.0], np.float32)
    y, _ = H.dropout_forward(xn, 1.0, 3)
    assert np.isnan(y[0]) and y[1] == 0


def test_host_driver_errors():
    x = np.ones(7, np.float32)
    m = np.ones(7, np.uint8)
    with pytest.raises(TypeError, match="dropout_forward: x must be float32"):
        H.dropout_forward(np.ones(7), 0.5, 0)
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="dropout_forward: p must be in"):
            H.dropout_forward(x, p, 0)
        with pytest.raises(ValueError, match="dropout_backward: p must be in"):
            H.dropout_backward(x, m, p)
    with pytest.raises(ValueError, match="seed must be in"):
        H.dropout_forward(x, 0.5, -1)
    with pytest.raises(ValueError, match="seed must be in"):
        H.dropout_forward(x, 0.5, 2**64)
    with pytest.raises(TypeError, match="seed must be an int"):
        H.dropout_forward(x, 0.5, 1.5)
    with pytest.raises(TypeError, match="seed must be an int"):
        H.dropout_forward(x, 0.5, True)
    with pytest.raises(TypeError, match="dropout_backward: mask must be uint8"):
        H.dropout_backward(x, np.ones(7, np.float32), 0.5)
    with pytest.raises(TypeError, match="dropout_backward: dy must be float32"):
        H.dropout_backward(np.ones(7), m, 0.5)
    with pytest.raises(ValueError, match="same shape"):
        H.dropout_backward(x, np.ones(8, np.uint8), 0.5)


# ---- GPU --------------------------------------------------------------------------------------


@requires_gpu
@pytest.mark.parametrize("n", SIZES + [1_000_003])
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_gpu_matches_host_driver_and_cpu(n, p, rng):
    from cuda_helpers import cuda_module

    c = cuda_module()
    x, dy = _x(rng, n), _x(rng, n)
    y, m = c.dropout_forward(to_gpu(x), p, 99)
    y, m = to_cpu(y), to_cpu(m)
    assert m.dtype == np.uint8 and y.dtype == np.float32
    y_h, m_h = H.dropout_forward(x, p, 99)
    np.testing.assert_array_equal(m, m_h)
    np.testing.assert_array_equal(y, y_h)
    np.testing.assert_array_equal(m, _C.dropout_forward(x, p, 99)[1])
    dx = to_cpu(c.dropout_backward(to_gpu(dy), to_gpu(m), p))
    np.testing.assert_array_equal(dx, H.dropout_backward(dy, m, p))


@requires_gpu
def test_gpu_keep_fraction():
    from cuda_helpers import cuda_module

    n, p = 1_000_003, 0.25
    _, m = cuda_module().dropout_forward(to_gpu(np.ones(n, np.float32)), p, 5)
    kept = int(to_cpu(m).sum())
    assert abs(kept - n * (1 - p)) <= 4 * np.sqrt(n * p * (1 - p))


@requires_gpu
def test_gpu_errors():
    from cuda_helpers import cuda_module

    c = cuda_module()
    x = to_gpu(np.ones(7, np.float32))
    with pytest.raises(TypeError, match="float32"):
        c.dropout_forward(to_gpu(np.ones(7)), 0.5, 0)
    with pytest.raises(ValueError, match="p must be in"):
        c.dropout_forward(x, 1.5, 0)
    with pytest.raises(ValueError, match="seed must be in"):
        c.dropout_forward(x, 0.5, -1)
    with pytest.raises(TypeError, match="mask must be uint8"):
        c.dropout_backward(x, to_gpu(np.ones(7, np.float32)), 0.5)
    with pytest.raises(ValueError, match="same shape"):
        c.dropout_backward(x, to_gpu(np.ones(8, np.uint8)), 0.5)
