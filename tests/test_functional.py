"""nn.functional: every differentiable op against finite differences (float64) and PyTorch."""

import numpy as np
import pytest
from conftest import assert_allclose

import gradcore as gc
import gradcore.nn.functional as F
from gradcore.autograd import gradcheck


def _t(a, rg=True):
    return gc.tensor(np.array(a), requires_grad=rg)


# (name, gradcore fn, torch fn name or None)
ACT = [
    ("relu", F.relu, "relu"),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), None),
    ("sigmoid", F.sigmoid, "sigmoid"),
    ("tanh", F.tanh, "tanh"),
    ("gelu", F.gelu, "gelu"),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), None),
    ("softmax1", lambda x: F.softmax(x, dim=1), None),
    ("softmax_last", lambda x: F.softmax(x, dim=-1), None),
    ("log_softmax0", lambda x: F.log_softmax(x, dim=0), None),
]


def _torch_act(torch, name):
    TF = torch.nn.functional
    return {
        "relu": TF.relu,
        "leaky_relu": lambda x: TF.leaky_relu(x, 0.2),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "gelu": TF.gelu,
        "gelu_tanh": lambda x: TF.gelu(x, approximate="tanh"),
        "softmax1": lambda x: TF.softmax(x, dim=1),
        "softmax_last": lambda x: TF.softmax(x, dim=-1),
        "log_softmax0": lambda x: TF.log_softmax(x, dim=0),
    }[name]


@pytest.mark.parametrize("name,fn,_", ACT, ids=[a[0] for a in ACT])
def test_activation_gradcheck(name, fn, _, rng):
    x = rng.standard_normal((2, 3, 4))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from relu's kink
    assert gradcheck(fn, (_t(x),))


@pytest.mark.parametrize("name,fn,_", ACT, ids=[a[0] for a in ACT])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_vs_torch(name, fn, _, dtype, rng, torch):
    x = rng.standard_normal((3, 5, 2)).astype(dtype)
    g = rng.standard_normal((3, 5, 2)).astype(dtype)
    gx = _t(x)
    tx = torch.tensor(x, requires_grad=True)
    y = fn(gx)
    ty = _torch_act(torch, name)(tx)
    y.backward(gc.tensor(g))
    ty.backward(torch.tensor(g))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    assert_allclose(y.numpy(), ty.detach().numpy(), **tol)
    assert_allclose(gx.grad.numpy(), tx.grad.numpy(), **tol)
    assert y.dtype == dtype and gx.grad.dtype == dtype


CONV_CASES = [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=1),
    dict(stride=1, padding=1, dilation=1, groups=2),
]


@pytest.mark.parametrize("kw", CONV_CASES)
def test_conv2d(kw, rng, torch):
    g = kw["groups"]
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((6, 4 // g, 3, 3))
    b = rng.standard_normal(6)
    xs, ws, bs = _t(x), _t(w), _t(b)
    assert gradcheck(lambda a, c, d: F.conv2d(a, c, d, **kw), (xs, ws, bs))
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    xs, ws, bs = _t(x), _t(w), _t(b)
    y = F.conv2d(xs, ws, bs, **kw)
    go = rng.standard_normal(ty.shape)
    y.backward(gc.tensor(go))
    ty.backward(torch.tensor(go))
    assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    for a, ta in ((xs, tx), (ws, tw), (bs, tb)):
        assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_conv2d_skips_unneeded_input_grad(rng, monkeypatch):
    x = gc.tensor(rng.standard_normal((1, 2, 5, 5)))  # the data: no grad wanted
    w = gc.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, padding="same")
    assert y.shape == (1, 3, 5, 5)
    called = []
    orig = gc._C.conv2d_backward_input
    monkeypatch.setattr(gc._C, "conv2d_backward_input", lambda *a: called.append(1) or orig(*a))
    y.sum().backward()
    assert not called and w.grad is not None and x.grad is None


POOL_CASES = [
    ("max", dict(kernel_size=2)),
    ("max", dict(kernel_size=3, stride=2, padding=1)),
    ("max", dict(kernel_size=(2, 3), stride=(1, 2), ceil_mode=True)),
    ("avg", dict(kernel_size=2)),
    ("avg", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ("avg", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=4)),
    ("adaptive", dict(output_size=(3, 2))),
    ("adaptive", dict(output_size=1)),
]


@pytest.mark.parametrize("kind,kw", POOL_CASES)
def test_pooling(kind, kw, rng, torch):
    TF = torch.nn.functional
    fns = {
        "max": (F.max_pool2d, TF.max_pool2d),
        "avg": (F.avg_pool2d, TF.avg_pool2d),
        "adaptive": (F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d),
    }
    f, tf = fns[kind]
    x = rng.permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8) / 10.0  # distinct: no max ties
    assert gradcheck(lambda a: f(a, **kw), (_t(x),))
    xs, tx = _t(x), torch.tensor(x, requires_grad=True)
    y, ty = f(xs, **kw), tf(tx, **kw)
    go = rng.standard_normal(ty.shape)
    y.backward(gc.tensor(go))
    ty.backward(torch.tensor(go))
    assert_allclose(y.numpy(), ty.detach().numpy())
    assert_allclose(xs.grad.numpy(), tx.grad.numpy())
    if kind == "max":
        _, idx = F.max_pool2d(gc.tensor(x), return_indices=True, **kw)
        _, tidx = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
        assert idx.dtype == np.int64 and np.array_equal(idx.numpy(), tidx.numpy())


def test_linear(rng, torch):
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4)
    assert gradcheck(F.linear, (_t(x), _t(w), _t(b)))
    assert gradcheck(lambda a, c: F.linear(a, c), (_t(rng.standard_normal((2, 3, 3))), _t(w)))
    xs, ws, bs = _t(x.astype(np.float32)), _t(w.astype(np.float32)), _t(b.astype(np.float32))
    tx, tw, tb = (torch.tensor(v.numpy(), requires_grad=True) for v in (xs, ws, bs))
    F.linear(xs, ws, bs).sum().backward()
    torch.nn.functional.linear(tx, tw, tb).sum().backward()
    for a, ta in ((xs, tx), (ws, tw), (bs, tb)):
        assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="linear"):
        F.linear(gc.ones(2, 5), gc.ones(4, 3))


def test_dropout(rng):
    x = gc.tensor(rng.standard_normal((50, 40)) + 3.0, requires_grad=True)
    gc.manual_seed(3)
    y = F.dropout(x, 0.3)
    kept = y.numpy() != 0
    assert 0.6 < kept.mean() < 0.8
    assert_allclose(y.numpy()[kept], x.numpy()[kept] / 0.7)
    y.sum().backward()
    assert_allclose(x.grad.numpy(), kept / 0.7)
    gc.manual_seed(3)
    assert np.array_equal(F.dropout(x, 0.3).numpy(), y.numpy())  # seeded by manual_seed
    assert F.dropout(x, 0.3, training=False) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)
    gc.manual_seed(5)
    assert gradcheck(lambda a: (gc.manual_seed(5), F.dropout(a, 0.4))[1], (_t(x.numpy()[:3, :4]),))


@pytest.mark.parametrize("shape", [(4, 3), (3, 3, 5), (2, 3, 4, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm(shape, training, rng, torch):
    x = rng.standard_normal(shape) * 2 + 1
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5

    def f(a, c, d):
        return F.batch_norm(
            a, gc.tensor(rm.copy()), gc.tensor(rv.copy()), c, d, training, 0.1, 1e-5
        )

    assert gradcheck(f, (_t(x), _t(w), _t(b)))
    xs, ws, bs = _t(x), _t(w), _t(b)
    grm, grv = gc.tensor(rm.copy()), gc.tensor(rv.copy())
    trm, trv = torch.tensor(rm.copy()), torch.tensor(rv.copy())
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    y = F.batch_norm(xs, grm, grv, ws, bs, training, 0.1, 1e-5)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training, 0.1, 1e-5)
    go = rng.standard_normal(shape)
    y.backward(gc.tensor(go))
    ty.backward(torch.tensor(go))
    assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-9, atol=1e-9)
    assert_allclose(grm.numpy(), trm.numpy(), rtol=1e-9, atol=1e-12)
    assert_allclose(grv.numpy(), trv.numpy(), rtol=1e-9, atol=1e-12)
    for a, ta in ((xs, tx), (ws, tw), (bs, tb)):
        assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-8, atol=1e-9)


LOSS_CASES = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", LOSS_CASES)
@pytest.mark.parametrize(
    "opts", [{}, {"label_smoothing": 0.1}, {"weight": True, "ignore_index": 1}]
)
def test_cross_entropy(reduction, opts, rng, torch):
    x = rng.standard_normal((6, 4))
    t = np.array([0, 1, 3, 2, 1, 0])
    opts = dict(opts)
    wt = rng.random(4) + 0.5 if opts.pop("weight", False) else None
    kw = dict(opts, reduction=reduction)
    gw = None if wt is None else gc.tensor(wt)
    tw = None if wt is None else torch.tensor(wt)
    assert gradcheck(lambda a: F.cross_entropy(a, gc.tensor(t), gw, **kw), (_t(x),))
    xs, tx = _t(x), torch.tensor(x, requires_grad=True)
    y = F.cross_entropy(xs, gc.tensor(t), gw, **kw)
    ty = torch.nn.functional.cross_entropy(tx, torch.tensor(t), tw, **kw)
    assert y.shape == tuple(ty.shape)
    (y * 1.5).sum().backward()
    (ty * 1.5).sum().backward()
    assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert_allclose(xs.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_cross_entropy_spatial_and_nll(rng, torch):
    x = rng.standard_normal((2, 3, 4, 2))
    t = rng.integers(0, 3, (2, 4, 2))
    for red in ("mean", "none"):
        y = F.cross_entropy(gc.tensor(x), gc.tensor(t), reduction=red)
        ty = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t), reduction=red)
        assert_allclose(y.numpy(), ty.numpy())
    assert gradcheck(lambda a: F.cross_entropy(a, gc.tensor(t)), (_t(x),))
    lp = rng.standard_normal((5, 3))
    tt = np.array([0, 2, 1, 2, 0])
    for red in LOSS_CASES:
        assert gradcheck(lambda a, r=red: F.nll_loss(a, gc.tensor(tt), reduction=r), (_t(lp),))
        y = F.nll_loss(gc.tensor(lp), gc.tensor(tt), reduction=red, ignore_index=2)
        ty = torch.nn.functional.nll_loss(
            torch.tensor(lp), torch.tensor(tt), reduction=red, ignore_index=2
        )
        assert_allclose(y.numpy(), ty.numpy())
    with pytest.raises(TypeError, match="int64"):
        F.cross_entropy(gc.tensor(x[:, :, 0, 0]), gc.tensor([0.5, 1.0]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(gc.tensor(x), gc.tensor(t), reduction="avg")


@pytest.mark.parametrize("reduction", LOSS_CASES)
def test_pointwise_losses(reduction, rng, torch):
    TF = torch.nn.functional
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    p = (rng.random((4, 3)) > 0.5).astype(np.float64)
    w, pw = rng.random((4, 3)) + 0.5, rng.random(3) + 0.5
    cases = [
        (F.mse_loss, TF.mse_loss, t, {}),
        (F.l1_loss, TF.l1_loss, t, {}),
        (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, p, {}),
        (
            lambda a, b, **k: F.binary_cross_entropy_with_logits(
                a, b, gc.tensor(w), pos_weight=gc.tensor(pw), **k
            ),
            lambda a, b, **k: TF.binary_cross_entropy_with_logits(
                a, b, torch.tensor(w), pos_weight=torch.tensor(pw), **k
            ),
            p,
            {},
        ),
    ]
    for f, tf, tgt, _kw in cases:
        assert gradcheck(
            lambda a, f=f, tgt=tgt: f(a, gc.tensor(tgt), reduction=reduction), (_t(x),)
        )
        xs, tx = _t(x), torch.tensor(x, requires_grad=True)
        y = f(xs, gc.tensor(tgt), reduction=reduction)
        ty = tf(tx, torch.tensor(tgt), reduction=reduction)
        (y * 2.0).sum().backward()
        (ty * 2.0).sum().backward()
        assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert_allclose(xs.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    # the target of mse/l1 is differentiable too
    assert gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), (_t(x), _t(t)))
    assert gradcheck(lambda a, b: F.l1_loss(a, b, reduction=reduction), (_t(x), _t(t)))
