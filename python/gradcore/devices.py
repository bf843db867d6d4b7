"""Devices and the backend registry: where a Tensor's storage lives and which kernel table
(module of native kernels) computes on it.

A backend is registered once with `register_backend(type, storage_type, kernels, ...)`:
"cpu" -> numpy arrays computed by `gradcore._C` (registered here); a CUDA build would
register "cuda" -> its device-buffer type and `gradcore._C_cuda` (see gradcore.cuda).
A Tensor's device is read off its storage's type, so Tensors carry no extra field, and an
op finds its kernels with one dict lookup on its input array's type:

    k = KERNELS[x.__class__]        # gradcore._C for numpy storage
    y = k.relu_forward(x)

Subclasses of a registered storage type (np.memmap, ...) resolve to the same backend.
`Function.apply` checks that all Tensor arguments of one op share a device.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import numpy as np

from gradcore import _C, versions

__all__ = [
    "device",
    "Backend",
    "register_backend",
    "unregister_backend",
    "is_registered",
    "backend",
    "device_of",
    "KERNELS",
    "move",
    "full_like",
    "zeros_like",
]

# Device types gradcore knows by name, registered or not (for the error messages).
KNOWN_TYPES = ("cpu", "cuda")


class device:  # noqa: N801 - PyTorch's name
    """A device like torch.device: `device("cpu")`, `device("cuda:0")`, `device("cuda", 0)`.

    Compares equal to its string form ("cpu", "cuda:0") and to devices of the same type and
    index; `type` and `index` (None when not given) as in PyTorch."""

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None):  # noqa: A002 - PyTorch's name
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got {type!r}")
        if ":" in type:
            if index is not None:
                raise ValueError(f"device: index given twice in device({type!r}, {index})")
            type, _, idx = type.partition(":")
            try:
                index = int(idx)
            except ValueError:
                raise ValueError(f"device: invalid device index in {type}:{idx!r}") from None
        if index is not None and (not isinstance(index, int) or index < 0):
            raise ValueError(f"device: index must be a non-negative int, got {index!r}")
        if type not in KNOWN_TYPES and type not in _BACKENDS:
            known = sorted(set(KNOWN_TYPES) | set(_BACKENDS))
            raise ValueError(f"unknown device type {type!r} (expected one of {known})")
        self.type = type
        self.index = index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (ValueError, TypeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash(str(self))


class Backend(NamedTuple):
    """One registered device type: its storage type, kernel table, and the transfers of a
    storage to and from a numpy array (identity for the CPU); `from_numpy_non_blocking`
    (optional) may return before the copy is done (Tensor.to(..., non_blocking=True))."""

    device: device
    storage_type: type
    kernels: Any
    from_numpy: Callable[[np.ndarray], Any]
    to_numpy: Callable[[Any], np.ndarray]
    from_numpy_non_blocking: Optional[Callable[[np.ndarray], Any]] = None


_BACKENDS: dict = {}  # device type -> Backend


class _ByStorageType(dict):
    """storage type -> value; a subclass of a registered storage type resolves (and is
    cached) on first use; an unregistered type raises a TypeError naming it."""

    def __init__(self, field: str):
        super().__init__()
        self.field = field

    def __missing__(self, cls):
        for b in _BACKENDS.values():
            if issubclass(cls, b.storage_type):
                value = getattr(b, self.field)
                self[cls] = value
                return value
        raise TypeError(f"no gradcore backend stores tensors as {cls.__module__}.{cls.__name__}")


KERNELS = _ByStorageType("kernels")  # storage type -> kernel table (module of kernels)
_DEVICES = _ByStorageType("device")  # storage type -> device


def register_backend(
    type: str,  # noqa: A002 - PyTorch's word
    storage_type: type,
    kernels: Any,
    from_numpy: Callable[[np.ndarray], Any],
    to_numpy: Callable[[Any], np.ndarray],
    from_numpy_non_blocking: Optional[Callable[[np.ndarray], Any]] = None,
) -> Backend:
    """Register device `type`: Tensors whose storage is a `storage_type` live on it and
    their ops call the functions of `kernels` (the names of gradcore._C). `from_numpy` /
    `to_numpy` move a storage to and from the CPU (Tensor.to); `from_numpy_non_blocking`,
    when given, is the copy of Tensor.to(..., non_blocking=True), which may return before
    the copy is done (CUDA, from pinned memory)."""
    if type in _BACKENDS:
        raise ValueError(f"register_backend: device type {type!r} is already registered")
    b = Backend(
        device.__new__(device), storage_type, kernels, from_numpy, to_numpy, from_numpy_non_blocking
    )
    b.device.type, b.device.index = type, None
    _BACKENDS[type] = b
    _clear_caches()
    if not issubclass(storage_type, versions.STORAGE_TYPES):
        versions.STORAGE_TYPES = versions.STORAGE_TYPES + (storage_type,)
    return b


def is_registered(type: str) -> bool:  # noqa: A002
    """Whether device type `type` has a registered backend."""
    return type in _BACKENDS


def unregister_backend(type: str) -> None:  # noqa: A002
    """Remove a registered device type (tests register temporary ones)."""
    if type == "cpu":
        raise ValueError("unregister_backend: the cpu backend cannot be removed")
    b = _BACKENDS.pop(type)
    _clear_caches()
    versions.STORAGE_TYPES = tuple(t for t in versions.STORAGE_TYPES if t is not b.storage_type)


def _clear_caches() -> None:
    for table in (KERNELS, _DEVICES):
        table.clear()
        for b in _BACKENDS.values():
            table[b.storage_type] = getattr(b, table.field)


def backend(dev) -> Backend:
    """The registered Backend of a device (or device string); a clear error when that
    device type is not available in this build."""
    d = dev if isinstance(dev, device) else device(dev)
    b = _BACKENDS.get(d.type)
    if b is None and d.type == "cuda":
        from gradcore import cuda

        cuda.init()  # registers "cuda" when a GPU is usable, else says why not
        b = _BACKENDS["cuda"]
    if b is None:
        if d.type == "cuda":
            raise RuntimeError(
                f"device '{d}': CUDA is not available in this build of gradcore "
                "(gradcore.cuda.is_available() is False); use device 'cpu'"
            )
        raise RuntimeError(f"device '{d}' is not available (no backend registered for it)")
    return b


def device_of(storage) -> device:
    """The device of a Tensor's storage (an array of a registered storage type)."""
    return _DEVICES[storage.__class__]


def move(storage, dev, non_blocking: bool = False):
    """`storage` copied to device `dev` (the same object when it already lives there).

    `non_blocking`: a hint, as in PyTorch. A backend with `from_numpy_non_blocking` (CUDA)
    may then return before the copy is done (from pinned host memory); copies to the CPU
    always wait."""
    dst = backend(dev)
    src = _DEVICES[storage.__class__]
    if src.type == dst.device.type:
        return storage
    host = _BACKENDS[src.type].to_numpy(storage)
    if non_blocking and dst.from_numpy_non_blocking is not None:
        return dst.from_numpy_non_blocking(host)
    return dst.from_numpy(host)


def full_like(a, value):
    """A new array of `a`'s shape and dtype on `a`'s device, every element `value` (numpy's
    full_like for CPU storage; built on the host and copied for other devices: for state
    made once, like optimizer buffers, not for per-step work)."""
    if isinstance(a, np.ndarray):
        return np.full_like(a, value)
    b = _BACKENDS[_DEVICES[a.__class__].type]
    return b.from_numpy(np.full(a.shape, value, dtype=a.dtype))


def zeros_like(a):
    return full_like(a, 0)


def _identity(a):
    return a


CPU = register_backend("cpu", np.ndarray, _C, _identity, _identity).device
