"""Dropout kernels: counter-based mask (reproducible, thread-independent), scaling, backward."""

import numpy as np
import pytest
from conftest import num_threads

from gradcore import _C


def _scale(p, dtype):
    return dtype(1.0 / (1.0 - p)) if p < 1 else dtype(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (2, 3, 4, 5)])
@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9, 1.0])
def test_forward_is_x_times_mask_over_keep(rng, shape, p, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    y, mask = _C.dropout_forward(x, p, 42)
    assert y.shape == x.shape and y.dtype == dtype
    assert mask.shape == x.shape and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 1}
    np.testing.assert_array_equal(y, x * (mask.astype(dtype) * _scale(p, dtype)))
    if p == 0.0:
        assert mask.all() and np.array_equal(y, x)
    if p == 1.0:
        assert not mask.any() and not y.any()


def test_mask_reproducible_and_seed_dependent(rng):
    x = rng.standard_normal(10_000).astype(np.float32)
    y1, m1 = _C.dropout_forward(x, 0.5, 7)
    y2, m2 = _C.dropout_forward(x, 0.5, 7)
    assert np.array_equal(m1, m2) and np.array_equal(y1, y2)
    _, m3 = _C.dropout_forward(x, 0.5, 8)
    _, m4 = _C.dropout_forward(x, 0.5, 2**64 - 1)
    # Independent masks agree on about half of the elements for p = 0.5.
    for other in (m3, m4):
        agree = np.mean(m1 == other)
        assert abs(agree - 0.5) < 5 * np.sqrt(0.25 / x.size)


def test_mask_depends_only_on_seed_and_index(rng):
    x = rng.standard_normal((6, 50, 7))
    _, m = _C.dropout_forward(x, 0.3, 123)
    _, m_flat = _C.dropout_forward(x.reshape(-1).astype(np.float32), 0.3, 123)
    _, m_prefix = _C.dropout_forward(x.reshape(-1)[:100].copy(), 0.3, 123)
    assert np.array_equal(m.reshape(-1), m_flat)
    assert np.array_equal(m.reshape(-1)[:100], m_prefix)


def test_mask_independent_of_thread_count(rng):
    x = rng.standard_normal(200_001).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    out = []
    for n in (1, 2):
        with num_threads(n):
            y, m = _C.dropout_forward(x, 0.4, 99)
            out.append((y, m, _C.dropout_backward(dy, m, 0.4)))
    for a, b in zip(*out):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_rate(p):
    x = np.ones(1_000_000, np.float32)
    _, m = _C.dropout_forward(x, p, 2024)
    keep = m.mean()
    assert abs(keep - (1 - p)) < 5 * np.sqrt(p * (1 - p) / x.size)
    # No long-range structure: the two halves and even/odd positions keep at the same rate.
    for part in (m[: x.size // 2], m[x.size // 2 :], m[::2], m[1::2]):
        assert abs(part.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / part.size)
    # Neighbours are uncorrelated: P(both kept) ~ (1 - p)^2.
    both = np.mean(m[1:] & m[:-1])
    assert abs(both - (1 - p) ** 2) < 5 * np.sqrt((1 - p) ** 2 / x.size)


def test_mean_is_preserved(rng):
    x = np.full(400_000, 3.0)
    y, _ = _C.dropout_forward(x, 0.25, 5)
    assert abs(y.mean() - 3.0) < 0.02


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward(rng, dtype):
    x = rng.standard_normal((4, 3, 5)).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    y, m = _C.dropout_forward(x, 0.3, 11)
    dx = _C.dropout_backward(dy, m, 0.3)
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_array_equal(dx, dy * (m.astype(dtype) * _scale(0.3, dtype)))
    # Dropout is linear in x for a fixed mask: the backward is its transpose.
    assert np.isclose((y * dy).sum(), (x * dx).sum(), rtol=1e-5)


def test_nan_propagates_like_torch():
    x = np.full(1000, np.nan, np.float32)
    y, m = _C.dropout_forward(x, 0.5, 1)
    assert np.isnan(y).all() and 0 < m.sum() < 1000
    y, _ = _C.dropout_forward(x, 1.0, 1)
    assert np.isnan(y).all()


def test_keep_rate_matches_torch_semantics(torch, rng):
    # Same expectation as torch.nn.functional.dropout: E[y] = x, zeros where dropped.
    x = rng.standard_normal(100_000).astype(np.float32)
    y, m = _C.dropout_forward(x, 0.3, 3)
    ty = torch.nn.functional.dropout(torch.tensor(x), 0.3, training=True).numpy()
    t_kept = ty != 0
    np.testing.assert_allclose(ty[t_kept], x[t_kept] / np.float32(0.7), rtol=1e-6)
    np.testing.assert_allclose(y[m == 1], x[m == 1] / np.float32(0.7), rtol=1e-6)
    assert abs(t_kept.mean() - m.mean()) < 0.01


def test_errors():
    x = np.ones((3, 4), np.float32)
    m = np.ones((3, 4), np.uint8)
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="dropout_forward: p must be in"):
            _C.dropout_forward(x, p, 0)
        with pytest.raises(ValueError, match="dropout_backward: p must be in"):
            _C.dropout_backward(x, m, p)
    with pytest.raises(ValueError, match="dropout_forward: seed must be in"):
        _C.dropout_forward(x, 0.5, -1)
    with pytest.raises(ValueError, match="dropout_forward: seed must be in"):
        _C.dropout_forward(x, 0.5, 2**64)
    with pytest.raises(TypeError, match="dropout_forward: seed must be an int"):
        _C.dropout_forward(x, 0.5, 1.5)
    assert np.array_equal(
        _C.dropout_forward(x, 0.5, np.uint64(5))[1], _C.dropout_forward(x, 0.5, 5)[1]
    )
    with pytest.raises(TypeError, match="dropout_forward: x must be float32 or float64"):
        _C.dropout_forward(x.astype(np.int32), 0.5, 0)
    with pytest.raises(ValueError, match="dropout_forward: x must be C-contiguous"):
        _C.dropout_forward(x.T, 0.5, 0)
    with pytest.raises(TypeError, match="dropout_backward: mask must be uint8"):
        _C.dropout_backward(x, m.astype(bool), 0.5)
    with pytest.raises(ValueError, match="dropout_backward: dy .* must have the same shape"):
        _C.dropout_backward(x, m[:2], 0.5)
