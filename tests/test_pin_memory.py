"""Pinned host memory and asynchronous copies: gradcore.cuda.pinned_empty / is_pinned,
Tensor.pin_memory / is_pinned / to(..., non_blocking=True), DataLoader(pin_memory=True).

Everywhere: the arguments exist and are checked, the no-GPU behaviour (a warning, unpinned
batches, RuntimeErrors saying why), non_blocking on the CPU, and the reuse rules of the
loader's buffer pool on stand-in (unpinned) buffers. With a GPU (`requires_gpu`): real
pinned memory and asynchronous copies."""

from __future__ import annotations

import weakref

import numpy as np
import pytest
from cuda_helpers import cuda_module, requires_gpu

import gradcore
import gradcore.cuda
from gradcore import devices
from gradcore.data import DataLoader, TensorDataset, pinning
from gradcore.data import transforms as T

no_gpu = pytest.mark.skipif(gradcore.cuda.is_available(), reason="checks the no-GPU behaviour")
WARNING = "pin_memory=True but no CUDA GPU is available; batches are not pinned"


def _dataset(n=23):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, 3, 4, 4)).astype(np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    return TensorDataset(gradcore.tensor(x), gradcore.tensor(y))


def _epoch(loader):
    return [tuple(f.numpy().copy() for f in batch) for batch in loader]


def _assert_same_batches(a, b):
    assert len(a) == len(b)
    for ba, bb in zip(a, b):
        assert len(ba) == len(bb)
        for fa, fb in zip(ba, bb):
            assert fa.dtype == fb.dtype and fa.shape == fb.shape
            np.testing.assert_array_equal(fa, fb)


def _loader(pin_memory, prefetch=2, **kw):
    return DataLoader(
        _dataset(),
        batch_size=5,
        shuffle=True,
        seed=3,
        prefetch=prefetch,
        transform=T.RandomHorizontalFlip(),
        pin_memory=pin_memory,
        **kw,
    )


# ------------------------------------------------------------------------------ everywhere
@pytest.mark.parametrize("bad", ["yes", 1, None, 0.0])
def test_loader_pin_memory_must_be_a_bool(bad):
    with pytest.raises(TypeError, match="pin_memory must be a bool"):
        DataLoader(_dataset(), batch_size=4, pin_memory=bad)


def test_loader_pin_memory_defaults_to_false():
    loader = DataLoader(_dataset(), batch_size=4)
    assert loader.pin_memory is False
    assert "pin_memory" not in repr(loader)


@no_gpu
@pytest.mark.parametrize("prefetch", [0, 2])
def test_loader_without_gpu_warns_and_yields_the_same_batches(prefetch):
    with pytest.warns(UserWarning, match=WARNING):
        pinned = _loader(True, prefetch)
    assert pinned.pin_memory is True and "pin_memory=True" in repr(pinned)
    plain = _loader(False, prefetch)
    for _ in range(2):  # two epochs: the order and augmentation still follow (seed, epoch)
        batches = list(pinned)
        assert not any(f.is_pinned() for b in batches for f in b)
        _assert_same_batches([tuple(f.numpy() for f in b) for b in batches], _epoch(plain))


@no_gpu
def test_loader_without_gpu_warns_once_per_loader():
    with pytest.warns(UserWarning, match=WARNING) as record:
        loader = _loader(True)
        list(loader)
        list(loader)
    assert len([w for w in record if WARNING in str(w.message)]) == 1


@no_gpu
def test_pin_memory_without_cuda_says_why():
    t = gradcore.ones(3)
    with pytest.raises(RuntimeError, match="Tensor.pin_memory: CUDA is not available"):
        t.pin_memory()
    with pytest.raises(RuntimeError, match="pinned_empty: CUDA is not available"):
        gradcore.cuda.pinned_empty((2, 3))
    with pytest.raises(RuntimeError, match="is_pinned: CUDA is not available"):
        gradcore.cuda.is_pinned(np.zeros(3))


def test_is_pinned_is_false_for_ordinary_tensors():
    assert not gradcore.ones(3).is_pinned()
    assert not gradcore.tensor(np.arange(6).reshape(2, 3)).is_pinned()
    assert not gradcore.zeros(0).is_pinned()


def test_non_blocking_to_the_cpu_is_accepted_and_changes_nothing():
    t = gradcore.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert t.to("cpu", non_blocking=True) is t
    assert t.to(devices.CPU, None, True) is t
    u = t.to("cpu", gradcore.float64, non_blocking=True)
    assert u.dtype == np.float64
    np.testing.assert_array_equal(u.numpy(), t.numpy())
    assert t.to(gradcore.float32, non_blocking=True) is t


class FakeArray(np.ndarray):
    """Storage of a stand-in device "fake" (a numpy subclass)."""


def test_non_blocking_reaches_the_backends_non_blocking_copy():
    calls = []

    def copy(kind):
        def from_numpy(a):
            calls.append(kind)
            return np.array(a).view(FakeArray)

        return from_numpy

    devices.register_backend(
        "fake",
        FakeArray,
        gradcore._C,
        copy("blocking"),
        lambda a: np.array(a.view(np.ndarray)),
        from_numpy_non_blocking=copy("non_blocking"),
    )
    try:
        t = gradcore.tensor([1.0, 2.0])
        assert t.to("fake").device == "fake" and calls == ["blocking"]
        u = t.to("fake", non_blocking=True)
        assert calls == ["blocking", "non_blocking"]
        np.testing.assert_array_equal(u.cpu().numpy(), [1.0, 2.0])
    finally:
        devices.unregister_backend("fake")
    # a backend without a non_blocking copy copies as usual
    devices.register_backend(
        "fake", FakeArray, gradcore._C, copy("blocking"), lambda a: np.array(a.view(np.ndarray))
    )
    try:
        calls.clear()
        gradcore.tensor([1.0]).to("fake", non_blocking=True)
        assert calls == ["blocking"]
    finally:
        devices.unregister_backend("fake")


class Made(list):
    """Weak references to the stand-in pinned buffers (a strong one would keep them busy)."""

    def __getitem__(self, i):
        return super().__getitem__(i)()

    def has(self, a) -> bool:
        return any(a is r() for r in list.__iter__(self))


@pytest.fixture
def stand_in_pinned(monkeypatch):
    """gradcore.cuda.pinned_empty replaced by numpy.empty (no GPU needed): the pool's and
    the loader's logic run on ordinary buffers; returns the buffers handed out (Made)."""
    made = Made()

    def fake_pinned_empty(shape, dtype=np.float32):
        a = np.empty(shape, dtype)
        made.append(weakref.ref(a))
        return a

    monkeypatch.setattr(gradcore.cuda, "pinned_empty", fake_pinned_empty)
    monkeypatch.setattr(gradcore.cuda, "_release_finished_copies", lambda m=None: 0)
    return made


def test_pool_reuses_a_buffer_only_when_nothing_refers_to_it(stand_in_pinned):
    pool = pinning.PinnedBufferPool(per_shape=2)
    a = pool.buffer((2, 3), np.float32)
    b = pool.buffer((2, 3), np.float32)
    assert a is not b and pool.allocated == 2  # a is still held
    view = a[1:]
    del a
    c = pool.buffer((2, 3), np.float32)  # a's view still refers to it; b is held
    assert pool.allocated == 3 and c is not view.base
    del view
    d = pool.buffer((2, 3), np.float32)
    assert d is stand_in_pinned[0] and pool.allocated == 3  # reused
    assert pool.buffer((2, 3), np.int64) is not d  # another dtype, another buffer
    del b, c, d
    assert pool.buffer((2, 3), np.float32) is stand_in_pinned[0]


def test_pool_pins_every_numeric_array_of_a_batch(stand_in_pinned):
    pool = pinning.PinnedBufferPool()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    names = np.array(["a", None], dtype=object)
    out = pool.pin({"x": x, "pair": (x.T, 3), "list": [x[0]], "names": names})
    assert out["names"] is names and out["pair"][1] == 3
    for got, want in [(out["x"], x), (out["pair"][0], x.T), (out["list"][0], x[0])]:
        assert stand_in_pinned.has(got)
        assert got.flags.c_contiguous
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("prefetch", [0, 2])
def test_loader_batches_kept_by_the_caller_are_never_overwritten(
    stand_in_pinned, monkeypatch, prefetch
):
    monkeypatch.setattr(gradcore.cuda, "is_available", lambda: True)
    loader = _loader(True, prefetch)
    kept = list(loader)  # every batch held: the pool may not reuse any buffer
    assert all(stand_in_pinned.has(f._data) for b in kept for f in b)
    _assert_same_batches([tuple(f.numpy() for f in b) for b in kept], _epoch(_loader(False)))


@pytest.mark.parametrize("prefetch", [0, 2])
def test_loader_reuses_buffers_of_dropped_batches(stand_in_pinned, monkeypatch, prefetch):
    monkeypatch.setattr(gradcore.cuda, "is_available", lambda: True)
    loader = DataLoader(
        _dataset(60), batch_size=5, seed=1, prefetch=prefetch, pin_memory=True, drop_last=True
    )
    seen = [tuple(f.numpy().copy() for f in b) for b in loader]  # each batch dropped in turn
    _assert_same_batches(seen, _epoch(DataLoader(_dataset(60), batch_size=5, seed=1)))
    # two fields (x, y), at most per_shape = prefetch + 3 buffers each, for 12 batches
    assert len(stand_in_pinned) <= 2 * (prefetch + 3) < 2 * 12


# -------------------------------------------------------------------------------- with a GPU
@requires_gpu
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8", "bool"])
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 5, 2)])
def test_pinned_empty_is_pinned(dtype, shape):
    a = gradcore.cuda.pinned_empty(shape, dtype)
    assert a.shape == shape and a.dtype == np.dtype(dtype) and a.flags.c_contiguous
    assert a.flags.writeable and gradcore.cuda.is_pinned(a)
    if a.ndim:
        assert gradcore.cuda.is_pinned(a[1:])  # views of pinned memory are pinned
    a[...] = np.arange(a.size).reshape(shape).astype(dtype)
    np.testing.assert_array_equal(a, np.arange(a.size).reshape(shape).astype(dtype))
    assert not gradcore.cuda.is_pinned(np.zeros(shape, dtype))


@requires_gpu
def test_pinned_empty_checks_its_arguments():
    with pytest.raises(ValueError, match="negative"):
        gradcore.cuda.pinned_empty((2, -1))
    with pytest.raises(TypeError, match="object"):
        gradcore.cuda.pinned_empty(3, object)
    with pytest.raises(TypeError, match="numpy array"):
        gradcore.cuda.is_pinned([1.0, 2.0])
    assert gradcore.cuda.pinned_empty(4).shape == (4,)


@requires_gpu
def test_tensor_pin_memory():
    x0 = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = gradcore.tensor(x0).requires_grad_()
    p = t.pin_memory()
    assert p.is_pinned() and not t.is_pinned() and p.device == "cpu"
    np.testing.assert_array_equal(p.numpy(), x0)
    assert p.pin_memory() is p
    (p * 2).sum().backward()  # pin_memory is in the graph, like PyTorch's
    np.testing.assert_array_equal(t.grad.numpy(), np.full_like(x0, 2))
    with pytest.raises(RuntimeError, match="only CPU tensors can be pinned"):
        t.detach().cuda().pin_memory()
    assert not t.detach().cuda().is_pinned()


@requires_gpu
def test_non_blocking_copies_give_the_same_values():
    rng = np.random.default_rng(0)
    srcs = [rng.standard_normal((64, 1000)).astype(np.float32) for _ in range(8)]
    outs = []
    for s in srcs:  # the pinned sources are dropped at once: the copies hold them
        outs.append(gradcore.tensor(s).pin_memory().to("cuda", non_blocking=True))
    outs.append(gradcore.tensor(srcs[0]).cuda(non_blocking=True))  # not pinned: waits
    gradcore.cuda.synchronize()
    assert gradcore.cuda._release_finished_copies() == 0
    for s, o in zip(srcs + srcs[:1], outs):
        np.testing.assert_array_equal(o.cpu().numpy(), s)


@requires_gpu
def test_device_array_from_numpy_non_blocking():
    m = cuda_module()
    a = gradcore.cuda.pinned_empty((5, 3), "float32")
    a[...] = np.arange(15, dtype=np.float32).reshape(5, 3)
    d = m.DeviceArray.from_numpy(a, 0, non_blocking=True)
    strided = m.DeviceArray.from_numpy(a[:, 1], 0, non_blocking=True)  # copied on the host
    plain = m.DeviceArray.from_numpy(np.ones(4, np.float32), 0, non_blocking=True)
    gradcore.cuda.synchronize()
    np.testing.assert_array_equal(d.numpy(), a)
    np.testing.assert_array_equal(strided.numpy(), a[:, 1])
    np.testing.assert_array_equal(plain.numpy(), np.ones(4, np.float32))


@requires_gpu
@pytest.mark.parametrize("prefetch", [0, 2])
def test_loader_batches_are_pinned_and_copy_asynchronously(prefetch):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "no CUDA GPU" warning with a GPU
        loader = _loader(True, prefetch)
    reference = _epoch(_loader(False, prefetch))
    on_gpu = []
    for batch in loader:
        assert all(f.is_pinned() for f in batch)
        on_gpu.append(tuple(f.to("cuda", non_blocking=True) for f in batch))
    gradcore.cuda.synchronize()
    _assert_same_batches([tuple(f.cpu().numpy() for f in b) for b in on_gpu], reference)
    # buffers come back to the pool: a second epoch allocates few if any
    allocated = loader._pin_pool.allocated
    for batch in loader:
        x = batch[0].to("cuda", non_blocking=True)
        del batch, x
    assert loader._pin_pool.allocated <= allocated + 2 * (prefetch + 3)
