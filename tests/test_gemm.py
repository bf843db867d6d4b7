"""gradcore._C.gemm against a float64 numpy reference: every transpose combination,
alpha/beta, leading dimensions, edge sizes, thread determinism
(each test runs on every CPU path this machine supports: conftest.py), errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import num_threads

from gradcore import _C

DTYPES = [np.float32, np.float64]


def make_operands(rng, M, N, K, ta, tb, dtype, pad=0):
    """op(a) is M x K and op(b) is K x N; with pad > 0 they are row slices of wider arrays."""
    a_shape = (K, M) if ta else (M, K)
    b_shape = (N, K) if tb else (K, N)
    a = rng.standard_normal((a_shape[0], a_shape[1] + pad)).astype(dtype)[:, : a_shape[1]]
    b = rng.standard_normal((b_shape[0], b_shape[1] + pad)).astype(dtype)[:, : b_shape[1]]
    return a, b


def check(c, a, b, ta, tb, alpha=1.0, beta=0.0, c0=None):
    """c == alpha * op(a) @ op(b) + beta * c0 within the rounding-error bound of a K-term
    dot product in c's precision (computed from |op(a)| @ |op(b)|)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    oa, ob = (a64.T if ta else a64), (b64.T if tb else b64)
    ref = alpha * (oa @ ob)
    mag = abs(alpha) * (np.abs(oa) @ np.abs(ob))
    if beta != 0.0:
        ref = ref + beta * c0.astype(np.float64)
        mag = mag + abs(beta) * np.abs(c0.astype(np.float64))
    K = oa.shape[1]
    eps = np.finfo(c.dtype).eps
    bound = 2.0 * (K + 2) * eps * mag + np.finfo(c.dtype).tiny
    err = np.abs(c.astype(np.float64) - ref)
    assert c.shape == ref.shape
    assert np.all(np.isfinite(c))
    worst = np.unravel_index(np.argmax(err - bound), err.shape)
    assert np.all(err <= bound), (
        f"max excess at {worst}: err {err[worst]:.3g} > bound {bound[worst]:.3g} "
        f"(M, N, K = {ref.shape[0]}, {ref.shape[1]}, {K}, ta={ta}, tb={tb})"
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", list(itertools.product([False, True], repeat=2)))
def test_all_transposes_medium(rng, dtype, ta, tb):
    for M, N, K in [(1, 1, 1), (6, 16, 8), (37, 53, 29), (129, 67, 300), (200, 150, 513)]:
        a, b = make_operands(rng, M, N, K, ta, tb, dtype)
        c = _C.gemm(a, b, trans_a=ta, trans_b=tb)
        assert c.dtype == dtype
        check(c, a, b, ta, tb)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_size_1_to_70(rng, dtype):
    """Each of M, N and K runs through 1..70 (every edge-tile shape of both paths)."""
    for ta, tb in itertools.product([False, True], repeat=2):
        for s in range(1, 71):
            for M, N, K in [(s, 19, 7), (5, s, 11), (9, 17, s)]:
                a, b = make_operands(rng, M, N, K, ta, tb, dtype)
                check(_C.gemm(a, b, trans_a=ta, trans_b=tb), a, b, ta, tb)


@pytest.mark.parametrize("dtype", DTYPES)
def test_large(rng, dtype):
    for (M, N, K), ta, tb in [
        ((1023, 517, 259), False, False),
        ((1023, 517, 259), True, True),
        ((259, 1023, 517), False, True),
        ((64, 3136, 576), True, False),
    ]:
        a, b = make_operands(rng, M, N, K, ta, tb, dtype)
        check(_C.gemm(a, b, trans_a=ta, trans_b=tb), a, b, ta, tb)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, -2.0), (-1.5, 0.25), (2.0, 0.0)])
def test_alpha_beta(rng, dtype, alpha, beta):
    for (M, N, K), ta, tb in [
        ((7, 9, 5), False, False),
        ((70, 45, 300), True, False),
        ((130, 33, 600), False, True),
        ((33, 130, 17), True, True),
    ]:
        a, b = make_operands(rng, M, N, K, ta, tb, dtype)
        c0 = rng.standard_normal((M, N)).astype(dtype)
        c = c0.copy()
        out = _C.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=alpha, beta=beta)
        assert out is c or np.shares_memory(out, c)
        check(c, a, b, ta, tb, alpha, beta, c0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_beta_zero_ignores_nan_in_c(rng, dtype):
    for M, N, K in [(5, 3, 4), (6, 16, 300), (61, 47, 513)]:
        a, b = make_operands(rng, M, N, K, False, False, dtype)
        c = np.full((M, N), np.nan, dtype)
        _C.gemm(a, b, c, beta=0.0)
        check(c, a, b, False, False)
        c = np.full((M, N), np.inf, dtype)
        _C.gemm(a, b, c, alpha=-1.0, beta=0.0)
        check(c, a, b, False, False, alpha=-1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_in_inputs_propagates(rng, dtype):
    a, b = make_operands(rng, 13, 20, 9, False, False, dtype)
    a[3, 4] = np.nan
    c = _C.gemm(a, b)
    assert np.all(np.isnan(c[3])) and np.all(np.isfinite(np.delete(c, 3, axis=0)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", list(itertools.product([False, True], repeat=2)))
def test_leading_dimensions(rng, dtype, ta, tb):
    """a, b and c as row slices of wider arrays (leading dimension > width)."""
    for M, N, K in [(7, 19, 13), (67, 35, 290)]:
        a, b = make_operands(rng, M, N, K, ta, tb, dtype, pad=5)
        assert not a.flags.c_contiguous and not b.flags.c_contiguous
        wide = rng.standard_normal((M, N + 3)).astype(dtype)
        keep = wide[:, N:].copy()
        c = wide[:, :N]
        c0 = c.copy()
        _C.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=0.75, beta=0.5)
        check(c, a, b, ta, tb, 0.75, 0.5, c0)
        np.testing.assert_array_equal(wide[:, N:], keep)  # nothing written past the width


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_dimensions(dtype):
    a, b = np.ones((3, 0), dtype), np.ones((0, 4), dtype)
    np.testing.assert_array_equal(_C.gemm(a, b), np.zeros((3, 4)))
    c = np.full((3, 4), 2.0, dtype)
    _C.gemm(a, b, c, beta=3.0)
    np.testing.assert_array_equal(c, np.full((3, 4), 6.0))
    c = np.full((3, 4), np.nan, dtype)
    _C.gemm(a, b, c, beta=0.0)
    np.testing.assert_array_equal(c, np.zeros((3, 4)))
    assert _C.gemm(np.ones((0, 5), dtype), np.ones((5, 4), dtype)).shape == (0, 4)
    assert _C.gemm(np.ones((2, 5), dtype), np.ones((5, 0), dtype)).shape == (2, 0)


def check_1_and_2_threads(rng, M, N, K, ta, tb, dtype, alpha, beta, pad=0):
    """C = alpha*op(A)@op(B) + beta*C0 at 1 and 2 threads: the two bitwise equal, and equal to
    numpy's float64 product."""
    a, b = make_operands(rng, M, N, K, ta, tb, dtype, pad=pad)
    c0 = rng.standard_normal((M, N)).astype(dtype)
    results = []
    for n in (1, 2):
        with num_threads(n):
            c = c0.copy()
            _C.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=alpha, beta=beta)
            results.append(c)
    np.testing.assert_array_equal(results[0], results[1])
    check(results[0], a, b, ta, tb, alpha, beta, c0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_vs_two_threads_bitwise(rng, dtype):
    """Wide C (split by columns), tall C (split by rows), several KC blocks, beta != 0."""
    for (M, N, K), ta, tb in [
        ((123, 517, 259), False, False),
        ((1023, 45, 300), True, False),
        ((64, 3136, 576), False, True),
        ((200, 301, 1100), True, True),
        ((217, 300, 300), False, False),  # the fewest rows in several row blocks
    ]:
        check_1_and_2_threads(rng, M, N, K, ta, tb, dtype, 0.5, 1.5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, True)])
def test_prepacked_a_shapes(rng, dtype, ta, tb):
    """Few rows (all of A packed once and shared, C kept hot across KC blocks): K over one
    KC block, edge rows/columns, wide N at 1 and 2 threads, bitwise equal."""
    for M, N, K in [(7, 1000, 600), (64, 333, 289), (13, 50, 1000), (1, 77, 5)]:
        a, b = make_operands(rng, M, N, K, ta, tb, dtype, pad=3)
        with num_threads(1):
            c1 = _C.gemm(a, b, None, ta, tb, 1.5, 0.0)
        with num_threads(2):
            c2 = _C.gemm(a, b, None, ta, tb, 1.5, 0.0)
        check(c1, a, b, ta, tb, alpha=1.5)
        assert np.array_equal(c1, c2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_single_row_block_b_panel_groups(rng, dtype):
    """One MC block of rows with A too large to pre-pack: B micro-panels are packed several
    per pass over B's rows (or read in place). Widths that end in a partial panel and a
    partial group, several NC blocks, row strides that are and are not multiples of a cache
    line or of 1 KiB, op(B) transposed, K over one KC block, beta != 0; 1 and 2 threads
    bitwise equal."""
    for M, N, K, pad, tb in [
        (100, 149, 401, 0, False),
        (100, 256, 401, 0, False),
        (130, 331, 777, 5, False),
        (61, 96, 1100, 0, False),
        (128, 196, 1152, 0, False),
        (64, 1200, 300, 0, False),
        (37, 5000, 150, 3, False),
        (100, 700, 600, 0, True),
        (64, 1500, 130, 1, True),
        (120, 50, 5000, 0, False),
        (216, 300, 700, 0, False),  # the most rows taken as one row block
        (20, 250, 700, 1, False),  # few rows: B in place, panels of 468 lines
        (33, 196, 800, 0, False),  # few rows: B in place, panels of 534 lines
    ]:
        check_1_and_2_threads(rng, M, N, K, False, tb, dtype, -0.75, 0.5, pad=pad)


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_row_tile_reads_b_in_place(rng, dtype):
    """A product of at most MR rows reads B in place whatever its size (each panel is used
    once) unless its rows are a multiple of 4 KiB apart: B of several KC blocks and far beyond
    the L1, rows that start on cache lines and rows that do not, a partial last panel, beta !=
    0; equal to a float64 reference, 1 and 2 threads bitwise, and bit for bit the top rows of
    a taller product (packed B)."""
    shapes = [(768, 512, 0), (196, 1152, 0), (1000, 64, 0), (331, 777, 5), (128, 3136, 0)]
    shapes.append((1024, 300, 0))  # float32 rows 4 KiB apart: packed
    for N, K, pad in shapes:
        _, mr, _ = _C.gemm_tile_for(1, N, np.dtype(dtype).name)
        for M in sorted({1, mr - 1, mr} - {0}):
            check_1_and_2_threads(rng, M, N, K, False, False, dtype, 0.75, -1.5, pad=pad)
        a, b = make_operands(rng, 4 * mr + 1, N, K, False, False, dtype, pad=pad)
        tall = _C.gemm(a, b)
        for M in (1, mr):
            assert _C.gemm_tile_for(M, N, np.dtype(dtype).name)[1] >= M
            np.testing.assert_array_equal(_C.gemm(a[:M], b), tall[:M])


@pytest.mark.parametrize("dtype", DTYPES)
def test_several_row_blocks_row_order(rng, dtype):
    """Several MC blocks (C computed a group of B panels at a time, each row tile swept along
    the group): a last row block of 0, 2, 5 and 13 rows past a multiple of 6 (a short tail
    paired with the tile above it, or not), widths ending in a partial group and a partial
    panel, a row stride that is a multiple of 4 KiB, K over one KC block, transposes,
    beta != 0; 1 and 2 threads (rows split) bitwise equal."""
    for M, N, K, pad, ta, tb in [
        (300, 300, 300, 0, False, False),
        (290, 149, 401, 0, False, True),
        (445, 270, 520, 3, True, False),
        (437, 133, 64, 0, False, False),
        (433, 1024, 260, 0, True, True),
    ]:
        check_1_and_2_threads(rng, M, N, K, ta, tb, dtype, 0.75, -1.5, pad=pad)


@pytest.mark.parametrize("dtype", DTYPES)
def test_short_k_strip_order_groups(rng, dtype):
    """K of one short KC block (<= 64: C swept a row strip at a time, a group of columns at
    a time): several groups with a partial last group and panel, B packed or read in place
    (a thread's block small enough), op(B) transposed, beta != 0; 1 and 2 threads bitwise
    equal."""
    for M, N, K, pad, tb in [
        (64, 1100, 64, 0, False),
        (37, 9000, 9, 3, False),
        (13, 700, 27, 0, False),
        (50, 2000, 30, 0, True),
        (32, 784, 9, 0, False),  # B in place, its partial last panel packed alone
        (16, 1000, 27, 1, False),
    ]:
        check_1_and_2_threads(rng, M, N, K, False, tb, dtype, 1.25, -0.5, pad=pad)


@pytest.mark.parametrize("dtype", DTYPES)
def test_edge_tiles_match_slices_bitwise(rng, dtype):
    """An element of C does not depend on the tile that computed it: rows and columns of C
    equal, bit for bit, the products of single rows of A and single columns of B (the edge
    tiles: a short last row tile, alone or paired with the full tile above it; narrow last
    panels, row tiles taken in pairs; a last panel of 9-12 columns split 8 + the rest; the
    shared-B path for tall C), with beta != 0 and several KC blocks."""
    for M, N, K in [
        (14, 20, 300),
        (13, 196, 40),
        (15, 29, 7),
        (128, 196, 1152),
        (302, 37, 260),
        (20, 25, 300),  # last panel of 9 columns: 8 by the tall kernel, 1 by the narrow one
        (13, 44, 40),  # last panel of 12 columns: 8 + 4
    ]:
        a, b = make_operands(rng, M, N, K, False, False, dtype)
        c0 = rng.standard_normal((M, N)).astype(dtype)
        c = c0.copy()
        _C.gemm(a, b, c, alpha=0.5, beta=-1.25)
        check(c, a, b, False, False, 0.5, -1.25, c0)
        for i in sorted({0, M - 7, M - 3, M - 2, M - 1}):
            row = c0[i : i + 1].copy()
            _C.gemm(np.ascontiguousarray(a[i : i + 1]), b, row, alpha=0.5, beta=-1.25)
            np.testing.assert_array_equal(row[0], c[i], err_msg=f"row {i} of {M}x{N}x{K}")
        for j in sorted({0, N - 9, N - 5, N - 1}):
            col = np.ascontiguousarray(c0[:, j : j + 1])
            _C.gemm(a, np.ascontiguousarray(b[:, j : j + 1]), col, alpha=0.5, beta=-1.25)
            np.testing.assert_array_equal(col[:, 0], c[:, j], err_msg=f"col {j} of {M}x{N}x{K}")


def test_repeatable(rng):
    a, b = make_operands(rng, 300, 400, 500, False, False, np.float32)
    first = _C.gemm(a, b)
    for _ in range(3):
        np.testing.assert_array_equal(_C.gemm(a, b), first)


def test_inside_parallel_region_equivalent(rng):
    """Several Python threads calling gemm at once (each on its own scratch) agree."""
    import concurrent.futures

    a, b = make_operands(rng, 150, 260, 310, False, True, np.float32)
    want = _C.gemm(a, b, trans_b=True)
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(lambda _: _C.gemm(a, b, trans_b=True), range(8)))
    for o in outs:
        np.testing.assert_array_equal(o, want)


def test_errors():
    f32 = np.ones((4, 4), np.float32)
    with pytest.raises(TypeError, match="gemm"):
        _C.gemm(np.ones((4, 4), np.int32), f32)
    with pytest.raises(TypeError, match="gemm"):
        _C.gemm(f32, np.ones((4, 4), np.int64))
    with pytest.raises(TypeError, match="gemm"):
        _C.gemm(f32, f32.astype(np.float64))
    with pytest.raises(TypeError, match="gemm"):
        _C.gemm(f32, f32, np.ones((4, 4), np.float64))
    with pytest.raises(ValueError, match="gemm"):
        _C.gemm(f32[0], f32)
    with pytest.raises(ValueError, match="gemm"):
        _C.gemm(f32, np.ones((4, 4, 1), np.float32))
    with pytest.raises(ValueError, match="gemm.*inner sizes"):
        _C.gemm(f32, np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="gemm.*inner sizes"):
        _C.gemm(np.ones((4, 3), np.float32), np.ones((3, 3), np.float32), trans_a=True)
    with pytest.raises(ValueError, match="gemm"):
        _C.gemm(f32, f32, np.ones((4, 3), np.float32))
    with pytest.raises(ValueError, match="gemm"):
        _C.gemm(f32, f32, np.ones((1, 4, 4), np.float32))
    ro = np.ones((4, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="gemm.*writable"):
        _C.gemm(f32, f32, ro)
    a, b = np.ones((4, 4), np.float32), np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match="gemm"):
        _C.gemm(a, b, a)
    with pytest.raises(ValueError, match="gemm"):
        _C.gemm(a, b, b)
    big = np.ones((4, 8), np.float32)
    with pytest.raises(ValueError, match="gemm"):
        _C.gemm(big[:, :4], b, big[:, 1:5])  # c overlaps a (shifted view)
    with pytest.raises(ValueError, match="gemm.*stride"):
        _C.gemm(big[:, ::2], b)
    with pytest.raises(ValueError, match="gemm.*stride"):
        _C.gemm(a, big[:, ::2])
    with pytest.raises(ValueError, match="gemm.*stride"):
        _C.gemm(a, b, big[:, ::2])
    with pytest.raises(ValueError, match="gemm"):
        _C.gemm(a[::-1], b)
