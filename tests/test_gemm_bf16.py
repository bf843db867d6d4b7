"""gradcore._C.gemm_bf16 (csrc/cpu/gemm/gemm_bf16.h): float32 a @ op(b) of bfloat16 operands
against a float64 reference on the same bfloat16 values, within the float32 accumulation bound
(K * 2^-23 * |a| @ |b|), on odd sizes around the 8 x 32 tile; trans_b; 1 vs 2 threads bitwise;
the AVX512_BF16 route and the widened float32 route agree; errors. Runs on every CPU path."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cpu_capability_selected, num_threads

from gradcore import _C

SHAPES = [
    (1, 1, 1),
    (1, 33, 2),
    (7, 5, 3),
    (8, 32, 64),
    (9, 31, 65),
    (17, 100, 257),
    (64, 130, 784),
]


def operands(rng, m, n, k, trans_b=False):
    a = _C.float_to_bfloat16(rng.standard_normal((m, k)).astype(np.float32))
    b = _C.float_to_bfloat16(rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32))
    return a, b


def reference(a, b, trans_b=False):
    fa = _C.bfloat16_to_float(a).astype(np.float64)
    fb = _C.bfloat16_to_float(b).astype(np.float64)
    fb = fb.T if trans_b else fb
    return fa @ fb, np.abs(fa) @ np.abs(fb)


@pytest.mark.parametrize("m, n, k", SHAPES)
@pytest.mark.parametrize("trans_b", [False, True])
def test_matches_float64_on_the_bfloat16_values(rng, m, n, k, trans_b):
    a, b = operands(rng, m, n, k, trans_b)
    c = _C.gemm_bf16(a, b, trans_b)
    assert c.dtype == np.float32 and c.shape == (m, n)
    want, mag = reference(a, b, trans_b)
    assert np.all(np.abs(c - want) <= k * 2.0**-23 * mag + 1e-30)


def test_trans_b_and_threads_give_the_same_bits(rng):
    a, b = operands(rng, 203, 77, 301)
    with num_threads(1):
        one = _C.gemm_bf16(a, b)
    with num_threads(2):
        two = _C.gemm_bf16(a, b)
        tb = _C.gemm_bf16(a, np.ascontiguousarray(b.T), True)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, tb)


def test_routes_agree(rng):
    """Where the CPU has AVX512_BF16 the avx512 path multiplies with vdpbf16ps; the avx2_fma
    path widens to float32: both within the bound of the float64 reference."""
    a, b = operands(rng, 50, 70, 300)
    want, mag = reference(a, b)
    with cpu_capability_selected("generic"):
        assert _C.gemm_bf16_route() == "float32"
        widened = _C.gemm_bf16(a, b)
    assert np.all(np.abs(widened - want) <= 300 * 2.0**-23 * mag)
    if _C.gemm_bf16_route() == "avx512_bf16":
        assert np.all(np.abs(_C.gemm_bf16(a, b) - want) <= 300 * 2.0**-23 * mag)


def test_empty_inner_size_gives_zeros():
    c = _C.gemm_bf16(np.zeros((3, 0), np.uint16), np.zeros((0, 4), np.uint16))
    np.testing.assert_array_equal(c, np.zeros((3, 4), np.float32))


def test_errors():
    u = np.zeros((2, 3), np.uint16)
    with pytest.raises(TypeError, match="gemm_bf16: a must hold bfloat16 bit patterns"):
        _C.gemm_bf16(np.zeros((2, 3), np.float32), u.T)
    with pytest.raises(ValueError, match="gemm_bf16: b must be 2-d"):
        _C.gemm_bf16(u, np.zeros(3, np.uint16))
    with pytest.raises(ValueError, match="gemm_bf16: inner sizes differ"):
        _C.gemm_bf16(u, u)
