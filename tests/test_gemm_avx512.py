"""The AVX-512 GEMM path (8x32 float / 8x16 double tiles, KC = 256): sizes around multiples of
MR, NR and KC, every transpose, alpha/beta, 1 vs 2 threads bitwise, edge tiles bitwise equal to
row and column slices; and agreement across every CPU path this machine has (float32 within
1e-5 of the product's magnitude). The avx512 tests skip, saying why, on a CPU without AVX-512."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import CPU_CAPABILITIES, cpu_capability_selected, num_threads
from test_gemm import check, check_1_and_2_threads, make_operands

from gradcore import _C

DTYPES = [np.float32, np.float64]

needs_avx512 = pytest.mark.skipif(
    "avx512" not in CPU_CAPABILITIES,
    reason=f"the CPU has no AVX-512 F+BW+VL+DQ with OS ZMM state "
    f"(detected: {_C.cpu_detected_capability()}): the avx512 path cannot run here",
)


@pytest.fixture
def avx512():
    """Runs the test on the avx512 path, its own tiles on every shape (narrow products are
    not sent to the AVX2 tiles); returns its float and double (MR, NR, KC, MC)."""
    with cpu_capability_selected("avx512"):
        _C.set_gemm_narrow_route(False)
        try:
            t = _C.cpu_path_tuning()
            yield {
                dtype: tuple(t[key][f] for f in ("mr", "nr", "kc", "mc"))
                for dtype, key in ((np.float32, "gemm_f32"), (np.float64, "gemm_f64"))
            }
        finally:
            _C.set_gemm_narrow_route(True)


@needs_avx512
@pytest.mark.parametrize(
    "m, n, dtype, path",
    [
        (9, 784, "float32", "avx2_fma"),  # a 1-channel conv's input gradient: 9 rows
        (32, 9, "float32", "avx2_fma"),  # its weight gradient: 9 columns
        (5, 0, "float32", "avx2_fma"),
        (64, 784, "float32", "avx512"),
        (128, 3136, "float32", "avx512"),
        (8, 32, "float32", "avx512"),
        (144, 0, "float32", "avx512"),
        (9, 784, "float64", "avx2_fma"),
        (64, 64, "float64", "avx512"),
    ],
)
def test_narrow_products_take_the_avx2_tiles(m, n, dtype, path):
    """On the avx512 path a product whose rows or columns fill AVX2's 6x16 tiles better than
    the 8x32 ones (useful lanes x peak, 10% margin) is multiplied by the AVX2 path, bitwise
    the same result (both accumulate every element of C in the same order)."""
    with cpu_capability_selected("avx512"):
        assert _C.gemm_tile_for(m, n, dtype)[0] == path
        rng = np.random.default_rng([m, n])
        a = rng.standard_normal((m, 37)).astype(dtype)
        b = rng.standard_normal((37, max(n, 50))).astype(dtype)
        routed = _C.gemm(a, b)
        _C.set_gemm_narrow_route(False)
        try:
            assert _C.gemm_tile_for(m, n, dtype)[0] == "avx512"
            own = _C.gemm(a, b)
        finally:
            _C.set_gemm_narrow_route(True)
    np.testing.assert_array_equal(routed, own)
    with pytest.raises(ValueError, match="dtype must be"):
        _C.gemm_tile_for(m, n, "int8")


def around(x: int) -> list:
    """x - 1, x and x + 1 (positive only)."""
    return [v for v in (x - 1, x, x + 1) if v > 0]


@needs_avx512
def test_tile_shape_is_the_documented_one(avx512):
    assert avx512[np.float32] == (8, 32, 256, 144)
    assert avx512[np.float64] == (8, 16, 256, 112)


@needs_avx512
@pytest.mark.parametrize("dtype", DTYPES)
def test_sizes_around_tile_and_kc_multiples(rng, avx512, dtype):
    """M around 1, 2 MR; N around 1/2 NR, NR, 2 NR; K around KC and 1.25 KC (one KC block up
    to there, two equal blocks past it); every transpose, alpha and beta != 0."""
    mr, nr, kc, mc = avx512[dtype]
    ms = around(mr) + around(2 * mr)
    ns = around(nr // 2) + around(nr) + around(2 * nr)
    ks = [1, 7] + around(kc) + around(kc * 5 // 4)
    for i, (M, N, K) in enumerate(itertools.product(ms, ns, ks)):
        ta, tb = bool(i & 1), bool(i & 2)  # every transpose across the grid
        a, b = make_operands(rng, M, N, K, ta, tb, dtype)
        c0 = rng.standard_normal((M, N)).astype(dtype)
        c = c0.copy()
        _C.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=-0.75, beta=1.5)
        check(c, a, b, ta, tb, -0.75, 1.5, c0)


@needs_avx512
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", list(itertools.product([False, True], repeat=2)))
def test_row_blocks_and_panels_one_vs_two_threads(rng, avx512, dtype, ta, tb):
    """One row block up to 1.5 MC (216 float rows), several past it (rows split between the
    threads, B shared); a last row tile of 1 and 13 rows, a last panel of 1, 16, 17 and 31
    columns, K of one and of several KC blocks, leading dimensions past the width: 1 and 2
    threads bitwise equal, and within the bound of the float64 product."""
    mr, nr, kc, mc = avx512[dtype]
    for M, N, K in [
        (mc * 3 // 2, nr * 5 + 1, kc + 1),
        (mc * 3 // 2 + 1, nr * 3 + 16, 2 * kc + 3),
        (mr * 20 + 13, nr * 4 + 17, 100),
        (mr * 3 + 1, nr * 40 + 31, kc * 5 // 4),
    ]:
        check_1_and_2_threads(rng, M, N, K, ta, tb, dtype, 0.5, -1.25, pad=3)


@needs_avx512
@pytest.mark.parametrize("dtype", DTYPES)
def test_short_k_and_in_place_b(rng, avx512, dtype):
    """K <= 64 (row strips a column group at a time) and few rows with B read in place, with
    panels ending in partial k-masked vectors; 1 and 2 threads bitwise equal."""
    mr, nr, _, _ = avx512[dtype]
    for M, N, K, pad in [
        (mr + 1, nr * 30 + 5, 9, 0),
        (2 * mr, nr * 7, 64, 0),
        (20, nr * 8, 300, 0),
        (mr - 1, nr * 9 + 3, 200, 1),
    ]:
        check_1_and_2_threads(rng, M, N, K, False, False, dtype, 1.5, 0.5, pad=pad)


@needs_avx512
@pytest.mark.parametrize("dtype", DTYPES)
def test_edge_tiles_match_slices_bitwise(rng, avx512, dtype):
    """An element does not depend on the tile that computed it: the rows and columns of C
    equal, bit for bit, the products of single rows of A (1-row edge tiles) and single
    columns of B (1-column masked tiles), for M and N that end in partial row tiles and panels
    of one ymm (at most NR/4 columns), one zmm and two zmm columns, with beta != 0 and several
    KC blocks."""
    mr, nr, kc, mc = avx512[dtype]
    lanes = nr // 2
    for M, N, K in [
        (mr + 3, nr + lanes - 1, 300),
        (2 * mr - 1, 2 * nr + 1, 2 * kc + 5),
        (mr * 13 + 2, 196, 1152),
        (5, lanes + 3, 40),
        (mr, 2 * nr + nr // 4, 70),  # a last panel as wide as one ymm
        (mr + 2, nr + nr // 4 + 1, 33),  # one column more: one zmm
    ]:
        a, b = make_operands(rng, M, N, K, False, False, dtype)
        c0 = rng.standard_normal((M, N)).astype(dtype)
        c = c0.copy()
        _C.gemm(a, b, c, alpha=0.5, beta=-1.25)
        check(c, a, b, False, False, 0.5, -1.25, c0)
        for i in sorted({0, mr - 1, mr, M - 2, M - 1} & set(range(M))):
            row = c0[i : i + 1].copy()
            _C.gemm(np.ascontiguousarray(a[i : i + 1]), b, row, alpha=0.5, beta=-1.25)
            np.testing.assert_array_equal(row[0], c[i], err_msg=f"row {i} of {M}x{N}x{K}")
        for j in sorted({0, lanes - 1, lanes, nr - 1, N - 2, N - 1, 2 * nr} & set(range(N))):
            col = np.ascontiguousarray(c0[:, j : j + 1])
            _C.gemm(a, np.ascontiguousarray(b[:, j : j + 1]), col, alpha=0.5, beta=-1.25)
            np.testing.assert_array_equal(col[:, 0], c[:, j], err_msg=f"col {j} of {M}x{N}x{K}")


@needs_avx512
def test_matches_the_avx2_path_bitwise_with_the_same_kc(rng, avx512):
    """Both paths accumulate every element by FMAs in increasing k from zero, then one beta
    FMA; with the same KC partition (256) their results are the same bits, whatever tiles
    computed them."""
    if "avx2_fma" not in CPU_CAPABILITIES:  # pragma: no cover - AVX-512 implies AVX2
        pytest.skip("no avx2_fma path here")
    assert _C.cpu_path_tuning("avx2_fma")["gemm_f32"]["kc"] == avx512[np.float32][2]
    for M, N, K, ta, tb in [(100, 333, 700, False, False), (64, 196, 576, True, False)]:
        a, b = make_operands(rng, M, N, K, ta, tb, np.float32)
        c0 = rng.standard_normal((M, N)).astype(np.float32)
        out = {}
        for path in ("avx2_fma", "avx512"):
            with cpu_capability_selected(path):
                out[path] = c0.copy()
                _C.gemm(a, b, out[path], trans_a=ta, trans_b=tb, alpha=0.5, beta=2.0)
        np.testing.assert_array_equal(out["avx512"], out["avx2_fma"])


@pytest.mark.across_cpu_capabilities
@pytest.mark.parametrize("threads", [1, 2])
def test_paths_agree_float32(rng, threads):
    """Every CPU path this machine has gives float32 products within 1e-5 of the product's
    magnitude (|alpha| |op(A)| @ |op(B)| + |beta| |C0|) of each other: they differ only in the
    order and fusion of the roundings."""
    if len(CPU_CAPABILITIES) < 2:  # pragma: no cover - x86-64 always has two
        pytest.skip(f"only one CPU path here ({CPU_CAPABILITIES[0]}): nothing to compare")
    for M, N, K, ta, tb in [
        (64, 3136, 576, False, False),
        (576, 196, 64, True, False),
        (64, 576, 196, False, True),
        (300, 301, 700, True, True),
        (15, 33, 257, False, False),
    ]:
        a, b = make_operands(rng, M, N, K, ta, tb, np.float32)
        c0 = rng.standard_normal((M, N)).astype(np.float32)
        oa = np.abs(a.T if ta else a).astype(np.float64)
        ob = np.abs(b.T if tb else b).astype(np.float64)
        mag = 0.5 * oa @ ob + 2.0 * np.abs(c0.astype(np.float64))
        out = {}
        for path in CPU_CAPABILITIES:
            with cpu_capability_selected(path), num_threads(threads):
                out[path] = c0.copy()
                _C.gemm(a, b, out[path], trans_a=ta, trans_b=tb, alpha=0.5, beta=-2.0)
        first = CPU_CAPABILITIES[0]
        for path in CPU_CAPABILITIES[1:]:
            diff = np.abs(out[path].astype(np.float64) - out[first])
            worst = float(np.max(diff / mag))
            assert worst <= 1e-5, f"{path} vs {first}: {worst:.3g} at {M}x{N}x{K} ta={ta} tb={tb}"


@needs_avx512
@pytest.mark.parametrize(
    "x_shape,w_shape,padding",
    [
        ((2, 16, 14, 14), (32, 16, 3, 3), 1),  # 196 pixels: a last panel of 4
        ((3, 64, 12, 13), (64, 64, 3, 3), 1),  # input gradient as an implicit convolution
        ((2, 8, 20, 17), (16, 8, 5, 5), 2),
        ((1, 3, 32, 32), (16, 3, 3, 3), 1),  # 27 weight-gradient columns: one partial panel
        ((2, 70, 9, 9), (33, 70, 3, 3), 1),  # 81 pixels, batched images
    ],
)
def test_conv_through_the_avx512_packers_matches_avx2_bitwise(rng, x_shape, w_shape, padding):
    """The implicit convolution packs its 32-wide B panels with the AVX-512 packers (masked
    loads of the shifted planes, and their transposes for the weight gradient). Its forward
    pass and both gradients are the avx2_fma path's bits (same FMA order per element, same
    KC). The Winograd algorithm is switched off: these layers would take it (see
    test_conv_winograd.py), and the packers are what is tested here."""
    import gradcore
    import gradcore.nn.functional as F
    from gradcore.backends import cpu as cpu_backend

    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    bias = rng.standard_normal(w_shape[0]).astype(np.float32)
    got = {}
    for path in ("avx2_fma", "avx512"):
        with cpu_capability_selected(path), cpu_backend.flags(winograd=False):
            xt = gradcore.tensor(x, requires_grad=True)
            wt = gradcore.tensor(w, requires_grad=True)
            y = F.conv2d(xt, wt, gradcore.tensor(bias), padding=padding)
            (y * y).sum().backward()
            got[path] = (y.numpy(), xt.grad.numpy(), wt.grad.numpy())
    for name, a, b in zip(("y", "dx", "dw"), got["avx512"], got["avx2_fma"]):
        np.testing.assert_array_equal(a, b, err_msg=name)
