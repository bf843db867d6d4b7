"""Activations: relu, leaky_relu, sigmoid, silu, tanh, gelu (exact and tanh)."""

import math

import numpy as np
import pytest
from conftest import assert_allclose, num_threads

from gradcore import _C

_erf = np.vectorize(math.erf, otypes=[np.float64])
SQRT_2_PI = math.sqrt(2.0 / math.pi)
SHAPES = [(), (1,), (7,), (3, 5), (2, 3, 4, 5), (1, 1, 1)]


def gelu_ref(x, approximate):
    x = np.asarray(x, np.float64)
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(SQRT_2_PI * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2.0)))


def gelu_grad_ref(x, approximate):
    x = np.asarray(x, np.float64)
    if approximate == "tanh":
        u = SQRT_2_PI * (x + 0.044715 * x**3)
        th = np.tanh(u)
        return 0.5 * (1 + th) + 0.5 * x * (1 - th**2) * SQRT_2_PI * (1 + 3 * 0.044715 * x**2)
    return 0.5 * (1 + _erf(x / math.sqrt(2.0))) + x * np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)


def sigmoid_ref(x):
    x = np.asarray(x, np.float64)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def silu_ref(x):
    x = np.asarray(x, np.float64)
    return x * sigmoid_ref(x)


def silu_grad_ref(x):
    s = sigmoid_ref(x)
    return s * (1 + np.asarray(x, np.float64) * (1 - s))


# name -> (forward(x), backward(dy, x, y), reference f, reference f')
OPS = {
    "relu": (
        _C.relu_forward,
        lambda dy, x, y: _C.relu_backward(dy, y),
        lambda x: np.maximum(x, 0.0),
        lambda x: (x > 0).astype(np.float64),
    ),
    "leaky_relu": (
        lambda x: _C.leaky_relu_forward(x, 0.2),
        lambda dy, x, y: _C.leaky_relu_backward(dy, x, 0.2),
        lambda x: np.where(x > 0, x, 0.2 * x),
        lambda x: np.where(x > 0, 1.0, 0.2),
    ),
    "sigmoid": (
        _C.sigmoid_forward,
        lambda dy, x, y: _C.sigmoid_backward(dy, y),
        sigmoid_ref,
        lambda x: sigmoid_ref(x) * (1 - sigmoid_ref(x)),
    ),
    "silu": (
        _C.silu_forward,
        lambda dy, x, y: _C.silu_backward(dy, x),
        silu_ref,
        silu_grad_ref,
    ),
    "tanh": (
        _C.tanh_forward,
        lambda dy, x, y: _C.tanh_backward(dy, y),
        np.tanh,
        lambda x: 1 - np.tanh(x) ** 2,
    ),
    "gelu": (
        _C.gelu_forward,
        lambda dy, x, y: _C.gelu_backward(dy, x),
        lambda x: gelu_ref(x, "none"),
        lambda x: gelu_grad_ref(x, "none"),
    ),
    "gelu_tanh": (
        lambda x: _C.gelu_forward(x, "tanh"),
        lambda dy, x, y: _C.gelu_backward(dy, x, "tanh"),
        lambda x: gelu_ref(x, "tanh"),
        lambda x: gelu_grad_ref(x, "tanh"),
    ),
}


def _away_from_kink(rng, shape, dtype):
    """Random inputs not within 1e-3 of 0 (relu/leaky_relu kinks) for finite differences."""
    x = rng.standard_normal(shape) * 2
    x = np.where(np.abs(x) < 1e-3, 0.5, x)
    return np.asarray(x, dtype)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_backward_vs_numpy(rng, name, dtype, shape):
    fwd, bwd, f, df = OPS[name]
    x = _away_from_kink(rng, shape, dtype)
    dy = np.asarray(rng.standard_normal(shape), dtype)
    y = fwd(x)
    assert y.dtype == dtype and y.shape == x.shape
    tol = dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    assert_allclose(y, f(x.astype(np.float64)), **tol, what=f"{name} forward")
    dx = bwd(dy, x, y)
    assert dx.dtype == dtype and dx.shape == x.shape
    ref = dy.astype(np.float64) * df(x.astype(np.float64))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    assert_allclose(dx, ref, **tol, what=f"{name} backward")


@pytest.mark.parametrize("name", sorted(OPS))
def test_backward_vs_finite_differences(rng, name):
    fwd, bwd, _, _ = OPS[name]
    x = _away_from_kink(rng, (3, 7), np.float64)
    dy = rng.standard_normal(x.shape)
    dx = bwd(dy, x, fwd(x))
    h = 1e-6
    num = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        num[idx] = np.sum((fwd(xp) - fwd(xm)) * dy) / (2 * h)
    assert_allclose(dx, num, rtol=1e-6, atol=1e-8, what=f"{name} finite differences")


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vs_torch(torch, rng, name, dtype):
    fwd, bwd, _, _ = OPS[name]
    F = torch.nn.functional
    tf = {
        "relu": F.relu,
        "leaky_relu": lambda t: F.leaky_relu(t, 0.2),
        "sigmoid": torch.sigmoid,
        "silu": F.silu,
        "tanh": torch.tanh,
        "gelu": F.gelu,
        "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
    }[name]
    x = np.asarray(rng.standard_normal((4, 33)) * 4, dtype)
    x[0, :3] = [0.0, 30.0, -30.0]
    dy = np.asarray(rng.standard_normal(x.shape), dtype)
    xt = torch.tensor(x, requires_grad=True)
    yt = tf(xt)
    yt.backward(torch.tensor(dy))
    y = fwd(x)
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    assert_allclose(y, yt.detach().numpy(), **tol, what=f"{name} forward vs torch")
    assert_allclose(bwd(dy, x, y), xt.grad.numpy(), **tol, what=f"{name} backward vs torch")


@pytest.mark.parametrize("name", sorted(OPS))
def test_threads_bitwise(rng, name):
    fwd, bwd, _, _ = OPS[name]
    x = np.asarray(rng.standard_normal(100_003), np.float32)
    dy = np.asarray(rng.standard_normal(x.shape), np.float32)
    out = []
    for n in (1, 2):
        with num_threads(n):
            y = fwd(x)
            out.append((y, bwd(dy, x, y)))
    assert np.array_equal(out[0][0], out[1][0])
    assert np.array_equal(out[0][1], out[1][1])


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_propagates(name, dtype):
    fwd, _, _, _ = OPS[name]
    x = np.array([np.nan, 1.0, -1.0, np.nan], dtype)
    y = fwd(x)
    assert np.isnan(y[0]) and np.isnan(y[3]) and not np.isnan(y[1:3]).any()


def test_relu_backward_follows_torch_threshold_semantics():
    # dx = dy where y > 0 (y = NaN passes dy, as in PyTorch's threshold_backward).
    y = np.array([np.nan, 0.0, -0.0, 2.0, -1.0])
    dy = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert np.array_equal(_C.relu_backward(dy, y), [1.0, 0.0, 0.0, 4.0, 0.0])
    assert np.isnan(_C.relu_backward(np.array([np.nan]), np.array([1.0]))[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_stable_for_large_inputs(dtype):
    x = np.array([-1e4, -200.0, -80.0, 0.0, 80.0, 200.0, 1e4, -np.inf, np.inf], dtype)
    with np.errstate(all="raise"):
        y = _C.sigmoid_forward(x)
    assert np.isfinite(y).all()
    assert y[0] == 0 and y[3] == 0.5 and y[6] == 1 and y[7] == 0 and y[8] == 1
    assert y[2] > 0  # exp(-80) is representable in both dtypes (subnormal-free)
    assert_allclose(y, sigmoid_ref(x.astype(np.float64)).astype(dtype), rtol=1e-6, atol=0)


def test_leaky_relu_slope_values(rng):
    x = rng.standard_normal(50)
    for slope in (0, 1, -0.5, 3.0, np.float64(0.1), np.float32(0.25)):
        y = _C.leaky_relu_forward(x, slope)
        s = float(slope)
        assert_allclose(y, np.where(x > 0, x, s * x), rtol=1e-6, atol=0)


# ---------------------------------------------------------------- errors


def test_errors_dtype_and_layout():
    xi = np.arange(6).reshape(2, 3)
    x = np.ones((4, 6))
    with pytest.raises(TypeError, match="relu_forward: x must be float32 or float64, got int64"):
        _C.relu_forward(xi)
    with pytest.raises(ValueError, match="sigmoid_forward: x must be C-contiguous"):
        _C.sigmoid_forward(x[:, ::2])
    with pytest.raises(TypeError, match="tanh_backward: y must have the same dtype as dy"):
        _C.tanh_backward(x, x.astype(np.float32))
    with pytest.raises(ValueError, match=r"relu_backward: dy \(4, 6\) and y \(6, 4\) must have"):
        _C.relu_backward(x, x.T.copy())
    with pytest.raises(ValueError, match="sigmoid_backward: y must be C-contiguous"):
        _C.sigmoid_backward(x[:, :3].copy(), x[:, ::2])


def test_errors_gelu_approximate_and_slope():
    x = np.ones(3)
    with pytest.raises(
        ValueError, match=r"gelu_forward: approximate must be one of 'none', 'tanh'"
    ):
        _C.gelu_forward(x, "erf")
    with pytest.raises(ValueError, match="gelu_backward: approximate must be one of"):
        _C.gelu_backward(x, x, "Tanh")
    with pytest.raises(
        TypeError, match="leaky_relu_forward: negative_slope must be a float, got str"
    ):
        _C.leaky_relu_forward(x, "0.1")
    with pytest.raises(TypeError, match="leaky_relu_backward: negative_slope must be a float"):
        _C.leaky_relu_backward(x, x, True)
    with pytest.raises(TypeError, match="leaky_relu_forward: negative_slope must be a float"):
        _C.leaky_relu_forward(x, None)


# ------------------------------------------------- float32 math (on each CPU path: conftest.py)


# float32 results within a few ulp of the exact value, over the whole range (dense grid).
DENSE = {
    "sigmoid": (_C.sigmoid_forward, sigmoid_ref),
    "silu": (_C.silu_forward, silu_ref),
    "tanh": (_C.tanh_forward, np.tanh),
    "gelu": (_C.gelu_forward, lambda x: gelu_ref(x, "none")),
    "gelu_tanh": (lambda x: _C.gelu_forward(x, "tanh"), lambda x: gelu_ref(x, "tanh")),
}


@pytest.mark.parametrize("name", sorted(DENSE))
def test_float32_accuracy_dense(cpu_capability, name):
    f, ref = DENSE[name]
    x = np.linspace(-30, 30, 200_001, dtype=np.float32)
    x = np.concatenate([x, np.float32([-1e-30, 1e-30, -1e-6, 1e-6, -100, 100, -1e4, 1e4])])
    y = f(x).astype(np.float64)
    r = ref(x.astype(np.float64))
    # a few ulp relative, plus an absolute floor far below the output scale. Exact GELU's
    # negative tail comes from erfc (relative error ~1e-6 there, where 1 + erf(x) in float32,
    # as PyTorch evaluates it, loses most digits); tanh-GELU's 1 + tanh(u) cancels to 0 below
    # about -5 in float32 by its formula, so it gets an absolute floor instead.
    rtol, atol = {"gelu": (5e-6, 1e-12), "gelu_tanh": (6e-7, 1e-7)}.get(name, (6e-7, 1e-12))
    np.testing.assert_allclose(y, r, rtol=rtol, atol=atol, err_msg=f"{name} on {cpu_capability}")


def test_float32_edges(cpu_capability):
    f32 = np.float32
    x = f32([np.inf, -np.inf, np.nan, -0.0, 0.0])
    assert np.array_equal(_C.sigmoid_forward(x), f32([1, 0, np.nan, 0.5, 0.5]), equal_nan=True)
    t = _C.tanh_forward(x)
    assert np.array_equal(t, f32([1, -1, np.nan, -0.0, 0.0]), equal_nan=True)
    assert np.signbit(t[3]) and not np.signbit(t[4])
    g = _C.gelu_forward(f32([np.inf, np.nan, 0.0, -20.0, 20.0]))
    assert g[0] == np.inf and np.isnan(g[1]) and g[2] == 0 and g[3] == 0 and g[4] == 20
    # every SIMD path agrees with the float64 math on random data, forward and backward
    rng = np.random.default_rng(5)
    xs = (rng.standard_normal(4099) * 4).astype(np.float32)
    dy = rng.standard_normal(4099).astype(np.float32)
    s = _C.silu_forward(f32([np.inf, -np.inf, np.nan, -0.0, 0.0, -200.0]))
    # as PyTorch: silu(-inf) = -inf * sigmoid(-inf) = NaN; -0 keeps its sign
    assert np.array_equal(s, f32([np.inf, np.nan, np.nan, -0.0, 0.0, -0.0]), equal_nan=True)
    assert np.signbit(s[3]) and np.signbit(s[5])
    for name in ("sigmoid", "silu", "tanh", "gelu", "gelu_tanh"):
        fwd, bwd, _, df = OPS[name]
        ref = dy.astype(np.float64) * df(xs.astype(np.float64))
        assert_allclose(bwd(dy, xs, fwd(xs)), ref, rtol=1e-5, atol=5e-6, what=name)


# ------------------------------------------------------- SiLU through autograd and nn


def test_silu_functional_and_module(torch, rng):
    import gradcore
    import gradcore.nn.functional as F
    from gradcore import nn
    from gradcore.autograd import gradcheck

    x64 = gradcore.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    assert gradcheck(F.silu, (x64,))
    x = np.asarray(rng.standard_normal((2, 3, 4, 5)) * 3, np.float32)
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.SiLU()(xt).sum().backward()
    xg = gradcore.tensor(x, requires_grad=True)
    y = nn.SiLU()(xg)
    y.sum().backward()
    assert_allclose(y.numpy(), torch.nn.functional.silu(torch.tensor(x)).numpy(), 1e-6, 1e-6)
    assert_allclose(xg.grad.numpy(), xt.grad.numpy(), 1e-6, 1e-6)
    assert repr(nn.SiLU()) == "SiLU()" and repr(nn.SiLU(inplace=True)) == "SiLU(inplace=True)"
    xt_ = x.T  # a non-contiguous input goes through the kernel's layout
    assert_allclose(F.silu(gradcore.tensor(xt_)).numpy(), silu_ref(xt_), 2e-6, 2e-6)


def test_errors_silu():
    x = np.ones((4, 6))
    with pytest.raises(TypeError, match="silu_forward: x must be float32 or float64, got int64"):
        _C.silu_forward(np.arange(6))
    with pytest.raises(ValueError, match="silu_forward: x must be C-contiguous"):
        _C.silu_forward(x[:, ::2])
    with pytest.raises(TypeError, match="silu_backward: x must have the same dtype as dy"):
        _C.silu_backward(x, x.astype(np.float32))
    with pytest.raises(ValueError, match=r"silu_backward: dy \(4, 6\) and x \(6, 4\) must have"):
        _C.silu_backward(x, x.T.copy())


@pytest.mark.parametrize("flush", [True, False])
@pytest.mark.parametrize("dtype, tiny", [(np.float32, 1e-40), (np.float64, 1e-310)])
def test_relu_of_denormals_is_torchs_with_and_without_flush_to_zero(flush, dtype, tiny):
    # issue 16 item 9: with FTZ/DAZ on, relu(-1e-40) was -1e-40 and its gradient at +1e-40 0
    import gradcore as gc

    before = _C.flush_denormal_enabled()
    gc.set_flush_denormal(flush)
    try:
        x = gc.tensor(np.array([-tiny, tiny, -1.0, 2.0, 0.0], dtype), requires_grad=True)
        y = gc.nn.functional.relu(x)
        np.testing.assert_array_equal(y.numpy(), np.array([0.0, tiny, 0.0, 2.0, 0.0], dtype))
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0, 1.0, 0.0])
    finally:
        gc.set_flush_denormal(before)
