"""conv2d forward/backward kernels against a float64 numpy reference, finite differences,
PyTorch, thread-count determinism, and every argument check."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import reference_conv as ref
from conftest import assert_allclose, num_threads

import gradcore as gc
import gradcore.nn.functional as F
from gradcore import _C

TOL = {np.float32: dict(rtol=2e-4, atol=2e-4), np.float64: dict(rtol=1e-10, atol=1e-10)}


def _rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _run_all(x, w, b, dy, stride, padding, dilation, groups):
    y = _C.conv2d_forward(x, w, b, stride, padding, dilation, groups)
    dx = _C.conv2d_backward_input(dy, w, x.shape[2:], stride, padding, dilation, groups)
    dw = _C.conv2d_backward_weight(dy, x, w.shape[2:], stride, padding, dilation, groups)
    db = _C.conv2d_backward_bias(dy)
    return y, dx, dw, db


def _check_against_reference(rng, dtype, n, c, h, w_, k, r, s, stride, padding, dilation, groups):
    x = _rand(rng, (n, c, h, w_), dtype)
    w = _rand(rng, (k, c // groups, r, s), dtype)
    b = _rand(rng, (k,), dtype)
    oh = ref.conv_out(h, r, stride[0], padding[0], dilation[0])
    ow = ref.conv_out(w_, s, stride[1], padding[1], dilation[1])
    dy = _rand(rng, (n, k, oh, ow), dtype)
    y, dx, dw, db = _run_all(x, w, b, dy, stride, padding, dilation, groups)
    for a in (y, dx, dw, db):
        assert a.dtype == dtype and a.flags.c_contiguous
    tol = dict(TOL[dtype])
    # sums of c*r*s (forward, input grad) or n*oh*ow (weight grad) products
    scale = np.sqrt(max(c // groups * r * s, n * oh * ow))
    tol["atol"] = tol["atol"] * scale
    assert_allclose(y, ref.conv2d(x, w, b, stride, padding, dilation, groups), **tol, what="y")
    ref_dx = ref.conv2d_backward_input(dy, w, (h, w_), stride, padding, dilation, groups)
    assert_allclose(dx, ref_dx, **tol, what="dx")
    ref_dw = ref.conv2d_backward_weight(dy, x, (r, s), stride, padding, dilation, groups)
    assert_allclose(dw, ref_dw, **tol, what="dw")
    assert_allclose(db, ref.conv2d_backward_bias(dy), **tol, what="db")


GRID = list(itertools.product([(1, 1), (2, 2), (1, 3)], [(0, 0), (1, 1), (2, 0)], [(1, 1), (2, 2)]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("stride,padding,dilation", GRID)
def test_grid_matches_reference(rng, dtype, groups, stride, padding, dilation):
    _check_against_reference(rng, dtype, 3, 4, 9, 8, 6, 3, 2, stride, padding, dilation, groups)


# (n, c, h, w, k, r, s, stride, padding, dilation, groups): every code path of the kernels
SHAPES = {
    "one_pixel": (1, 1, 1, 1, 1, 1, 1, (1, 1), (0, 0), (1, 1), 1),
    "one_by_one_direct": (2, 5, 16, 17, 3, 1, 1, (1, 1), (0, 0), (1, 1), 1),
    "one_by_one_batched": (5, 6, 5, 7, 4, 1, 1, (1, 1), (0, 0), (1, 1), 1),
    "one_by_one_strided": (2, 3, 9, 8, 4, 1, 1, (2, 2), (0, 0), (1, 1), 1),
    "one_by_one_padded": (2, 3, 4, 5, 2, 1, 1, (1, 1), (1, 2), (1, 1), 1),
    "row_tiles": (2, 64, 20, 21, 5, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    "batched_chunks": (13, 3, 10, 10, 4, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    "depthwise": (3, 6, 11, 9, 6, 3, 3, (1, 1), (1, 1), (1, 1), 6),
    "depthwise_multiplier": (2, 3, 8, 8, 6, 3, 3, (2, 1), (1, 0), (1, 1), 3),
    "kernel_equals_input": (2, 3, 5, 4, 2, 5, 4, (1, 1), (0, 0), (1, 1), 1),
    "kernel_larger_than_input_padded": (2, 2, 2, 3, 3, 4, 4, (1, 1), (1, 1), (1, 1), 1),
    "big_stride": (3, 2, 11, 13, 3, 3, 2, (5, 4), (1, 1), (1, 1), 1),
    "wide_kernel": (2, 3, 7, 30, 4, 1, 7, (1, 2), (0, 3), (1, 1), 1),
    "batch_one_large": (1, 8, 40, 33, 6, 3, 3, (1, 1), (1, 1), (1, 1), 2),
    "dilated_same": (2, 3, 9, 10, 4, 3, 3, (1, 1), (2, 2), (2, 2), 1),
    "small_maps_batched": (20, 4, 5, 6, 6, 3, 3, (1, 1), (1, 1), (1, 1), 2),
    "odd_everything": (3, 5, 7, 11, 7, 2, 3, (2, 1), (1, 1), (2, 1), 1),
    "first_layer": (4, 1, 28, 28, 8, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    # the direct kernels (conv_direct.h, avx512 path: C*R*S <= 16, stride 1, groups 1):
    # 16 taps and a 4-pixel last vector, odd K; 12 taps (one filter at a time), dilation
    "direct_taps_16_tail": (2, 1, 7, 37, 5, 4, 4, (1, 1), (2, 1), (1, 1), 1),
    "direct_dilated": (3, 2, 9, 11, 3, 2, 3, (1, 1), (1, 2), (2, 1), 1),
    "stem": (2, 3, 24, 24, 8, 7, 7, (2, 2), (3, 3), (1, 1), 1),
    # implicit GEMM (stride 1, OW == W, >= 128 output pixels): odd sizes, dilation, groups
    "implicit_dilated_groups": (3, 6, 13, 11, 4, 3, 3, (1, 1), (2, 2), (2, 2), 2),
    "implicit_asymmetric": (2, 3, 12, 13, 4, 3, 5, (1, 1), (1, 2), (1, 1), 1),
    # the input gradient as an implicit convolution of dy (>= 64 input channels per group)
    "input_grad_conv_groups": (2, 128, 12, 11, 6, 3, 3, (1, 1), (1, 1), (1, 1), 2),
    "input_grad_conv_dilated": (2, 64, 12, 12, 5, 3, 3, (1, 1), (2, 2), (2, 2), 1),
    "input_grad_conv_valid_rows": (2, 64, 14, 12, 5, 3, 3, (1, 1), (0, 1), (1, 1), 1),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(SHAPES))
def test_shapes_match_reference(rng, dtype, name):
    _check_against_reference(rng, dtype, *SHAPES[name])


def test_no_bias_and_int_arguments(rng):
    x = _rand(rng, (2, 3, 6, 5), np.float64)
    w = _rand(rng, (4, 3, 3, 3), np.float64)
    y = _C.conv2d_forward(x, w, None, 2, 1, 1, 1)
    assert_allclose(y, ref.conv2d(x, w, None, 2, 1, 1, 1), rtol=1e-12, atol=1e-12)
    y2 = _C.conv2d_forward(x, w, stride=[2, 2], padding=(1, 1))
    assert np.array_equal(y, y2)
    y3 = _C.conv2d_forward(x, w, stride=(np.int64(2), 2), padding=(1, 1))
    assert np.array_equal(y, y3)


def test_empty_batch(rng):
    x = np.zeros((0, 3, 6, 5), np.float32)
    w = _rand(rng, (4, 3, 3, 3), np.float32)
    y = _C.conv2d_forward(x, w, None, 1, 1)
    assert y.shape == (0, 4, 6, 5)
    dw = _C.conv2d_backward_weight(y, x, (3, 3), 1, 1)
    assert np.array_equal(dw, np.zeros_like(w))
    assert _C.conv2d_backward_input(y, w, (6, 5), 1, 1).shape == (0, 3, 6, 5)


def test_nan_propagates(rng):
    x = _rand(rng, (2, 2, 5, 5), np.float32)
    x[1, 0, 2, 2] = np.nan
    w = _rand(rng, (3, 2, 3, 3), np.float32)
    y = _C.conv2d_forward(x, w, None, 1, 1)
    assert np.isnan(y[1, :, 1:4, 1:4]).all()
    assert not np.isnan(y[0]).any()


FD_CASES = [
    (2, 4, 5, 4, 4, 3, 2, (2, 1), (1, 1), (1, 2), 2),
    (1, 2, 4, 5, 3, 2, 2, (1, 1), (0, 1), (1, 1), 1),
    (2, 3, 3, 3, 2, 1, 1, (1, 1), (0, 0), (1, 1), 1),
]


@pytest.mark.parametrize("case", FD_CASES)
def test_finite_differences(rng, case):
    n, c, h, w_, k, r, s, stride, padding, dilation, groups = case
    x = rng.standard_normal((n, c, h, w_))
    w = rng.standard_normal((k, c // groups, r, s))
    b = rng.standard_normal(k)
    y = _C.conv2d_forward(x, w, b, stride, padding, dilation, groups)
    g = rng.standard_normal(y.shape)  # loss = sum(g * y)
    dx, dw, db = (
        _C.conv2d_backward_input(g, w, (h, w_), stride, padding, dilation, groups),
        _C.conv2d_backward_weight(g, x, (r, s), stride, padding, dilation, groups),
        _C.conv2d_backward_bias(g),
    )

    def loss(xx, ww, bb):
        return float((g * _C.conv2d_forward(xx, ww, bb, stride, padding, dilation, groups)).sum())

    eps = 1e-6
    for arr, grad in ((x, dx), (w, dw), (b, db)):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + eps
            lp = loss(x, w, b)
            arr[i] = old - eps
            lm = loss(x, w, b)
            arr[i] = old
            num[i] = (lp - lm) / (2 * eps)
        assert_allclose(grad, num, rtol=1e-6, atol=1e-7)


THREAD_CASES = [
    (8, 16, 16, 16, 16, 3, 3, (1, 1), (1, 1), (1, 1), 1),  # per-image parallel
    (1, 16, 33, 30, 24, 3, 3, (1, 1), (1, 1), (1, 1), 1),  # batch 1: row bands / GEMM threads
    (3, 64, 20, 20, 32, 3, 3, (1, 1), (1, 1), (1, 1), 1),  # odd batch, row tiles
    (32, 8, 7, 7, 16, 3, 3, (1, 1), (1, 1), (1, 1), 2),  # batched small maps, many work groups
    (6, 32, 16, 16, 32, 1, 1, (1, 1), (0, 0), (1, 1), 1),  # 1x1 direct
    (4, 64, 14, 14, 64, 3, 3, (1, 1), (1, 1), (1, 1), 1),  # implicit GEMM, input grad as conv
    (1, 64, 15, 13, 70, 3, 3, (1, 1), (1, 1), (1, 1), 1),  # implicit, batch 1: GEMM threads
    (64, 1, 28, 28, 32, 3, 3, (1, 1), (1, 1), (1, 1), 1),  # direct (avx512), 16 work groups
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", THREAD_CASES)
def test_one_and_two_threads_bitwise(rng, dtype, case):
    n, c, h, w_, k, r, s, stride, padding, dilation, groups = case
    x = _rand(rng, (n, c, h, w_), dtype)
    w = _rand(rng, (k, c // groups, r, s), dtype)
    b = _rand(rng, (k,), dtype)
    oh = ref.conv_out(h, r, stride[0], padding[0], dilation[0])
    ow = ref.conv_out(w_, s, stride[1], padding[1], dilation[1])
    dy = _rand(rng, (n, k, oh, ow), dtype)
    with num_threads(1):
        one = _run_all(x, w, b, dy, stride, padding, dilation, groups)
    with num_threads(2):
        two = _run_all(x, w, b, dy, stride, padding, dilation, groups)
        again = _run_all(x, w, b, dy, stride, padding, dilation, groups)
    for name, a, b2, c2 in zip(("y", "dx", "dw", "db"), one, two, again):
        assert np.array_equal(a, b2), f"{name} differs between 1 and 2 threads"
        assert np.array_equal(b2, c2), f"{name} differs between runs"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_conv_route_on_each_cpu_path(rng, dtype):
    """Every conv route (implicit GEMM, input grad as conv, im2col), on each CPU path
    (conftest.py) against the reference."""
    _check_against_reference(rng, dtype, 2, 64, 13, 12, 7, 3, 3, (1, 1), (1, 1), (1, 1), 1)
    _check_against_reference(rng, dtype, 2, 5, 16, 9, 6, 3, 3, (2, 1), (1, 1), (1, 1), 1)


def test_padding_lanes_are_exact_zeros(rng):
    """Inf/NaN next to the padding must not leak into outputs that only see zeros there."""
    x = _rand(rng, (2, 3, 16, 16), np.float32)
    w = _rand(rng, (4, 3, 3, 3), np.float32)
    x[:, :, :, -1] = np.inf  # the last column: read only by taps inside the plane
    y = _C.conv2d_forward(x, w, None, 1, 1)
    assert np.isfinite(y[:, :, :, :-2]).all()
    assert_allclose(y, ref.conv2d(x, w, None, 1, 1, 1, 1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "case",
    [
        (4, 6, 10, 9, 8, 3, 3, (1, 1), (1, 1), (1, 1), 1),
        (3, 4, 11, 12, 6, 3, 2, (2, 1), (1, 0), (2, 1), 2),
        (2, 6, 9, 9, 6, 3, 3, (1, 1), (1, 1), (1, 1), 6),
        (2, 8, 16, 16, 4, 1, 1, (1, 1), (0, 0), (1, 1), 1),
    ],
)
def test_matches_torch(torch, rng, case):
    n, c, h, w_, k, r, s, stride, padding, dilation, groups = case
    x = _rand(rng, (n, c, h, w_), np.float32)
    w = _rand(rng, (k, c // groups, r, s), np.float32)
    b = _rand(rng, (k,), np.float32)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride, padding, dilation, groups)
    dy = _rand(rng, tuple(ty.shape), np.float32)
    ty.backward(torch.tensor(dy))
    y, dx, dw, db = _run_all(x, w, b, dy, stride, padding, dilation, groups)
    assert_allclose(y, ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    assert_allclose(dx, tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert_allclose(dw, tw.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert_allclose(db, tb.grad.numpy(), rtol=1e-4, atol=1e-4)


# ---- argument checks -------------------------------------------------------------------


def _xw(dtype=np.float32):
    return np.zeros((2, 4, 5, 5), dtype), np.zeros((6, 4, 3, 3), dtype)


def test_forward_errors():
    x, w = _xw()
    f = _C.conv2d_forward
    with pytest.raises(
        ValueError, match="conv2d_forward: input has 4 channels but weight expects 2"
    ):
        f(x, np.zeros((6, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="conv2d_forward: .*not divisible by groups=4"):
        f(x, np.zeros((6, 1, 3, 3), np.float32), groups=4)
    with pytest.raises(ValueError, match="conv2d_forward: .*larger than the padded input"):
        f(x, np.zeros((6, 4, 6, 3), np.float32))
    with pytest.raises(ValueError, match="conv2d_forward: .*larger than the padded input"):
        f(x, w, None, 1, 0, (3, 1))
    for kw in (dict(stride=0), dict(stride=(1, -1)), dict(dilation=0), dict(padding=-1)):
        with pytest.raises(ValueError, match="conv2d_forward"):
            f(x, w, **kw)
    with pytest.raises(ValueError, match="conv2d_forward: groups"):
        f(x, w, groups=0)
    with pytest.raises(ValueError, match="conv2d_forward: stride must have 2"):
        f(x, w, stride=(1, 1, 1))
    with pytest.raises(TypeError, match="conv2d_forward: stride"):
        f(x, w, stride="a")
    with pytest.raises(TypeError, match="conv2d_forward: x must be float32 or float64"):
        f(x.astype(np.int32), w)
    with pytest.raises(TypeError, match="conv2d_forward: weight must be float32"):
        f(x, w.astype(np.float64))
    with pytest.raises(TypeError, match="conv2d_forward: bias must be float32"):
        f(x, w, np.zeros(6, np.float64))
    with pytest.raises(ValueError, match=r"conv2d_forward: bias must have shape \(6,\)"):
        f(x, w, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="conv2d_forward: x must have 4 dimensions"):
        f(x[0], w)
    with pytest.raises(ValueError, match="conv2d_forward: weight must have 4 dimensions"):
        f(x, w[0])
    with pytest.raises(ValueError, match="conv2d_forward: x must be C-contiguous"):
        f(np.zeros((2, 5, 5, 4), np.float32).transpose(0, 3, 1, 2), w)
    with pytest.raises(ValueError, match="conv2d_forward: weight must be C-contiguous"):
        f(x, np.zeros((6, 4, 3, 6), np.float32)[..., ::2])
    with pytest.raises(ValueError, match="conv2d_forward: weight must have positive sizes"):
        f(x, np.zeros((0, 4, 3, 3), np.float32))


def test_backward_input_errors():
    x, w = _xw()
    dy = np.zeros((2, 6, 3, 3), np.float32)
    f = _C.conv2d_backward_input
    assert f(dy, w, (5, 5)).shape == x.shape
    with pytest.raises(ValueError, match="conv2d_backward_input: dy has 5 channels"):
        f(np.zeros((2, 5, 3, 3), np.float32), w, (5, 5))
    with pytest.raises(ValueError, match="conv2d_backward_input: dy must have spatial size"):
        f(dy, w, (6, 5))
    with pytest.raises(ValueError, match="conv2d_backward_input: .*larger than the padded"):
        f(dy, w, (2, 5))
    with pytest.raises(ValueError, match="conv2d_backward_input: input_hw must be > 0"):
        f(dy, w, (0, 5))
    with pytest.raises(ValueError, match="conv2d_backward_input: .*not divisible by groups=4"):
        f(dy, w, (5, 5), groups=4)
    with pytest.raises(TypeError, match="conv2d_backward_input: weight must be float32"):
        f(dy, w.astype(np.float64), (5, 5))
    with pytest.raises(ValueError, match="conv2d_backward_input: dy must be C-contiguous"):
        f(np.zeros((2, 6, 3, 6), np.float32)[..., ::2], w, (5, 5))
    with pytest.raises(ValueError, match="conv2d_backward_input: dy must have 4 dimensions"):
        f(dy[0], w, (5, 5))
    with pytest.raises(ValueError, match="conv2d_backward_input: stride"):
        f(dy, w, (5, 5), stride=0)


def test_backward_weight_errors():
    x, w = _xw()
    dy = np.zeros((2, 6, 3, 3), np.float32)
    f = _C.conv2d_backward_weight
    assert f(dy, x, (3, 3)).shape == w.shape
    with pytest.raises(
        ValueError, match="conv2d_backward_weight: dy and x must have the same batch"
    ):
        f(np.zeros((3, 6, 3, 3), np.float32), x, (3, 3))
    with pytest.raises(ValueError, match="conv2d_backward_weight: dy must have spatial size"):
        f(dy, x, (2, 3))
    with pytest.raises(ValueError, match="conv2d_backward_weight: 6 output channels are not"):
        f(dy, x, (3, 3), groups=4)
    with pytest.raises(ValueError, match="conv2d_backward_weight: 4 input channels are not"):
        f(np.zeros((2, 6, 3, 3), np.float32), x, (3, 3), groups=3)
    with pytest.raises(ValueError, match="conv2d_backward_weight: .*larger than the padded"):
        f(dy, x, (6, 3))
    with pytest.raises(ValueError, match="conv2d_backward_weight: kernel_hw must be > 0"):
        f(dy, x, (0, 3))
    with pytest.raises(TypeError, match="conv2d_backward_weight: x must be float32"):
        f(dy, x.astype(np.float64), (3, 3))
    with pytest.raises(ValueError, match="conv2d_backward_weight: x must be C-contiguous"):
        f(dy, np.zeros((2, 4, 5, 10), np.float32)[..., ::2], (3, 3))
    with pytest.raises(ValueError, match="conv2d_backward_weight: padding must be >= 0"):
        f(dy, x, (3, 3), padding=(-1, 0))


def test_absurd_sizes_rejected():
    # Issue 16: padding=2**63-1 overflowed the output-size formula (undefined behaviour) and
    # returned zeros; every index and size is now checked against int64 first.
    x, w = np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 3, 3), np.float32)
    with pytest.raises(ValueError, match="conv2d_forward: the window overflows int64 .* padding"):
        _C.conv2d_forward(x, w, None, 1, 2**63 - 1)
    with pytest.raises(ValueError, match=r"conv2d_forward: padding and stride give an output"):
        _C.conv2d_forward(x, w, None, 1, 2**40)
    with pytest.raises(ValueError, match="conv2d_forward: the window overflows int64 .* stride"):
        _C.conv2d_forward(x, w, None, 2**62, 2**61)
    with pytest.raises(ValueError, match="conv2d_forward: the window overflows int64 .*dilation"):
        _C.conv2d_forward(x, w, None, 1, 1, (1, 2**62))
    dy = np.ones((1, 1, 2, 2), np.float32)
    with pytest.raises(ValueError, match="conv2d_backward_input: the window overflows int64"):
        _C.conv2d_backward_input(dy, w, (2**62, 2**62), 2**62)
    with pytest.raises(ValueError, match=r"conv2d_backward_input: the input \(N, C, H, W\)"):
        _C.conv2d_backward_input(dy, w, (2**40, 2**40), 2**40)
    with pytest.raises(ValueError, match=r"conv2d_backward_weight: the kernel \(K, C/groups"):
        _C.conv2d_backward_weight(dy, x, (2**40, 2**40), 1, 2**39)
    with pytest.raises(ValueError, match="conv2d_forward: the window overflows int64"):
        F.conv2d(gc.tensor(x), gc.tensor(w), None, 1, 2**63 - 1)


def test_backward_bias_errors():
    with pytest.raises(TypeError, match="conv2d_backward_bias: dy must be float32 or float64"):
        _C.conv2d_backward_bias(np.zeros((2, 3, 4, 4), np.int64))
    with pytest.raises(ValueError, match="conv2d_backward_bias: dy must have at least 2"):
        _C.conv2d_backward_bias(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="conv2d_backward_bias: dy must be C-contiguous"):
        _C.conv2d_backward_bias(np.zeros((2, 3, 4, 8), np.float32)[..., ::2])
    with pytest.raises(ValueError, match="conv2d_backward_bias: dy must be C-contiguous"):
        _C.conv2d_backward_bias(np.ones((4, 3, 2)).transpose(1, 0, 2))


# conv2d_backward_bias sums dy (N, K, *) over every axis but 1 (it replaced _C.sum_channels,
# which computed the same sum and had no caller).
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape", [(1, 1), (4, 3), (2, 3, 5), (1, 1, 1, 1), (2, 3, 4, 5), (3, 2, 200, 200), (2, 3, 0)]
)
def test_backward_bias_shapes(rng, dtype, shape):
    dy = np.asarray(rng.standard_normal(shape), dtype)
    db = _C.conv2d_backward_bias(dy)
    assert db.shape == (shape[1],) and db.dtype == dtype
    axes = (0,) + tuple(range(2, len(shape)))
    want = dy.astype(np.float64).sum(axis=axes)
    # float32 sums a plane in 16 float32 lanes (double across planes): about 1e-6 relative
    # error on 40,000-element planes, where sum_channels (double throughout) had 1e-7.
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-12)
    assert_allclose(db, want, **tol)


def test_backward_bias_vs_torch(torch, rng):
    dy = np.asarray(rng.standard_normal((8, 6, 5, 5)), np.float32)
    want = torch.tensor(dy).sum(dim=(0, 2, 3)).numpy()
    assert_allclose(_C.conv2d_backward_bias(dy), want, 1e-5, 1e-5)


@pytest.mark.parametrize("shape", [(16, 8, 32, 32), (1, 2, 300_000), (50_000, 5)])
def test_backward_bias_threads_bitwise(rng, shape):
    dy = np.asarray(rng.standard_normal(shape) + 0.1, np.float32)
    with num_threads(1):
        s1 = _C.conv2d_backward_bias(dy)
    with num_threads(2):
        s2 = _C.conv2d_backward_bias(dy)
    assert np.array_equal(s1, s2)


def test_backward_bias_nan_propagates():
    dy = np.ones((2, 3, 4))
    dy[1, 2, 3] = np.nan
    db = _C.conv2d_backward_bias(dy)
    assert np.isnan(db[2]) and db[0] == 8


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "case",
    [  # n, c, h, w, k, r, s, stride, padding, dilation, groups: "same" width (implicit GEMM)
        (1, 1, 40, 37, 2, 15, 15, (1, 1), (7, 7), (1, 1), 1),
        (1, 2, 9, 5, 3, 9, 5, (1, 1), (6, 2), (1, 1), 1),  # padding rows past the kernel
        (1, 3, 30, 12, 2, 5, 7, (1, 1), (0, 6), (2, 2), 1),
        (2, 64, 12, 11, 4, 7, 3, (1, 1), (3, 1), (1, 1), 1),  # input gradient as a conv
        (1, 4, 17, 3, 4, 1, 3, (1, 1), (2, 1), (1, 1), 2),
    ],
)
def test_large_kernels_and_padding_on_implicit_path(rng, dtype, case):
    """Kernels and padding as large as the image (the tap masks' row ranges and column lanes,
    issue 16 item 6) against the reference, on each CPU path."""
    _check_against_reference(rng, dtype, *case)
