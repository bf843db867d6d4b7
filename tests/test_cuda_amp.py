"""gradcore.amp.autocast("cuda", dtype=np.float16 | gradcore.bfloat16): the argument checks
(everywhere); the CUDA path of the op layer on the emulated device of test_cuda_emulated
(everywhere: gradcore._C.cuda_host's round_to_f16 / round_to_bf16 and a stand-in for
cuBLAS's gemm_lowp that checks its operands are 16-bit values), with gradcore.cuda told a GPU
is there; and on a GPU (skipped without one) linear, matmul and conv2d against a float64
reference on the rounded inputs."""

from __future__ import annotations

import numpy as np
import pytest
from cuda_helpers import requires_gpu
from test_cuda_emulated import EmulatedDeviceArray, EmulatedKernels, emulated_device

import gradcore as gc
import gradcore.cuda
import gradcore.nn.functional as F
from gradcore import _C, amp

H = _C.cuda_host
ROUND = {"float16": H.round_to_f16, "bfloat16": H.round_to_bf16}
RTOL = {"float16": 2.0**-10, "bfloat16": 2.0**-7}  # one ulp of the output's rounding


def _dtype(name: str):
    if name == "bfloat16":
        pytest.importorskip("ml_dtypes")
        return gc.bfloat16
    return np.float16


def _is_rounded(a: np.ndarray, name: str) -> bool:
    return bool(np.array_equal(ROUND[name](a).view(np.uint32), a.view(np.uint32)))


# ---------------------------------------------------------------------- argument checks
@pytest.mark.skipif(gradcore.cuda.is_available(), reason="a GPU is visible")
def test_cuda_autocast_without_a_gpu_raises_saying_why():
    for dt in (None, np.float16):
        with pytest.raises(RuntimeError, match="device_type 'cuda' is not available: CUDA is"):
            gc.autocast("cuda", dtype=dt)
    with pytest.raises(RuntimeError, match="device_type 'tpu' is not available"):
        gc.autocast("tpu")


def test_cpu_autocast_is_bfloat16_only_as_before():
    with pytest.raises(ValueError, match="must be gradcore.bfloat16, got float16"):
        gc.autocast("cpu", dtype=np.float16)


@pytest.fixture
def gpu_said(monkeypatch):
    """gradcore.cuda says a GPU is visible (the emulated device computes)."""
    monkeypatch.setattr(gradcore.cuda, "is_available", lambda: True)


def test_cuda_dtypes(gpu_said):
    assert gc.autocast("cuda").dtype == np.float16  # PyTorch's default on CUDA
    assert gc.autocast("cuda", dtype=np.float16).dtype == np.float16
    pytest.importorskip("ml_dtypes")
    assert gc.autocast("cuda", dtype=gc.bfloat16).dtype == gc.bfloat16
    with pytest.raises(ValueError, match="on CUDA the dtype must be np.float16 or gradcore"):
        gc.autocast("cuda", dtype=np.float32)
    gc.autocast("cuda", dtype=np.float32, enabled=False)  # off: any dtype, like PyTorch
    with gc.autocast("cuda"):
        assert amp.get_autocast_device_type() == "cuda"
        assert amp.get_autocast_dtype() == np.float16
        with gc.autocast("cpu"):
            assert amp.get_autocast_device_type() == "cpu"
        assert amp.get_autocast_device_type() == "cuda"
    assert amp.get_autocast_device_type() is None


def test_cuda_autocast_leaves_cpu_tensors_alone(gpu_said, rng):
    x = gc.tensor(rng.standard_normal((6, 10)).astype(np.float32))
    w = gc.tensor(rng.standard_normal((4, 10)).astype(np.float32))
    k = gc.tensor(rng.standard_normal((3, 1, 3, 3)).astype(np.float32))
    img = gc.tensor(rng.standard_normal((2, 1, 5, 5)).astype(np.float32))
    outside = [F.linear(x, w).numpy(), (x @ w.T).numpy(), F.conv2d(img, k).numpy()]
    with gc.autocast("cuda"):
        inside = [F.linear(x, w).numpy(), (x @ w.T).numpy(), F.conv2d(img, k).numpy()]
    for a, b in zip(inside, outside):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------- the emulated CUDA device
class LowpKernels(EmulatedKernels):
    """The emulated kernel table plus gemm_lowp: cuBLAS's 16-bit GEMM stood in for by _C's
    float32 gemm, after checking that the operands hold 16-bit values (so the float32 product
    is that of the 16-bit operands, accumulated in float32)."""

    def __getattr__(self, name):
        if name != "gemm_lowp":
            return super().__getattr__(name)
        self.calls.add(name)

        def gemm_lowp(a, b, c=None, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, dtype="x"):
            for arr in (a, b):
                assert _is_rounded(arr._host, dtype), f"gemm_lowp operand not {dtype}-valued"
            host_c = None if c is None else c._host
            return EmulatedDeviceArray(
                _C.gemm(a._host, b._host, host_c, trans_a, trans_b, alpha, beta)
            )

        return gemm_lowp


@pytest.fixture
def emu_cuda(gpu_said):
    with emulated_device(LowpKernels()) as kernels:
        yield kernels


CASES = {
    "linear": ([(7, 33), (5, 33), (5,)], lambda x, w, b: F.linear(x, w, b)),
    "linear_3d": ([(2, 3, 33), (5, 33), (5,)], lambda x, w, b: F.linear(x, w, b)),
    "matmul": ([(7, 65), (65, 9)], lambda a, b: a @ b),
    "conv2d": ([(2, 3, 7, 9), (5, 3, 3, 3), (5,)], lambda x, w, b: F.conv2d(x, w, b, 1, 1)),
}
NODES = {"linear": "LinearLowp", "linear_3d": "LinearLowp", "matmul": "MatMul2dLowp"}


def _check_against_reference(fn, arrays, ts, y, name, rng):
    """y (and the inputs' gradients) are `name`-valued and within one output ulp of float64
    on the rounded inputs (float32 accumulation may cross one rounding boundary)."""
    r = ROUND[name]
    got = y.cpu().numpy()
    assert got.dtype == np.float32 and _is_rounded(got, name)
    rounded = [gc.tensor(r(a).astype(np.float64)) for a in arrays]
    want = r(fn(*rounded).numpy().astype(np.float32))
    np.testing.assert_allclose(got, want, rtol=RTOL[name], atol=1e-5)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(gc.tensor(g).to(y.device))
    plain = [gc.tensor(r(a).astype(np.float64), requires_grad=True) for a in arrays]
    fn(*plain).backward(gc.tensor(r(g).astype(np.float64)))
    for t, p in zip(ts, plain):
        grad = t.grad.cpu().numpy()
        assert grad.dtype == np.float32 and _is_rounded(grad, name)
        np.testing.assert_allclose(
            grad, r(p.grad.numpy().astype(np.float32)), rtol=2 * RTOL[name], atol=1e-3
        )


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
@pytest.mark.parametrize("op", list(CASES))
def test_emulated_cuda_ops_match_a_rounded_float64_reference(emu_cuda, rng, op, name):
    dtype = _dtype(name)
    shapes, fn = CASES[op]
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ts = [gc.tensor(a).to("emu").requires_grad_() for a in arrays]
    with gc.autocast("cuda", dtype=dtype):
        y = fn(*ts)
    assert y.device == "emu"
    if op in NODES:
        assert type(y.grad_fn.next_functions[0]).__name__ in (NODES[op], "Reshape", "View")
        assert "gemm_lowp" in emu_cuda.calls
    _check_against_reference(fn, arrays, ts, y, name, rng)


def test_emulated_device_under_cpu_autocast_stays_float32(emu_cuda, rng):
    x = gc.tensor(rng.standard_normal((6, 10)).astype(np.float32)).to("emu")
    w = gc.tensor(rng.standard_normal((4, 10)).astype(np.float32)).to("emu")
    outside = F.linear(x, w).cpu().numpy()
    with gc.autocast("cpu"):
        np.testing.assert_array_equal(F.linear(x, w).cpu().numpy(), outside)


# ----------------------------------------------------------------------------- GPU tests
@requires_gpu
@pytest.mark.parametrize("name", ["float16", "bfloat16"])
@pytest.mark.parametrize("op", list(CASES))
def test_gpu_ops_match_a_rounded_float64_reference(rng, op, name):
    dtype = _dtype(name)
    shapes, fn = CASES[op]
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ts = [gc.tensor(a).to("cuda").requires_grad_() for a in arrays]
    with gc.autocast("cuda", dtype=dtype):
        y = fn(*ts)
    assert y.device.type == "cuda"
    _check_against_reference(fn, arrays, ts, y, name, rng)
