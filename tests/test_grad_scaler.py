"""gradcore.amp.GradScaler: dynamic loss scaling, compared with torch.amp.GradScaler("cpu")
step by step (scale, growth tracker, skipped steps, gradients, parameters), plus the error
cases, the disabled scaler, state_dict / pickling, and the device path on an emulated CUDA
device (the gradients checked and unscaled by the device's own kernels, never copied to the
host). The torch comparisons skip without torch (the `torch` fixture); the rest always run."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from test_cuda_emulated import EmulatedDeviceArray, EmulatedKernels, emulated_device

import gradcore
import gradcore.nn.functional as F
from gradcore import devices, grad_scaler
from gradcore.amp import GradScaler

INF, NAN = float("inf"), float("nan")
CONFIG = dict(init_scale=2.0**10, growth_factor=2.0, backoff_factor=0.5, growth_interval=3)
STATE_KEYS = {"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}


def _data():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = rng.standard_normal((8, 3)).astype(np.float32)
    return x, y


def _linear_pair(torch):
    gradcore.manual_seed(0)
    g = gradcore.nn.Linear(4, 3)
    t = torch.nn.Linear(4, 3)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(g.weight.numpy().copy()))
        t.bias.copy_(torch.from_numpy(g.bias.numpy().copy()))
    return g, t


def _param(values, dtype=np.float32):
    p = gradcore.tensor(np.asarray(values, dtype), requires_grad=True)
    return p, gradcore.optim.SGD([p], lr=0.5)


def _set_grad(p, values, dtype=np.float32):
    p.grad = gradcore.tensor(np.asarray(values, dtype))


def _one_step(scaler, p, opt, grad, dtype=np.float32):
    """scale() once (lazy init), give `p` the gradient `grad`, step, update; the step's
    return value."""
    scaler.scale(gradcore.tensor(1.0))
    _set_grad(p, grad, dtype)
    out = scaler.step(opt)
    scaler.update()
    return out


# ------------------------------------------------------------------ step by step vs torch
# each step: "ok"; "inf"/"nan": that value written into one gradient after backward;
# "overflow": the loss times 1e36 before scaling (its gradients overflow float32);
# "clip": unscale_ explicitly, clip_grad_norm_ the unscaled gradients, then step
PLAN = ["ok", "ok", "ok", "inf", "ok", "nan", "overflow", "ok", "ok", "clip", "ok", "ok", "ok"]
SKIPPED = [e in ("inf", "nan", "overflow") for e in PLAN]


def test_matches_torch_step_by_step(torch):
    g_lin, t_lin = _linear_pair(torch)
    g_opt = gradcore.optim.SGD(g_lin.parameters(), lr=0.1, momentum=0.9)
    t_opt = torch.optim.SGD(t_lin.parameters(), lr=0.1, momentum=0.9)
    g_sc, t_sc = GradScaler("cpu", **CONFIG), torch.amp.GradScaler("cpu", **CONFIG)
    x, y = _data()
    gx, gy, tx, ty = (
        gradcore.tensor(x),
        gradcore.tensor(y),
        torch.from_numpy(x),
        torch.from_numpy(y),
    )
    params = [(g_lin.weight, t_lin.weight), (g_lin.bias, t_lin.bias)]
    scales = []
    for i, event in enumerate(PLAN):
        g_opt.zero_grad()
        t_opt.zero_grad()
        g_loss = F.mse_loss(g_lin(gx), gy)
        t_loss = torch.nn.functional.mse_loss(t_lin(tx), ty)
        if event == "overflow":
            g_loss, t_loss = g_loss * 1e36, t_loss * 1e36
        with np.errstate(over="ignore", invalid="ignore"):  # numpy warns on the overflow
            g_sc.scale(g_loss).backward()
        t_sc.scale(t_loss).backward()
        if event in ("inf", "nan"):
            v = INF if event == "inf" else NAN
            g_lin.weight.grad.numpy()[1, 2] = v
            with torch.no_grad():
                t_lin.weight.grad[1, 2] = v
        if event == "clip":
            g_sc.unscale_(g_opt)
            t_sc.unscale_(t_opt)
            g_norm = gradcore.nn.utils.clip_grad_norm_(g_lin.parameters(), 0.05)
            t_norm = torch.nn.utils.clip_grad_norm_(t_lin.parameters(), 0.05)
            np.testing.assert_allclose(g_norm, float(t_norm), rtol=1e-5)
        before = [gp.numpy().copy() for gp, _ in params]
        g_ret, t_ret = g_sc.step(g_opt), t_sc.step(t_opt)
        assert g_ret is None and t_ret is None
        for (gp, tp), b in zip(params, before):
            # the gradients as unscaled (inf/NaN where torch has them)
            np.testing.assert_allclose(
                gp.grad.numpy(), tp.grad.numpy(), rtol=1e-6, atol=1e-7, equal_nan=True
            )
            assert np.array_equal(gp.numpy(), b) == SKIPPED[i], f"step {i} ({event})"
            np.testing.assert_allclose(gp.numpy(), tp.detach().numpy(), rtol=1e-6, atol=1e-7)
        g_sc.update()
        t_sc.update()
        assert g_sc.get_scale() == t_sc.get_scale(), f"step {i} ({event})"
        assert g_sc._get_growth_tracker() == t_sc._get_growth_tracker(), f"step {i} ({event})"
        scales.append(g_sc.get_scale())
    # grown after 3 good steps, halved by each skip
    assert scales[:8] == [1024.0, 1024.0, 2048.0, 1024.0, 1024.0, 512.0, 256.0, 256.0]
    assert g_sc.state_dict() == t_sc.state_dict()


def test_non_power_of_two_factors_round_like_torch(torch):
    """The scale is float32 as in torch: products in double, rounded to float32."""
    cfg = dict(init_scale=3.3, growth_factor=1.1, backoff_factor=0.3, growth_interval=1)
    g_sc, t_sc = GradScaler(**cfg), torch.amp.GradScaler("cpu", **cfg)
    assert g_sc.get_scale() == t_sc.get_scale() == 3.3  # init_scale as given, before scale()
    p, opt = _param([1.0, 2.0])
    tp = torch.tensor([1.0, 2.0], requires_grad=True)
    t_opt = torch.optim.SGD([tp], lr=0.5)
    for grad in ([1.0, 2.0], [INF, 1.0], [1.0, 1.0], [1.0, NAN], [3.0, 4.0], [5.0, 6.0]):
        _one_step(g_sc, p, opt, grad)
        t_sc.scale(torch.tensor(1.0))
        tp.grad = torch.tensor(grad)
        t_sc.step(t_opt)
        t_sc.update()
        assert g_sc.get_scale() == t_sc.get_scale()
        assert g_sc._get_growth_tracker() == t_sc._get_growth_tracker()
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-6)
    g_sc.update(5.123456789)  # explicit: float32-rounded, tracker kept
    t_sc.update(5.123456789)
    assert g_sc.get_scale() == t_sc.get_scale() == float(np.float32(5.123456789))
    assert g_sc.state_dict() == t_sc.state_dict()


def test_float64_gradients_match_torch(torch):
    """float64 gradients whose squares overflow a double: the sum_of_squares check says
    inf, the max-abs check clears it; a real inf is still found."""
    g_sc, t_sc = GradScaler(init_scale=4.0), torch.amp.GradScaler("cpu", init_scale=4.0)
    p, opt = _param([1.0, 2.0], np.float64)
    tp = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    t_opt = torch.optim.SGD([tp], lr=0.5)
    for grad in ([4e160, -8e160], [INF, 1.0], [1e300, 1e-300]):
        _one_step(g_sc, p, opt, grad, np.float64)
        t_sc.scale(torch.tensor(1.0))
        tp.grad = torch.tensor(grad, dtype=torch.float64)
        t_sc.step(t_opt)
        t_sc.update()
        assert g_sc.state_dict() == t_sc.state_dict()
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-12)
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())


def test_state_dict_keys_and_values_equal_torchs(torch):
    g_sc, t_sc = GradScaler(**CONFIG), torch.amp.GradScaler("cpu", **CONFIG)
    assert g_sc.state_dict() == t_sc.state_dict()  # before the first scale()
    assert set(g_sc.state_dict()) == set(t_sc.state_dict()) == STATE_KEYS
    assert GradScaler(enabled=False).state_dict() == {}
    assert torch.amp.GradScaler("cpu", enabled=False).state_dict() == {}
    # a torch state dict loads into gradcore's scaler and back
    t_sc.load_state_dict({**t_sc.state_dict(), "scale": 96.0, "_growth_tracker": 2})
    g_sc.load_state_dict(t_sc.state_dict())
    assert g_sc.state_dict() == t_sc.state_dict()


def test_scale_multiplies_like_torch(torch):
    x = np.array([1.5, -2.0, 3.25], np.float32)
    g = GradScaler(init_scale=3.3).scale(gradcore.tensor(x))
    t = torch.amp.GradScaler("cpu", init_scale=3.3).scale(torch.from_numpy(x))
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g.numpy(), t.numpy())


# ------------------------------------------------------------------ semantics without torch
def test_growth_after_growth_interval_and_backoff():
    sc = GradScaler(init_scale=8.0, growth_interval=2)
    p, opt = _param([1.0])
    seen = []
    for grad in ([1.0], [1.0], [1.0], [INF], [1.0], [1.0], [NAN], [1.0]):
        _one_step(sc, p, opt, grad)
        seen.append((sc.get_scale(), sc._get_growth_tracker()))
    assert seen == [(8, 1), (16, 0), (16, 1), (8, 0), (8, 1), (16, 0), (8, 0), (8, 1)]


def test_step_skips_and_unscales():
    sc = GradScaler(init_scale=4.0)
    p, opt = _param([1.0, 2.0])
    assert _one_step(sc, p, opt, [4.0, -8.0]) is None  # SGD.step returns None
    np.testing.assert_array_equal(p.grad.numpy(), [1.0, -2.0])  # divided by the scale
    np.testing.assert_array_equal(p.numpy(), [0.5, 3.0])
    _one_step(sc, p, opt, [INF, 1.0])  # skipped: the parameters are kept
    np.testing.assert_array_equal(p.numpy(), [0.5, 3.0])
    assert sc.get_scale() == 2.0


def test_growth_stops_at_float32_max():
    sc = GradScaler(init_scale=2.0**127, growth_interval=1)
    p, opt = _param([1.0])
    _one_step(sc, p, opt, [1.0])
    assert sc.get_scale() == 2.0**127 and sc._get_growth_tracker() == 0


def test_step_returns_what_optimizer_step_returns():
    class Opt:
        def __init__(self, p):
            self.param_groups = [{"params": [p]}]
            self.calls = []

        def step(self, *args, **kwargs):
            self.calls.append((args, kwargs))
            return "stepped"

    p, _ = _param([1.0])
    opt = Opt(p)
    sc = GradScaler()
    sc.scale(gradcore.tensor(1.0))
    _set_grad(p, [1.0])
    assert sc.step(opt, 1, lr=2) == "stepped" and opt.calls == [((1,), {"lr": 2})]
    sc.update()
    _set_grad(p, [NAN])
    assert sc.step(opt) is None and len(opt.calls) == 1


def test_call_order_errors():
    sc = GradScaler()
    p, opt = _param([1.0])
    with pytest.raises(AssertionError, match="did not use scaler.scale"):
        sc.unscale_(opt)
    with pytest.raises(AssertionError, match="did not use scaler.scale"):
        sc.step(opt)
    sc.scale(gradcore.tensor(1.0))
    with pytest.raises(AssertionError, match="No inf checks were recorded prior to update"):
        sc.update()
    with pytest.raises(AssertionError, match="No inf checks were recorded for this optimizer"):
        sc.step(opt)  # no parameter has a gradient
    sc.update(2.0)
    _set_grad(p, [1.0])
    sc.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called on this optimizer"):
        sc.unscale_(opt)
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        sc.step(opt, closure=lambda: 0.0)
    sc.step(opt)
    with pytest.raises(RuntimeError, match="after step"):
        sc.unscale_(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        sc.step(opt)
    with pytest.raises(AssertionError, match="only be pickled at the beginning"):
        pickle.dumps(sc)
    sc.update()
    sc.unscale_(opt)  # allowed again after update()


def test_fp16_gradients_raise():
    sc = GradScaler()
    p, opt = _param([1.0])
    sc.scale(gradcore.tensor(1.0))
    p.grad = np.ones(1, np.float16)
    with pytest.raises(ValueError, match="FP16"):
        sc.unscale_(opt)


def test_update_new_scale_types():
    sc = GradScaler()
    sc.scale(gradcore.tensor(1.0))
    sc.update(3)
    assert sc.get_scale() == 3.0
    sc.update(gradcore.tensor([0.1]))
    assert sc.get_scale() == float(np.float32(0.1))
    with pytest.raises(TypeError, match="new_scale"):
        sc.update("2")
    with pytest.raises(ValueError, match="1-element"):
        sc.update(gradcore.tensor([1.0, 2.0]))


def test_disabled_scaler_is_identity():
    sc = GradScaler(enabled=False)
    p, opt = _param([1.0, 2.0])
    t = gradcore.tensor([1.0, 2.0])
    outs = [t, (t,)]
    assert sc.scale(t) is t and sc.scale(outs) is outs
    _set_grad(p, [INF, 2.0])
    sc.unscale_(opt)  # no-op
    np.testing.assert_array_equal(p.grad.numpy(), [INF, 2.0])
    sc.step(opt)  # plain optimizer.step(), inf or not
    assert math.isinf(p.numpy()[0])
    sc.update()
    sc.load_state_dict({})
    assert not sc.is_enabled() and sc.get_scale() == 1.0 and sc.state_dict() == {}
    assert sc._get_growth_tracker() == 0


def test_scale_nested_outputs():
    sc = GradScaler(init_scale=4.0)
    a, b, c = gradcore.tensor([1.0]), gradcore.tensor([2.0]), gradcore.tensor([3.0])
    out = sc.scale([a, (b, [c])])
    assert isinstance(out, list) and isinstance(out[1], tuple) and isinstance(out[1][1], list)
    assert [out[0].item(), out[1][0].item(), out[1][1][0].item()] == [4.0, 8.0, 12.0]
    lazy = sc.scale(t for t in (a, b))
    assert [t.item() for t in lazy] == [4.0, 8.0]
    for bad in (1.0, "loss", [a, 2.0]):
        with pytest.raises(ValueError, match="outputs must be a Tensor"):
            sc.scale(bad)
    # the scaled loss is differentiable: d(4 * sum(w * x))/dw = 4x
    w = gradcore.tensor([1.0, 1.0], requires_grad=True)
    sc.scale((w * gradcore.tensor([0.5, 2.0])).sum()).backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 8.0])


def test_state_dict_round_trip_and_pickle():
    sc = GradScaler(**CONFIG)
    p, opt = _param([1.0])
    for grad in ([1.0], [INF], [1.0], [1.0]):
        _one_step(sc, p, opt, grad)
    sd = sc.state_dict()
    assert set(sd) == STATE_KEYS
    assert sd == {
        "scale": 512.0,
        "growth_factor": 2.0,
        "backoff_factor": 0.5,
        "growth_interval": 3,
        "_growth_tracker": 2,
    }
    fresh = GradScaler()
    fresh.load_state_dict(sd)  # before its first scale()
    assert fresh.state_dict() == sd
    _one_step(fresh, p, opt, [1.0])  # the loaded tracker counts on: grows now
    assert fresh.get_scale() == 1024.0 and fresh._get_growth_tracker() == 0
    fresh.load_state_dict({**sd, "scale": 0.1})  # into a started scaler: float32
    assert fresh.get_scale() == float(np.float32(0.1))
    with pytest.raises(RuntimeError, match="state dict is empty"):
        fresh.load_state_dict({})
    copy = pickle.loads(pickle.dumps(sc))
    assert copy.state_dict() == sd
    _one_step(copy, p, opt, [1.0])
    assert copy.get_scale() == 1024.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(init_scale=0.0), "init_scale"),
        (dict(init_scale=-1.0), "init_scale"),
        (dict(init_scale=INF), "init_scale"),
        (dict(init_scale=NAN), "init_scale"),
        (dict(growth_factor=1.0), "growth_factor"),
        (dict(growth_factor=0.5), "growth_factor"),
        (dict(backoff_factor=0.0), "backoff_factor"),
        (dict(backoff_factor=1.0), "backoff_factor"),
        (dict(backoff_factor=1.5), "backoff_factor"),
        (dict(growth_interval=0), "growth_interval"),
        (dict(growth_interval=-3), "growth_interval"),
        (dict(growth_interval=2.5), "growth_interval"),
        (dict(device="tpu"), "unknown device type"),
    ],
)
def test_constructor_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GradScaler(**kwargs)


def test_cuda_without_gpu_disables_like_torch():
    if gradcore.cuda.is_available():
        assert GradScaler("cuda").is_enabled()
        return
    with pytest.warns(UserWarning, match="CUDA is not available.  Disabling"):
        sc = GradScaler("cuda")
    assert not sc.is_enabled()
    assert not GradScaler("cuda", enabled=False).is_enabled()  # no warning when off


def test_strided_numpy_gradient():
    """A non-contiguous numpy gradient is checked and unscaled in place with numpy."""
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    g = base[:, ::2]
    assert not grad_scaler._has_inf_or_nan(g)
    grad_scaler._unscale_(g, 0.5)
    np.testing.assert_array_equal(
        base[:, ::2], np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2] / 2
    )
    np.testing.assert_array_equal(
        base[:, 1::2], np.arange(12, dtype=np.float32).reshape(3, 4)[:, 1::2]
    )
    base[2, 2] = NAN
    assert grad_scaler._has_inf_or_nan(g)


# ------------------------------------------------------------------ device storage
@pytest.fixture
def emu(monkeypatch):
    """The emulated CUDA device of test_cuda_emulated (CUDA kernels' per-thread code on the
    CPU); copying a device array of more than one element to the host raises."""
    with emulated_device(EmulatedKernels()) as kernels:
        yield kernels


def _no_host_copies(monkeypatch):
    real = EmulatedDeviceArray.numpy

    def numpy(self):
        assert self.size == 1, "GradScaler copied a device gradient to the host"
        return real(self)

    monkeypatch.setattr(EmulatedDeviceArray, "numpy", numpy)
    return real


def test_device_gradients_are_checked_on_the_device(emu, monkeypatch):
    lin = gradcore.nn.Linear(3, 2).to("emu")
    opt = gradcore.optim.SGD(lin.parameters(), lr=0.5)
    sc = GradScaler(init_scale=4.0)
    assert sc.scale(gradcore.tensor(2.0).to("emu")).device == devices.device("emu")
    w0 = lin.weight.to("cpu").numpy().copy()
    cases = [
        (np.full((2, 3), 8.0, np.float32), False),
        (np.array([[1, 2, INF], [0, 0, 0]], np.float32), True),
        (np.array([[1, NAN, 0], [0, -INF, 0]], np.float32), True),
        # |g| = 4e20: the float sum of squares overflows, max-abs clears it: stepped
        (np.full((2, 3), 4e20, np.float32), False),
    ]
    real_numpy = _no_host_copies(monkeypatch)
    for grad, skipped in cases:
        w_before = real_numpy(lin.weight._data)
        lin.weight.grad = gradcore.tensor(grad).to("emu")
        lin.bias.grad = gradcore.tensor(np.ones(2, np.float32)).to("emu")
        sc.scale(gradcore.tensor(1.0).to("emu"))
        scale = sc.get_scale()
        sc.step(opt)
        sc.update()
        w = real_numpy(lin.weight._data)
        np.testing.assert_array_equal(real_numpy(lin.weight.grad._data), grad / scale)
        assert np.array_equal(w, w_before) == skipped
    assert {"sum_of_squares", "scale_", "unary_op", "reduce"} <= emu.calls
    assert sc.get_scale() == 1.0 and sc._get_growth_tracker() == 1
    assert not np.array_equal(w0, w)
