"""Fused optimizer kernels vs numpy transcriptions of torch.optim's single-tensor formulas
(float32 and float64) and vs torch.optim itself; gradient-clipping helpers; error paths."""

import numpy as np
import pytest
from conftest import CPU_CAPABILITIES, assert_allclose, cpu_capability_selected, num_threads

from gradcore import _C

DEFAULTS = {
    "sgd": dict(
        lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False
    ),
    "adam": dict(
        lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False
    ),
    "adamw": dict(
        lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False
    ),
    "rmsprop": dict(
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0.0,
        momentum=0.0,
        centered=False,
        maximize=False,
    ),
    "adagrad": dict(
        lr=1e-2,
        lr_decay=0.0,
        weight_decay=0.0,
        initial_accumulator_value=0.0,
        eps=1e-10,
        maximize=False,
    ),
}

# (kind, torch.optim keyword arguments)
CONFIGS = [
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=0.1, momentum=0.9)),
    ("sgd", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("sgd", dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("sgd", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("sgd", dict(lr=0.1, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("sgd", dict(lr=0.1, weight_decay=0.1, momentum=0.9, nesterov=True, maximize=True)),
    ("adam", dict(lr=1e-2)),
    ("adam", dict(lr=1e-2, weight_decay=0.1)),
    ("adam", dict(lr=1e-2, amsgrad=True)),
    ("adam", dict(lr=1e-2, betas=(0.3, 0.9), eps=1e-6, weight_decay=0.05, amsgrad=True)),
    ("adam", dict(lr=1e-2, maximize=True)),
    ("adam", dict(lr=1e-2, eps=0.0)),
    ("adamw", dict(lr=1e-2, weight_decay=0.1)),
    ("adamw", dict(lr=1e-2, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("rmsprop", dict(lr=1e-2)),
    ("rmsprop", dict(lr=1e-2, centered=True)),
    ("rmsprop", dict(lr=1e-2, momentum=0.9)),
    ("rmsprop", dict(lr=1e-2, centered=True, momentum=0.9, weight_decay=0.01)),
    ("rmsprop", dict(lr=1e-2, alpha=0.3, eps=1e-6, centered=True, maximize=True)),
    ("adagrad", dict(lr=0.1)),
    ("adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("adagrad", dict(lr=0.1, lr_decay=0.05, maximize=True)),
    ("adagrad", dict(lr=0.1, eps=0.0)),
]
IDS = [f"{k}-" + "-".join(f"{a}={v}" for a, v in c.items()) for k, c in CONFIGS]
STEPS = 5


def full(kind, cfg):
    out = dict(DEFAULTS[kind])
    out.update(cfg)
    return out


def init_state(kind, cfg, p):
    """State buffers named like torch.optim's state entries."""
    c = full(kind, cfg)
    z = np.zeros_like
    if kind == "sgd":
        return {"momentum_buffer": z(p) if c["momentum"] != 0 else None}
    if kind in ("adam", "adamw"):
        return {
            "exp_avg": z(p),
            "exp_avg_sq": z(p),
            "max_exp_avg_sq": z(p) if c["amsgrad"] else None,
        }
    if kind == "rmsprop":
        return {
            "square_avg": z(p),
            "grad_avg": z(p) if c["centered"] else None,
            "momentum_buffer": z(p) if c["momentum"] > 0 else None,
        }
    return {"sum": np.full_like(p, c["initial_accumulator_value"])}


def ours_step(kind, cfg, p, g, st, step):
    c = full(kind, cfg)
    if kind == "sgd":
        _C.sgd_step_(
            p,
            g,
            st["momentum_buffer"],
            c["lr"],
            c["momentum"],
            c["dampening"],
            c["weight_decay"],
            c["nesterov"],
            c["maximize"],
            step == 1,
        )
    elif kind in ("adam", "adamw"):
        b1, b2 = c["betas"]
        _C.adam_step_(
            p,
            g,
            st["exp_avg"],
            st["exp_avg_sq"],
            st["max_exp_avg_sq"],
            step,
            c["lr"],
            b1,
            b2,
            c["eps"],
            c["weight_decay"],
            kind == "adamw",
            c["amsgrad"],
            c["maximize"],
        )
    elif kind == "rmsprop":
        _C.rmsprop_step_(
            p,
            g,
            st["square_avg"],
            st["grad_avg"],
            st["momentum_buffer"],
            c["lr"],
            c["alpha"],
            c["eps"],
            c["weight_decay"],
            c["momentum"],
            c["centered"],
            c["maximize"],
        )
    else:
        _C.adagrad_step_(
            p,
            g,
            st["sum"],
            step,
            c["lr"],
            c["lr_decay"],
            c["weight_decay"],
            c["eps"],
            c["maximize"],
        )


def _fma(a, b, c):
    """a * b + c rounded once, as PyTorch's vectorized CPU kernels (vec::fmadd) compute it.

    Exact for float32 through float64 (the product of two floats is exact in float64); for
    float64 it rounds twice, hence the float64 comparisons' small tolerance.
    """
    dt = np.result_type(a, b, c)
    if dt == np.float32:
        return (np.float64(a) * np.float64(b) + np.float64(c)).astype(np.float32)
    return a * b + c


def _lerp(a, b, w):
    """torch's lerp with a scalar weight w (in a's dtype), as its vectorized kernel."""
    return _fma(w, b - a, a) if abs(w) < 0.5 else _fma(w - a.dtype.type(1), b - a, b)


def ref_step(kind, cfg, p, g, st, step):
    """numpy transcription of torch/optim/*.py _single_tensor_*, op by op in p's dtype.

    a.add(b, alpha=s) is fma(b, s, a) and a.addcmul(b, c, value=s) is fma(s * b, c, a), as in
    PyTorch's CPU kernels; mul, div, sqrt and addcdiv round each operation.
    """
    c = full(kind, cfg)
    t = p.dtype.type
    g = -g if c["maximize"] else g.copy()
    if c["weight_decay"] != 0 and kind != "adamw":
        g = _fma(p, t(c["weight_decay"]), g)
    if kind == "sgd":
        if c["momentum"] != 0:
            buf = st["momentum_buffer"]
            if step == 1:
                buf[...] = g
            else:
                buf[...] = buf * t(c["momentum"])
                buf[...] = _fma(g, t(1 - c["dampening"]), buf)
            g = _fma(buf, t(c["momentum"]), g) if c["nesterov"] else buf.copy()
        p[...] = _fma(g, t(-c["lr"]), p)
    elif kind in ("adam", "adamw"):
        lr, (b1, b2) = c["lr"], c["betas"]
        if kind == "adamw" and c["weight_decay"] != 0:
            p[...] = p * t(1 - lr * c["weight_decay"])
        st["exp_avg"][...] = _lerp(st["exp_avg"], g, t(1 - b1))
        v = st["exp_avg_sq"]
        v[...] = v * t(b2)
        v[...] = _fma(t(1 - b2) * g, g, v)
        bc1, bc2 = 1 - b1 ** float(step), 1 - b2 ** float(step)
        step_size = lr / bc1
        bc2_sqrt = bc2**0.5
        if c["amsgrad"]:
            np.maximum(st["max_exp_avg_sq"], v, out=st["max_exp_avg_sq"])
            v = st["max_exp_avg_sq"]
        denom = np.sqrt(v) / t(bc2_sqrt) + t(c["eps"])
        p[...] = p + (t(-step_size) * st["exp_avg"]) / denom
    elif kind == "rmsprop":
        sq = st["square_avg"]
        sq[...] = sq * t(c["alpha"])
        sq[...] = _fma(t(1 - c["alpha"]) * g, g, sq)
        if c["centered"]:
            ga = st["grad_avg"]
            ga[...] = _lerp(ga, g, t(1 - c["alpha"]))
            avg = np.sqrt(_fma(t(-1) * ga, ga, sq))
        else:
            avg = np.sqrt(sq)
        avg = avg + t(c["eps"])
        if c["momentum"] > 0:
            buf = st["momentum_buffer"]
            buf[...] = buf * t(c["momentum"])
            buf[...] = buf + g / avg
            p[...] = _fma(buf, t(-c["lr"]), p)
        else:
            p[...] = p + (t(-c["lr"]) * g) / avg
    else:
        clr = c["lr"] / (1 + (step - 1) * c["lr_decay"])
        s = st["sum"]
        s[...] = _fma(g, g, s)
        p[...] = p + (t(-clr) * g) / (np.sqrt(s) + t(c["eps"]))


def _grads(rng, shape, dtype, steps=STEPS):
    # Changing scales make exp_avg_sq shrink on some steps, so amsgrad's max matters.
    scales = [1.0, 3.0, 0.2, 1.5, 0.1, 2.0, 0.5][:steps]
    return [(rng.standard_normal(shape) * s).astype(dtype) for s in scales]


def _run(step_fn, kind, cfg, p0, grads):
    p = p0.copy()
    st = init_state(kind, cfg, p)
    for k, g in enumerate(grads, start=1):
        g_before = g.copy()
        step_fn(kind, cfg, p, g, st, k)
        assert np.array_equal(g, g_before), "grad must not be modified"
    return p, st


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("kind", "cfg"), CONFIGS, ids=IDS)
def test_matches_numpy_transcription(rng, kind, cfg, dtype):
    p0 = rng.standard_normal((37, 11)).astype(dtype)
    grads = _grads(rng, p0.shape, dtype)
    p, st = _run(ours_step, kind, cfg, p0, grads)
    rp, rst = _run(ref_step, kind, cfg, p0, grads)
    assert p.dtype == dtype
    assert not np.array_equal(p, p0)
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    assert_allclose(p, rp, **tol, what="param")
    for name, buf in st.items():
        if buf is not None:
            assert_allclose(buf, rst[name], **tol, what=name)


@pytest.mark.parametrize(("kind", "cfg"), CONFIGS, ids=IDS)
def test_float32_close_to_float64(rng, kind, cfg):
    p0 = rng.standard_normal((13, 7))
    grads = _grads(rng, p0.shape, np.float64)
    p64, _ = _run(ours_step, kind, cfg, p0, grads)
    p32, _ = _run(
        ours_step, kind, cfg, p0.astype(np.float32), [g.astype(np.float32) for g in grads]
    )
    assert_allclose(p32, p64, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("kind", "cfg"), CONFIGS, ids=IDS)
def test_matches_torch_optim(torch, rng, kind, cfg):
    p0 = rng.standard_normal((37, 11)).astype(np.float32)
    grads = _grads(rng, p0.shape, np.float32)
    p, st = _run(ours_step, kind, cfg, p0, grads)
    cls = {
        "sgd": torch.optim.SGD,
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "rmsprop": torch.optim.RMSprop,
        "adagrad": torch.optim.Adagrad,
    }[kind]
    tp = torch.nn.Parameter(torch.tensor(p0))
    opt = cls([tp], foreach=False, **cfg)
    for g in grads:
        tp.grad = torch.tensor(g)
        opt.step()
    # PyTorch's float32 sqrt (MKL/vectorized) is within 1 ulp, not correctly rounded, so allow a
    # few ulps of each array's largest element (momentum buffers can cancel to near zero).
    tstate = opt.state[tp]
    for name, ours, ref in [("param", p, tp.detach().numpy())] + [
        (name, buf, tstate[name].numpy()) for name, buf in st.items() if buf is not None
    ]:
        scale = float(np.abs(ref).max())
        assert_allclose(ours, ref, rtol=1e-6, atol=5e-7 * scale, what=f"{name} vs torch")


THREAD_CONFIGS = [
    ("sgd", dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("adam", dict(lr=1e-2, betas=(0.3, 0.9), eps=1e-6, weight_decay=0.05, amsgrad=True)),
    ("adamw", dict(lr=1e-2, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("rmsprop", dict(lr=1e-2, centered=True, momentum=0.9, weight_decay=0.01)),
    ("adagrad", dict(lr=0.1, lr_decay=0.05, maximize=True)),
]


@pytest.mark.parametrize(("kind", "cfg"), THREAD_CONFIGS)
def test_threads_bitwise(rng, kind, cfg):
    p0 = rng.standard_normal(100_003).astype(np.float32)
    grads = _grads(rng, p0.shape, np.float32, steps=2)
    out = []
    for n in (1, 2):
        with num_threads(n):
            out.append(_run(ours_step, kind, cfg, p0, grads))
    assert np.array_equal(out[0][0], out[1][0])
    for name, buf in out[0][1].items():
        if buf is not None:
            assert np.array_equal(buf, out[1][1][name])


@pytest.mark.across_cpu_capabilities
@pytest.mark.parametrize(("kind", "cfg"), CONFIGS, ids=IDS)
def test_cpu_paths_bitwise(rng, kind, cfg):
    # fma rounds once on every path, so the AVX2 clone and the portable loop agree exactly.
    p0 = rng.standard_normal(1003).astype(np.float32)
    grads = _grads(rng, p0.shape, np.float32, steps=3)
    out = []
    for path in CPU_CAPABILITIES:
        with cpu_capability_selected(path):
            out.append(_run(ours_step, kind, cfg, p0, grads))
    for other in out[1:]:
        assert np.array_equal(out[0][0], other[0])
        for name, buf in out[0][1].items():
            if buf is not None:
                assert np.array_equal(buf, other[1][name])


def test_sgd_first_step_sets_buffer(rng):
    p = rng.standard_normal(10)
    g = rng.standard_normal(10)
    buf = np.full(10, 123.0)  # garbage: overwritten on the first step
    _C.sgd_step_(p.copy(), g, buf, 0.1, 0.9, 0.5, 0.0, False, False, True)
    assert np.array_equal(buf, g)


def test_nan_propagates(rng):
    p = rng.standard_normal(8).astype(np.float32)
    g = np.zeros(8, np.float32)
    g[3] = np.nan
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    _C.adam_step_(p, g, m, v, vmax, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, True, False)
    assert np.isnan(p[3]) and np.isnan(vmax[3]) and np.isfinite(np.delete(p, 3)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 5, 65_536, 300_001])
def test_sum_of_squares(rng, n, dtype):
    x = rng.standard_normal(n).astype(dtype)
    r = _C.sum_of_squares(x)
    assert isinstance(r, float)
    assert_allclose(r, np.sum(x.astype(np.float64) ** 2), rtol=1e-12, atol=0)
    with num_threads(1):
        r1 = _C.sum_of_squares(x)
    with num_threads(2):
        r2 = _C.sum_of_squares(x)
    assert r1 == r2 == r


def test_sum_of_squares_multidim_and_nan(rng):
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    assert_allclose(_C.sum_of_squares(x), np.sum(x.astype(np.float64) ** 2), rtol=1e-12)
    x[1, 2, 3] = np.inf
    assert _C.sum_of_squares(x) == np.inf
    x[0, 0, 0] = np.nan
    assert np.isnan(_C.sum_of_squares(x))
    # float32 squares that would overflow float32 are fine in the float64 accumulation.
    assert _C.sum_of_squares(np.full(4, 1e30, np.float32)) == pytest.approx(4e60, rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scale_and_clamp(rng, dtype):
    x = rng.standard_normal((100_003,)).astype(dtype)
    y = x.copy()
    _C.scale_(y, 0.37)
    np.testing.assert_array_equal(y, x * dtype(0.37))
    y = x.copy()
    y[5] = np.nan
    _C.clamp_(y, -0.5, 0.25)
    expect = np.clip(x, -0.5, 0.25)
    expect[5] = np.nan
    np.testing.assert_array_equal(y, expect)
    _C.clamp_(y, 0.1, 0.1)
    assert np.all((y == dtype(0.1)) | np.isnan(y))


def test_clamp_infinite_bounds():
    x = np.array([-np.inf, -1.0, 0.0, 2.0, np.inf], np.float32)
    _C.clamp_(x, -np.inf, 1.0)
    np.testing.assert_array_equal(x, [-np.inf, -1.0, 0.0, 1.0, 1.0])


def test_errors(rng):
    p = rng.standard_normal((4, 3))
    g = rng.standard_normal((4, 3))
    z = np.zeros_like
    sgd, adam, rms, ada = _C.sgd_step_, _C.adam_step_, _C.rmsprop_step_, _C.adagrad_step_
    with pytest.raises(TypeError, match="sgd_step_: grad must have the same dtype as param"):
        sgd(p, g.astype(np.float32), None, 0.1, 0.0, 0.0, 0.0, False, False, True)
    with pytest.raises(TypeError, match="sgd_step_: param must be float32 or float64"):
        sgd(p.astype(np.int64), g, None, 0.1, 0.0, 0.0, 0.0, False, False, True)
    with pytest.raises(ValueError, match="sgd_step_: param .* and grad .* must have the same"):
        sgd(p, g[:2], None, 0.1, 0.0, 0.0, 0.0, False, False, True)
    with pytest.raises(ValueError, match="sgd_step_: param must not share memory with grad"):
        sgd(p, p, None, 0.1, 0.0, 0.0, 0.0, False, False, True)
    with pytest.raises(ValueError, match="sgd_step_: param must be C-contiguous"):
        sgd(p.T, g.T.copy(), None, 0.1, 0.0, 0.0, 0.0, False, False, True)
    ro = p.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="sgd_step_: param must be writable"):
        sgd(ro, g, None, 0.1, 0.0, 0.0, 0.0, False, False, True)
    with pytest.raises(TypeError, match="sgd_step_"):
        sgd(p.tolist(), g, None, 0.1, 0.0, 0.0, 0.0, False, False, True)
    with pytest.raises(ValueError, match="sgd_step_: momentum_buffer is required"):
        sgd(p, g, None, 0.1, 0.9, 0.0, 0.0, False, False, True)
    with pytest.raises(ValueError, match="sgd_step_: momentum_buffer .* must have the same"):
        sgd(p, g, np.zeros(12), 0.1, 0.9, 0.0, 0.0, False, False, True)
    with pytest.raises(ValueError, match="sgd_step_: momentum_buffer must not share memory"):
        sgd(p, g, g, 0.1, 0.9, 0.0, 0.0, False, False, True)
    with pytest.raises(ValueError, match="sgd_step_: momentum must be in"):
        sgd(p, g, z(p), 0.1, 1.5, 0.0, 0.0, False, False, True)
    with pytest.raises(ValueError, match="sgd_step_: lr must be in"):
        sgd(p, g, None, -0.1, 0.0, 0.0, 0.0, False, False, True)
    with pytest.raises(ValueError, match="sgd_step_: weight_decay must be in"):
        sgd(p, g, None, 0.1, 0.0, 0.0, -1.0, False, False, True)
    with pytest.raises(ValueError, match="sgd_step_: nesterov momentum requires"):
        sgd(p, g, z(p), 0.1, 0.9, 0.1, 0.0, True, False, True)
    with pytest.raises(ValueError, match="adam_step_: step must be >= 1"):
        adam(p, g, z(p), z(p), None, 0, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, False, False)
    for eps in (-1e-8, float("nan")):  # eps = 0 is allowed, as in torch.optim
        with pytest.raises(ValueError, match="adam_step_: eps must be in"):
            adam(p, g, z(p), z(p), None, 1, 1e-3, 0.9, 0.999, eps, 0.0, False, False, False)
    with pytest.raises(ValueError, match="adam_step_: beta1 must be in"):
        adam(p, g, z(p), z(p), None, 1, 1e-3, 1.0, 0.999, 1e-8, 0.0, False, False, False)
    with pytest.raises(ValueError, match="adam_step_: beta2 must be in"):
        adam(p, g, z(p), z(p), None, 1, 1e-3, 0.9, -0.1, 1e-8, 0.0, False, False, False)
    with pytest.raises(ValueError, match="adam_step_: max_exp_avg_sq is required"):
        adam(p, g, z(p), z(p), None, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, True, False)
    m = z(p)
    with pytest.raises(ValueError, match="adam_step_: exp_avg must not share memory"):
        adam(p, g, m, m, None, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, False, False)
    with pytest.raises(TypeError, match="adam_step_: exp_avg_sq must have the same dtype"):
        adam(p, g, z(p), z(p, np.float32), None, 1, 1e-3, 0.9, 0.999, 1e-8, 0, False, False, False)
    with pytest.raises(ValueError, match="rmsprop_step_: grad_avg is required"):
        rms(p, g, z(p), None, None, 1e-2, 0.99, 1e-8, 0.0, 0.0, True, False)
    with pytest.raises(ValueError, match="rmsprop_step_: momentum_buffer is required"):
        rms(p, g, z(p), None, None, 1e-2, 0.99, 1e-8, 0.0, 0.5, False, False)
    with pytest.raises(ValueError, match="rmsprop_step_: alpha must be in"):
        rms(p, g, z(p), None, None, 1e-2, 1.5, 1e-8, 0.0, 0.0, False, False)
    with pytest.raises(ValueError, match="rmsprop_step_: eps must be in"):
        rms(p, g, z(p), None, None, 1e-2, 0.99, -1.0, 0.0, 0.0, False, False)
    with pytest.raises(ValueError, match="adagrad_step_: step must be >= 1"):
        ada(p, g, z(p), 0, 1e-2, 0.0, 0.0, 1e-10, False)
    with pytest.raises(ValueError, match="adagrad_step_: lr_decay must be in"):
        ada(p, g, z(p), 1, 1e-2, -1.0, 0.0, 1e-10, False)
    with pytest.raises(ValueError, match="adagrad_step_: state_sum must be writable"):
        ada(p, g, ro, 1, 1e-2, 0.0, 0.0, 1e-10, False)
    with pytest.raises(ValueError, match="adagrad_step_: param must not share memory with state"):
        ada(p, g, p, 1, 1e-2, 0.0, 0.0, 1e-10, False)
    with pytest.raises(ValueError, match="clamp_: bounds must satisfy lo <= hi"):
        _C.clamp_(p, 1.0, -1.0)
    with pytest.raises(ValueError, match="scale_: x must be writable"):
        _C.scale_(ro, 2.0)
    with pytest.raises(TypeError, match="sum_of_squares: x must be float32 or float64"):
        _C.sum_of_squares(np.ones(3, np.int32))
    # None of the failed calls touched the parameter.
    assert np.array_equal(p, ro)


def test_kernels_record_profile_scopes(rng):
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    p, g = x.reshape(-1).copy(), x.reshape(-1).copy() * 0.5
    z = np.zeros_like
    was = _C.profiler_enabled()
    _C.profiler_take_records()
    _C.profiler_set_enabled(True)
    try:
        y, mean, invstd = _C.batch_norm_forward_train(x, None, None, None, None, 0.1, 1e-5)
        _C.batch_norm_backward(y, x, None, mean, invstd, True)
        _, m = _C.dropout_forward(x, 0.5, 1)
        _C.dropout_backward(x, m, 0.5)
        _C.sgd_step_(p, g, None, 0.1, 0.0, 0.0, 0.0, False, False, True)
        _C.adam_step_(p, g, z(p), z(p), None, 1, 1e-3, 0.9, 0.999, 1e-8, 0.1, True, False, False)
        _C.sum_of_squares(g)
    finally:
        _C.profiler_set_enabled(was)
    records = {r[0]: r for r in _C.profiler_take_records()}
    for name in (
        "batch_norm_forward_train",
        "batch_norm_backward",
        "dropout_forward",
        "dropout_backward",
        "sgd_step",
        "adamw_step",
        "sum_of_squares",
    ):
        assert name in records, name
        assert records[name][4] > 0 and records[name][5] > 0  # flops, bytes
    assert list(records["batch_norm_forward_train"][6][0]) == [4, 3, 5]
