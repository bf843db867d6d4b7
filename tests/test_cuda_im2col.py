"""CUDA im2col / col2im and conv2d_backward_bias: the per-thread bodies through the CPU test
driver (everywhere) and the CUDA kernels on a GPU (skipped without one). _C has no im2col
binding, so im2col / col2im are compared with a numpy reference (exactly: col2im sums the
columns in the same (r, s) order); conv2d_backward_bias with _C's CPU kernel."""

import numpy as np
import pytest
from cuda_helpers import requires_gpu, to_cpu, to_gpu

from gradcore import _C

# (input shape, kernel_size, stride, padding, dilation)
CASES = [
    ((3, 5, 5, 7), 3, 2, 1, 1),
    ((3, 5, 5, 7), 3, 1, 1, 2),
    ((3, 5, 5, 7), 3, 2, 1, 2),
    ((1, 1, 1, 1), 1, 1, 0, 1),
    ((1, 1, 1, 1), 3, 1, 1, 1),
    ((2, 3, 6, 5), (3, 2), (2, 1), (1, 0), (1, 2)),
    ((2, 2, 4, 9), (1, 4), (1, 3), (0, 2), 1),
    ((1, 2, 5, 5), 2, 3, 3, 1),  # padding larger than half the kernel (allowed here)
]

BIAS_SHAPES = [
    (3, 5, 7, 5),
    (1, 1, 1, 1),
    (2, 3),
    (0, 4, 3, 3),
    (4, 2, 33, 33),
    (2, 300),
    (3, 5, 7),
]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _geometry(shape, k, s, p, d):
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = map(_pair, (k, s, p, d))
    H, W = shape[2:]
    OH = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    OW = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return kh, kw, sh, sw, ph, pw, dh, dw, OH, OW


def _slices(r, s, g):
    kh, kw, sh, sw, ph, pw, dh, dw, OH, OW = g
    return (
        slice(None),
        slice(None),
        slice(r * dh, r * dh + sh * (OH - 1) + 1, sh),
        slice(s * dw, s * dw + sw * (OW - 1) + 1, sw),
    )


def im2col_ref(x, k, s, p, d):
    g = _geometry(x.shape, k, s, p, d)
    kh, kw, sh, sw, ph, pw, dh, dw, OH, OW = g
    N, C = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    col = np.zeros((N, C, kh, kw, OH, OW), np.float32)
    for r in range(kh):
        for c in range(kw):
            col[:, :, r, c] = xp[_slices(r, c, g)]
    return col.reshape(N, C * kh * kw, OH * OW)


def col2im_ref(col, shape, k, s, p, d):
    g = _geometry(shape, k, s, p, d)
    kh, kw, sh, sw, ph, pw, dh, dw, OH, OW = g
    N, C, H, W = shape
    cols = col.reshape(N, C, kh, kw, OH, OW)
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), np.float32)
    for r in range(kh):  # the kernel's order: r, then s
        for c in range(kw):
            xp[_slices(r, c, g)] += cols[:, :, r, c]
    return xp[:, :, ph : ph + H, pw : pw + W]


def _check_bias(db, dy):
    ref = _C.conv2d_backward_bias(dy)
    assert db.shape == ref.shape and db.dtype == np.float32
    scale = np.abs(dy).sum(axis=tuple(i for i in range(dy.ndim) if i != 1)) if dy.size else 0
    np.testing.assert_allclose(db, ref, rtol=1e-6, atol=1e-6 * np.max(scale, initial=1.0))


@pytest.mark.parametrize("case", CASES)
def test_host_im2col_col2im_match_reference(case, rng):
    shape, k, s, p, d = case
    x = rng.standard_normal(shape).astype(np.float32)
    col = _C.cuda_host.im2col(x, k, s, p, d)
    assert col.dtype == np.float32
    np.testing.assert_array_equal(col, im2col_ref(x, k, s, p, d))
    dcol = rng.standard_normal(col.shape).astype(np.float32)
    dx = _C.cuda_host.col2im(dcol, shape, k, s, p, d)
    np.testing.assert_array_equal(dx, col2im_ref(dcol, shape, k, s, p, d))


def test_host_col2im_is_the_adjoint_of_im2col(rng):
    shape, k, s, p, d = CASES[2]
    x = rng.standard_normal(shape)
    col = _C.cuda_host.im2col(x.astype(np.float32), k, s, p, d)
    dcol = rng.standard_normal(col.shape).astype(np.float32)
    dx = _C.cuda_host.col2im(dcol, shape, k, s, p, d)
    lhs = np.dot(col.astype(np.float64).ravel(), dcol.astype(np.float64).ravel())
    rhs = np.dot(x.astype(np.float32).astype(np.float64).ravel(), dx.astype(np.float64).ravel())
    assert lhs == pytest.approx(rhs, rel=1e-5)


def test_host_im2col_defaults(rng):
    x = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    np.testing.assert_array_equal(_C.cuda_host.im2col(x, 3), im2col_ref(x, 3, 1, 0, 1))


@pytest.mark.parametrize("shape", BIAS_SHAPES)
def test_host_conv2d_backward_bias_matches_cpu(shape, rng):
    dy = rng.standard_normal(shape).astype(np.float32)
    _check_bias(_C.cuda_host.conv2d_backward_bias(dy), dy)


def test_host_errors():
    h = _C.cuda_host
    x = np.ones((1, 2, 4, 4), np.float32)
    with pytest.raises(TypeError, match="im2col"):
        h.im2col(x.astype(np.float64), 3)
    with pytest.raises(ValueError, match="im2col"):
        h.im2col(np.ones((2, 4, 4), np.float32), 3)
    with pytest.raises(ValueError, match="too small"):
        h.im2col(x, 5)
    with pytest.raises(ValueError, match="stride"):
        h.im2col(x, 3, 0)
    col = h.im2col(x, 3)
    with pytest.raises(TypeError, match="col2im"):
        h.col2im(col.astype(np.float64), x.shape, 3)
    with pytest.raises(ValueError, match="col2im"):
        h.col2im(col.reshape(-1), x.shape, 3)
    with pytest.raises(ValueError, match="col2im"):
        h.col2im(col, (1, 3, 4, 4), 3)
    with pytest.raises(TypeError, match="conv2d_backward_bias"):
        h.conv2d_backward_bias(np.ones((2, 3), np.float64))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        h.conv2d_backward_bias(np.ones(3, np.float32))


@requires_gpu
@pytest.mark.parametrize("case", CASES)
def test_gpu_im2col_col2im_match_reference(case, rng):
    from cuda_helpers import cuda_module

    c = cuda_module()
    shape, k, s, p, d = case
    x = rng.standard_normal(shape).astype(np.float32)
    col = to_cpu(c.im2col(to_gpu(x), k, s, p, d))
    np.testing.assert_array_equal(col, im2col_ref(x, k, s, p, d))
    dcol = rng.standard_normal(col.shape).astype(np.float32)
    dx = to_cpu(c.col2im(to_gpu(dcol), shape, k, s, p, d))
    np.testing.assert_array_equal(dx, col2im_ref(dcol, shape, k, s, p, d))


@requires_gpu
@pytest.mark.parametrize("shape", BIAS_SHAPES)
def test_gpu_conv2d_backward_bias_matches_cpu(shape, rng):
    from cuda_helpers import cuda_module

    dy = rng.standard_normal(shape).astype(np.float32)
    db = to_cpu(cuda_module().conv2d_backward_bias(to_gpu(dy)))
    _check_bias(db, dy)
    # the same bits as the host driver (same partials, same tree)
    np.testing.assert_array_equal(db, _C.cuda_host.conv2d_backward_bias(dy))


@requires_gpu
def test_gpu_errors():
    from cuda_helpers import cuda_module

    c = cuda_module()
    x = np.ones((1, 2, 4, 4), np.float32)
    with pytest.raises(TypeError, match="float32"):
        c.im2col(to_gpu(x.astype(np.float64)), 3)
    with pytest.raises(ValueError, match="4 dimensions"):
        c.im2col(to_gpu(np.ones((2, 4, 4), np.float32)), 3)
    with pytest.raises(ValueError, match="col must have shape"):
        c.col2im(c.im2col(to_gpu(x), 3), (1, 3, 4, 4), 3)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        c.conv2d_backward_bias(to_gpu(np.ones(3, np.float32)))
