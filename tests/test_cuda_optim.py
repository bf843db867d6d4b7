"""CUDA optimizer updates and clipping helpers: the per-thread bodies through the CPU test
driver (everywhere) and the CUDA kernels on a GPU (skipped without one), both against _C's CPU
kernels. The updates round as _C's (same float32 constants, FMAs in the same places), so they
agree to the last bit or so (rtol 1e-6); sum_of_squares sums in another order, in float32
(rtol 1e-5)."""

import numpy as np
import pytest
from cuda_helpers import requires_gpu, to_cpu, to_gpu

from gradcore import _C

SIZES = [1, 7, 1023, 4097]
RTOL, ATOL = 1e-6, 1e-7

# name -> (state buffers, per-step arguments, keyword arguments, steps)
SGD = {
    "plain": dict(lr=0.1),
    "weight_decay": dict(lr=0.05, weight_decay=0.01),
    "momentum": dict(lr=0.1, momentum=0.9),
    "dampening": dict(lr=0.1, momentum=0.8, dampening=0.3, weight_decay=1e-3),
    "nesterov": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
    "maximize": dict(lr=0.1, momentum=0.5, maximize=True),
}
ADAM = {
    "default": dict(lr=1e-3),
    "coupled_wd": dict(lr=1e-2, weight_decay=0.1),
    "adamw": dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True),
    "amsgrad": dict(lr=1e-2, amsgrad=True),
    "amsgrad_adamw_max": dict(
        lr=1e-2, amsgrad=True, weight_decay=0.05, decoupled_weight_decay=True, maximize=True
    ),
    "small_beta1": dict(lr=1e-2, beta1=0.3, beta2=0.9, eps=1e-6),
}
RMSPROP = {
    "plain": dict(lr=1e-2),
    "centered": dict(lr=1e-2, centered=True),
    "momentum": dict(lr=1e-2, momentum=0.9),
    "all": dict(lr=1e-2, centered=True, momentum=0.5, weight_decay=0.01, maximize=True),
    "alpha_small": dict(lr=1e-2, alpha=0.3, centered=True),
}
ADAGRAD = {
    "plain": dict(lr=0.1),
    "lr_decay": dict(lr=0.1, lr_decay=0.01),
    "weight_decay": dict(lr=0.1, weight_decay=0.1, maximize=True),
}


def _f32(rng, n, scale=1.0):
    return np.asarray(rng.standard_normal(n) * scale, np.float32)


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def _pair(a, gpu):
    """(array for _C, array for the module under test)."""
    return a.copy(), (to_gpu(a) if gpu else a.copy())


def _back(a, gpu):
    return to_cpu(a) if gpu else a


def _run_sgd(module, gpu, n, kw, rng, steps=4):
    p_ref, p = _pair(_f32(rng, n), gpu)
    mom = kw.get("momentum", 0) != 0
    b_ref, b = _pair(np.zeros(n, np.float32), gpu) if mom else (None, None)
    for s in range(steps):
        g = _f32(rng, n)
        gg = to_gpu(g) if gpu else g
        _C.sgd_step_(p_ref, g, b_ref, first_step=s == 0, **kw)
        assert module.sgd_step_(p, gg, b, first_step=s == 0, **kw) is None
        _close(_back(p, gpu), p_ref)
        if mom:
            _close(_back(b, gpu), b_ref)


def _run_adam(module, gpu, n, kw, rng, steps=5):
    p_ref, p = _pair(_f32(rng, n), gpu)
    m_ref, m = _pair(np.zeros(n, np.float32), gpu)
    v_ref, v = _pair(np.zeros(n, np.float32), gpu)
    ams = kw.get("amsgrad", False)
    vm_ref, vm = _pair(np.zeros(n, np.float32), gpu) if ams else (None, None)
    for step in range(1, steps + 1):  # bias correction changes every step
        g = _f32(rng, n, scale=0.1 * step)
        gg = to_gpu(g) if gpu else g
        _C.adam_step_(p_ref, g, m_ref, v_ref, vm_ref, step, **kw)
        assert module.adam_step_(p, gg, m, v, vm, step, **kw) is None
        for got, want in ((p, p_ref), (m, m_ref), (v, v_ref)) + (((vm, vm_ref),) if ams else ()):
            _close(_back(got, gpu), want)


def _run_rmsprop(module, gpu, n, kw, rng, steps=4):
    p_ref, p = _pair(_f32(rng, n), gpu)
    sq_ref, sq = _pair(np.zeros(n, np.float32), gpu)
    cen, mom = kw.get("centered", False), kw.get("momentum", 0) > 0
    ga_ref, ga = _pair(np.zeros(n, np.float32), gpu) if cen else (None, None)
    b_ref, b = _pair(np.zeros(n, np.float32), gpu) if mom else (None, None)
    for _ in range(steps):
        g = _f32(rng, n)
        gg = to_gpu(g) if gpu else g
        _C.rmsprop_step_(p_ref, g, sq_ref, ga_ref, b_ref, **kw)
        assert module.rmsprop_step_(p, gg, sq, ga, b, **kw) is None
        pairs = [(p, p_ref), (sq, sq_ref)] + [(ga, ga_ref)] * cen + [(b, b_ref)] * mom
        for got, want in pairs:
            _close(_back(got, gpu), want)


def _run_adagrad(module, gpu, n, kw, rng, steps=4):
    p_ref, p = _pair(_f32(rng, n), gpu)
    s_ref, s = _pair(np.zeros(n, np.float32), gpu)
    for step in range(1, steps + 1):
        g = _f32(rng, n)
        gg = to_gpu(g) if gpu else g
        _C.adagrad_step_(p_ref, g, s_ref, step, **kw)
        assert module.adagrad_step_(p, gg, s, step, **kw) is None
        _close(_back(p, gpu), p_ref)
        _close(_back(s, gpu), s_ref)


RUNS = {"sgd": (_run_sgd, SGD), "adam": (_run_adam, ADAM)}
RUNS.update(rmsprop=(_run_rmsprop, RMSPROP), adagrad=(_run_adagrad, ADAGRAD))
CASES = [(opt, name) for opt, (_, cfgs) in RUNS.items() for name in cfgs]
SUMSQ_SIZES = [0, 1, 7, 1023, 4097, 16384 * 3 + 5, 16384 * 300 + 7]


# ---- host driver ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("opt,name", CASES)
def test_host_driver_updates_match_cpu(opt, name, n, rng):
    run, cfgs = RUNS[opt]
    run(_C.cuda_host, False, n, cfgs[name], rng)


def test_host_driver_updates_2d_param(rng):
    p = _f32(rng, 15).reshape(3, 5)
    g = _f32(rng, 15).reshape(3, 5)
    p_ref = p.copy()
    _C.sgd_step_(p_ref, g, None, 0.1)
    _C.cuda_host.sgd_step_(p, g, None, 0.1)
    _close(p, p_ref)


@pytest.mark.parametrize("n", SUMSQ_SIZES)
def test_host_driver_sum_of_squares(n, rng):
    x = _f32(rng, n, scale=3.0)
    got = _C.cuda_host.sum_of_squares(x)
    assert isinstance(got, float)
    np.testing.assert_allclose(got, _C.sum_of_squares(x), rtol=1e-5)
    assert _C.cuda_host.sum_of_squares(x) == got  # deterministic


def test_host_driver_sum_of_squares_2d(rng):
    x = _f32(rng, 4097 * 3).reshape(3, 4097)
    np.testing.assert_allclose(_C.cuda_host.sum_of_squares(x), _C.sum_of_squares(x), rtol=1e-5)


@pytest.mark.parametrize("n", SIZES)
def test_host_driver_scale_clamp(n, rng):
    x = _f32(rng, n, scale=2.0)
    if n >= 7:
        x[:3] = [np.nan, np.inf, -np.inf]
    for alpha in (0.5, -3.0, 0.0):
        a, b = x.copy(), x.copy()
        _C.scale_(a, alpha)
        assert _C.cuda_host.scale_(b, alpha) is None
        np.testing.assert_array_equal(b, a)
    a, b = x.copy(), x.copy()
    _C.clamp_(a, -1.0, 0.5)
    assert _C.cuda_host.clamp_(b, -1.0, 0.5) is None
    np.testing.assert_array_equal(b, a)  # NaN stays NaN (array_equal treats NaN == NaN)


def test_host_driver_errors():
    h = _C.cuda_host
    p = np.ones(7, np.float32)
    g = np.ones(7, np.float32)
    with pytest.raises(TypeError, match="sgd_step_.*float32"):
        h.sgd_step_(np.ones(7), g, None, 0.1)
    with pytest.raises(TypeError, match="adam_step_"):
        h.adam_step_(p, np.ones(7), p.copy(), p.copy(), None, 1, 0.1)
    with pytest.raises(ValueError, match="sgd_step_.*same shape"):
        h.sgd_step_(p, np.ones(8, np.float32), None, 0.1)
    with pytest.raises(ValueError, match="momentum_buffer is required"):
        h.sgd_step_(p, g, None, 0.1, momentum=0.9)
    with pytest.raises(ValueError, match="nesterov"):
        h.sgd_step_(p, g, p.copy(), 0.1, momentum=0.9, nesterov=True, dampening=0.1)
    with pytest.raises(ValueError, match="lr must be in"):
        h.sgd_step_(p, g, None, -0.1)
    with pytest.raises(ValueError, match="must not share memory"):
        h.sgd_step_(p, p, None, 0.1)
    with pytest.raises(ValueError, match="step must be >= 1"):
        h.adam_step_(p, g, p.copy(), p.copy(), None, 0, 0.1)
    with pytest.raises(ValueError, match="max_exp_avg_sq is required"):
        h.adam_step_(p, g, p.copy(), p.copy(), None, 1, 0.1, amsgrad=True)
    with pytest.raises(ValueError, match="beta1 must be in"):
        h.adam_step_(p, g, p.copy(), p.copy(), None, 1, 0.1, beta1=1.0)
    with pytest.raises(ValueError, match="exp_avg must not share memory"):
        m = p.copy()
        h.adam_step_(p, g, m, m, None, 1, 0.1)
    with pytest.raises(ValueError, match="grad_avg is required"):
        h.rmsprop_step_(p, g, p.copy(), None, None, 0.1, centered=True)
    with pytest.raises(ValueError, match="momentum_buffer is required"):
        h.rmsprop_step_(p, g, p.copy(), None, None, 0.1, momentum=0.5)
    with pytest.raises(ValueError, match="step must be >= 1"):
        h.adagrad_step_(p, g, p.copy(), 0, 0.1)
    with pytest.raises(ValueError, match="state_sum"):
        h.adagrad_step_(p, g, np.ones(6, np.float32), 1, 0.1)
    with pytest.raises(TypeError, match="sum_of_squares"):
        h.sum_of_squares(np.ones(3))
    with pytest.raises(ValueError, match="lo <= hi"):
        h.clamp_(p, 1.0, -1.0)
    with pytest.raises(TypeError, match="scale_"):
        h.scale_(np.ones(3), 2.0)
    ro = p.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        h.scale_(ro, 2.0)


# ---- GPU --------------------------------------------------------------------------------------


@requires_gpu
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("opt,name", CASES)
def test_gpu_updates_match_cpu(opt, name, n, rng):
    from cuda_helpers import cuda_module

    run, cfgs = RUNS[opt]
    run(cuda_module(), True, n, cfgs[name], rng)


@requires_gpu
@pytest.mark.parametrize("n", SUMSQ_SIZES)
def test_gpu_sum_of_squares(n, rng):
    from cuda_helpers import cuda_module

    x = _f32(rng, n, scale=3.0)
    got = cuda_module().sum_of_squares(to_gpu(x))
    np.testing.assert_allclose(got, _C.sum_of_squares(x), rtol=1e-5)
    # the same partials and tree as the host driver: the same bits
    assert got == _C.cuda_host.sum_of_squares(x)


@requires_gpu
@pytest.mark.parametrize("n", SIZES)
def test_gpu_scale_clamp(n, rng):
    from cuda_helpers import cuda_module

    c = cuda_module()
    x = _f32(rng, n, scale=2.0)
    if n >= 7:
        x[:3] = [np.nan, np.inf, -np.inf]
    a, d = x.copy(), to_gpu(x)
    _C.scale_(a, -1.5)
    assert c.scale_(d, -1.5) is None
    np.testing.assert_array_equal(to_cpu(d), a)
    a, d = x.copy(), to_gpu(x)
    _C.clamp_(a, -1.0, 0.5)
    c.clamp_(d, -1.0, 0.5)
    np.testing.assert_array_equal(to_cpu(d), a)


@requires_gpu
def test_gpu_errors():
    from cuda_helpers import cuda_module

    c = cuda_module()
    p, g = to_gpu(np.ones(7, np.float32)), to_gpu(np.ones(7, np.float32))
    with pytest.raises(TypeError, match="float32"):
        c.sgd_step_(to_gpu(np.ones(7)), g, None, 0.1)
    with pytest.raises(ValueError, match="same shape"):
        c.sgd_step_(p, to_gpu(np.ones(8, np.float32)), None, 0.1)
    with pytest.raises(ValueError, match="momentum_buffer is required"):
        c.sgd_step_(p, g, None, 0.1, momentum=0.9)
    with pytest.raises(TypeError, match="momentum_buffer must be a DeviceArray"):
        c.sgd_step_(p, g, np.ones(7, np.float32), 0.1, momentum=0.9)
    with pytest.raises(ValueError, match="must not share memory"):
        c.sgd_step_(p, p, None, 0.1)
    with pytest.raises(ValueError, match="step must be >= 1"):
        c.adam_step_(
            p, g, to_gpu(np.zeros(7, np.float32)), to_gpu(np.zeros(7, np.float32)), None, 0, 0.1
        )
    with pytest.raises(ValueError, match="lo <= hi"):
        c.clamp_(p, 1.0, -1.0)
