"""IDX files (the MNIST / Fashion-MNIST container format), raw or gzip-compressed.

Layout: a 4-byte magic number ``00 00 TT NN`` (TT: element type code, NN: number of
dimensions), then NN big-endian uint32 sizes, then the elements in C order, big-endian.
A file whose length does not match its header, or that is not an IDX file at all, is rejected
with gradcore.serialization.FileFormatError (a ValueError) that names the file and says what is
wrong; the reader never returns a partial or padded array.
"""

from __future__ import annotations

import gzip
import os
import zlib
from typing import Union

import numpy as np

from gradcore.serialization import FileFormatError

PathLike = Union[str, "os.PathLike[str]"]

# type code -> big-endian numpy dtype (the IDX specification's table)
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file into a native-endian, writable array."""
    if len(data) < 4:
        raise FileFormatError(
            f"IDX file {name}: too short for a header ({len(data)} bytes, need 4)"
        )
    if data[0] != 0 or data[1] != 0:
        raise FileFormatError(
            f"IDX file {name}: bad magic number 0x{data[:4].hex()} "
            "(expected 0x0000TTNN; is this an IDX file?)"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise FileFormatError(f"IDX file {name}: unknown element type code 0x{code:02X} ({known})")
    if ndim == 0:
        raise FileFormatError(f"IDX file {name}: header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise FileFormatError(
            f"IDX file {name}: truncated header ({len(data)} bytes, "
            f"{ndim} dimensions need {header})"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = dtype.itemsize
    for d in shape:  # Python ints: four 2**32-1 sizes must not wrap around
        expected *= d
    found = len(data) - header
    if found < expected:
        raise FileFormatError(
            f"IDX file {name}: truncated: shape {shape} of {dtype.newbyteorder('=').name} "
            f"needs {expected} data bytes, found {found}"
        )
    if found > expected:
        raise FileFormatError(
            f"IDX file {name}: {found - expected} unexpected trailing bytes after the "
            f"{expected} data bytes of shape {shape} (corrupt or not an IDX file)"
        )
    arr = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    # one copy: native byte order and writable (frombuffer on bytes is read-only)
    return arr.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise FileFormatError(f"IDX file {path}: corrupt or truncated gzip data ({e})") from e


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw, detected from its first bytes).

    Returns a native-endian writable numpy array of the file's shape and element type.
    Raises FileFormatError (a ValueError) naming the file for a bad magic number, an unknown type code, or a
    size that does not match the header (truncated or trailing data), and for corrupt gzip.
    """
    path = os.fspath(path)
    return parse_idx(_read_bytes(path), name=path)


def write_idx(path: PathLike, array) -> None:
    """Write `array` as an IDX file (gzip-compressed when `path` ends with .gz)."""
    a = np.asarray(array)
    native = a.dtype.newbyteorder("=")
    if native not in _CODES:
        raise ValueError(f"write_idx: dtype {a.dtype} has no IDX type code")
    if a.ndim == 0 or a.ndim > 255:
        raise ValueError(f"write_idx: need 1 to 255 dimensions, got {a.ndim}")
    code = _CODES[native]
    header = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(a, dtype=IDX_DTYPES[code]).tobytes()
    path = os.fspath(path)
    if path.endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    with open(path, "wb") as f:
        f.write(payload)
