"""conv_transpose2d / nn.ConvTranspose2d against a float64 numpy scatter reference, PyTorch
(forward and every gradient), finite differences, and every argument check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_allclose, num_threads

import gradcore
import gradcore.nn.functional as F
from gradcore import nn
from gradcore.autograd import gradcheck
from gradcore.ops.conv_transpose import conv_transpose2d

TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-10, atol=1e-10)}


def _rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _t(a, grad=True):
    return gradcore.tensor(a, requires_grad=grad)


def reference(x, w, b, stride, padding, output_padding, dilation, groups):
    """Direct scatter: y[n, c, ih*sh - ph + r*dh, iw*sw - pw + s*dw] += x[n, k, ih, iw] *
    w[k, c, r, s] for k in c's group, in float64, then cropped to (H_out, W_out)."""
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    n, c_in, h, wd = x.shape
    _, c_out_g, kh, kw = w.shape
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    h_out = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    w_out = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    full = np.zeros((n, c_out_g * groups, (h - 1) * sh + dh * (kh - 1) + 1 + oph,
                     (wd - 1) * sw + dw * (kw - 1) + 1 + opw))  # fmt: skip
    c_in_g = c_in // groups
    for g in range(groups):
        xg = x[:, g * c_in_g : (g + 1) * c_in_g]
        wg = w[g * c_in_g : (g + 1) * c_in_g]
        for r in range(kh):
            for s in range(kw):
                full[
                    :,
                    g * c_out_g : (g + 1) * c_out_g,
                    r * dh : r * dh + (h - 1) * sh + 1 : sh,
                    s * dw : s * dw + (wd - 1) * sw + 1 : sw,
                ] += np.einsum("nkhw,kc->nchw", xg, wg[:, :, r, s])
    y = full[:, :, ph : ph + h_out, pw : pw + w_out]
    assert y.shape[2:] == (h_out, w_out)
    if b is not None:
        y = y + b.astype(np.float64)[None, :, None, None]
    return y


# N, C_in, H, W, C_out, kernel, stride, padding, output_padding, dilation, groups
CASES = [
    (2, 3, 5, 5, 4, (3, 3), (1, 1), (0, 0), (0, 0), (1, 1), 1),
    (3, 4, 7, 6, 6, (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), 2),
    (2, 4, 5, 9, 4, (4, 3), (2, 3), (1, 0), (0, 2), (1, 1), 4),
    (1, 6, 4, 5, 3, (3, 2), (3, 2), (2, 1), (2, 1), (2, 1), 3),
    (2, 2, 6, 4, 5, (2, 3), (1, 2), (0, 1), (1, 0), (2, 3), 1),  # output_padding >= stride
    (2, 3, 3, 3, 2, (5, 5), (2, 2), (3, 2), (1, 0), (1, 2), 1),
    (4, 8, 8, 8, 8, (4, 4), (2, 2), (1, 1), (0, 0), (1, 1), 1),  # a decoder upsampling step
    (2, 5, 1, 1, 7, (1, 1), (1, 1), (0, 0), (0, 0), (1, 1), 1),  # 1x1 kernel and input
]


def _case_arrays(rng, case, dtype, bias=True):
    n, c_in, h, w_, c_out, k, stride, padding, out_pad, dilation, groups = case
    x = _rand(rng, (n, c_in, h, w_), dtype)
    w = _rand(rng, (c_in, c_out // groups) + k, dtype)
    b = _rand(rng, (c_out,), dtype) if bias else None
    return x, w, b, (stride, padding, out_pad, dilation, groups)


def _forward_backward(x, w, b, args, dy):
    stride, padding, out_pad, dilation, groups = args
    tx, tw = _t(x), _t(w)
    tb = None if b is None else _t(b)
    y = F.conv_transpose2d(tx, tw, tb, stride, padding, out_pad, groups, dilation)
    y.backward(gradcore.tensor(dy))
    return y, tx, tw, tb


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_forward_matches_reference(rng, case, dtype):
    x, w, b, args = _case_arrays(rng, case, dtype)
    y = F.conv_transpose2d(_t(x, False), _t(w, False), _t(b, False), *args[:3], args[4], args[3])
    assert y.dtype == dtype and not y.requires_grad
    tol = dict(TOL[dtype])
    tol["atol"] *= math.sqrt(w.shape[0] * w.shape[2] * w.shape[3])
    assert_allclose(y.numpy(), reference(x, w, b, *args[:4], args[4]), **tol)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(torch, rng, case, dtype, bias):
    x, w, b, args = _case_arrays(rng, case, dtype, bias)
    stride, padding, out_pad, dilation, groups = args
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    ty = torch.nn.functional.conv_transpose2d(
        tx, tw, tb, stride, padding, out_pad, groups, dilation
    )
    dy = _rand(rng, tuple(ty.shape), dtype)
    ty.backward(torch.tensor(dy))
    y, gx, gw, gb = _forward_backward(x, w, b, args, dy)
    tol = TOL[dtype]
    assert y.shape == tuple(ty.shape)
    assert_allclose(y.numpy(), ty.detach().numpy(), **tol, what="y")
    assert_allclose(gx.grad.numpy(), tx.grad.numpy(), **tol, what="dx")
    assert_allclose(gw.grad.numpy(), tw.grad.numpy(), **tol, what="dw")
    for g in (gx.grad, gw.grad):
        assert g.dtype == dtype and g.numpy().flags.c_contiguous
    if bias:
        assert_allclose(gb.grad.numpy(), tb.grad.numpy(), **tol, what="db")


@pytest.mark.parametrize(
    "case",
    [
        (2, 2, 3, 4, 3, (2, 3), (2, 1), (1, 0), (1, 0), (1, 1), 1),
        (1, 4, 3, 3, 2, (3, 2), (2, 2), (1, 1), (1, 0), (1, 2), 2),
        (2, 2, 3, 2, 2, (2, 2), (1, 1), (0, 0), (1, 1), (2, 2), 1),  # output_padding >= stride
    ],
)
def test_gradcheck(rng, case):
    x, w, b, args = _case_arrays(rng, case, np.float64)
    stride, padding, out_pad, dilation, groups = args

    def fn(x, w, b):
        return F.conv_transpose2d(x, w, b, stride, padding, out_pad, groups, dilation)

    assert gradcheck(fn, (_t(x), _t(w), _t(b)))


def test_only_needed_gradients(rng):
    x, w, b, args = _case_arrays(rng, CASES[1], np.float32)
    tx, tw, tb = _t(x, False), _t(w, True), _t(b, False)
    y = F.conv_transpose2d(tx, tw, tb, *args[:3], args[4], args[3])
    y.sum().backward()
    assert tx.grad is None and tb.grad is None and tw.grad is not None


def test_unbatched_input(rng):
    x, w, b, args = _case_arrays(rng, CASES[1], np.float64)
    stride, padding, out_pad, dilation, groups = args
    x1 = _t(x[1])
    y1 = F.conv_transpose2d(x1, _t(w), _t(b), stride, padding, out_pad, groups, dilation)
    y = F.conv_transpose2d(_t(x), _t(w), _t(b), stride, padding, out_pad, groups, dilation)
    assert y1.shape == y.shape[1:]
    np.testing.assert_array_equal(y1.numpy(), y.numpy()[1])
    y1.sum().backward()
    assert x1.grad.shape == x1.shape


def test_empty_batch(rng):
    x = np.zeros((0, 3, 4, 4), np.float32)
    w = _rand(rng, (3, 2, 3, 3), np.float32)
    tx, tw, tb = _t(x), _t(w), _t(np.ones(2, np.float32))
    y = F.conv_transpose2d(tx, tw, tb, stride=2)
    assert y.shape == (0, 2, 9, 9)
    y.sum().backward()
    assert tx.grad.shape == x.shape
    np.testing.assert_array_equal(tw.grad.numpy(), 0)
    np.testing.assert_array_equal(tb.grad.numpy(), 0)


def test_argument_forms(rng):
    x, w, b, _ = _case_arrays(rng, CASES[1], np.float32)
    tx, tw, tb = _t(x, False), _t(w, False), _t(b, False)
    y = F.conv_transpose2d(tx, tw, tb, 2, 1, 1, 2, 1).numpy()
    for kw in (
        dict(stride=(2, 2), padding=[1, 1], output_padding=(1,), dilation=(1, 1)),
        dict(stride=np.int64(2), padding=(np.int32(1), 1), output_padding=1, dilation=[1]),
    ):
        np.testing.assert_array_equal(conv_transpose2d(tx, tw, tb, groups=2, **kw).numpy(), y)
    # keyword order as PyTorch: groups comes before dilation positionally
    y2 = F.conv_transpose2d(tx, tw, tb, 2, 1, 0, 2, 2).numpy()
    np.testing.assert_array_equal(
        y2, conv_transpose2d(tx, tw, tb, 2, 1, dilation=2, groups=2).numpy()
    )


def test_non_contiguous_inputs(rng):
    x, w, b, args = _case_arrays(rng, CASES[0], np.float64)
    xt = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    wt = np.ascontiguousarray(w[:, :, ::-1])[:, :, ::-1]
    assert not xt.flags.c_contiguous and not wt.flags.c_contiguous
    y = F.conv_transpose2d(_t(xt), _t(wt), _t(b), *args[:3], args[4], args[3])
    assert_allclose(y.numpy(), reference(x, w, b, *args[:4], args[4]), **TOL[np.float64])


@pytest.mark.parametrize("case", [CASES[1], CASES[4], CASES[6]])
def test_one_and_two_threads_bitwise(rng, case):
    x, w, b, args = _case_arrays(rng, case, np.float32)
    stride, padding, out_pad, dilation, groups = args
    h_out, w_out = (
        (i - 1) * s - 2 * p + d * (k - 1) + op + 1
        for i, k, s, p, op, d in zip(x.shape[2:], w.shape[2:], stride, padding, out_pad, dilation)
    )
    dy = _rand(rng, (x.shape[0], w.shape[1] * groups, h_out, w_out), np.float32)
    results = []
    for threads in (1, 2):
        with num_threads(threads):
            y, gx, gw, gb = _forward_backward(x, w, b, args, dy)
        results.append((y.numpy(), gx.grad.numpy(), gw.grad.numpy(), gb.grad.numpy()))
    for a, c in zip(*results):
        np.testing.assert_array_equal(a, c)


# ---- nn.ConvTranspose2d ----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(in_channels=4, out_channels=6, kernel_size=3),
        dict(
            in_channels=4,
            out_channels=6,
            kernel_size=(3, 2),
            stride=2,
            padding=1,
            output_padding=1,
            groups=2,
            bias=False,
            dilation=(1, 2),
        ),
    ],
)
def test_module_matches_torch_state_dict(torch, rng, kwargs):
    tm = torch.nn.ConvTranspose2d(**kwargs)
    m = nn.ConvTranspose2d(**kwargs)
    sd_torch = tm.state_dict()
    sd = m.state_dict()
    assert list(sd) == list(sd_torch)
    for key in sd:
        assert tuple(sd[key].shape) == tuple(sd_torch[key].shape)
    m.load_state_dict({k: v.numpy() for k, v in sd_torch.items()})
    x = _rand(rng, (2, 4, 5, 6), np.float32)
    with torch.no_grad():
        ty = tm(torch.tensor(x)).numpy()
    assert_allclose(m(gradcore.tensor(x)).numpy(), ty, **TOL[np.float32])
    assert repr(m) == repr(tm)


def test_module_default_init_bounds():
    # fan_in = weight.shape[1] * kH * kW = out_channels/groups * 9 = 18 (not in_channels * 9)
    gradcore.manual_seed(0)
    m = nn.ConvTranspose2d(64, 4, 3, groups=2)
    assert m.weight.shape == (64, 2, 3, 3) and m.bias.shape == (4,)
    bound = 1 / math.sqrt(18)
    w = m.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(m.bias.numpy()).max() <= bound
    assert m.weight.dtype == np.float32
    assert nn.ConvTranspose2d(2, 2, 1, dtype=np.float64).weight.dtype == np.float64


@pytest.mark.parametrize("output_size", [(11, 13), [12, 14], (2, 6, 12, 13)])
def test_output_size(torch, rng, output_size):
    kwargs = dict(in_channels=3, out_channels=6, kernel_size=3, stride=2, padding=1, groups=3)
    tm = torch.nn.ConvTranspose2d(**kwargs)
    m = nn.ConvTranspose2d(**kwargs)
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    x = _rand(rng, (2, 3, 6, 7), np.float32)
    y = m(gradcore.tensor(x), output_size=output_size)
    with torch.no_grad():
        ty = tm(torch.tensor(x), output_size=list(output_size)).numpy()
    assert y.shape == ty.shape == (2, 6) + tuple(output_size)[-2:]
    assert_allclose(y.numpy(), ty, **TOL[np.float32])
    y1 = m(gradcore.tensor(x[0]), output_size=tuple(output_size)[-2:])  # unbatched
    assert_allclose(y1.numpy(), ty[0], **TOL[np.float32])


def test_output_size_errors():
    m = nn.ConvTranspose2d(3, 6, 3, stride=2, padding=1)  # smallest (11, 13) for 6x7 input
    x = gradcore.zeros(1, 3, 6, 7)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: requested output_size \(13, 13\)"):
        m(x, output_size=(13, 13))
    with pytest.raises(ValueError, match=r"ConvTranspose2d: requested output_size \(10, 13\)"):
        m(x, output_size=(10, 13))
    with pytest.raises(ValueError, match="ConvTranspose2d: for 4-d input, output_size must"):
        m(x, output_size=(6, 11, 13))


def test_module_errors():
    with pytest.raises(ValueError, match="ConvTranspose2d: in_channels .* divisible by groups"):
        nn.ConvTranspose2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="ConvTranspose2d: .*divisible by groups"):
        nn.ConvTranspose2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="ConvTranspose2d: groups must be > 0"):
        nn.ConvTranspose2d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match="ConvTranspose2d: only padding_mode='zeros'"):
        nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect")


def test_encoder_decoder_trains_one_step(rng):
    gradcore.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1),  # (N, 1, 8, 8) -> (N, 4, 4, 4)
        nn.ReLU(),
        nn.ConvTranspose2d(4, 1, 3, stride=2, padding=1, output_padding=1),  # -> (N, 1, 8, 8)
    )
    opt = gradcore.optim.SGD(model.parameters(), lr=0.1)
    x = gradcore.tensor(_rand(rng, (4, 1, 8, 8), np.float32))
    before = [p.numpy().copy() for p in model.parameters()]
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.mse_loss(model(x), x)
        loss.backward()
        for p in model.parameters():
            assert p.grad is not None and np.isfinite(p.grad.numpy()).all()
        opt.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses)) and losses[1] < losses[0]
    assert all(not np.array_equal(b, p.numpy()) for b, p in zip(before, model.parameters()))


# ---- argument checks -------------------------------------------------------------------


def _xwb(dtype=np.float32):
    x = gradcore.tensor(np.zeros((2, 4, 5, 5), dtype))
    w = gradcore.tensor(np.zeros((4, 3, 3, 3), dtype))
    b = gradcore.tensor(np.zeros(6, dtype))
    return x, w, b


def test_errors():
    x, w, b = _xwb()
    f = conv_transpose2d
    assert f(x, w, b, groups=2).shape == (2, 6, 7, 7)
    cases = [
        (TypeError, "input must be a Tensor", (x.numpy(), w), {}),
        (TypeError, "weight must be a Tensor", (x, w.numpy()), {}),
        (TypeError, "bias must be a Tensor", (x, w, b.numpy()), {}),
        (
            TypeError,
            "input must be float32 or float64",
            (gradcore.tensor(np.zeros((2, 4, 5, 5), np.int32)), w),
            {},
        ),
        (TypeError, "same dtype, got input float32, weight float64", (x, w.double()), {}),
        (TypeError, "bias float64", (x, w, b.double()), dict(groups=2)),
        (
            ValueError,
            r"3-d \(unbatched\) or 4-d .* got shape \(4, 5, 5, 1, 1\)",
            (gradcore.zeros(4, 5, 5, 1, 1), w),
            {},
        ),
        (ValueError, r"3-d \(unbatched\) or 4-d .* got shape \(5, 5\)", (x[0, 0], w), {}),
        (ValueError, "weight must have 4 dimensions", (x, w[0]), {}),
        (ValueError, "input has 4 channels but weight", (x, gradcore.zeros(3, 3, 3, 3)), {}),
        (ValueError, "not divisible by groups=3", (x, w), dict(groups=3)),
        (ValueError, "groups must be > 0", (x, w), dict(groups=0)),
        (TypeError, "groups must be an int", (x, w), dict(groups=1.5)),
        (ValueError, r"bias must have shape \(6,\)", (x, w, gradcore.zeros(3)), dict(groups=2)),
        (ValueError, "stride must be > 0", (x, w), dict(stride=(1, 0))),
        (ValueError, "dilation must be > 0", (x, w), dict(dilation=0)),
        (ValueError, "padding must be >= 0", (x, w), dict(padding=-1)),
        (ValueError, "output_padding must be >= 0", (x, w), dict(output_padding=(0, -1))),
        (
            ValueError,
            "output_padding must be smaller than either stride or dilation",
            (x, w),
            dict(stride=2, output_padding=2, dilation=2),
        ),
        (ValueError, "output_padding must be smaller", (x, w), dict(output_padding=(0, 1))),
        (ValueError, "stride must be an int or a pair", (x, w), dict(stride=(1, 1, 1))),
        (TypeError, "padding must be an int or a pair", (x, w), dict(padding="same")),
        (TypeError, "dilation must be an int or a pair", (x, w), dict(dilation=1.0)),
        (ValueError, "weight must have positive sizes", (x, gradcore.zeros(4, 0, 3, 3)), {}),
        (
            ValueError,
            "input must have positive spatial sizes",
            (gradcore.zeros(2, 4, 0, 5), w),
            {},
        ),
        (ValueError, r"output size \(-1, 7\) is not positive", (x, w), dict(padding=(4, 0))),
    ]
    for exc, msg, args, kwargs in cases:
        with pytest.raises(exc, match="conv_transpose2d: .*" + msg):
            f(*args, **kwargs)
