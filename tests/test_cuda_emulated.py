"""Training on an emulated CUDA device, without a GPU.

The device "emu" stores tensors as EmulatedDeviceArray, a class with DeviceArray's interface
(shape, dtype, copy, reshape views with a base, numpy() as the only way back to the host) and
no numpy protocols; its kernel table is gradcore._C.cuda_host, the CPU test driver that runs
the CUDA kernels' own per-thread code, plus the CPU gemm in place of cuBLAS. The numpy-like
methods are gradcore.device_arrays', exactly as gradcore.cuda installs them on DeviceArray.

So a training step here runs the op layer, autograd, the optimizers and every CUDA kernel's
indexing the way a GPU would, and any place that still computes on numpy (or needs a kernel
that has no CUDA twin) fails. The GPU itself is not involved: launches, streams and memory
are tested by the GPU tests (tests/test_cuda_runtime.py) when a GPU is visible."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import gradcore
import gradcore.nn.functional as F
from gradcore import _C, devices
from gradcore.device_arrays import install_array_methods
from gradcore.models import build_model

# kernels that come from a vendor library on the GPU (cuBLAS): the CPU's stand in for them
VENDOR_KERNELS = {"gemm"}


class EmulatedDeviceArray:
    """DeviceArray's interface over a private, C-contiguous numpy array."""

    __slots__ = ("_host", "base")

    def __init__(self, host: np.ndarray, base=None):
        self._host = np.ascontiguousarray(host)
        self.base = base

    shape = property(lambda self: self._host.shape)
    dtype = property(lambda self: self._host.dtype)
    ndim = property(lambda self: self._host.ndim)
    size = property(lambda self: self._host.size)
    nbytes = property(lambda self: self._host.nbytes)
    device = property(lambda self: 0)

    def numpy(self) -> np.ndarray:
        return self._host.copy()

    def copy(self):
        return EmulatedDeviceArray(self._host.copy())

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return EmulatedDeviceArray(self._host.reshape(shape), self.base or self)

    def __len__(self):
        return len(self._host)


class EmulatedKernels:
    """The CUDA module's kernel table, run on the CPU: gradcore._C.cuda_host's functions on
    the arrays' host memory. A host (numpy) array passed to a kernel is an error, as it is
    for the CUDA module; so is a kernel the CUDA module does not have."""

    def __init__(self):
        self.calls = set()

    def __getattr__(self, name):
        fn = getattr(_C, name) if name in VENDOR_KERNELS else getattr(_C.cuda_host, name, None)
        if fn is None:
            raise AttributeError(f"the CUDA module has no kernel {name!r}")
        self.calls.add(name)

        def kernel(*args, **kwargs):
            out = fn(*[_unwrap(a) for a in args], **{k: _unwrap(v) for k, v in kwargs.items()})
            return _wrap(out)

        return kernel


def _unwrap(v):
    if isinstance(v, EmulatedDeviceArray):
        return v._host
    if isinstance(v, np.ndarray):
        raise TypeError("a host (numpy) array was passed to a device kernel")
    if isinstance(v, (list, tuple)):
        return type(v)(_unwrap(x) for x in v)
    return v


def _wrap(v):
    if isinstance(v, np.ndarray):
        return EmulatedDeviceArray(v)
    if isinstance(v, tuple):
        return tuple(_wrap(x) for x in v)
    return v


@contextlib.contextmanager
def emulated_device(kernels):
    """Device "emu" registered with `kernels` (EmulatedKernels or a subclass) for the block."""
    install_array_methods(EmulatedDeviceArray, kernels)
    devices.register_backend(
        "emu",
        EmulatedDeviceArray,
        kernels,
        lambda a: EmulatedDeviceArray(np.array(a, copy=True)),
        lambda d: d.numpy(),
    )
    try:
        yield kernels
    finally:
        devices.unregister_backend("emu")


@pytest.fixture
def emu():
    with emulated_device(EmulatedKernels()) as kernels:
        yield kernels


def _train(model_name, device, optimizer, steps=3):
    gradcore.manual_seed(0)
    model = build_model(model_name).to(device)
    if optimizer == "sgd":
        opt = gradcore.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    else:
        opt = gradcore.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(steps):
        x = gradcore.tensor(rng.standard_normal((6, 1, 28, 28)).astype(np.float32)).to(device)
        y = gradcore.tensor(rng.integers(0, 10, 6)).to(device)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    params = [p.cpu().detach().numpy() for p in model.parameters()]
    return losses, params


@pytest.mark.parametrize(
    "model_name, optimizer",
    [("cnn-small", "sgd"), ("cnn-bn", "adam"), ("resnet-small", "sgd"), ("mlp", "adam")],
)
def test_training_on_the_emulated_cuda_device_matches_the_cpu(emu, model_name, optimizer):
    cpu_losses, cpu_params = _train(model_name, "cpu", optimizer)
    emu_losses, emu_params = _train(model_name, "emu", optimizer)
    np.testing.assert_allclose(emu_losses, cpu_losses, rtol=1e-4)
    # Adam moves a parameter with a near-zero gradient by about +-lr whatever its size, so
    # float32 rounding differences in such gradients show up at lr scale (lr 1e-3, 3 steps)
    atol = 2e-4 if optimizer == "sgd" else 6e-3
    for a, b in zip(emu_params, cpu_params):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=atol)
    assert {"cross_entropy_forward", "cross_entropy_backward"} <= emu.calls
    if model_name != "mlp":
        assert {"conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"} <= emu.calls


def test_tensors_on_the_emulated_device_never_become_numpy(emu):
    x = gradcore.ones(3, 4).to("emu")
    assert x.device == "emu" and isinstance(x._data, EmulatedDeviceArray)
    with pytest.raises(TypeError, match="use Tensor.cpu"):
        x.numpy()
    with pytest.raises(TypeError, match="cannot be used as a numpy array"):
        np.asarray(x._data)
    y = (x * 2 + 1).sum(0)  # elementwise and reductions through the CUDA array kernels
    assert y.device == "emu"
    np.testing.assert_array_equal(y.cpu().numpy(), np.full(4, 9.0, np.float32))
    assert {"binary_op", "reduce"} <= emu.calls
