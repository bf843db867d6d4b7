"""Pooling kernels against a float64 numpy reference, finite differences, PyTorch,
thread-count determinism, and every argument check."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import reference_conv as ref
from conftest import CPU_CAPABILITIES, assert_allclose, cpu_capability_selected, num_threads

import gradcore as gc
import gradcore.nn.functional as F
from gradcore import _C

DTYPES = [np.float32, np.float64]

# (n, c, h, w, kernel, stride, padding, dilation, ceil_mode)
MAX_CASES = [
    (2, 3, 8, 8, (2, 2), (2, 2), (0, 0), (1, 1), False),  # the 2x2/2 fast path
    (2, 3, 9, 7, (2, 2), (2, 2), (0, 0), (1, 1), False),  # fast path, odd sizes
    (2, 3, 9, 7, (2, 2), (2, 2), (0, 0), (1, 1), True),  # ceil mode: partial windows
    (2, 3, 9, 9, (2, 2), (2, 2), (0, 0), (2, 2), False),  # 2x2/2 but dilated: not the fast path
    (1, 2, 8, 6, (2, 2), (2, 2), (0, 0), (3, 2), True),  # (found by test_properties.py)
    (1, 2, 11, 10, (3, 3), (2, 2), (1, 1), (1, 1), False),
    (1, 2, 11, 10, (3, 3), (2, 2), (1, 1), (1, 1), True),
    (2, 1, 10, 12, (3, 2), (1, 2), (1, 0), (2, 1), False),
    (1, 2, 13, 9, (3, 3), (3, 2), (1, 1), (2, 2), True),
    (3, 2, 1, 1, (1, 1), (1, 1), (0, 0), (1, 1), False),
    (1, 1, 5, 6, (5, 6), (1, 1), (2, 3), (1, 1), False),
    (2, 2, 7, 7, (4, 4), (3, 3), (2, 1), (1, 1), True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool_matches_reference(rng, dtype, case):
    n, c, h, w, k, s, p, d, ceil = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    y, idx = _C.max_pool2d_forward(x, k, s, p, d, ceil)
    ry, ridx = ref.max_pool2d(x, k, s, p, d, ceil)
    assert y.dtype == dtype and idx.dtype == np.int64 and y.shape == ry.shape
    assert np.array_equal(y, ry.astype(dtype))
    assert np.array_equal(idx, ridx)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = _C.max_pool2d_backward(dy, idx, x.shape)
    assert_allclose(dx, ref.max_pool2d_backward(dy, ridx, x.shape), rtol=1e-6, atol=1e-6)


def test_max_pool_ties_nan_and_inf():
    x = np.array([[[[1.0, 1.0], [1.0, 1.0]]]], np.float32)
    y, idx = _C.max_pool2d_forward(x, 2, 2)
    assert idx.item() == 0  # first maximum wins a tie
    x = np.array([[[[1.0, np.nan], [5.0, np.nan]]]], np.float32)
    y, idx = _C.max_pool2d_forward(x, 2, 2)
    assert np.isnan(y.item()) and idx.item() == 3  # NaN propagates; the last NaN (like PyTorch)
    x = np.full((1, 1, 4, 4), -np.inf, np.float64)
    y, idx = _C.max_pool2d_forward(x, 2, 2)
    assert np.all(y == -np.inf) and np.array_equal(idx.ravel(), [0, 2, 8, 10])
    # the general kernel follows the same rules
    x = np.array([[[[1.0, np.nan, 0.0], [5.0, np.nan, 2.0], [0.0, 0.0, 0.0]]]], np.float64)
    y, idx = _C.max_pool2d_forward(x, 3, 1, 1)
    ry, ridx = ref.max_pool2d(x, 3, 1, 1)
    assert np.array_equal(idx, ridx) and np.array_equal(np.isnan(y), np.isnan(ry))


# Widths covering every branch of the float 2x2 kernels: rows of < 4 outputs (scalar), 4-7
# (4-wide steps, overlapping tail), 8, and > 8 with an overlapping 8-wide tail; odd H and W.
WIDTHS_2X2 = [2, 3, 6, 8, 9, 10, 14, 15, 16, 17, 22, 28, 31, 34, 40]


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_2x2_all_row_widths(rng, cpu_capability, dtype):
    for w in WIDTHS_2X2:
        for h in (2, 5, 6):
            x = rng.standard_normal((2, 3, h, w)).astype(dtype)
            x[0, 1] = np.round(x[0, 1])  # ties
            x[1, 0][rng.random((h, w)) < 0.3] = np.nan  # NaN wins (the last NaN, like PyTorch)
            x[1, 2, 0, :2] = [np.inf, -np.inf]
            y, idx = _C.max_pool2d_forward(x, 2, 2)
            ry, ridx = ref.max_pool2d(x, 2, 2)
            assert np.array_equal(idx, ridx), (cpu_capability, h, w)
            assert np.array_equal(y, ry.astype(dtype), equal_nan=True), (cpu_capability, h, w)
            dy = rng.standard_normal(y.shape).astype(dtype)
            dx = _C.max_pool2d_backward(dy, idx, x.shape)
            assert np.array_equal(dx, ref.max_pool2d_backward(dy, ridx, x.shape).astype(dtype))
            # an index outside its own cell (still inside the plane): the general scatter
            bad = idx.copy()
            bad[1, 1, -1, -1] = 0
            dx = _C.max_pool2d_backward(dy, bad, x.shape)
            assert np.array_equal(dx, ref.max_pool2d_backward(dy, bad, x.shape).astype(dtype))


def pool_then_relu_2x2(x, dy):
    """The unfused routes: max_pool2d 2x2/2 then relu (the output), and the input gradient of
    that and of relu then max_pool2d (the two are equal: relu is monotone)."""
    p, idx = _C.max_pool2d_forward(x, 2, 2)
    y = _C.relu_forward(p)
    dx = _C.max_pool2d_backward(_C.relu_backward(dy, y), idx, x.shape)
    r = _C.relu_forward(x)
    _, ridx = _C.max_pool2d_forward(r, 2, 2)
    dx_relu_first = _C.relu_backward(_C.max_pool2d_backward(dy, ridx, x.shape), r)
    return y, dx, dx_relu_first


def special_values(rng, x):
    """Writes into x windows with no positive value, +-0, denormals, ties, NaN of both signs
    and infinities."""
    tiny = np.finfo(x.dtype).smallest_subnormal
    flat = x.reshape(-1)
    picks = rng.permutation(flat.size)
    for j, v in enumerate([0.0, -0.0, tiny, -tiny, np.inf, -np.inf, np.nan, -np.nan]):
        flat[picks[j::17]] = v
    x[..., :2, :2] = -np.abs(x[..., :2, :2])  # a cell with no positive value
    x[..., -2:, -2:] = 0.5  # ties


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_relu_2x2_is_relu_then_pool_bitwise(rng, cpu_capability, dtype):
    """max_pool2d_relu: values bit for bit those of 2x2/2 max pool then relu (relu then pool
    gives the same values but for the sign of some zeros: a cell (-1, -0) pools to -0, whose
    relu is -0, where relu first gives (+0, -0) and the pool +0), and the input gradient bit
    for bit that of both orders; every row width, odd H and W (a row and column outside every
    cell), on +-0, denormals (integer compares: DAZ cannot change them), ties, NaN and
    infinities."""
    for w in WIDTHS_2X2:
        for h in (2, 5, 6):
            x = rng.standard_normal((2, 3, h, w)).astype(dtype)
            special_values(rng, x)
            dy = rng.standard_normal((2, 3, h // 2, w // 2)).astype(dtype)
            y, cells = _C.max_pool2d_relu_forward(x)
            assert cells.dtype == np.uint8 and cells.shape == y.shape
            assert np.all(cells <= 4)
            want_y, want_dx, dx_relu_first = pool_then_relu_2x2(x, dy)
            assert np.array_equal(y.view(np.uint8), want_y.view(np.uint8)), (h, w)
            dx = _C.max_pool2d_relu_backward(dy, cells, x.shape)
            assert np.array_equal(dx.view(np.uint8), want_dx.view(np.uint8)), (h, w)
            # relu first compares relu'd denormals, which DAZ (core/fpmode.h) reads as 0: a cell
            # holding a denormal may route its gradient differently; every other cell agrees
            hh, ww = h // 2 * 2, w // 2 * 2
            tiny = (x != 0) & (np.abs(x) < np.finfo(dtype).tiny)
            clean = ~tiny[..., :hh, :ww].reshape(2, 3, h // 2, 2, w // 2, 2).any(axis=(3, 5))
            clean = clean.repeat(2, axis=2).repeat(2, axis=3)
            got, other = dx[..., :hh, :ww][clean], dx_relu_first[..., :hh, :ww][clean]
            assert np.array_equal(got.view(np.uint8), other.view(np.uint8)), (h, w)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_relu_2x2_one_and_two_threads_and_errors(rng, dtype):
    x = rng.standard_normal((16, 8, 34, 33)).astype(dtype)
    dy = rng.standard_normal((16, 8, 17, 16)).astype(dtype)
    out = {}
    for t in (1, 2):
        with num_threads(t):
            y, cells = _C.max_pool2d_relu_forward(x)
            out[t] = (y, cells, _C.max_pool2d_relu_backward(dy, cells, x.shape))
    for a, b in zip(out[1], out[2]):
        assert np.array_equal(a, b)
    y, cells = out[1][:2]
    with pytest.raises(TypeError, match="max_pool2d_relu_forward"):
        _C.max_pool2d_relu_forward(x.astype(np.int32))
    with pytest.raises(TypeError, match="cells must be uint8"):
        _C.max_pool2d_relu_backward(dy, cells.astype(np.int64), x.shape)
    with pytest.raises(ValueError, match=r"H // 2"):
        _C.max_pool2d_relu_backward(dy, cells, (16, 8, 36, 33))
    bad = cells.copy()
    bad[0, 0, 0, 0] = 5
    with pytest.raises(ValueError, match="1 cells are above 4"):
        _C.max_pool2d_relu_backward(dy, bad, x.shape)


def test_max_pool_relu_op_gradients_and_geometry(rng):
    """F-level: ops.pool.max_pool2d_relu against F.max_pool2d(F.relu(x), 2) in float64
    (values, gradients, finite differences), and the geometries it stands for."""
    from gradcore.ops.pool import is_2x2_cells, max_pool2d_relu

    x = rng.standard_normal((2, 3, 7, 6))
    a = gc.tensor(x, requires_grad=True)
    b = gc.tensor(x, requires_grad=True)
    y = max_pool2d_relu(a)
    want = F.max_pool2d(F.relu(b), 2)
    np.testing.assert_array_equal(y.numpy(), want.numpy())
    g = rng.standard_normal(y.shape)
    y.backward(gc.tensor(g))
    want.backward(gc.tensor(g))
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    eps, i = 1e-6, (1, 2, 3, 4)
    xp, xm = x.copy(), x.copy()
    xp[i] += eps
    xm[i] -= eps
    fd = (
        (max_pool2d_relu(gc.tensor(xp)).numpy() * g).sum()
        - (max_pool2d_relu(gc.tensor(xm)).numpy() * g).sum()
    ) / (2 * eps)
    assert abs(fd - a.grad.numpy()[i]) < 1e-6
    assert is_2x2_cells(2, None, 0, 1, False) and is_2x2_cells((2, 2), 2, (0, 0), (1, 1), False)
    for args in [
        (2, 1, 0, 1, False),
        (3, None, 0, 1, False),
        (2, None, 1, 1, False),
        (2, None, 0, 2, False),
        (2, None, 0, 1, True),
        ("x", None, 0, 1, False),
    ]:
        assert not is_2x2_cells(*args), args


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool_2x2_fast_path_matches_general(rng, cpu_capability, dtype):
    # the 2x2/2 fast path (every window inside the plane; odd H/W leave a row/column out),
    # every row width, NaN/Inf, and -0 sums giving +0 like the general kernel's 0 + ... sums
    for w in WIDTHS_2X2:
        for h in (2, 5, 6):
            x = rng.standard_normal((2, 3, h, w)).astype(dtype)
            x[1, 0, 0, :2] = [np.nan, np.inf]
            x[0, 2, :2, :2] = -0.0
            for cip, div in [(True, 0), (False, 0), (True, 3)]:
                y = _C.avg_pool2d_forward(x, 2, 2, 0, False, cip, div)
                ry = ref.avg_pool2d(x, 2, 2, 0, False, cip, div)
                assert_allclose(y, ry, rtol=1e-6, atol=1e-6)
                assert np.array_equal(np.isnan(y), np.isnan(ry))
                assert not np.signbit(y[0, 2, 0, 0])  # 0 + (-0) + ... = +0, as the general kernel
                dy = rng.standard_normal(y.shape).astype(dtype)
                dy[0, 0, 0, 0] = -0.0
                dx = _C.avg_pool2d_backward(dy, x.shape, 2, 2, 0, False, cip, div)
                rdx = ref.avg_pool2d_backward(dy, x.shape, 2, 2, 0, False, cip, div)
                assert_allclose(dx, rdx, rtol=1e-6, atol=1e-7)
                assert not np.signbit(dx[0, 0, 0, 0])


@pytest.mark.across_cpu_capabilities
def test_max_pool_2x2_cpu_paths_agree(rng):
    x = rng.standard_normal((3, 5, 30, 22)).astype(np.float32)
    out = {}
    for path in CPU_CAPABILITIES:
        with cpu_capability_selected(path):
            y, idx = _C.max_pool2d_forward(x, 2, 2)
            out[path] = (y, idx, _C.max_pool2d_backward(y, idx, x.shape))
    for path in CPU_CAPABILITIES[1:]:
        for a, b in zip(out["generic"], out[path]):
            assert np.array_equal(a, b), path


def test_max_pool_backward_overlapping_and_foreign_indices(rng):
    # 3x3 windows, stride 2, padding 1 on an even input: outputs tile 2x2 cells but the
    # argmax may lie outside a cell (exercises the fallback of the cell fast path)
    x = rng.standard_normal((2, 3, 8, 10))
    y, idx = _C.max_pool2d_forward(x, 3, 2, 1)
    assert y.shape == (2, 3, 4, 5)
    dy = rng.standard_normal(y.shape)
    assert_allclose(
        _C.max_pool2d_backward(dy, idx, x.shape), ref.max_pool2d_backward(dy, idx, x.shape)
    )
    # repeated indices accumulate
    idx = np.zeros((1, 1, 2, 2), np.int64)
    dx = _C.max_pool2d_backward(np.ones((1, 1, 2, 2)), idx, (1, 1, 4, 4))
    assert dx[0, 0, 0, 0] == 4 and dx.sum() == 4


AVG_CASES = [
    # (n, c, h, w, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    (2, 3, 8, 8, (2, 2), None, (0, 0), False, True, 0),
    (1, 2, 9, 7, (3, 3), (2, 2), (1, 1), False, True, 0),
    (1, 2, 9, 7, (3, 3), (2, 2), (1, 1), False, False, 0),
    (1, 2, 9, 7, (3, 3), (2, 2), (1, 1), True, True, 0),
    (1, 2, 9, 7, (3, 3), (2, 2), (1, 1), True, False, 0),
    (2, 1, 10, 11, (3, 2), (2, 3), (1, 1), True, False, 0),
    (2, 1, 10, 11, (4, 3), (3, 2), (2, 1), True, True, 5),
    (1, 1, 1, 1, (1, 1), (1, 1), (0, 0), False, True, 0),
    (1, 1, 5, 5, (5, 5), (1, 1), (2, 2), False, False, 0),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool_matches_reference(rng, dtype, case):
    n, c, h, w, k, s, p, ceil, cip, div = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    y = _C.avg_pool2d_forward(x, k, s, p, ceil, cip, div)
    ry = ref.avg_pool2d(x, k, s, p, ceil, cip, div)
    assert y.dtype == dtype and y.shape == ry.shape
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(y, ry, rtol=tol, atol=tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = _C.avg_pool2d_backward(dy, x.shape, k, s, p, ceil, cip, div)
    assert dx.shape == x.shape
    assert_allclose(
        dx, ref.avg_pool2d_backward(dy, x.shape, k, s, p, ceil, cip, div), rtol=tol, atol=tol
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,out",
    [
        ((2, 3, 7, 9), (3, 4)),
        ((1, 2, 5, 5), (1, 1)),
        ((1, 1, 3, 4), (5, 7)),
        ((2, 2, 8, 8), (4, 4)),
    ],
)
def test_adaptive_avg_pool_matches_reference(rng, dtype, shape, out):
    x = rng.standard_normal(shape).astype(dtype)
    y = _C.adaptive_avg_pool2d_forward(x, out)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert y.shape == shape[:2] + out
    assert_allclose(y, ref.adaptive_avg_pool2d(x, out), rtol=tol, atol=tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = _C.adaptive_avg_pool2d_backward(dy, shape)
    assert_allclose(dx, ref.adaptive_avg_pool2d_backward(dy, shape), rtol=tol, atol=tol)


def test_global_average_pool(rng):
    x = rng.standard_normal((3, 4, 6, 5))
    y = _C.adaptive_avg_pool2d_forward(x, 1)
    assert_allclose(y[:, :, 0, 0], x.mean(axis=(2, 3)), rtol=1e-12, atol=1e-12)


def _fd(f, x, g, eps=1e-6):
    num = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        lp = float((g * f(x)).sum())
        x[i] = old - eps
        lm = float((g * f(x)).sum())
        x[i] = old
        num[i] = (lp - lm) / (2 * eps)
    return num


def test_finite_differences(rng):
    x = rng.standard_normal((1, 2, 5, 6))
    # max pool (distinct values, so the argmax is stable under eps)
    y, idx = _C.max_pool2d_forward(x, 3, 2, 1, 1, True)
    g = rng.standard_normal(y.shape)
    num = _fd(lambda a: _C.max_pool2d_forward(a, 3, 2, 1, 1, True)[0], x, g)
    assert_allclose(_C.max_pool2d_backward(g, idx, x.shape), num, rtol=1e-6, atol=1e-7)
    for args in [((3, 2), (2, 1), (1, 1), True, False, 0), ((2, 2), None, (1, 0), False, True, 3)]:
        y = _C.avg_pool2d_forward(x, *args)
        g = rng.standard_normal(y.shape)
        num = _fd(lambda a, args=args: _C.avg_pool2d_forward(a, *args), x, g)
        dx = _C.avg_pool2d_backward(g, x.shape, *args)
        assert_allclose(dx, num, rtol=1e-6, atol=1e-7)
    y = _C.adaptive_avg_pool2d_forward(x, (2, 4))
    g = rng.standard_normal(y.shape)
    num = _fd(lambda a: _C.adaptive_avg_pool2d_forward(a, (2, 4)), x, g)
    assert_allclose(_C.adaptive_avg_pool2d_backward(g, x.shape), num, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 16])
def test_one_and_two_threads_bitwise(rng, dtype, n):
    x = rng.standard_normal((n, 8, 34, 33)).astype(dtype)

    def run():
        out = []
        for k, s, p in [(2, 2, 0), (3, 2, 1)]:
            y, idx = _C.max_pool2d_forward(x, k, s, p)
            out += [y, idx, _C.max_pool2d_backward(y, idx, x.shape)]
            a = _C.avg_pool2d_forward(x, k, s, p, True, False)
            out += [a, _C.avg_pool2d_backward(a, x.shape, k, s, p, True, False)]
        a = _C.adaptive_avg_pool2d_forward(x, (5, 3))
        out += [a, _C.adaptive_avg_pool2d_backward(a, x.shape)]
        return out

    with num_threads(1):
        one = run()
    with num_threads(2):
        two = run()
    for i, (a, b) in enumerate(zip(one, two)):
        assert np.array_equal(a, b), f"output {i} differs between 1 and 2 threads"


@pytest.mark.parametrize(
    "k,s,p,d,ceil",
    [(2, 2, 0, 1, False), (3, 2, 1, 1, True), ((3, 2), (1, 2), (1, 0), (2, 1), False)],
)
def test_max_pool_matches_torch(torch, rng, k, s, p, d, ceil):
    x = rng.standard_normal((2, 3, 11, 10)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    ty, tidx = torch.nn.functional.max_pool2d(tx, k, s, p, d, ceil, return_indices=True)
    dy = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(dy))
    y, idx = _C.max_pool2d_forward(x, k, s, p, d, ceil)
    assert np.array_equal(y, ty.detach().numpy())
    assert np.array_equal(idx, tidx.numpy())
    assert np.array_equal(_C.max_pool2d_backward(dy, idx, x.shape), tx.grad.numpy())


@pytest.mark.parametrize(
    "k,s,p,ceil,cip,div",
    [
        (2, None, 0, False, True, None),
        (3, 2, 1, True, False, None),
        (3, 2, 1, True, True, None),
        ((3, 2), (2, 1), (1, 1), False, False, 7),
    ],
)
def test_avg_pool_matches_torch(torch, rng, k, s, p, ceil, cip, div):
    x = rng.standard_normal((2, 3, 11, 10)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.avg_pool2d(tx, k, s, p, ceil, cip, div)
    dy = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(dy))
    y = _C.avg_pool2d_forward(x, k, s, p, ceil, cip, div)
    assert_allclose(y, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    dx = _C.avg_pool2d_backward(dy, x.shape, k, s, p, ceil, cip, div)
    assert_allclose(dx, tx.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("out", [(1, 1), (3, 4), (11, 10), (5, 13)])
def test_adaptive_avg_pool_matches_torch(torch, rng, out):
    x = rng.standard_normal((2, 3, 11, 10)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.adaptive_avg_pool2d(tx, out)
    dy = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(dy))
    assert_allclose(
        _C.adaptive_avg_pool2d_forward(x, out), ty.detach().numpy(), rtol=1e-5, atol=1e-6
    )
    dx = _C.adaptive_avg_pool2d_backward(dy, x.shape)
    assert_allclose(dx, tx.grad.numpy(), rtol=1e-5, atol=1e-6)


# ---- argument checks -------------------------------------------------------------------


def test_max_pool_errors():
    x = np.zeros((2, 3, 6, 6), np.float32)
    f = _C.max_pool2d_forward
    with pytest.raises(ValueError, match="max_pool2d_forward: padding .* at most half"):
        f(x, 2, 2, 2)
    with pytest.raises(ValueError, match="max_pool2d_forward: output size .* too small"):
        f(x, 7, 1, 0)
    with pytest.raises(ValueError, match="max_pool2d_forward: output size .* too small"):
        f(x, 3, 1, 0, 3)
    with pytest.raises(ValueError, match="max_pool2d_forward: kernel_size must be > 0"):
        f(x, 0)
    with pytest.raises(ValueError, match="max_pool2d_forward: stride must be > 0"):
        f(x, 2, (0, 1))
    with pytest.raises(ValueError, match="max_pool2d_forward: dilation must be > 0"):
        f(x, 2, 2, 0, 0)
    with pytest.raises(ValueError, match="max_pool2d_forward: padding must be >= 0"):
        f(x, 2, 2, -1)
    with pytest.raises(TypeError, match="max_pool2d_forward: x must be float32 or float64"):
        f(x.astype(np.int64), 2)
    with pytest.raises(ValueError, match="max_pool2d_forward: x must have 4 dimensions"):
        f(x[0], 2)
    with pytest.raises(ValueError, match="max_pool2d_forward: x must be C-contiguous"):
        f(np.zeros((2, 3, 6, 12), np.float32)[..., ::2], 2)
    with pytest.raises(TypeError, match="max_pool2d_forward: kernel_size"):
        f(x, 2.5)


def test_max_pool_backward_errors():
    x = np.zeros((2, 3, 6, 6), np.float32)
    y, idx = _C.max_pool2d_forward(x, 2)
    f = _C.max_pool2d_backward
    with pytest.raises(TypeError, match="max_pool2d_backward: indices must be int64"):
        f(y, idx.astype(np.int32), x.shape)
    with pytest.raises(
        ValueError, match="max_pool2d_backward: indices .* must have the same shape"
    ):
        f(y, np.ascontiguousarray(idx[:, :, :2]), x.shape)
    with pytest.raises(ValueError, match="max_pool2d_backward: indices must have 4 dimensions"):
        f(y, idx[0], x.shape)
    with pytest.raises(TypeError, match="max_pool2d_backward: dy must be float32"):
        f(y.astype(np.float16), idx, x.shape)
    with pytest.raises(ValueError, match="max_pool2d_backward: input_shape .* batch and channels"):
        f(y, idx, (2, 4, 6, 6))
    with pytest.raises(ValueError, match="max_pool2d_backward: input_shape must have 4"):
        f(y, idx, (2, 3, 6))
    with pytest.raises(ValueError, match="max_pool2d_backward: 1 indices lie outside"):
        bad = idx.copy()
        bad[1, 2, 0, 1] = 36
        f(y, bad, x.shape)
    with pytest.raises(ValueError, match="max_pool2d_backward: 1 indices lie outside"):
        bad = idx.copy()
        bad[0, 0, 0, 0] = -1
        f(y, bad, x.shape)
    with pytest.raises(ValueError, match="max_pool2d_backward: indices must be C-contiguous"):
        f(y, np.zeros((2, 3, 3, 6), np.int64)[..., ::2], x.shape)


def test_avg_pool_errors():
    x = np.zeros((2, 3, 6, 6), np.float64)
    f = _C.avg_pool2d_forward
    with pytest.raises(ValueError, match="avg_pool2d_forward: padding .* at most half"):
        f(x, 3, 1, 2)
    with pytest.raises(ValueError, match="avg_pool2d_forward: divisor_override must be > 0"):
        f(x, 2, 2, 0, False, True, -1)
    with pytest.raises(ValueError, match="avg_pool2d_forward: output size"):
        f(x, (7, 2))
    with pytest.raises(TypeError, match="avg_pool2d_forward: x must be float32 or float64"):
        f(x.astype(np.int32), 2)
    with pytest.raises(ValueError, match="avg_pool2d_forward: x must have 4 dimensions"):
        f(x[0], 2)
    g = _C.avg_pool2d_backward
    dy = np.zeros((2, 3, 3, 3), np.float64)
    assert g(dy, x.shape, 2).shape == x.shape
    with pytest.raises(ValueError, match=r"avg_pool2d_backward: dy must have shape \(2, 3, 2, 2\)"):
        g(dy, x.shape, 3)
    with pytest.raises(ValueError, match="avg_pool2d_backward: padding .* at most half"):
        g(dy, x.shape, 2, 2, 2)
    with pytest.raises(ValueError, match="avg_pool2d_backward: dy must be C-contiguous"):
        g(np.zeros((2, 3, 3, 6))[..., ::2], x.shape, 2)


def test_adaptive_avg_pool_errors():
    x = np.zeros((2, 3, 6, 6), np.float32)
    f = _C.adaptive_avg_pool2d_forward
    with pytest.raises(ValueError, match="adaptive_avg_pool2d_forward: output_size must be > 0"):
        f(x, (0, 2))
    with pytest.raises(TypeError, match="adaptive_avg_pool2d_forward: x must be float32"):
        f(x.astype(np.uint8), 2)
    with pytest.raises(ValueError, match="adaptive_avg_pool2d_forward: x must have 4"):
        f(x[0], 2)
    g = _C.adaptive_avg_pool2d_backward
    with pytest.raises(ValueError, match="adaptive_avg_pool2d_backward: dy .* batch and channels"):
        g(np.zeros((2, 4, 1, 1), np.float32), x.shape)
    with pytest.raises(ValueError, match="adaptive_avg_pool2d_backward: input_shape must have"):
        g(np.zeros((2, 3, 1, 1), np.float32), (2, 3, 6, 0))
    with pytest.raises(TypeError, match="adaptive_avg_pool2d_backward: dy must be float32"):
        g(np.zeros((2, 3, 1, 1), np.int32), x.shape)


def _finishes(fn, seconds=30.0):
    """fn()'s result (or its exception, re-raised), failing if it runs longer than `seconds`
    (kernels release the GIL, so a spinning kernel cannot block this thread)."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # re-raised below
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s"
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_huge_windows_rejected_fast():
    # Issue 16: max_pool2d(x, 2**40, 1, 2**39) spun in the start-index loop; the window taps
    # (OH*OW*kh*kw) overflow int64, so it is rejected, like torch does.
    x = np.ones((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="max_pool2d_forward: kernel_size: .* overflows int64"):
        _finishes(lambda: _C.max_pool2d_forward(x, 2**40, 1, 2**39))
    with pytest.raises(ValueError, match="avg_pool2d_forward: kernel_size: .* overflows int64"):
        _finishes(lambda: _C.avg_pool2d_forward(x, 2**40, 1, 2**39))
    with pytest.raises(ValueError, match="max_pool2d_forward: the window overflows int64"):
        _finishes(lambda: _C.max_pool2d_forward(x, 3, 2**63 - 1, 1))
    with pytest.raises(ValueError, match="max_pool2d_forward: the window overflows int64 along W"):
        _finishes(lambda: _C.max_pool2d_forward(x, (1, 2**62), 1, 0, (1, 3)))
    with pytest.raises(ValueError, match=r"avg_pool2d_backward: the input \(N, C, H, W\)"):
        _finishes(
            lambda: _C.avg_pool2d_backward(x[:, :, :1, :1], (1, 1, 2**40, 2**40), 2**40, 2**40)
        )
    with pytest.raises(ValueError, match="max_pool2d_forward: kernel_size"):
        _finishes(lambda: F.max_pool2d(gc.tensor(x), 2**40, 1, 2**39))


def test_large_padded_window_is_exact_and_fast(rng):
    # Every window covers the whole 4x4 plane and starts 2**19 rows/columns inside the padding:
    # the first tap inside the input is found arithmetically, not by stepping 2**19 times.
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    y, idx = _finishes(lambda: _C.max_pool2d_forward(x, 2**20, 1, 2**19))
    assert y.shape == (2, 3, 5, 5)
    flat = x.reshape(2, 3, 16)
    assert np.array_equal(y, np.broadcast_to(flat.max(-1)[..., None, None], y.shape))
    assert np.array_equal(idx, np.broadcast_to(flat.argmax(-1)[..., None, None], y.shape))
    ya = _finishes(lambda: _C.avg_pool2d_forward(x, 2**20, 1, 2**19, False, False, 0))
    assert_allclose(ya, np.broadcast_to(flat.mean(-1)[..., None, None], ya.shape), 1e-6, 1e-6)
