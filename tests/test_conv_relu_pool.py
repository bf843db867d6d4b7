"""The fused Conv2d -> ReLU -> MaxPool2d(2) op: the kernel against conv2d_forward then
max_pool2d_relu_forward (bit for bit, every CPU path, both dtypes, each convolution path: the
direct first-layer kernel, the implicit GEMM, and the two-kernel fallback), its autograd node
against the unfused ops and finite differences, and nn.Sequential's choice of it."""

import numpy as np
import pytest
from conftest import num_threads

import gradcore as gc
import gradcore.nn.functional as F
from gradcore import _C, nn
from gradcore.ops.conv_relu_pool import conv2d_relu_max_pool2d
from gradcore.ops.pool import max_pool2d_relu

DTYPES = (np.float32, np.float64)
ONE = ((1, 1), (1, 1), (1, 1), 1)

# (N, C, H, W, K, R, S, geom): first layers (C*R*S <= 16: the direct kernel where the path has
# it), "same" 3x3 convolutions (the implicit GEMM), odd sizes (odd conv outputs leave a row and
# a column outside every cell), and geometries with neither (stride 2, groups, dilation,
# 1x1, few output pixels: the fallback).
CASES = [
    (3, 1, 28, 28, 32, 3, 3, ONE),
    (2, 1, 9, 11, 5, 3, 3, ONE),
    (3, 32, 14, 14, 64, 3, 3, ONE),
    (2, 6, 13, 15, 7, 3, 3, ONE),
    (2, 4, 12, 10, 6, 3, 3, ((2, 2), (1, 1), (1, 1), 2)),
    (2, 4, 11, 12, 8, 3, 3, ((1, 1), (2, 2), (2, 2), 1)),
    (2, 5, 8, 9, 3, 1, 1, ((1, 1), (0, 0), (1, 1), 1)),
    (5, 3, 4, 5, 4, 3, 3, ((1, 1), (0, 1), (1, 1), 1)),
]


def two_kernels(x, w, b, geom):
    """The unfused reference: conv2d_forward, then max_pool2d_relu_forward."""
    return _C.max_pool2d_relu_forward(_C.conv2d_forward(x, w, b, *geom))


def operands(rng, case, dtype, bias=True):
    n, c, h, w_, k, r, s, geom = case
    x = rng.standard_normal((n, c, h, w_)).astype(dtype)
    x[0, 0, :2, :2] = -1.0  # some cells with no positive value
    w = rng.standard_normal((k, c // geom[3], r, s)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype) if bias else None
    return x, w, b


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_is_conv_then_relu_pool_bitwise(rng, cpu_capability, dtype):
    for case in CASES:
        for bias in (True, False):
            x, w, b = operands(rng, case, dtype, bias)
            y, cells = _C.conv2d_relu_max_pool2d_forward(x, w, b, *case[-1])
            want_y, want_cells = two_kernels(x, w, b, case[-1])
            assert y.shape == want_y.shape and cells.dtype == np.uint8, case
            assert y.tobytes() == want_y.tobytes(), case
            assert cells.tobytes() == want_cells.tobytes(), case


def test_kernel_one_and_two_threads_and_errors(rng):
    x, w, b = operands(rng, (9, 32, 14, 14, 64, 3, 3, ONE), np.float32)
    out = {}
    for t in (1, 2):
        with num_threads(t):
            out[t] = _C.conv2d_relu_max_pool2d_forward(x, w, b, *ONE)
    assert all(a.tobytes() == c.tobytes() for a, c in zip(out[1], out[2]))
    op = "conv2d_relu_max_pool2d_forward"
    with pytest.raises(ValueError, match=op):  # 31 channels for a 32-channel weight
        _C.conv2d_relu_max_pool2d_forward(x[:, :31], w, b, *ONE)
    with pytest.raises(TypeError, match=op):
        _C.conv2d_relu_max_pool2d_forward(x.astype(np.float64), w, b, *ONE)
    with pytest.raises(ValueError, match=op):
        _C.conv2d_relu_max_pool2d_forward(x[:, :, :, ::2], w, b, *ONE)  # not contiguous
    one_row = np.ascontiguousarray(x[:, :, :1])  # a 1-row convolution output: no pooled row
    y, cells = _C.conv2d_relu_max_pool2d_forward(one_row, w, b, *ONE)
    assert y.shape == (9, 64, 0, 7) and cells.shape == y.shape


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_kernel_is_unpool_then_conv_gradients_bitwise(rng, cpu_capability, dtype):
    """dx, dw and db of the block (per-image unpooling where the convolution has a by-image
    backward: the direct first-layer weight gradient, the implicit weight gradient with the
    explicit input gradient; the kernels in turn elsewhere) against max_pool2d_relu_backward
    and conv2d_backward_input / _weight / _bias, with and without dx and db."""
    for case in CASES + [(3, 64, 9, 9, 8, 3, 3, ONE)]:  # + an implicit input gradient (C >= 64)
        x, w, _ = operands(rng, case, dtype)
        geom = case[-1]
        _, cells = _C.conv2d_relu_max_pool2d_forward(x, w, None, *geom)
        g = rng.standard_normal(cells.shape).astype(dtype)
        dc = _C.max_pool2d_relu_backward(g, cells, _C.conv2d_forward(x, w, None, *geom).shape)
        want_dx = _C.conv2d_backward_input(dc, w, x.shape[2:], *geom)
        want_dw = _C.conv2d_backward_weight(dc, x, w.shape[2:], *geom)
        want_db = _C.conv2d_backward_bias(dc)
        for input_grad, bias in [(True, True), (False, True), (True, False), (False, False)]:
            dx, dw, db = _C.conv2d_relu_max_pool2d_backward(g, cells, x, w, *geom, input_grad, bias)
            assert dw.tobytes() == want_dw.tobytes(), (case, input_grad, bias)
            assert (dx is None) != input_grad and (db is None) != bias
            if input_grad:
                assert dx.tobytes() == want_dx.tobytes(), (case, bias)
            if bias:
                assert db.tobytes() == want_db.tobytes(), (case, input_grad)


def test_backward_kernel_threads_and_errors(rng):
    for case in [(17, 1, 12, 12, 8, 3, 3, ONE), (9, 32, 14, 14, 64, 3, 3, ONE)]:
        x, w, _ = operands(rng, case, np.float32)
        _, cells = _C.conv2d_relu_max_pool2d_forward(x, w, None, *ONE)
        g = rng.standard_normal(cells.shape).astype(np.float32)
        out = {}
        for t in (1, 2):
            with num_threads(t):
                out[t] = _C.conv2d_relu_max_pool2d_backward(g, cells, x, w, *ONE, True, True)
        assert all(a.tobytes() == b.tobytes() for a, b in zip(out[1], out[2]))
    op = "conv2d_relu_max_pool2d_backward"
    bad = cells.copy()
    bad[3, 2, 1, 1] = 7
    with pytest.raises(ValueError, match="1 cells are above 4"):
        _C.conv2d_relu_max_pool2d_backward(g, bad, x, w, *ONE, True, True)
    with pytest.raises(ValueError, match=op):  # dy of the wrong shape
        _C.conv2d_relu_max_pool2d_backward(
            g[:, :, :5].copy(), cells[:, :, :5].copy(), x, w, *ONE, True, True
        )
    with pytest.raises(TypeError, match=op):
        _C.conv2d_relu_max_pool2d_backward(g, cells.astype(np.int32), x, w, *ONE, True, True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_op_values_and_gradients_match_the_unfused_ops(rng, dtype):
    """The autograd node against F.conv2d then max_pool2d_relu: the same bits forward and for
    dx, dw and db; and against float64 finite differences."""
    for case in CASES[1:5]:
        x, w, b = operands(rng, case, dtype)
        geom = case[-1]
        fused_in = [gc.tensor(v, requires_grad=True) for v in (x, w, b)]
        plain_in = [gc.tensor(v, requires_grad=True) for v in (x, w, b)]
        y = conv2d_relu_max_pool2d(*fused_in, geom)
        want = max_pool2d_relu(F.conv2d(*plain_in, *geom))
        assert y.numpy().tobytes() == want.numpy().tobytes(), case
        g = rng.standard_normal(y.shape).astype(dtype)
        y.backward(gc.tensor(g))
        want.backward(gc.tensor(g))
        for got, exp in zip(fused_in, plain_in):
            assert got.grad.numpy().tobytes() == exp.grad.numpy().tobytes(), case
        with gc.no_grad():  # the no-grad shortcut gives the same output
            assert conv2d_relu_max_pool2d(*plain_in, geom).numpy().tobytes() == y.numpy().tobytes()
        # x needing no gradient (a first layer): dw and db by the per-image kernel
        wt, bt = gc.tensor(w, requires_grad=True), gc.tensor(b, requires_grad=True)
        conv2d_relu_max_pool2d(gc.tensor(x), wt, bt, geom).backward(gc.tensor(g))
        assert wt.grad.numpy().tobytes() == plain_in[1].grad.numpy().tobytes(), case
        assert bt.grad.numpy().tobytes() == plain_in[2].grad.numpy().tobytes(), case
    x, w, b = operands(rng, CASES[3], np.float64)
    geom = CASES[3][-1]
    xt = gc.tensor(x, requires_grad=True)
    y = conv2d_relu_max_pool2d(xt, gc.tensor(w), gc.tensor(b), geom)
    g = rng.standard_normal(y.shape)
    y.backward(gc.tensor(g))
    eps = 1e-6
    for i in [(0, 0, 3, 4), (1, 5, 12, 14), (1, 2, 0, 0)]:
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        f = [
            (
                conv2d_relu_max_pool2d(gc.tensor(v), gc.tensor(w), gc.tensor(b), geom).numpy() * g
            ).sum()
            for v in (xp, xm)
        ]
        assert abs((f[0] - f[1]) / (2 * eps) - xt.grad.numpy()[i]) < 1e-6, i


def block(in_channels=1, pool=None):
    return nn.Sequential(
        nn.Conv2d(in_channels, 8, 3, padding=1),
        nn.ReLU(),
        pool or nn.MaxPool2d(2),
        nn.Flatten(),
    )


def fused_calls(model, x) -> int:
    """How many conv2d_relu_max_pool2d_forward kernels model(x) runs (from the profiler)."""
    from gradcore import profiler

    with profiler.profile() as p:
        model(x)
    return sum(1 for e in p.events if e.name == "conv2d_relu_max_pool2d_forward")


def test_sequential_runs_the_block_fused_with_the_modules_results(rng):
    """Sequential's fused block gives the bits of its modules applied one by one, values and
    parameter gradients."""
    gc.manual_seed(0)
    model = block()
    x = gc.tensor(rng.standard_normal((3, 1, 11, 10)).astype(np.float32))
    g = gc.tensor(rng.standard_normal((3, 8 * 5 * 5)).astype(np.float32))
    assert fused_calls(model, x) == 1
    y = model(x)
    y.backward(g)
    fused_grads = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    z = x
    for m in model:  # the modules themselves, one by one
        z = m(z)
    z.backward(g)
    assert z.numpy().tobytes() == y.numpy().tobytes()
    for a, p in zip(fused_grads, model.parameters()):
        assert a.tobytes() == p.grad.numpy().tobytes()


def test_sequential_fuses_only_where_the_op_applies(rng):
    x32 = gc.tensor(rng.standard_normal((2, 1, 8, 8)).astype(np.float32))
    assert fused_calls(block(), x32) == 1
    assert fused_calls(block().to(dtype=np.float64), x32.double()) == 0  # float64
    assert fused_calls(block(pool=nn.MaxPool2d(3)), x32) == 0  # not 2x2 cells
    assert fused_calls(block(pool=nn.MaxPool2d(2, ceil_mode=True)), x32) == 0
    tiny = gc.tensor(rng.standard_normal((2, 1, 1, 8)).astype(np.float32))
    with pytest.raises(ValueError, match="max_pool2d"):  # a 1-row conv output: the modules run
        block()[:3](tiny)
    with gc.autocast():  # bfloat16 autocast: Conv2dBf16 rounds, so the modules run
        assert fused_calls(block(), x32) == 0
    wrapped = block()
    seen = []
    inner = wrapped[0].forward
    wrapped[0].forward = lambda t: seen.append(t.shape) or inner(t)  # a wrapper must see calls
    assert fused_calls(wrapped, x32) == 0 and seen == [(2, 1, 8, 8)]
    same = nn.Sequential(nn.Conv2d(1, 4, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2))
    assert fused_calls(same, x32) == 0  # string padding: conv2d resolves it
    with pytest.raises(ValueError, match="conv2d"):  # a channel mismatch still names conv2d
        block(in_channels=3)(x32)
