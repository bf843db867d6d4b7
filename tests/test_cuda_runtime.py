"""The CUDA runtime through gradcore.cuda: devices, DeviceArray copies, the caching
allocator, streams and events, Tensors and Modules on "cuda". Every test needs a GPU and
skips, with the reason, without one (test_devices.py covers the no-GPU behaviour)."""

import numpy as np
import pytest
from cuda_helpers import cuda_module, requires_gpu

import gradcore
import gradcore.nn.functional as F

pytestmark = requires_gpu

DTYPES = ["float32", "float64", "float16", "int64", "int32", "uint8", "bool"]


def test_device_queries():
    assert gradcore.cuda.device_count() >= 1
    assert gradcore.cuda.current_device() == 0
    assert isinstance(gradcore.cuda.get_device_name(), str) and gradcore.cuda.get_device_name()
    major, _minor = gradcore.cuda.get_device_capability()
    assert major >= 8  # the build carries SASS for sm_80 and sm_90
    gradcore.cuda.synchronize()
    with pytest.raises(IndexError, match="does not exist"):
        gradcore.cuda.set_device(gradcore.cuda.device_count())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 5, 2)])
def test_device_array_round_trip(dtype, shape, rng):
    a = np.asarray(rng.standard_normal(shape) * 10).astype(dtype)
    d = cuda_module().DeviceArray.from_numpy(a)
    assert d.shape == a.shape and d.dtype == a.dtype and d.size == a.size and d.device == 0
    np.testing.assert_array_equal(d.numpy(), a)
    np.testing.assert_array_equal(d.copy().numpy(), a)


def test_device_array_views_and_errors(rng):
    DA = cuda_module().DeviceArray
    a = rng.standard_normal((4, 6)).astype(np.float32)
    d = DA.from_numpy(a[:, ::2])  # strided input is copied in C order
    np.testing.assert_array_equal(d.numpy(), a[:, ::2])
    np.testing.assert_array_equal(d.reshape((3, 4)).numpy(), a[:, ::2].reshape(3, 4))
    with pytest.raises(ValueError, match="cannot reshape"):
        d.reshape((5,))
    with pytest.raises(TypeError, match="complex64"):
        DA.from_numpy(np.ones(2, np.complex64))
    np.testing.assert_array_equal(DA.zeros((2, 3)).numpy(), np.zeros((2, 3), np.float32))


def test_caching_allocator_reuses_and_counts_blocks():
    DA = cuda_module().DeviceArray
    gradcore.cuda.empty_cache()
    base = gradcore.cuda.memory_allocated()
    d = DA.empty((1 << 20,), "float32")  # 4 MiB
    assert gradcore.cuda.memory_allocated() - base == 4 << 20
    reserved = gradcore.cuda.memory_reserved()
    ptr = d.data_ptr
    del d
    assert gradcore.cuda.memory_allocated() == base
    assert gradcore.cuda.memory_reserved() == reserved  # cached, not freed
    d = DA.empty((1 << 20,), "float32")
    assert d.data_ptr == ptr  # the cached block is reused
    del d
    gradcore.cuda.empty_cache()
    assert gradcore.cuda.memory_reserved() < reserved


def test_out_of_memory_is_a_memory_error():
    with pytest.raises(MemoryError, match="CUDA out of memory"):
        cuda_module().DeviceArray.empty((1 << 50,), "float32")


def test_streams_and_events(rng):
    s = gradcore.cuda.Stream()
    start, end = gradcore.cuda.Event(), gradcore.cuda.Event()
    x = rng.standard_normal(1 << 20).astype(np.float32)
    with gradcore.cuda.stream(s):
        start.record(s)
        d = cuda_module().relu_forward(cuda_module().DeviceArray.from_numpy(x))
        end.record(s)
    end.synchronize()
    assert start.elapsed_time(end) >= 0.0
    np.testing.assert_array_equal(d.numpy(), np.maximum(x, 0))


def test_tensor_and_module_move_to_cuda_and_back(rng):
    x0 = rng.standard_normal((3, 4)).astype(np.float32)
    x = gradcore.tensor(x0).cuda().requires_grad_()
    assert x.device == "cuda:0" or x.device.type == "cuda"
    y = F.relu(x)
    assert y.device.type == "cuda"
    y.sum().backward()
    np.testing.assert_array_equal(y.cpu().numpy(), np.maximum(x0, 0))
    np.testing.assert_array_equal(x.grad.cpu().numpy(), (x0 > 0).astype(np.float32))
    model = gradcore.nn.Linear(4, 2).cuda()
    assert all(p.device.type == "cuda" for p in model.parameters())
    model.cpu()
    assert all(p.device == "cpu" for p in model.parameters())
