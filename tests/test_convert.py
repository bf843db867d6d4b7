"""float32 <-> bfloat16 (csrc/cpu/convert.h, gradcore.bf16): the conversion is bit-exact
against an integer reference written here (round to nearest even on the bit pattern, NaN to
the quiet NaN with its sign) and against ml_dtypes, on every bfloat16 pattern and on random
float32 patterns (ties, denormals, overflow to infinity, NaN payloads); bfloat16 -> float32 is
exact; results do not depend on the thread count; wrong dtypes raise; Tensor casts are
differentiable."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import num_threads

import gradcore as gc
from gradcore import _C

ml_dtypes = pytest.importorskip("ml_dtypes", reason="needs the bf16 extra (ml_dtypes)")


def reference_bits(x: np.ndarray) -> np.ndarray:
    """bfloat16 bits of float32 x, by integer arithmetic: RNE on the top 16 bits; NaN ->
    0x7FC0 | sign."""
    u = x.view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    quiet = (((u >> 16) & 0x8000) | 0x7FC0).astype(np.uint16)
    return np.where(nan, quiet, rounded)


def every_pattern_with_low_halves(rng) -> np.ndarray:
    """Each of the 65536 high halves with low halves 0, 0x7FFF, 0x8000 (the tie), 0x8001,
    0xFFFF and a random one."""
    high = np.arange(1 << 16, dtype=np.uint32) << 16
    lows = [0, 0x7FFF, 0x8000, 0x8001, 0xFFFF]
    parts = [high | low for low in lows]
    parts.append(high | rng.integers(0, 1 << 16, high.size, dtype=np.uint32))
    return np.concatenate(parts).view(np.float32)


def test_float_to_bfloat16_is_exact_on_every_pattern(rng):
    x = every_pattern_with_low_halves(rng)
    got = _C.float_to_bfloat16(x)
    assert got.dtype == np.uint16 and got.shape == x.shape
    np.testing.assert_array_equal(got, reference_bits(x))
    with warnings.catch_warnings():  # ml_dtypes warns on the NaN and overflowing inputs
        warnings.simplefilter("ignore", RuntimeWarning)
        theirs = x.astype(ml_dtypes.bfloat16).view(np.uint16)
    np.testing.assert_array_equal(got, theirs)


def test_float_to_bfloat16_random_patterns_and_named_cases(rng):
    x = rng.integers(0, 1 << 32, 1_000_003, dtype=np.uint64).astype(np.uint32).view(np.float32)
    np.testing.assert_array_equal(_C.float_to_bfloat16(x), reference_bits(x))
    cases = {
        1.0: 0x3F80,
        1.00390625: 0x3F80,  # a tie (1 + 2^-8): even stays
        1.01171875: 0x3F82,  # a tie above an odd mantissa: rounds up
        -0.0: 0x8000,
        np.inf: 0x7F80,
        -np.inf: 0xFF80,
        3.4e38: 0x7F80,  # past the largest bfloat16: infinity
        1e-40: 0x0001,  # a float32 denormal: a bfloat16 denormal, not flushed
        -1e-45: 0x8000,
    }
    x = np.array(list(cases), dtype=np.float32)
    np.testing.assert_array_equal(_C.float_to_bfloat16(x), np.array(list(cases.values())))
    nans = np.array([0x7F800001, 0xFFC12345, 0x7FFFFFFF], dtype=np.uint32).view(np.float32)
    np.testing.assert_array_equal(_C.float_to_bfloat16(nans), [0x7FC0, 0xFFC0, 0x7FC0])


def test_bfloat16_to_float_is_exact():
    bits = np.arange(1 << 16, dtype=np.uint16)
    got = _C.bfloat16_to_float(bits)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.view(np.uint32), bits.astype(np.uint32) << 16)
    ok = ~np.isnan(got)
    np.testing.assert_array_equal(got[ok], bits.view(ml_dtypes.bfloat16)[ok].astype(np.float32))


@pytest.mark.parametrize("n", [0, 1, 7, 33, 1025])
def test_odd_sizes_shapes_and_strided_input(rng, n):
    x = rng.standard_normal((n, 3)).astype(np.float32)
    for view in (x, x.T, x[::2]):
        got = _C.float_to_bfloat16(view)
        assert got.shape == view.shape
        np.testing.assert_array_equal(got, reference_bits(np.ascontiguousarray(view)))
        back = _C.bfloat16_to_float(got)
        np.testing.assert_array_equal(back.view(np.uint32), got.astype(np.uint32) << 16)


def test_one_and_two_threads_are_bitwise_equal(rng):
    x = rng.standard_normal(3_000_001).astype(np.float32)
    with num_threads(1):
        one = _C.float_to_bfloat16(x), _C.bfloat16_to_float(_C.float_to_bfloat16(x))
    with num_threads(2):
        two = _C.float_to_bfloat16(x), _C.bfloat16_to_float(_C.float_to_bfloat16(x))
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_wrong_dtypes_raise():
    with pytest.raises(TypeError, match="float_to_bfloat16: x must be a float32 array"):
        _C.float_to_bfloat16(np.ones(3, np.float64))
    with pytest.raises(TypeError, match="bfloat16_to_float: x must hold bfloat16 bit patterns"):
        _C.bfloat16_to_float(np.ones(3, np.int16))


def test_round_to_bfloat16_is_the_two_conversions_in_one_pass(rng):
    """round_to_bfloat16(x) == bfloat16_to_float(float_to_bfloat16(x)) bit for bit on every
    pattern; into a new array, into `out`, or in place; 1 and 2 threads alike."""
    x = every_pattern_with_low_halves(rng)
    want = (reference_bits(x).astype(np.uint32) << 16).view(np.float32)
    got = _C.round_to_bfloat16(x)
    assert got.dtype == np.float32 and got.shape == x.shape and got is not x
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    out = np.empty_like(x)
    assert _C.round_to_bfloat16(x, out) is out
    np.testing.assert_array_equal(out.view(np.uint32), want.view(np.uint32))
    y = rng.standard_normal((1001, 3)).astype(np.float32)
    ref = (reference_bits(y).astype(np.uint32) << 16).view(np.float32)
    with num_threads(2):
        two = _C.round_to_bfloat16(y)
    assert _C.round_to_bfloat16(y, y) is y  # in place
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_array_equal(two, ref)


def test_round_to_bfloat16_errors():
    x = np.ones((4, 3), np.float32)
    with pytest.raises(TypeError, match="round_to_bfloat16: x must be float32"):
        _C.round_to_bfloat16(x.astype(np.float64))
    with pytest.raises(TypeError, match="round_to_bfloat16: out must be float32"):
        _C.round_to_bfloat16(x, np.ones((4, 3), np.float64))
    with pytest.raises(ValueError, match=r"round_to_bfloat16: out must have x's shape \(4, 3\)"):
        _C.round_to_bfloat16(x, np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="round_to_bfloat16: out"):
        _C.round_to_bfloat16(x.reshape(-1)[:6], x.reshape(-1)[3:9])  # partial overlap
    with pytest.raises(ValueError, match="round_to_bfloat16: x must be C-contiguous"):
        _C.round_to_bfloat16(x.T)


def test_tensor_casts_round_and_are_differentiable(rng):
    a = rng.standard_normal((4, 5)).astype(np.float32)
    x = gc.tensor(a, requires_grad=True)
    h = x.bfloat16()
    assert h.dtype == gc.bfloat16 and h.type() == "gradcore.bfloat16"
    np.testing.assert_array_equal(h.numpy().view(np.uint16), reference_bits(a))
    assert x.to(gc.bfloat16).dtype == gc.bfloat16
    y = h.float() * gc.tensor(np.full((4, 5), 3.0, np.float32))
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), np.full((4, 5), 3.0, np.float32))
    made = gc.tensor(a, dtype=gc.bfloat16)  # numpy's (ml_dtypes') cast: also RNE
    np.testing.assert_array_equal(made.numpy().view(np.uint16), reference_bits(a))
