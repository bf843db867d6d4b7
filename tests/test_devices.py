"""Devices and the backend seam: gradcore.device, Tensor.device, gradcore.cuda without a
CUDA build, and ops dispatching to the kernel table of their inputs' device (checked with
a test-only fake device whose kernels count their calls)."""

import collections
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import gradcore
import gradcore.nn.functional as F
from gradcore import _C, devices

HAS_CUDA_MODULE = importlib.util.find_spec("gradcore._C_cuda") is not None


def test_device_objects_compare_like_torch():
    cpu = gradcore.device("cpu")
    assert cpu == "cpu" and "cpu" == cpu and cpu == gradcore.device(cpu)
    assert str(cpu) == "cpu" and repr(cpu) == "device(type='cpu')"
    assert cpu.type == "cpu" and cpu.index is None
    assert hash(cpu) == hash("cpu")
    c1 = gradcore.device("cuda:1")
    assert (c1.type, c1.index) == ("cuda", 1) and c1 == gradcore.device("cuda", 1)
    assert c1 != "cuda:0" and c1 != cpu
    with pytest.raises(ValueError, match="unknown device type 'tpu'"):
        gradcore.device("tpu")
    with pytest.raises(ValueError, match="index"):
        gradcore.device("cuda:x")
    with pytest.raises(TypeError, match="device"):
        gradcore.device(3)


def test_tensor_device_is_a_device_equal_to_cpu():
    t = gradcore.ones(2)
    assert isinstance(t.device, gradcore.device) and t.device == "cpu" and not t.is_cuda
    # storage of a numpy subclass is on the cpu too, and mixes with plain arrays
    sub = gradcore.from_numpy(np.ones(3).view(np.recarray))
    assert sub.device == "cpu" and (sub + gradcore.ones(3, dtype=gradcore.float64)).device == "cpu"
    assert gradcore.zeros(2, device="cpu").device == gradcore.device("cpu")


@pytest.mark.skipif(gradcore.cuda.is_available(), reason="a CUDA GPU is visible")
def test_cuda_is_not_available_without_a_gpu():
    assert gradcore.cuda.is_available() is False
    assert gradcore.cuda.device_count() == 0
    assert gradcore.cuda.is_built() == HAS_CUDA_MODULE
    why = "built without its CUDA module" if not HAS_CUDA_MODULE else "no GPU is visible"
    for call in (
        gradcore.cuda.current_device,
        gradcore.cuda.synchronize,
        gradcore.cuda.memory_allocated,
        gradcore.cuda.Stream,
        gradcore.cuda.init,
    ):
        with pytest.raises(RuntimeError, match=why):
            call()
    t = gradcore.ones(2)
    for move in (lambda: t.to("cuda"), lambda: t.cuda(), lambda: gradcore.ones(2, device="cuda")):
        with pytest.raises(RuntimeError, match=r"CUDA is not available.*is_available\(\) is False"):
            move()
    with pytest.raises(RuntimeError, match="CUDA"):
        gradcore.nn.Linear(2, 2).cuda()


def test_cuda_availability_matches_device_count():
    assert gradcore.cuda.is_available() == (gradcore.cuda.device_count() > 0)


def test_import_gradcore_does_not_import_the_cuda_module():
    code = "import sys, gradcore; print('gradcore._C_cuda' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------- a fake device
class FakeArray(np.ndarray):
    """Storage of the test-only "fake" device: a numpy array of its own type."""


class CountingKernels:
    """A kernel table that runs gradcore._C's kernels, counts each call by name and returns
    its arrays as FakeArray (so results stay on the fake device)."""

    def __init__(self):
        self.calls = collections.Counter()

    def __getattr__(self, name):
        fn = getattr(_C, name)

        def kernel(*args):
            self.calls[name] += 1
            out = fn(*args)
            if isinstance(out, tuple):
                return tuple(o.view(FakeArray) for o in out)
            return out.view(FakeArray)

        return kernel


@pytest.fixture
def fake():
    kernels = CountingKernels()
    devices.register_backend(
        "fake",
        FakeArray,
        kernels,
        lambda a: np.array(a).view(FakeArray),
        lambda a: np.array(a.view(np.ndarray)),
    )
    try:
        yield kernels
    finally:
        devices.unregister_backend("fake")


def test_ops_use_the_kernel_table_of_their_inputs_device(fake, rng):
    x0 = rng.standard_normal((4, 5)).astype(np.float32)
    x = gradcore.tensor(x0).to("fake").detach().requires_grad_()
    assert x.device == "fake" and str(x.device) == "fake"
    y = F.relu(x)
    assert y.device == "fake" and fake.calls["relu_forward"] == 1
    y.sum().backward()
    assert fake.calls["relu_backward"] == 1  # backward uses the forward's table
    np.testing.assert_array_equal(np.asarray(y.numpy()), np.maximum(x0, 0))
    w = gradcore.tensor(rng.standard_normal((5, 3)).astype(np.float32)).to("fake")
    assert (x @ w).device == "fake" and fake.calls["gemm"] == 1
    back = y.to("cpu")
    assert back.device == "cpu" and type(back.numpy()) is np.ndarray


def test_cpu_ops_do_not_touch_another_backend(fake, rng):
    x = gradcore.tensor(rng.standard_normal((2, 3)).astype(np.float32))
    F.relu(x)
    assert sum(fake.calls.values()) == 0


def test_ops_on_two_devices_raise_naming_the_op_and_devices(fake, rng):
    x = gradcore.tensor(rng.standard_normal((1, 2, 5, 5)).astype(np.float32))
    xf = x.to("fake")
    w = gradcore.tensor(rng.standard_normal((3, 2, 3, 3)).astype(np.float32))
    cases = [
        ("Add", lambda: xf + x),
        ("Mul", lambda: x * xf),
        ("Conv2d", lambda: F.conv2d(xf, w)),
        ("Conv2d", lambda: F.conv2d(x, w, xf.reshape(50)[:3])),  # the bias elsewhere
        ("MatMul2d", lambda: xf.reshape(2, 25) @ x.reshape(25, 2)),
        ("Linear", lambda: F.linear(x.reshape(2, 25), xf.reshape(2, 25))),
        ("Linear", lambda: F.linear(x.reshape(2, 25), x.reshape(2, 25), xf.reshape(50)[:2])),
        ("Cat", lambda: gradcore.cat([x, xf])),
    ]
    for op, call in cases:
        devices = "'fake' and 'cpu'|'cpu' and 'fake'"
        with pytest.raises(RuntimeError, match=rf"^{op}: .*same device.*({devices})"):
            call()
    assert fake.calls["conv2d_forward"] == 0


def test_bindings_are_called_once_on_invalid_input(fake, rng):
    """Layouts are fixed before the one kernel call; a bad call is not retried."""
    x = gradcore.tensor(rng.standard_normal((1, 4, 5, 5)).astype(np.float32)).to("fake")
    w = gradcore.tensor(rng.standard_normal((3, 2, 3, 3)).astype(np.float32)).to("fake")
    xt = x.permute(0, 1, 3, 2)  # not C-contiguous, and 4 channels for a 2-channel weight
    with pytest.raises(ValueError):
        F.conv2d(xt, w)
    assert fake.calls["conv2d_forward"] == 1
    ints = gradcore.tensor(np.arange(12).reshape(3, 4)).to("fake").t()  # int64, transposed
    with pytest.raises((TypeError, ValueError)):
        F.relu(ints)
    assert fake.calls["relu_forward"] == 1
    from gradcore.ops.matmul import mm

    a = np.asfortranarray(rng.standard_normal((3, 4)).astype(np.float32)).view(FakeArray)
    b = rng.standard_normal((5, 2)).astype(np.float32).view(FakeArray)  # 4 != 5
    with pytest.raises(ValueError, match="gemm"):
        mm(fake, a, b)
    assert fake.calls["gemm"] == 1


def test_strided_operands_are_passed_without_changing_results(fake, rng):
    """A layout the kernel rejects (transposed views) is fixed and computed once more."""
    x0 = rng.standard_normal((6, 4)).astype(np.float32)
    w0 = rng.standard_normal((6, 3)).astype(np.float32)
    x = gradcore.tensor(x0).to("fake")
    w = gradcore.tensor(w0).to("fake")
    np.testing.assert_array_equal(np.asarray((x.t() @ w).numpy()), _C.gemm(x0, w0, None, True))
    np.testing.assert_array_equal(np.asarray(F.relu(x.t()).numpy()), np.maximum(x0.T, 0))


def test_module_to_moves_parameters_buffers_and_grads_in_place(fake, rng):
    model = gradcore.nn.Sequential(gradcore.nn.Conv2d(2, 3, 3), gradcore.nn.BatchNorm2d(3))
    params = list(model.parameters())
    model[0].weight.grad = gradcore.zeros_like(model[0].weight)
    assert model.to("fake") is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]  # same objects
    for t in list(model.parameters()) + list(model.buffers()):
        assert t.device == "fake"
    assert model[0].weight.grad.device == "fake"
    model.cpu()
    assert all(t.device == "cpu" for t in list(model.parameters()) + list(model.buffers()))
    assert model[0].weight.grad.device == "cpu"
