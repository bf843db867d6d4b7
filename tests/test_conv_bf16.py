"""gradcore._C.conv2d_*_bf16 (csrc/cpu/conv_bf16.h): float32 convolutions of bfloat16 operands
against a float64 reference on the same bfloat16 values, within the float32 accumulation
bound (terms * 2^-23 * the sum of |products|), on both routes (gemm_bf16 where it multiplies
natively, the widened float32 kernels elsewhere and for small C/groups*R*S), over strides,
padding, dilation, groups, 1x1 and banded images; 1 vs 2 threads bitwise; errors. Runs on
every CPU path (conftest.KERNEL_TEST_MODULES)."""

from __future__ import annotations

import numpy as np
import pytest
import reference_conv as ref
from conftest import num_threads

import gradcore
from gradcore import _C

# (N, C, H, W, K, R, S, stride, padding, dilation, groups)
CASES = [
    (2, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1),  # cnn-small's second layer
    (3, 5, 9, 7, 6, 3, 2, 2, 1, 1, 1),  # C*R*S = 30: widened
    (2, 64, 8, 8, 16, 3, 3, 1, 1, 1, 1),
    (1, 48, 11, 13, 32, 3, 3, 2, 0, 2, 2),  # strided, dilated, 2 groups
    (2, 8, 7, 9, 6, 3, 3, 1, 2, 1, 2),  # 4 channels a group x 9 = 36 rows: native
    (3, 40, 5, 6, 7, 1, 1, 1, 0, 1, 1),  # 1x1: the planes are the columns
    (1, 256, 48, 47, 4, 1, 1, 1, 0, 1, 1),  # 1x1 in several bands
    (1, 64, 40, 41, 8, 3, 3, 1, 1, 1, 1),  # several bands of output rows per image
    (5, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1),  # cnn-small's first layer: widened
    (2, 33, 6, 5, 3, 2, 3, 1, (1, 2), 1, 1),  # odd sizes, asymmetric padding
]


def bits(rng, shape):
    return _C.float_to_bfloat16(rng.standard_normal(shape).astype(np.float32))


def values(b):
    return _C.bfloat16_to_float(b).astype(np.float64)


def pair(v):
    return v if isinstance(v, tuple) else (v, v)


def run_case(rng, case):
    n, c, h, w_, k, r, s, st, pd, dl, g = case
    geo = (pair(st), pair(pd), pair(dl), g)
    x, w = bits(rng, (n, c, h, w_)), bits(rng, (k, c // g, r, s))
    b = rng.standard_normal(k).astype(np.float32)
    y = _C.conv2d_forward_bf16(x, w, b, *geo)
    dy = bits(rng, y.shape)
    dx = _C.conv2d_backward_input_bf16(dy, w, (h, w_), *geo)
    dw = _C.conv2d_backward_weight_bf16(dy, x, (r, s), *geo)
    return (x, w, b, dy, geo), (y, dx, dw)


def within_bound(got, want, mag, terms, what):
    assert got.dtype == np.float32 and got.shape == want.shape, what
    bound = terms * 2.0**-23 * mag + 1e-30
    err = np.abs(got - want)
    assert np.all(err <= bound), f"{what}: worst error {err.max()} against bound {bound.max()}"


@pytest.mark.parametrize("case", CASES, ids=[str(c[:7]) for c in CASES])
def test_matches_float64_on_the_bfloat16_values(rng, case):
    (x, w, b, dy, geo), (y, dx, dw) = run_case(rng, case)
    xf, wf, dyf = values(x), values(w), values(dy)
    crs = w.shape[1] * w.shape[2] * w.shape[3]
    want = ref.conv2d(xf, wf, b.astype(np.float64), *geo)
    mag = ref.conv2d(np.abs(xf), np.abs(wf), np.abs(b).astype(np.float64), *geo)
    within_bound(y, want, mag, crs + 1, "y")
    hw, rs = x.shape[2:], w.shape[2:]
    want = ref.conv2d_backward_input(dyf, wf, hw, *geo)
    mag = ref.conv2d_backward_input(np.abs(dyf), np.abs(wf), hw, *geo)
    within_bound(dx, want, mag, w.shape[0] * rs[0] * rs[1], "dx")
    want = ref.conv2d_backward_weight(dyf, xf, rs, *geo)
    mag = ref.conv2d_backward_weight(np.abs(dyf), np.abs(xf), rs, *geo)
    within_bound(dw, want, mag, dy.shape[0] * dy.shape[2] * dy.shape[3], "dw")


def test_the_routes():
    """gemm_bf16 multiplies natively only with AVX512_BF16 on the avx512 path, and only
    convolutions with at least 32 rows of columns (C/groups*R*S) take it."""
    native = _C.gemm_bf16_route() == "avx512_bf16"
    assert _C.conv_bf16_native((2, 32, 14, 14), (64, 32, 3, 3)) == native
    assert _C.conv_bf16_native((2, 8, 7, 9), (6, 4, 3, 3), 2) == native
    assert not _C.conv_bf16_native((5, 1, 28, 28), (32, 1, 3, 3))
    assert not _C.conv_bf16_native((3, 5, 9, 7), (6, 5, 3, 2))
    # 64 + 64 channels, 3x3 stride 1: the float32 Winograd convolution runs there instead where
    # this path takes it (and gemm_bf16 where Winograd is switched off or a stride keeps it out)
    big = ((2, 64, 16, 16), (64, 64, 3, 3), 1, 1, 1, 1)
    winograd = 0 < _C.cpu_path_tuning()["winograd_min_channels"] <= 64
    assert _C.conv_bf16_native(*big) == (native and not winograd)
    assert _C.conv_bf16_native((2, 64, 16, 16), (64, 64, 3, 3), 1, 2, 1, 1) == native
    with gradcore.backends.cpu.flags(winograd=False):
        assert _C.conv_bf16_native(*big) == native


@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[6]], ids=["layer2", "groups", "bands"])
def test_one_and_two_threads_give_the_same_bits(rng, case):
    seed = int(rng.integers(1 << 30))
    with num_threads(1):
        one = run_case(np.random.default_rng(seed), case)[1]
    with num_threads(2):
        two = run_case(np.random.default_rng(seed), case)[1]
    for a, b_ in zip(one, two):
        np.testing.assert_array_equal(a, b_)


def test_no_bias_is_the_bias_free_sum(rng):
    x, w = bits(rng, (2, 32, 6, 6)), bits(rng, (4, 32, 3, 3))
    y = _C.conv2d_forward_bf16(x, w, None, 1, 1)
    b0 = _C.conv2d_forward_bf16(x, w, np.zeros(4, np.float32), 1, 1)
    np.testing.assert_array_equal(y, b0)


def test_errors(rng):
    x, w = bits(rng, (2, 32, 6, 6)), bits(rng, (4, 32, 3, 3))
    f = _C.conv2d_forward_bf16
    with pytest.raises(TypeError, match=r"conv2d_forward_bf16: x must be bfloat16 bit patterns"):
        f(values(x).astype(np.float32), w)
    with pytest.raises(TypeError, match=r"conv2d_forward_bf16: weight must be bfloat16 bit"):
        f(x, values(w).astype(np.float32))
    with pytest.raises(TypeError, match=r"conv2d_forward_bf16: bias must be float32"):
        f(x, w, np.zeros(4, np.float64))
    with pytest.raises(ValueError, match=r"conv2d_forward_bf16: bias must have shape \(4,\)"):
        f(x, w, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match=r"conv2d_forward_bf16: input has 32 channels"):
        f(x, bits(rng, (4, 16, 3, 3)))
    dy = bits(rng, (2, 4, 4, 4))
    with pytest.raises(TypeError, match=r"conv2d_backward_input_bf16: dy must be bfloat16"):
        _C.conv2d_backward_input_bf16(values(dy).astype(np.float32), w, (6, 6))
    with pytest.raises(ValueError, match=r"conv2d_backward_weight_bf16"):
        _C.conv2d_backward_weight_bf16(dy, x, (5, 5))
    with pytest.raises(ValueError, match=r"conv_bf16_native: needs 4-d"):
        _C.conv_bf16_native((1, 2, 3), (1, 2, 3, 3))
    with pytest.raises(ValueError, match=r"conv_bf16_native: stride"):
        _C.conv_bf16_native((1, 2, 5, 5), (1, 2, 3, 3), 1, 0)


@pytest.mark.parametrize("shape", [(2, 5, 7, 9), (3, 4), (1, 3, 33), (4, 2, 1, 1)])
def test_bias_gradient_of_bfloat16_bits(rng, shape):
    """conv2d_backward_bias_bf16 sums the bfloat16 values (widened exactly) as the float32
    kernel sums float32 ones: the same bits as conv2d_backward_bias on the widened array."""
    dy = bits(rng, shape)
    db = _C.conv2d_backward_bias_bf16(dy)
    assert db.dtype == np.float32 and db.shape == (shape[1],)
    np.testing.assert_array_equal(db, _C.conv2d_backward_bias(_C.bfloat16_to_float(dy)))
    axes = tuple(i for i in range(len(shape)) if i != 1)
    np.testing.assert_allclose(db, values(dy).sum(axis=axes), rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match="conv2d_backward_bias_bf16: dy must be bfloat16"):
        _C.conv2d_backward_bias_bf16(values(dy).astype(np.float32))
    with pytest.raises(ValueError, match="conv2d_backward_bias_bf16: dy must have at least 2"):
        _C.conv2d_backward_bias_bf16(dy.reshape(-1))
