"""CUDA devices: whether gradcore's CUDA module is built, the GPUs it sees, streams, events
and the caching allocator's counters (PyTorch's `torch.cuda` names).

The CUDA kernels live in a second extension, `gradcore._C_cuda`, imported lazily on the
first question asked here (never by `import gradcore`, so importing gradcore needs no CUDA
libraries). Where it is not built, or no GPU is visible, `is_available()` is False,
`device_count()` is 0 and every other function raises a RuntimeError saying which.

When a GPU is visible, the first use of device "cuda" registers the backend (gradcore.devices):
Tensors on it are stored as `gradcore._C_cuda.DeviceArray` and their ops call the
`_C_cuda` kernels, which carry the CPU kernels' names.

Pinned host memory (`pinned_empty`, `is_pinned`; Tensor.pin_memory, DataLoader(pin_memory=
True)) is what `Tensor.to("cuda", non_blocking=True)` copies from asynchronously; such a copy
holds its source until it is done (released at the next copy, pinned allocation or
`synchronize()`).
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any, Iterator, Optional

import numpy as np

__all__ = [
    "is_available",
    "device_count",
    "current_device",
    "set_device",
    "synchronize",
    "get_device_name",
    "get_device_capability",
    "memory_allocated",
    "memory_reserved",
    "empty_cache",
    "Stream",
    "Event",
    "stream",
    "is_built",
    "init",
    "load_cublas",
    "cublas_candidates",
    "pinned_empty",
    "is_pinned",
]

_UNSET = object()
_module: Any = _UNSET  # gradcore._C_cuda, or None when it is not built


def _cuda_module():
    """gradcore._C_cuda, imported on first use; None when this build has no CUDA module."""
    global _module
    if _module is _UNSET:
        try:
            _module = importlib.import_module("gradcore._C_cuda")
        except ImportError:
            _module = None
    return _module


def is_built() -> bool:
    """True when this gradcore was built with its CUDA module (whether or not a GPU is
    visible now)."""
    return _cuda_module() is not None


def device_count() -> int:
    """Number of CUDA devices gradcore can use (0 without a CUDA build, a driver or a GPU)."""
    m = _cuda_module()
    return 0 if m is None else int(m.device_count())


def is_available() -> bool:
    """True when gradcore was built with CUDA and at least one GPU is visible."""
    return device_count() > 0


def _require(what: str = "") -> Any:
    """gradcore._C_cuda when a GPU is usable; a RuntimeError saying why not otherwise (after
    "<what>: " when `what` names the caller)."""
    m = _cuda_module()
    prefix = f"{what}: " if what else ""
    if m is None:
        raise RuntimeError(
            f"{prefix}CUDA is not available: this gradcore was built without its CUDA module "
            "(no nvcc at build time, or GRADCORE_CUDA=OFF); gradcore.cuda.is_available() is False"
        )
    if m.device_count() == 0:
        raise RuntimeError(
            f"{prefix}CUDA is not available: gradcore's CUDA module is built but no GPU is visible "
            "(no NVIDIA driver or device); gradcore.cuda.is_available() is False"
        )
    return m


def _index(device) -> int:
    """The device index of None (the current device), an int, "cuda:i" or a gradcore.device."""
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    from gradcore.devices import device as _device

    d = _device(device)
    if d.type != "cuda":
        raise ValueError(f"expected a cuda device, got {d}")
    return current_device() if d.index is None else d.index


def current_device() -> int:
    return int(_require().current_device())


def set_device(device) -> None:
    """Make `device` (an index, "cuda:i" or a gradcore.device) the current device."""
    _require().set_device(_index(device))


def synchronize(device=None) -> None:
    """Wait for all work queued on `device` (default: the current one)."""
    m = _require()
    idx = _index(device)
    prev = m.current_device()
    if idx != prev:
        m.set_device(idx)
    try:
        m.synchronize()
    finally:
        if idx != prev:
            m.set_device(prev)
    _release_finished_copies(m)


def get_device_name(device=None) -> str:
    return str(_require().get_device_name(_index(device)))


def get_device_capability(device=None) -> tuple:
    """(major, minor) compute capability, e.g. (9, 0) for an H100/H200."""
    return tuple(_require().get_device_capability(_index(device)))


def memory_allocated(device=None) -> int:
    """Bytes of device memory in live DeviceArrays (block sizes as allocated)."""
    return int(_require().memory_allocated(_index(device)))


def memory_reserved(device=None) -> int:
    """Bytes held by the caching allocator: live blocks plus cached free ones."""
    return int(_require().memory_reserved(_index(device)))


def empty_cache() -> None:
    """Return the allocator's cached free blocks to the driver."""
    _require().empty_cache()


def Stream():  # noqa: N802 - PyTorch's class name
    """A new CUDA stream on the current device (see `stream`)."""
    return _require().Stream()


def Event():  # noqa: N802 - PyTorch's class name
    """A CUDA event: `record(stream=None)`, `synchronize()`, `query()`,
    `start.elapsed_time(end)` in milliseconds."""
    return _require().Event()


@contextlib.contextmanager
def stream(s: Optional[Any]) -> Iterator[None]:
    """Issue gradcore's kernels and copies on stream `s` inside the block (this thread);
    None keeps the current stream."""
    if s is None:
        yield
        return
    m = _require()
    m.set_current_stream(s)
    try:
        yield
    finally:
        m.set_current_stream(None)


def pinned_empty(shape, dtype=np.float32) -> np.ndarray:
    """An uninitialised numpy array of `shape` and `dtype` in pinned (page-locked) host
    memory from cudaHostAlloc, returned to the driver when the array and its views are gone.
    A Tensor on it copies to the GPU asynchronously with `.to("cuda", non_blocking=True)`
    (the copy holds the array until it is done). Allocating pinned memory is slow: reuse it
    (DataLoader(pin_memory=True) keeps a few buffers per batch shape)."""
    m = _require("pinned_empty")
    return m.pinned_empty(shape, np.dtype(dtype))


def is_pinned(array) -> bool:
    """Whether numpy array `array` lives in pinned host memory (cudaHostAlloc'd, as by
    `pinned_empty`, or cudaHostRegister'd); views of pinned memory are pinned too."""
    m = _require("is_pinned")
    if not isinstance(array, np.ndarray):
        raise TypeError(f"is_pinned: expected a numpy array, got {type(array).__name__}")
    return bool(m.is_pinned(array))


def _pinned_copy(array: np.ndarray) -> np.ndarray:
    """`array` copied into a new pinned buffer of its shape and dtype (C order)."""
    out = pinned_empty(array.shape, array.dtype)
    np.copyto(out, array, casting="no")
    return out


def _release_finished_copies(m: Any = None) -> int:
    """Drop the sources that finished non_blocking host-to-device copies held; the number of
    copies still in flight (0 without CUDA)."""
    m = _cuda_module() if m is None else m
    release = getattr(m, "release_finished_copies", None)  # absent in builds before it
    return 0 if release is None else int(release())


def cublas_candidates() -> list:
    """Where gradcore looks for libcublas.so.13, in order: the `nvidia-cublas` wheel of this
    Python (extra gradcore[cuda]; nvidia/cu13/lib or nvidia/cublas/lib), then the dynamic
    loader's search path ("")."""
    import importlib.util
    import os

    found = []
    spec = importlib.util.find_spec("nvidia")
    for root in list(spec.submodule_search_locations or []) if spec else []:
        for sub in ("cu13/lib", "cublas/lib"):
            path = os.path.join(root, sub, "libcublas.so.13")
            if os.path.exists(path):
                found.append(path)
    return found + [""]


def load_cublas() -> str:
    """Load cuBLAS (the GEMMs of conv, linear and matmul on CUDA) from the first of
    `cublas_candidates()` that loads; its path. A RuntimeError naming every place tried
    and the fix (pip install 'gradcore[cuda]') when none does."""
    m = _cuda_module()
    if m is None:
        _require()
    if m.cublas_loaded():
        return m.cublas_path()
    errors = []
    for path in cublas_candidates():
        try:
            m.load_cublas(path)
            return m.cublas_path()
        except RuntimeError as e:
            errors.append(str(e))
    raise RuntimeError("cuBLAS could not be loaded:\n  " + "\n  ".join(errors))


def init() -> None:
    """Set up device type "cuda" for Tensors (gradcore.devices); done on the first use of
    "cuda", so calling it is optional. A RuntimeError saying why when CUDA is not usable."""
    m = _require()
    from gradcore import devices

    if not devices.is_registered("cuda"):
        from gradcore.device_arrays import install_array_methods

        install_array_methods(m.DeviceArray, m)
        devices.register_backend(
            "cuda",
            m.DeviceArray,
            m,
            lambda a: m.DeviceArray.from_numpy(a, m.current_device()),
            lambda d: d.numpy(),
            from_numpy_non_blocking=lambda a: m.DeviceArray.from_numpy(a, m.current_device(), True),
        )
    if not m.cublas_loaded():
        try:
            load_cublas()
        except RuntimeError:
            pass  # the first GEMM raises the loader's message; other ops work without it
