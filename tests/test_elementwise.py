"""sum_rows (the bias gradient of F.linear) and the native profile scopes of the ops kernels."""

import numpy as np
import pytest
from conftest import CPU_CAPABILITIES, assert_allclose, cpu_capability_selected, num_threads

from gradcore import _C


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape", [(1, 1), (1, 9), (9, 1), (17, 33), (5000, 3), (3, 70_000), (0, 4)]
)
def test_sum_rows(rng, dtype, shape):
    x = np.asarray(rng.standard_normal(shape), dtype)
    s = _C.sum_rows(x)
    assert s.shape == (shape[1],) and s.dtype == dtype
    ref = x.astype(np.float64).sum(axis=0)
    # double accumulation: only the final rounding to dtype differs from the exact sum
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-12)
    assert_allclose(s, ref, **tol)


def test_sums_vs_torch(torch, rng):
    m = np.asarray(rng.standard_normal((40, 7)), np.float32)
    assert_allclose(_C.sum_rows(m), torch.tensor(m).sum(dim=0).numpy(), 1e-5, 1e-5)


@pytest.mark.parametrize(
    "fn,shape",
    [
        (_C.sum_rows, (20_000, 7)),
        (_C.sum_rows, (3, 100_000)),
    ],
)
def test_sums_threads_bitwise(rng, fn, shape):
    x = np.asarray(rng.standard_normal(shape) + 0.1, np.float32)
    with num_threads(1):
        s1 = fn(x)
    with num_threads(2):
        s2 = fn(x)
    assert np.array_equal(s1, s2)


def test_sums_nan_propagates():
    x = np.ones((4, 3))
    x[2, 1] = np.nan
    s = _C.sum_rows(x)
    assert np.isnan(s[1]) and s[0] == 4 and s[2] == 4


def test_errors():
    with pytest.raises(ValueError, match="sum_rows: x must have 2 dimensions, got shape"):
        _C.sum_rows(np.ones((2, 3, 4)))
    with pytest.raises(TypeError, match="sum_rows: x must be float32 or float64"):
        _C.sum_rows(np.ones((2, 3), np.int32))


def test_kernels_record_profile_scopes():
    x = np.ones((4, 3), np.float32)
    t = np.zeros(4, np.int64)
    _C.profiler_take_records()
    _C.profiler_set_enabled(True)
    try:
        _C.relu_forward(x)
        _C.softmax_forward(x)
        _C.cross_entropy_forward(x, t, None, -100, 0.0, "mean")
        _C.gemm(x, np.ones((2, 3), np.float32), None, False, True)  # F.linear's product
        _C.sum_rows(x)
        _C.conv2d_backward_bias(x)
    finally:
        _C.profiler_set_enabled(False)
    recs = {r[0]: r for r in _C.profiler_take_records()}
    for name in (
        "relu_forward",
        "softmax_forward",
        "cross_entropy_forward",
        "gemm",
        "sum_rows",
        "conv2d_backward_bias",
    ):
        assert name in recs, f"{name} recorded no profile scope"
    assert recs["gemm"][4] == 2 * 4 * 3 * 2  # flops = 2 N in out
    assert recs["relu_forward"][6][0] == (12,)


@pytest.mark.across_cpu_capabilities
def test_sums_identical_on_every_cpu_path(rng):
    x = np.asarray(rng.standard_normal((3000, 37)), np.float32)
    sums = {}
    for path in CPU_CAPABILITIES:
        with cpu_capability_selected(path):
            sums[path] = _C.sum_rows(x)
    for path in CPU_CAPABILITIES[1:]:
        assert np.array_equal(sums["generic"], sums[path]), path
