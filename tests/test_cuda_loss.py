"""CUDA losses (cross_entropy, mse_loss): the per-thread bodies through the CPU test driver
(everywhere) and the CUDA kernels on a GPU (skipped without one), both against _C's CPU
kernels."""

import numpy as np
import pytest
from cuda_helpers import requires_gpu, to_cpu, to_gpu

from gradcore import _C

# (N, C): one row, one class, odd sizes, rows above a staged sum's chunk (4096)
CE_SHAPES = [(1, 1), (3, 10), (257, 3), (3, 1000), (5, 257), (4100, 3), (0, 4)]
REDUCTIONS = ("mean", "sum", "none")
RTOL, ATOL = 1e-5, 2e-6


def _ce_inputs(shape, rng, ignore=False):
    N, C = shape
    x = np.asarray(rng.standard_normal(shape) * 3, np.float32)
    t = rng.integers(0, max(C, 1), N).astype(np.int64)
    if ignore and N:
        t[:: max(N // 3, 1)] = -100
    w = np.asarray(rng.uniform(0.2, 2.0, C), np.float32)
    return x, t, w


def _ce_run(module, x, t, w, ls, red, conv=lambda a: a):
    loss, lse = module.cross_entropy_forward(conv(x), conv(t), w, label_smoothing=ls, reduction=red)
    g = np.asarray(np.linspace(-1, 2, x.shape[0]) if red == "none" else 0.7, np.float32)
    dx = module.cross_entropy_backward(
        conv(g), conv(x), conv(t), lse, w, label_smoothing=ls, reduction=red
    )
    return loss, lse, dx, g


def _ce_check(x, t, w, ls, red, loss, lse, dx, g):
    loss_r, lse_r = _C.cross_entropy_forward(x, t, w, label_smoothing=ls, reduction=red)
    dx_r = _C.cross_entropy_backward(g, x, t, lse_r, w, label_smoothing=ls, reduction=red)
    assert loss.shape == loss_r.shape and loss.dtype == np.float32
    assert lse.shape == lse_r.shape and dx.shape == x.shape
    np.testing.assert_allclose(lse, lse_r, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(loss, loss_r, rtol=RTOL, atol=1e-5)
    np.testing.assert_allclose(dx, dx_r, rtol=RTOL, atol=ATOL)


CE_CASES = [
    (shape, weighted, ls, red, ignore)
    for shape in CE_SHAPES
    for weighted in (False, True)
    for ls in (0.0, 0.1)
    for red in REDUCTIONS
    for ignore in ((False, True) if red == "mean" else (False,))
]


@pytest.mark.parametrize(("shape", "weighted", "ls", "red", "ignore"), CE_CASES)
def test_host_driver_cross_entropy(shape, weighted, ls, red, ignore, rng):
    x, t, w = _ce_inputs(shape, rng, ignore)
    w = w if weighted else None
    loss, lse, dx, g = _ce_run(_C.cuda_host, x, t, w, ls, red)
    _ce_check(x, t, w, ls, red, loss, lse, dx, g)


def test_host_driver_cross_entropy_all_ignored_and_inf_rows():
    x = np.array([[0.0, 1.0, 2.0], [np.inf, 0.0, 1.0], [-np.inf, -np.inf, -np.inf]], np.float32)
    t = np.array([-100, -100, -100], np.int64)
    for red in REDUCTIONS:
        loss, lse = _C.cuda_host.cross_entropy_forward(x, t, reduction=red)
        loss_r, lse_r = _C.cross_entropy_forward(x, t, reduction=red)
        np.testing.assert_allclose(lse, lse_r, rtol=1e-6)  # lse = m when m = +-inf
        np.testing.assert_array_equal(np.isnan(loss), np.isnan(loss_r))  # mean: 0 / 0
        np.testing.assert_allclose(loss, loss_r)


def test_host_driver_cross_entropy_custom_ignore_index(rng):
    x, t, w = _ce_inputs((7, 5), rng)
    t[2] = 3
    got = _C.cuda_host.cross_entropy_forward(x, t, w, ignore_index=3, reduction="none")[0]
    ref = _C.cross_entropy_forward(x, t, w, ignore_index=3, reduction="none")[0]
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=ATOL)
    assert got[2] == 0


MSE_SHAPES = [(), (1,), (7,), (3, 5), (257, 3), (4097 * 3 + 5,), (0,)]


@pytest.mark.parametrize("shape", MSE_SHAPES)
@pytest.mark.parametrize("red", REDUCTIONS)
def test_host_driver_mse(shape, red, rng):
    x = np.asarray(rng.standard_normal(shape), np.float32)
    y = np.asarray(rng.standard_normal(shape), np.float32)
    g = np.asarray(rng.standard_normal(shape) if red == "none" else 1.3, np.float32)
    h = _C.cuda_host
    with np.errstate(invalid="ignore"):
        ref = _C.mse_loss_forward(x, y, red)
        got = h.mse_loss_forward(x, y, red)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(
        h.mse_loss_backward(g, x, y, red), _C.mse_loss_backward(g, x, y, red), rtol=RTOL, atol=ATOL
    )


def test_host_driver_errors():
    h = _C.cuda_host
    x = np.zeros((3, 4), np.float32)
    t = np.array([0, 1, 2], np.int64)
    with pytest.raises(TypeError, match="cross_entropy_forward.*logits"):
        h.cross_entropy_forward(x.astype(np.float64), t)
    with pytest.raises(TypeError, match="target"):
        h.cross_entropy_forward(x, t.astype(np.int32))
    with pytest.raises(ValueError, match="out of range"):
        h.cross_entropy_forward(x, np.array([0, 4, 1], np.int64))
    with pytest.raises(ValueError, match="entries"):
        h.cross_entropy_forward(x, t[:2])
    with pytest.raises(ValueError, match="reduction"):
        h.cross_entropy_forward(x, t, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        h.cross_entropy_forward(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="weight"):
        h.cross_entropy_forward(x, t, np.ones(3, np.float32))
    lse = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="grad_out"):
        h.cross_entropy_backward(np.ones(2, np.float32), x, t, lse, reduction="none")
    with pytest.raises(ValueError, match="grad_out"):
        h.cross_entropy_backward(np.ones(3, np.float32), x, t, lse, reduction="mean")
    with pytest.raises(ValueError, match="lse"):
        h.cross_entropy_backward(np.ones((), np.float32), x, t, lse[:2])
    with pytest.raises(ValueError, match="mse_loss_forward.*same shape"):
        h.mse_loss_forward(np.ones(3, np.float32), np.ones(4, np.float32))
    with pytest.raises(TypeError, match="mse_loss_backward"):
        h.mse_loss_backward(np.ones((), np.float32), np.ones(3), np.ones(3))


@requires_gpu
@pytest.mark.parametrize(("shape", "weighted", "ls", "red", "ignore"), CE_CASES)
def test_gpu_cross_entropy(shape, weighted, ls, red, ignore, rng):
    x, t, w = _ce_inputs(shape, rng, ignore)
    w_d = to_gpu(w) if weighted else None
    from cuda_helpers import cuda_module

    loss, lse, dx, g = _ce_run(cuda_module(), x, t, w_d, ls, red, conv=to_gpu)
    _ce_check(x, t, w if weighted else None, ls, red, to_cpu(loss), to_cpu(lse), to_cpu(dx), g)


@requires_gpu
@pytest.mark.parametrize("shape", MSE_SHAPES)
@pytest.mark.parametrize("red", REDUCTIONS)
def test_gpu_mse(shape, red, rng):
    from cuda_helpers import cuda_module

    c = cuda_module()
    x = np.asarray(rng.standard_normal(shape), np.float32)
    y = np.asarray(rng.standard_normal(shape), np.float32)
    g = np.asarray(rng.standard_normal(shape) if red == "none" else 1.3, np.float32)
    with np.errstate(invalid="ignore"):
        ref = _C.mse_loss_forward(x, y, red)
    got = to_cpu(c.mse_loss_forward(to_gpu(x), to_gpu(y), red))
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=ATOL)
    dx = to_cpu(c.mse_loss_backward(to_gpu(g), to_gpu(x), to_gpu(y), red))
    np.testing.assert_allclose(dx, _C.mse_loss_backward(g, x, y, red), rtol=RTOL, atol=ATOL)


@requires_gpu
def test_gpu_errors():
    from cuda_helpers import cuda_module

    c = cuda_module()
    x = to_gpu(np.zeros((3, 4), np.float32))
    t = to_gpu(np.array([0, 1, 2], np.int64))
    with pytest.raises(TypeError, match="float32"):
        c.cross_entropy_forward(to_gpu(np.zeros((3, 4))), t)
    with pytest.raises(TypeError, match="int64"):
        c.cross_entropy_forward(x, to_gpu(np.array([0, 1, 2], np.int32)))
    with pytest.raises(ValueError, match="out of range"):
        c.cross_entropy_forward(x, to_gpu(np.array([0, 4, 1], np.int64)))
    with pytest.raises(ValueError, match="weight"):
        c.cross_entropy_forward(x, t, to_gpu(np.ones(3, np.float32)))
    with pytest.raises(TypeError, match="weight"):
        c.cross_entropy_forward(x, t, np.ones(4, np.float32))
    with pytest.raises(ValueError, match="grad_out"):
        c.cross_entropy_backward(
            to_gpu(np.ones(2, np.float32)), x, t, to_gpu(np.zeros(3, np.float32)), reduction="none"
        )
    with pytest.raises(ValueError, match="same shape"):
        c.mse_loss_forward(to_gpu(np.ones(3, np.float32)), to_gpu(np.ones(4, np.float32)))
