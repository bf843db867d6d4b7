"""gradcore.save / gradcore.load: state dicts and checkpoints in a documented, versioned npz file.

File format (``__gradcore_format__`` version 1)
------------------------------------------------
A gradcore file is a plain numpy ``.npz`` archive (a zip of ``.npy`` files, readable with
``numpy.load(path)`` and by any zip + npy reader; no pickle anywhere) holding:

``__gradcore_format__``
    0-d int64 array: the format version (1). `load` refuses files without it, and files of a
    newer version, with a message saying so.
``__gradcore_structure__``
    1-d uint8 array: UTF-8 JSON ``{"format": 1, "root": NODE}`` describing the saved object.
one ``.npy`` entry per array
    named by the path of dict keys leading to it, joined with ``/`` (a model's state dict saved
    directly gives entries ``0.weight``, ``0.bias``, ...; a checkpoint gives ``model/0.weight``,
    ``optimizer/state/0/exp_avg``, ...). A name already taken gets a ``#n`` suffix.

A NODE is a JSON ``null``, ``true``/``false``, number (ints of any size; ``NaN`` and
``Infinity`` as Python's json writes them) or string, standing for itself, or an object:

``{"type": "dict" | "odict" | "counter", "items": [[KEY_NODE, NODE], ...]}``
    a dict / OrderedDict / collections.Counter in insertion order; keys may be str, int, float,
    bool, None or tuples of these.
``{"type": "list" | "tuple", "items": [NODE, ...]}``
``{"type": "tensor", "key": NAME, "requires_grad": bool}``
    a gradcore Tensor (loaded as a Tensor sharing the loaded array).
``{"type": "ndarray", "key": NAME}`` and ``{"type": "scalar", "key": NAME}``
    a numpy array / a numpy scalar (stored as a 0-d array, loaded as a numpy scalar).

Writes are atomic: the archive goes to a temporary file in the target's directory, is flushed
and fsync'ed, then renamed over the target with os.replace (and the directory fsync'ed), so a
crash or kill during `save` leaves either the old file or the new one, never a torn file.
"""

from __future__ import annotations

import collections
import io
import json
import os
import tempfile
import zipfile
from typing import Any, Dict, Tuple, Union

import numpy as np

__all__ = ["FORMAT_VERSION", "load", "save"]

FORMAT_VERSION = 1
_FORMAT_KEY = "__gradcore_format__"
_STRUCT_KEY = "__gradcore_structure__"

PathLike = Union[str, "os.PathLike[str]"]


def _is_tensor(obj: Any) -> bool:
    from gradcore.tensor import Tensor  # imported here: tensor sits above serialization

    return isinstance(obj, Tensor)


class _Encoder:
    def __init__(self) -> None:
        self.arrays: Dict[str, np.ndarray] = {}

    def _name(self, path: Tuple[str, ...]) -> str:
        base = "/".join(p.replace("/", "_") for p in path) or "root"
        name, n = base, 1
        while name in self.arrays or name in (_FORMAT_KEY, _STRUCT_KEY):
            name = f"{base}#{n}"
            n += 1
        return name

    def _array(self, arr: np.ndarray, path: Tuple[str, ...]) -> str:
        if arr.dtype.hasobject:
            raise TypeError(
                f"gradcore.save: cannot store an object array at '{'/'.join(path)}' "
                "(only numeric, bool and fixed-width string arrays)"
            )
        name = self._name(path)
        self.arrays[name] = arr if arr.flags.c_contiguous else np.array(arr, order="C")
        return name

    def key(self, k: Any, path: Tuple[str, ...]) -> Any:
        if k is None or isinstance(k, (bool, int, float, str)):
            return k
        if isinstance(k, np.integer):
            return int(k)
        if isinstance(k, tuple):
            return {"type": "tuple", "items": [self.key(x, path) for x in k]}
        raise TypeError(
            f"gradcore.save: unsupported dict key type {type(k).__name__} at '{'/'.join(path)}'"
        )

    def node(self, obj: Any, path: Tuple[str, ...]) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj)
        if _is_tensor(obj):
            arr = np.asarray(obj.numpy())
            return {
                "type": "tensor",
                "key": self._array(arr, path),
                "requires_grad": bool(getattr(obj, "requires_grad", False)),
            }
        if isinstance(obj, np.ndarray):
            return {"type": "ndarray", "key": self._array(obj, path)}
        if isinstance(obj, np.generic):
            return {"type": "scalar", "key": self._array(np.asarray(obj), path)}
        if isinstance(obj, dict):
            if isinstance(obj, collections.Counter):
                kind = "counter"
            elif isinstance(obj, collections.OrderedDict):
                kind = "odict"
            else:
                kind = "dict"
            items = [[self.key(k, path), self.node(v, path + (str(k),))] for k, v in obj.items()]
            return {"type": kind, "items": items}
        if isinstance(obj, (list, tuple)):
            kind = "tuple" if isinstance(obj, tuple) else "list"
            return {
                "type": kind,
                "items": [self.node(v, path + (str(i),)) for i, v in enumerate(obj)],
            }
        raise TypeError(
            f"gradcore.save: cannot store a {type(obj).__name__} at '{'/'.join(path) or '<root>'}'"
            " (supported: dicts, lists, tuples, Tensors, numpy arrays and scalars, int, float, "
            "bool, str, None)"
        )


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _write_archive(f: Any, arrays: Dict[str, np.ndarray]) -> None:
    """Write the npz archive to the open binary file `f` (separate so tests can interrupt it)."""
    np.savez(f, **arrays)


def save(obj: Any, path: PathLike) -> None:
    """Save a (nested) state dict or checkpoint to `path` atomically (see the module doc)."""
    enc = _Encoder()
    root = enc.node(obj, ())
    struct = json.dumps({"format": FORMAT_VERSION, "root": root}, allow_nan=True)
    arrays: Dict[str, np.ndarray] = {
        _FORMAT_KEY: np.asarray(FORMAT_VERSION, dtype=np.int64),
        _STRUCT_KEY: np.frombuffer(struct.encode("utf-8"), dtype=np.uint8),
    }
    arrays.update(enc.arrays)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"gradcore.save: directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as f:
            _write_archive(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


class _Decoder:
    def __init__(self, npz: Any, path: str, as_tensors: bool) -> None:
        self.npz = npz
        self.path = path
        self.as_tensors = as_tensors

    def _get(self, name: str) -> np.ndarray:
        try:
            return self.npz[name]
        except KeyError:
            raise ValueError(
                f"gradcore.load: {self.path} is corrupt: the structure names array {name!r} "
                "but the archive has no such entry"
            ) from None

    def key(self, k: Any) -> Any:
        if isinstance(k, dict):
            return tuple(self.key(x) for x in k["items"])
        return k

    def node(self, n: Any) -> Any:
        if not isinstance(n, dict):
            return n
        kind = n.get("type")
        if kind in ("dict", "odict", "counter"):
            cls = {"dict": dict, "odict": collections.OrderedDict, "counter": collections.Counter}
            out = cls[kind]()
            for k, v in n["items"]:
                out[self.key(k)] = self.node(v)
            return out
        if kind == "list":
            return [self.node(v) for v in n["items"]]
        if kind == "tuple":
            return tuple(self.node(v) for v in n["items"])
        if kind == "ndarray":
            return self._get(n["key"])
        if kind == "scalar":
            return self._get(n["key"])[()]
        if kind == "tensor":
            arr = self._get(n["key"])
            if not self.as_tensors:
                return arr
            from gradcore.tensor import Tensor

            return Tensor(arr, requires_grad=bool(n.get("requires_grad", False)))
        raise ValueError(f"gradcore.load: {self.path} is corrupt: unknown node type {kind!r}")


def load(path: PathLike, map_location: Any = None, *, as_tensors: bool = True) -> Any:
    """Load what `save` wrote. Tensors come back as gradcore Tensors (numpy arrays with
    ``as_tensors=False``). `map_location` is accepted for PyTorch compatibility ("cpu" only).

    Raises FileNotFoundError for a missing file and ValueError, naming the file, for anything
    that is not a readable gradcore file of a supported version.
    """
    if map_location not in (None, "cpu"):
        raise ValueError(f"gradcore.load: map_location={map_location!r}: only 'cpu' is supported")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"gradcore.load: no such file: {path!r}")
    try:
        with open(path, "rb") as f:
            data = f.read()
        npz = np.load(io.BytesIO(data), allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ValueError(
            f"gradcore.load: {path} is not a readable gradcore file (not a valid npz archive: "
            f"{e}); it may be truncated or corrupt"
        ) from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"gradcore.load: {path} is a single .npy array, not a gradcore file")
    with npz:
        try:
            names = set(npz.files)
            if _FORMAT_KEY not in names or _STRUCT_KEY not in names:
                raise ValueError(
                    f"gradcore.load: {path} is an npz archive but not a gradcore file (no "
                    f"{_FORMAT_KEY} entry); read plain npz files with numpy.load"
                )
            version = int(npz[_FORMAT_KEY])
            if version > FORMAT_VERSION or version < 1:
                raise ValueError(
                    f"gradcore.load: {path} has format version {version}, this gradcore reads "
                    f"versions 1..{FORMAT_VERSION} (written by a newer gradcore? upgrade it)"
                )
            struct = json.loads(bytes(npz[_STRUCT_KEY]).decode("utf-8"))
            return _Decoder(npz, path, as_tensors).node(struct["root"])
        except (zipfile.BadZipFile, EOFError, KeyError, UnicodeDecodeError) as e:
            raise ValueError(
                f"gradcore.load: {path} is corrupt ({type(e).__name__}: {e})"
            ) from None
        except json.JSONDecodeError as e:
            raise ValueError(
                f"gradcore.load: {path} is corrupt (bad structure JSON: {e})"
            ) from None
