"""CUDA convolution (conv2d_forward / conv2d_backward_input / conv2d_backward_weight): the
plan of csrc/cuda/conv_plan.h (im2col + strided-batched GEMMs, the 1x1 shortcut, the bias
step, the weight gradient as one GEMM over the concatenated batch) run on the CPU by the test
driver _C.cuda_host (everywhere), and the CUDA kernels on a GPU (skipped without one), both
against _C's CPU kernels."""

import itertools

import numpy as np
import pytest
from cuda_helpers import requires_gpu, to_cpu, to_gpu

import gradcore.cuda
from gradcore import _C

RTOL = ATOL = 1e-5

# (N, C, K, groups): batch, input channels, output channels, channel groups
CHANNELS = [
    (1, 1, 1, 1),
    (2, 3, 4, 1),
    (3, 3, 1, 1),
    (3, 1, 4, 1),
    (2, 4, 6, 2),  # N >= groups: loop over groups, batch over images
    (1, 3, 6, 3),  # N < groups: batch over groups
    (2, 4, 8, 4),  # 1 < N < groups: loop over images, batch over groups
]

# (H, W, kernel, stride, padding, dilation): odd sizes, every combination that fits
GEOMETRIES = [
    (hw[0], hw[1], k, s, p, d)
    for hw, k, s, p, d in itertools.product([(5, 7), (1, 1)], [1, 3], [1, 2], [0, 1], [1, 2])
    if hw[0] + 2 * p - d * (k - 1) >= 1
] + [
    (6, 5, (3, 2), (2, 1), (1, 0), (1, 2)),  # every pair asymmetric
    (4, 9, (1, 4), (1, 3), (0, 2), 1),
    (5, 5, 2, 3, 3, 1),  # padding larger than half the kernel
    (8, 8, 1, 2, 0, 1),  # 1x1 with stride: not the shortcut
    (3, 4, 1, 1, 1, 1),  # 1x1 with padding: not the shortcut
]


def _args(geom):
    _, _, k, s, p, d = geom
    return k, s, p, d


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _inputs(rng, channels, geom):
    N, C, K, groups = channels
    H, W = geom[:2]
    kh, kw = _pair(geom[2])
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((K, C // groups, kh, kw)).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    return x, w, b


def _close(got, ref):
    assert got.shape == ref.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=ATOL)


def _check_all(m, x, w, b, geom, groups, rng, conv=lambda a: a, back=lambda a: a):
    """conv2d_forward (with and without bias), conv2d_backward_input and
    conv2d_backward_weight of module `m` vs _C (`conv` moves arrays to m, `back` from it)."""
    k, s, p, d = _args(geom)
    kw = {"stride": s, "padding": p, "dilation": d, "groups": groups}
    y_ref = _C.conv2d_forward(x, w, b, **kw)
    _close(back(m.conv2d_forward(conv(x), conv(w), conv(b), **kw)), y_ref)
    _close(back(m.conv2d_forward(conv(x), conv(w), None, **kw)), _C.conv2d_forward(x, w, **kw))
    dy = rng.standard_normal(y_ref.shape).astype(np.float32)
    hw = x.shape[2:]
    _close(
        back(m.conv2d_backward_input(conv(dy), conv(w), hw, **kw)),
        _C.conv2d_backward_input(dy, w, hw, **kw),
    )
    rs = w.shape[2:]
    _close(
        back(m.conv2d_backward_weight(conv(dy), conv(x), rs, **kw)),
        _C.conv2d_backward_weight(dy, x, rs, **kw),
    )


@pytest.mark.parametrize("geom", GEOMETRIES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_host_conv_matches_cpu(channels, geom, rng):
    x, w, b = _inputs(rng, channels, geom)
    _check_all(_C.cuda_host, x, w, b, geom, channels[3], rng)


def test_host_conv_defaults(rng):
    x = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    h = _C.cuda_host
    y = h.conv2d_forward(x, w)
    _close(y, _C.conv2d_forward(x, w))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    _close(h.conv2d_backward_input(dy, w, (5, 7)), _C.conv2d_backward_input(dy, w, (5, 7)))
    _close(h.conv2d_backward_weight(dy, x, 3), _C.conv2d_backward_weight(dy, x, 3))
    # keyword names as _C's
    _close(
        h.conv2d_forward(x=x, weight=w, bias=None, stride=1, padding=1, dilation=1, groups=1),
        _C.conv2d_forward(x, w, None, 1, 1, 1, 1),
    )
    _close(
        h.conv2d_backward_input(dy=dy, weight=w, input_hw=(5, 7)),
        _C.conv2d_backward_input(dy, w, (5, 7)),
    )
    _close(
        h.conv2d_backward_weight(dy=dy, x=x, kernel_hw=(3, 3)),
        _C.conv2d_backward_weight(dy, x, (3, 3)),
    )


def test_host_conv_larger_batch(rng):
    """A bigger batch and image: the concatenated weight-gradient GEMM has K = N*OH*OW."""
    x = rng.standard_normal((5, 6, 11, 13)).astype(np.float32)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    geom = (11, 13, 3, (2, 1), 1, (1, 2))
    k, s, p, d = _args(geom)
    y_ref = _C.conv2d_forward(x, w, b, s, p, d, 2)
    h = _C.cuda_host
    np.testing.assert_allclose(h.conv2d_forward(x, w, b, s, p, d, 2), y_ref, rtol=1e-5, atol=1e-4)
    dy = rng.standard_normal(y_ref.shape).astype(np.float32)
    np.testing.assert_allclose(
        h.conv2d_backward_input(dy, w, (11, 13), s, p, d, 2),
        _C.conv2d_backward_input(dy, w, (11, 13), s, p, d, 2),
        rtol=1e-5,
        atol=1e-4,
    )
    np.testing.assert_allclose(
        h.conv2d_backward_weight(dy, x, 3, s, p, d, 2),
        _C.conv2d_backward_weight(dy, x, 3, s, p, d, 2),
        rtol=1e-5,
        atol=1e-4,
    )


def test_host_conv_empty_batch(rng):
    h = _C.cuda_host
    x = np.zeros((0, 3, 5, 7), np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    y = h.conv2d_forward(x, w, np.ones(4, np.float32), padding=1)
    assert y.shape == (0, 4, 5, 7)
    dy = np.zeros((0, 4, 5, 7), np.float32)
    assert h.conv2d_backward_input(dy, w, (5, 7), padding=1).shape == (0, 3, 5, 7)
    dw = h.conv2d_backward_weight(dy, x, 3, padding=1)
    np.testing.assert_array_equal(dw, _C.conv2d_backward_weight(dy, x, 3, padding=1))
    np.testing.assert_array_equal(dw, np.zeros((4, 3, 3, 3), np.float32))


def _bad_calls():
    """(op, args, kwargs, exception) that _C and the CUDA bindings reject alike."""
    x = np.ones((2, 4, 5, 5), np.float32)
    w = np.ones((6, 2, 3, 3), np.float32)
    dy = np.ones((2, 6, 3, 3), np.float32)
    return [
        ("conv2d_forward", (x[0], w), {}, ValueError),  # rank
        ("conv2d_forward", (x, w[:, :1]), {}, ValueError),  # channels
        ("conv2d_forward", (x, w), {"groups": 3}, ValueError),  # groups divide neither
        ("conv2d_forward", (x, w[:5], None, 1, 0, 1, 2), {}, ValueError),  # K % groups
        ("conv2d_forward", (x, w), {"groups": 0}, ValueError),
        ("conv2d_forward", (x, np.ones((6, 4, 7, 7), np.float32)), {}, ValueError),  # too big
        ("conv2d_forward", (x, np.ones((6, 4, 3, 3), np.float32)), {"stride": 0}, ValueError),
        ("conv2d_forward", (x, np.ones((6, 4, 3, 3), np.float32)), {"padding": -1}, ValueError),
        ("conv2d_forward", (x, np.ones((6, 4, 3, 3), np.float32)), {"dilation": 0}, ValueError),
        (
            "conv2d_forward",
            (x, np.ones((6, 4, 3, 3), np.float32)),
            {"stride": (1, 2, 3)},
            ValueError,
        ),
        ("conv2d_forward", (x, np.ones((6, 4, 3, 3), np.float32)), {"stride": "a"}, TypeError),
        (
            "conv2d_forward",
            (x, np.ones((6, 4, 3, 3), np.float32), np.ones(5, np.float32)),
            {},
            ValueError,
        ),  # bias shape
        ("conv2d_forward", (x[:, :, :0], np.ones((6, 4, 3, 3), np.float32)), {}, ValueError),
        ("conv2d_backward_input", (dy, w, (5, 5)), {"groups": 2}, None),  # valid
        ("conv2d_backward_input", (dy, w, (6, 6)), {"groups": 2}, ValueError),  # dy size
        ("conv2d_backward_input", (dy[:, :5], w, (5, 5)), {"groups": 2}, ValueError),  # K
        ("conv2d_backward_input", (dy, w, (0, 5)), {"groups": 2}, ValueError),  # input_hw
        ("conv2d_backward_input", (dy, w, (5, 5)), {"groups": 4}, ValueError),
        ("conv2d_backward_weight", (dy, x, 3), {"groups": 2}, None),  # valid
        ("conv2d_backward_weight", (dy[:1], x, 3), {"groups": 2}, ValueError),  # batch
        ("conv2d_backward_weight", (dy, x, 2), {"groups": 2}, ValueError),  # dy size
        ("conv2d_backward_weight", (dy, x, 0), {"groups": 2}, ValueError),  # kernel_hw
        ("conv2d_backward_weight", (dy, x, 3), {"groups": 4}, ValueError),
        ("conv2d_backward_weight", (dy, x[0]), {}, TypeError),  # kernel_hw missing
    ]


@pytest.mark.parametrize("case", _bad_calls(), ids=lambda c: c[0])
def test_host_errors_match_cpu(case):
    """The driver checks its arguments as _C does, with the same messages."""
    op, args, kwargs, exc = case
    if exc is None:
        getattr(_C.cuda_host, op)(*args, **kwargs)
        return
    with pytest.raises(exc) as ref:
        getattr(_C, op)(*args, **kwargs)
    with pytest.raises(exc) as got:
        getattr(_C.cuda_host, op)(*args, **kwargs)
    assert str(got.value) == str(ref.value)


def test_host_errors_float32_only():
    h = _C.cuda_host
    x = np.ones((1, 2, 4, 4), np.float64)
    w = np.ones((3, 2, 3, 3), np.float64)
    with pytest.raises(TypeError, match="conv2d_forward: x must be float32"):
        h.conv2d_forward(x, w)
    with pytest.raises(TypeError, match="conv2d_forward: weight must be float32"):
        h.conv2d_forward(x.astype(np.float32), w)
    with pytest.raises(TypeError, match="conv2d_forward: bias must be float32"):
        h.conv2d_forward(x.astype(np.float32), w.astype(np.float32), np.ones(3))
    with pytest.raises(TypeError, match="conv2d_backward_input: dy must be float32"):
        h.conv2d_backward_input(np.ones((1, 3, 2, 2)), w, (4, 4))
    with pytest.raises(TypeError, match="conv2d_backward_weight: x must be float32"):
        h.conv2d_backward_weight(np.ones((1, 3, 2, 2), np.float32), x, 3)


# ---- GPU: _C_cuda on DeviceArrays (skipped without a GPU) ----------------------------------


def _gpu():
    from cuda_helpers import cuda_module

    gradcore.cuda.load_cublas()
    return cuda_module()


def _to_gpu_or_none(a):
    return None if a is None else to_gpu(a)


@requires_gpu
@pytest.mark.parametrize("geom", GEOMETRIES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_gpu_conv_matches_cpu(channels, geom, rng):
    x, w, b = _inputs(rng, channels, geom)
    _check_all(_gpu(), x, w, b, geom, channels[3], rng, conv=_to_gpu_or_none, back=to_cpu)


@requires_gpu
def test_gpu_conv_larger(rng):
    """A layer of a real network: 3x3 pad 1 on 32x32, batch 8, 64 -> 64 channels."""
    c = _gpu()
    x = rng.standard_normal((8, 64, 32, 32)).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    y_ref = _C.conv2d_forward(x, w, b, 1, 1)
    y = to_cpu(c.conv2d_forward(to_gpu(x), to_gpu(w), to_gpu(b), 1, 1))
    np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-4)
    dy = rng.standard_normal(y_ref.shape).astype(np.float32)
    dx = to_cpu(c.conv2d_backward_input(to_gpu(dy), to_gpu(w), (32, 32), 1, 1))
    np.testing.assert_allclose(dx, _C.conv2d_backward_input(dy, w, (32, 32), 1, 1), atol=1e-4)
    dw = to_cpu(c.conv2d_backward_weight(to_gpu(dy), to_gpu(x), 3, 1, 1))
    ref = _C.conv2d_backward_weight(dy, x, 3, 1, 1)
    np.testing.assert_allclose(dw, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@requires_gpu
def test_gpu_conv_empty_batch(rng):
    c = _gpu()
    x = to_gpu(np.zeros((0, 3, 5, 7), np.float32))
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    assert to_cpu(c.conv2d_forward(x, to_gpu(w), padding=1)).shape == (0, 4, 5, 7)
    dy = to_gpu(np.zeros((0, 4, 5, 7), np.float32))
    dw = to_cpu(c.conv2d_backward_weight(dy, x, 3, padding=1))
    np.testing.assert_array_equal(dw, np.zeros((4, 3, 3, 3), np.float32))


@requires_gpu
@pytest.mark.parametrize("case", _bad_calls(), ids=lambda c: c[0])
def test_gpu_errors_match_cpu(case):
    op, args, kwargs, exc = case
    c = _gpu()
    dargs = tuple(to_gpu(a) if isinstance(a, np.ndarray) else a for a in args)
    if exc is None:
        getattr(c, op)(*dargs, **kwargs)
        return
    with pytest.raises(exc) as ref:
        getattr(_C, op)(*args, **kwargs)
    with pytest.raises(exc) as got:
        getattr(c, op)(*dargs, **kwargs)
    if str(ref.value).startswith(op + ":"):  # not pybind11's signature mismatch
        assert str(got.value) == str(ref.value)


@requires_gpu
def test_gpu_errors_float32_only():
    c = _gpu()
    x = to_gpu(np.ones((1, 2, 4, 4)))
    w = to_gpu(np.ones((3, 2, 3, 3), np.float32))
    with pytest.raises(TypeError, match="conv2d_forward: x must be float32"):
        c.conv2d_forward(x, w)
    with pytest.raises(TypeError, match="conv2d_forward: bias must be"):
        c.conv2d_forward(to_gpu(np.ones((1, 2, 4, 4), np.float32)), w, np.ones(3, np.float32))
