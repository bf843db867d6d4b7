"""Elementwise helpers for autograd: add_, axpy_, sum_rows, sum_channels."""

import numpy as np
import pytest
from conftest import CPU_CAPABILITIES, assert_allclose, cpu_capability_selected, num_threads

from gradcore import _C


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5), (2, 3, 4, 5), (0, 3)])
def test_add_and_axpy(rng, dtype, shape):
    a = np.asarray(rng.standard_normal(shape), dtype)
    b = np.asarray(rng.standard_normal(shape), dtype)
    expect = a + b
    a2 = a.copy()
    assert _C.add_(a2, b) is None
    assert np.array_equal(a2, expect)
    y = a.copy()
    _C.axpy_(y, -0.75, b)
    assert_allclose(y, a.astype(np.float64) - 0.75 * b.astype(np.float64), 1e-6, 1e-6)
    same = a.copy()
    _C.add_(same, same)  # the same array on both sides is allowed
    assert np.array_equal(same, a + a)


def test_add_nan_propagates():
    a = np.array([1.0, 2.0])
    _C.add_(a, np.array([np.nan, 1.0]))
    assert np.isnan(a[0]) and a[1] == 3.0


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape", [(1, 1), (4, 3), (2, 3, 5), (1, 1, 1, 1), (2, 3, 4, 5), (3, 2, 200, 200), (2, 3, 0)]
)
def test_sum_channels(rng, dtype, shape):
    x = np.asarray(rng.standard_normal(shape), dtype)
    s = _C.sum_channels(x)
    assert s.shape == (shape[1],) and s.dtype == dtype
    axes = (0,) + tuple(range(2, len(shape)))
    ref = x.astype(np.float64).sum(axis=axes)
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-12)
    assert_allclose(s, ref, **tol)


def test_sums_vs_torch(torch, rng):
    x = np.asarray(rng.standard_normal((8, 6, 5, 5)), np.float32)
    assert_allclose(_C.sum_channels(x), torch.tensor(x).sum(dim=(0, 2, 3)).numpy(), 1e-5, 1e-5)
    m = np.asarray(rng.standard_normal((40, 7)), np.float32)
    assert_allclose(_C.sum_rows(m), torch.tensor(m).sum(dim=0).numpy(), 1e-5, 1e-5)
    a = np.asarray(rng.standard_normal(10), np.float32)
    b = np.asarray(rng.standard_normal(10), np.float32)
    y = a.copy()
    _C.axpy_(y, 0.3, b)
    assert_allclose(y, torch.tensor(a).add(torch.tensor(b), alpha=0.3).numpy(), 1e-6, 1e-7)


@pytest.mark.parametrize(
    "fn,shape",
    [
        (_C.sum_rows, (20_000, 7)),
        (_C.sum_rows, (3, 100_000)),
        (_C.sum_channels, (16, 8, 32, 32)),
        (_C.sum_channels, (1, 2, 300_000)),
        (_C.sum_channels, (50_000, 5)),
    ],
)
def test_sums_threads_bitwise(rng, fn, shape):
    x = np.asarray(rng.standard_normal(shape) + 0.1, np.float32)
    with num_threads(1):
        s1 = fn(x)
    with num_threads(2):
        s2 = fn(x)
    assert np.array_equal(s1, s2)


def test_add_axpy_threads_bitwise(rng):
    a = np.asarray(rng.standard_normal(200_001), np.float32)
    b = np.asarray(rng.standard_normal(200_001), np.float32)
    out = []
    for n in (1, 2):
        with num_threads(n):
            y = a.copy()
            _C.axpy_(y, 1.7, b)
            _C.add_(y, b)
            out.append(y)
    assert np.array_equal(out[0], out[1])


def test_sums_nan_propagates():
    x = np.ones((4, 3))
    x[2, 1] = np.nan
    s = _C.sum_rows(x)
    assert np.isnan(s[1]) and s[0] == 4 and s[2] == 4
    y = np.ones((2, 3, 4))
    y[1, 2, 3] = np.nan
    s = _C.sum_channels(y)
    assert np.isnan(s[2]) and s[0] == 8


def test_errors():
    a = np.ones((2, 3))
    with pytest.raises(
        ValueError, match=r"add_: a \(2, 3\) and b \(3, 2\) must have the same shape"
    ):
        _C.add_(a, np.ones((3, 2)))
    with pytest.raises(TypeError, match="add_: b must have the same dtype as a"):
        _C.add_(a, np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="add_: a must be float32 or float64"):
        _C.add_(np.ones(3, np.int64), np.ones(3, np.int64))
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="add_: a must be writable"):
        _C.add_(ro, np.ones(3))
    with pytest.raises(ValueError, match="add_: a must be C-contiguous"):
        _C.add_(np.ones((3, 4))[:, ::2], np.ones((3, 2)))
    big = np.ones(10)
    with pytest.raises(ValueError, match="add_: a must not share memory with b"):
        _C.add_(big[1:6], big[0:5])
    with pytest.raises(ValueError, match="axpy_: y must not share memory with x"):
        _C.axpy_(big[2:7], 2.0, big[0:5])
    with pytest.raises(TypeError, match="axpy_: alpha must be a float, got str"):
        _C.axpy_(a, "2", a.copy())
    with pytest.raises(ValueError, match="axpy_: y .* and x .* must have the same shape"):
        _C.axpy_(a, 2.0, np.ones(6))
    with pytest.raises(ValueError, match="sum_rows: x must have 2 dimensions, got shape"):
        _C.sum_rows(np.ones((2, 3, 4)))
    with pytest.raises(TypeError, match="sum_rows: x must be float32 or float64"):
        _C.sum_rows(np.ones((2, 3), np.int32))
    with pytest.raises(ValueError, match="sum_channels: x must have at least 2 dimensions"):
        _C.sum_channels(np.ones(3))
    with pytest.raises(ValueError, match="sum_channels: x must be C-contiguous"):
        _C.sum_channels(np.ones((4, 3, 2)).transpose(1, 0, 2))


def test_kernels_record_profile_scopes():
    x = np.ones((4, 3), np.float32)
    t = np.zeros(4, np.int64)
    _C.profiler_take_records()
    _C.profiler_set_enabled(True)
    try:
        _C.relu_forward(x)
        _C.softmax_forward(x)
        _C.cross_entropy_forward(x, t, None, -100, 0.0, "mean")
        _C.linear_forward(x, np.ones((2, 3), np.float32), None)
        _C.sum_rows(x)
        _C.add_(x, x.copy())
    finally:
        _C.profiler_set_enabled(False)
    recs = {r[0]: r for r in _C.profiler_take_records()}
    for name in (
        "relu_forward",
        "softmax_forward",
        "cross_entropy_forward",
        "linear_forward",
        "sum_rows",
        "add_",
    ):
        assert name in recs, f"{name} recorded no profile scope"
    assert recs["linear_forward"][4] == 2 * 4 * 3 * 2  # flops = 2 N in out
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
