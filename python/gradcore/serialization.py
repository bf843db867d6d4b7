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
The temporary file is named ``.<target name>.pid<writer pid>.<8 random chars>.tmp``; one left
behind by a killed writer is removed by the next `save` to the same target (a temporary file
whose writer process still runs is left alone).

Errors: `load` raises FileNotFoundError for a missing path, and `FileFormatError` (a
ValueError), naming the file, for every file that is not a readable gradcore file of a
supported version: truncated, corrupt, a foreign zip/npz/npy/pickle, a newer format version,
or an entry whose declared size is larger than the data the archive holds.
"""

from __future__ import annotations

import collections
import io
import json
import os
import re
import tempfile
import zipfile
from typing import Any, Dict, Tuple, Union

import numpy as np

__all__ = ["FORMAT_VERSION", "FileFormatError", "load", "save"]

FORMAT_VERSION = 1
_FORMAT_KEY = "__gradcore_format__"
_STRUCT_KEY = "__gradcore_structure__"

PathLike = Union[str, "os.PathLike[str]"]

# the random part of tempfile.mkstemp's names: 8 of [a-z0-9_]
_TMP_RANDOM = r"[a-z0-9_]{8}"


class FileFormatError(ValueError):
    """A file that is not a readable gradcore file (or, for gradcore.data.read_idx, IDX file):
    truncated, corrupt, foreign, or of a newer format version. The message names the file."""


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


def _pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this machine (a process of another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError):  # a pid out of range
        return False
    return True


def _remove_stale_temporaries(directory: str, base: str) -> None:
    """Delete temporary files of earlier saves to `directory/base` whose writer is dead
    (left by a writer killed between creating and renaming its temporary file)."""
    pattern = re.compile(re.escape(f".{base}.pid") + r"(\d+)\." + _TMP_RANDOM + r"\.tmp")
    try:
        names = os.listdir(directory)
    except OSError:  # pragma: no cover - unreadable directory: mkstemp will report it
        return
    for name in names:
        m = pattern.fullmatch(name)
        if m is None or _pid_alive(int(m.group(1))):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:  # removed concurrently, or not ours to remove
            pass


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
    _remove_stale_temporaries(directory, os.path.basename(path))
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix=f".{os.path.basename(path)}.pid{os.getpid()}.", suffix=".tmp"
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
    """Rebuilds the saved object from the structure JSON; raises FileFormatError for a
    structure that `save` cannot have written."""

    def __init__(self, npz: Any, path: str, as_tensors: bool) -> None:
        self.npz = npz
        self.names = set(npz.files)
        self.path = path
        self.as_tensors = as_tensors

    def _corrupt(self, what: str) -> FileFormatError:
        return FileFormatError(f"gradcore.load: {self.path} is corrupt: {what}")

    def _get(self, name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in self.names:
            raise self._corrupt(
                f"the structure names array {name!r} but the archive has no such entry"
            )
        return self.npz[name]

    def _items(self, n: Dict[str, Any]) -> list:
        items = n.get("items")
        if not isinstance(items, list):
            raise self._corrupt(f"a {n.get('type')} node without a list of items")
        return items

    def key(self, k: Any) -> Any:
        if isinstance(k, dict) and k.get("type") == "tuple":
            return tuple(self.key(x) for x in self._items(k))
        if k is None or isinstance(k, (bool, int, float, str)):
            return k
        raise self._corrupt(f"unsupported dict key {k!r}")

    def node(self, n: Any) -> Any:
        if n is None or isinstance(n, (bool, int, float, str)):
            return n
        if not isinstance(n, dict):
            raise self._corrupt(f"unexpected structure element {type(n).__name__}")
        kind = n.get("type")
        if kind in ("dict", "odict", "counter"):
            cls = {"dict": dict, "odict": collections.OrderedDict, "counter": collections.Counter}
            out = cls[kind]()
            for pair in self._items(n):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise self._corrupt(f"a {kind} item that is not a [key, value] pair")
                out[self.key(pair[0])] = self.node(pair[1])
            return out
        if kind == "list":
            return [self.node(v) for v in self._items(n)]
        if kind == "tuple":
            return tuple(self.node(v) for v in self._items(n))
        if kind == "ndarray":
            return self._get(n.get("key"))
        if kind == "scalar":
            arr = self._get(n.get("key"))
            if arr.ndim != 0:
                raise self._corrupt(f"scalar entry {n.get('key')!r} has shape {arr.shape}")
            return arr[()]
        if kind == "tensor":
            arr = self._get(n.get("key"))
            if not self.as_tensors:
                return arr
            from gradcore.tensor import Tensor

            return Tensor(arr, requires_grad=bool(n.get("requires_grad", False)))
        raise self._corrupt(f"unknown node type {kind!r}")


def _check_entry_sizes(data: bytes, path: str) -> None:
    """Raise FileFormatError for a .npy entry whose header declares more bytes than the entry
    holds (run when loading ran out of memory: a forged header asks numpy for terabytes)."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    for info in zf.infolist():
        if not info.filename.endswith(".npy"):
            continue
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            header_len = f.tell()
        count = 1
        for d in shape:
            count *= int(d)
        declared = count * dtype.itemsize  # Python ints: no overflow
        if declared > info.file_size - header_len:
            raise FileFormatError(
                f"gradcore.load: {path} is corrupt: entry {info.filename!r} declares shape "
                f"{tuple(shape)} of {dtype} ({declared} bytes) but holds "
                f"{max(0, info.file_size - header_len)} bytes"
            )


def _load_archive(data: bytes, path: str, as_tensors: bool) -> Any:
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise FileFormatError(
            f"gradcore.load: {path} is not a readable gradcore file (not a valid npz archive: "
            f"{e}); it may be truncated or corrupt"
        ) from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise FileFormatError(f"gradcore.load: {path} is a single .npy array, not a gradcore file")
    with npz:
        names = set(npz.files)
        if _FORMAT_KEY not in names or _STRUCT_KEY not in names:
            raise FileFormatError(
                f"gradcore.load: {path} is an npz archive but not a gradcore file (no "
                f"{_FORMAT_KEY} entry); read plain npz files with numpy.load"
            )
        version_arr = npz[_FORMAT_KEY]
        if version_arr.shape != () or version_arr.dtype.kind not in "iu":
            raise FileFormatError(
                f"gradcore.load: {path} is corrupt: {_FORMAT_KEY} is a {version_arr.dtype} "
                f"array of shape {version_arr.shape}, not an integer"
            )
        version = int(version_arr)
        if version > FORMAT_VERSION or version < 1:
            raise FileFormatError(
                f"gradcore.load: {path} has format version {version}, this gradcore reads "
                f"versions 1..{FORMAT_VERSION} (written by a newer gradcore? upgrade it)"
            )
        struct_arr = npz[_STRUCT_KEY]
        if struct_arr.ndim != 1 or struct_arr.dtype != np.uint8:
            raise FileFormatError(
                f"gradcore.load: {path} is corrupt: {_STRUCT_KEY} is a {struct_arr.dtype} "
                f"array of shape {struct_arr.shape}, not UTF-8 bytes"
            )
        try:
            struct = json.loads(bytes(struct_arr).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise FileFormatError(
                f"gradcore.load: {path} is corrupt (bad structure JSON: {e})"
            ) from None
        if not isinstance(struct, dict) or "root" not in struct:
            raise FileFormatError(
                f"gradcore.load: {path} is corrupt: the structure has no 'root' object"
            )
        return _Decoder(npz, path, as_tensors).node(struct["root"])


def load(path: PathLike, map_location: Any = None, *, as_tensors: bool = True) -> Any:
    """Load what `save` wrote. Tensors come back as gradcore Tensors (numpy arrays with
    ``as_tensors=False``). `map_location` is accepted for PyTorch compatibility ("cpu" only).

    Raises FileNotFoundError for a missing file (other OSErrors, e.g. a directory or no
    permission, as `open` raises them) and `FileFormatError` (a ValueError), naming the file,
    for anything that is not a readable gradcore file of a supported version.
    """
    if map_location not in (None, "cpu"):
        raise ValueError(f"gradcore.load: map_location={map_location!r}: only 'cpu' is supported")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"gradcore.load: no such file: {path!r}")
    with open(path, "rb") as f:
        data = f.read()
    try:
        return _load_archive(data, path, as_tensors)
    except FileFormatError:
        raise
    except MemoryError:
        try:
            _check_entry_sizes(data, path)  # a forged size: FileFormatError
        except FileFormatError:
            raise
        except Exception:  # the check itself could not read the archive: keep MemoryError
            pass
        raise
    except RecursionError:
        raise FileFormatError(
            f"gradcore.load: {path} is corrupt: its structure is nested too deeply"
        ) from None
    except Exception as e:  # zip/npy/zlib/JSON decoding of a damaged or foreign file
        raise FileFormatError(
            f"gradcore.load: {path} is corrupt or not a gradcore file ({type(e).__name__}: {e})"
        ) from None
