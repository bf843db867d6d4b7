"""CUDA conversions (csrc/cuda/convert.cu): float32 rounded to bfloat16 / float16 values and
the 16-bit storage conversions. The per-element bodies through the CPU test driver
(everywhere) and the CUDA kernels on a GPU (skipped without one), bitwise against _C's
bfloat16 conversion, ml_dtypes and numpy's float16; gemm_lowp (cublasGemmEx) on a GPU
against a float64 product of the rounded operands."""

import numpy as np
import pytest
from cuda_helpers import cuda_module, requires_gpu, to_cpu, to_gpu
from test_convert import every_pattern_with_low_halves

from gradcore import _C

H = _C.cuda_host

EDGES = np.array(
    [
        0.0,
        -0.0,
        np.inf,
        -np.inf,
        np.nan,
        -np.nan,
        1.0,
        -1.0,
        65504.0,  # largest float16
        65519.99,  # rounds down to it
        65520.0,  # the tie: to infinity
        -65520.0,
        1e6,
        2.0**-14,  # smallest float16 normal
        2.0**-14 * (1 - 2.0**-11),  # rounds up to it
        2.0**-24,  # smallest float16 subnormal
        2.0**-25,  # the tie with zero: to zero
        2.0**-25 * (1 + 2.0**-20),  # just above: to 2^-24
        -(2.0**-25),
        3 * 2.0**-25,  # tie between 2^-24 and 2^-23: to even (2^-23)
        1e-40,  # float32 subnormal
        np.finfo(np.float32).max,
        np.finfo(np.float32).tiny,
        1.0 + 2.0**-8,  # bfloat16 tie: to even (1.0)
        1.0 + 3 * 2.0**-8,  # bfloat16 tie: to even (1 + 2^-6)
        1.0 + 2.0**-11,  # float16 tie: to even (1.0)
        1.0 + 3 * 2.0**-11,  # float16 tie: to even (1 + 2^-9)
    ],
    dtype=np.float32,
)


def _inputs(rng) -> np.ndarray:
    """Edge values, random bit patterns over the whole float32 range, random normals at
    several scales, and a dense sweep of the float16 range (2^-26 .. 2^17) by bit pattern."""
    bits = rng.integers(0, 2**32, 200_003, dtype=np.uint64).astype(np.uint32).view(np.float32)
    scaled = np.concatenate(
        [rng.standard_normal(10_001) * s for s in (1e-7, 1e-5, 1e-3, 1.0, 1e3, 6e4, 1e6)]
    ).astype(np.float32)
    sweep = np.arange(0x32800000, 0x48000000, 61, dtype=np.uint32).view(np.float32)
    return np.concatenate([EDGES, bits, scaled, sweep, -sweep])


def _f16_reference(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return x.astype(np.float16).astype(np.float32)


def _bf16_reference(x: np.ndarray) -> np.ndarray:
    return _C.bfloat16_to_float(_C.float_to_bfloat16(x))


def _same_bits_nan_as_nan(got: np.ndarray, want: np.ndarray) -> None:
    """Bitwise equal where want is not NaN; NaN (of any payload) where want is NaN."""
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))


def test_round_to_bf16_is_cpu_rounding_bitwise(rng):
    x = _inputs(rng)
    got = H.round_to_bf16(x)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_array_equal(got.view(np.uint32), _bf16_reference(x).view(np.uint32))
    patterns = every_pattern_with_low_halves(rng)
    np.testing.assert_array_equal(
        H.round_to_bf16(patterns).view(np.uint32), _bf16_reference(patterns).view(np.uint32)
    )


def test_round_to_bf16_matches_ml_dtypes(rng):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = _inputs(rng)
    with np.errstate(invalid="ignore", over="ignore"):
        want = x.astype(ml_dtypes.bfloat16).astype(np.float32)
    _same_bits_nan_as_nan(H.round_to_bf16(x), want)


def test_round_to_f16_matches_numpy_bitwise(rng):
    x = _inputs(rng)
    got = H.round_to_f16(x)
    assert got.dtype == np.float32 and got.shape == x.shape
    _same_bits_nan_as_nan(got, _f16_reference(x))
    # every float16 value is kept exactly, and so is every one of its float32 neighbours' fate
    patterns = every_pattern_with_low_halves(rng)
    _same_bits_nan_as_nan(H.round_to_f16(patterns), _f16_reference(patterns))


def test_edge_values():
    r16 = H.round_to_f16(EDGES)
    assert r16[2] == np.inf and r16[3] == -np.inf and np.isnan(r16[4]) and np.isnan(r16[5])
    assert r16[8] == 65504 and r16[9] == 65504 and r16[10] == np.inf and r16[11] == -np.inf
    assert r16[15] == 2.0**-24 and r16[16] == 0 and r16[17] == 2.0**-24
    assert np.signbit(r16[18]) and r16[18] == 0 and r16[19] == 2.0**-23
    assert r16[25] == 1.0 and r16[26] == 1 + 2.0**-9
    rb = H.round_to_bf16(EDGES)
    assert rb[2] == np.inf and np.isnan(rb[4]) and rb[21] == np.inf  # float32 max rounds up
    assert rb[23] == 1.0 and rb[24] == 1 + 2.0**-6
    assert np.signbit(H.round_to_bf16(np.array([-0.0], np.float32))[0])


def test_storage_conversions(rng):
    x = _inputs(rng)
    f16 = H.float_to_float16(x)
    assert f16.dtype == np.uint16 and f16.shape == x.shape
    with np.errstate(over="ignore", invalid="ignore"):
        want16 = x.astype(np.float16).view(np.uint16)
    ok = ~np.isnan(x)
    np.testing.assert_array_equal(f16[ok], want16[ok])
    assert np.all((f16[~ok] & 0x7C00 == 0x7C00) & (f16[~ok] & 0x3FF != 0))  # NaN stays NaN
    np.testing.assert_array_equal(H.float_to_bfloat16(x), _C.float_to_bfloat16(x))
    every = np.arange(2**16, dtype=np.uint32).astype(np.uint16)
    _same_bits_nan_as_nan(H.float16_to_float(every), every.view(np.float16).astype(np.float32))
    np.testing.assert_array_equal(H.bfloat16_to_float(every), _C.bfloat16_to_float(every))
    # round trips: float16 / bfloat16 storage of the rounded values is exact
    _same_bits_nan_as_nan(H.float16_to_float(f16), H.round_to_f16(x))
    np.testing.assert_array_equal(
        H.bfloat16_to_float(H.float_to_bfloat16(x)).view(np.uint32),
        H.round_to_bf16(x).view(np.uint32),
    )


@pytest.mark.parametrize("shape", [(), (0,), (1,), (7, 3), (2, 3, 4, 5)])
def test_shapes_are_kept(shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    for name in ("round_to_bf16", "round_to_f16", "float_to_float16", "float_to_bfloat16"):
        assert getattr(H, name)(x).shape == shape


def test_bad_dtypes_raise():
    for name in ("round_to_bf16", "round_to_f16", "float_to_float16", "float_to_bfloat16"):
        with pytest.raises(TypeError, match=name):
            getattr(H, name)(np.zeros(3, np.float64))
    for name in ("bfloat16_to_float", "float16_to_float"):
        with pytest.raises(TypeError, match=name):
            getattr(H, name)(np.zeros(3, np.float32))


# ------------------------------------------------------------------------------- GPU tests
@requires_gpu
def test_gpu_conversions_match_the_host_driver(rng):
    m = cuda_module()
    x = _inputs(rng)
    d = to_gpu(x)
    for name in ("round_to_bf16", "round_to_f16"):
        got = to_cpu(getattr(m, name)(d))
        np.testing.assert_array_equal(got.view(np.uint32), getattr(H, name)(x).view(np.uint32))
    f16 = m.float_to_float16(d)
    assert str(f16.dtype) == "float16"
    np.testing.assert_array_equal(to_cpu(f16).view(np.uint16), H.float_to_float16(x))
    np.testing.assert_array_equal(
        to_cpu(m.float16_to_float(f16)).view(np.uint32), H.round_to_f16(x).view(np.uint32)
    )
    pytest.importorskip("ml_dtypes")
    bf = m.float_to_bfloat16(d)
    assert str(bf.dtype) == "bfloat16"
    np.testing.assert_array_equal(to_cpu(bf).view(np.uint16), _C.float_to_bfloat16(x))
    np.testing.assert_array_equal(
        to_cpu(m.bfloat16_to_float(bf)).view(np.uint32), H.round_to_bf16(x).view(np.uint32)
    )
    with pytest.raises(TypeError, match="round_to_f16"):
        m.round_to_f16(to_gpu(x.astype(np.float64)))


# unit roundoff of float32 accumulation over K terms, relative to sum |a||b|
def _bound(K: int) -> float:
    return 2 * K * 2.0**-24 + 1e-6


@requires_gpu
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (False, True), (True, False)])
def test_gemm_lowp_matches_a_float64_product_of_rounded_operands(rng, dtype, trans_a, trans_b):
    m = cuda_module()
    M, N, K = 37, 29, 130
    rnd = H.round_to_f16 if dtype == "float16" else H.round_to_bf16
    a = rnd(rng.standard_normal((K, M) if trans_a else (M, K)).astype(np.float32))
    b = rnd(rng.standard_normal((N, K) if trans_b else (K, N)).astype(np.float32))
    opa = a.T if trans_a else a
    opb = b.T if trans_b else b
    want = opa.astype(np.float64) @ opb.astype(np.float64)
    scale = np.abs(opa).astype(np.float64) @ np.abs(opb).astype(np.float64)
    got = to_cpu(m.gemm_lowp(to_gpu(a), to_gpu(b), None, trans_a, trans_b, dtype=dtype))
    assert got.dtype == np.float32 and got.shape == (M, N)
    assert np.all(np.abs(got - want) <= _bound(K) * scale)
    c = rng.standard_normal((M, N)).astype(np.float32)
    got = to_cpu(m.gemm_lowp(to_gpu(a), to_gpu(b), to_gpu(c), trans_a, trans_b, 2.0, 0.5, dtype))
    assert np.all(np.abs(got - (2 * want + 0.5 * c)) <= 2 * _bound(K) * (scale + np.abs(c)))


@requires_gpu
def test_gemm_lowp_bad_arguments():
    m = cuda_module()
    a = to_gpu(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="dtype"):
        m.gemm_lowp(a, a, trans_b=True, dtype="float32")
    with pytest.raises(ValueError, match="inner sizes"):
        m.gemm_lowp(a, a)
    with pytest.raises(TypeError, match="gemm_lowp: a must be float32"):
        m.gemm_lowp(to_gpu(np.zeros((3, 4))), a, trans_b=True)
