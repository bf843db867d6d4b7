"""Corrupt and foreign files: gradcore.load, training checkpoints and IDX files raise the one
documented exception type, gradcore.serialization.FileFormatError (a ValueError), naming the
file, for every damaged or foreign input: truncations, random bit flips, random bytes, pickle
payloads, zips and npz files that are not ours, malformed structures, nesting too deep for
Python's recursion limit, and headers declaring sizes far beyond the data present."""

from __future__ import annotations

import collections
import gzip
import io
import json
import pickle
import random
import zipfile

import numpy as np
import pytest

import gradcore
from gradcore import nn
from gradcore.data import read_idx, write_idx
from gradcore.serialization import FileFormatError
from gradcore.train import CheckpointMismatchError, load_checkpoint, resume, save_checkpoint


def _npy(a: np.ndarray, allow_pickle: bool = False) -> bytes:
    b = io.BytesIO()
    np.save(b, a, allow_pickle=allow_pickle)
    return b.getvalue()


def _zip(entries: dict) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return b.getvalue()


def _gradcore_zip(structure, extra=None, version=1) -> bytes:
    """An archive with gradcore's two entries; `structure` is JSON-encoded unless bytes."""
    text = structure if isinstance(structure, bytes) else json.dumps(structure).encode()
    entries = {
        "__gradcore_format__.npy": _npy(np.asarray(version)),
        "__gradcore_structure__.npy": _npy(np.frombuffer(text, np.uint8)),
    }
    entries.update(extra or {})
    return _zip(entries)


def _npy_header_only(shape: str, descr: str = "<f8") -> bytes:
    """A .npy header declaring `shape` with no data after it."""
    h = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    h = h + " " * (118 - len(h)) + "\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h.encode()


def _good_file_bytes(tmp_path) -> bytes:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    path = tmp_path / "good.npz"
    gradcore.save({"model": model.state_dict(), "x": [1, (2, 3)], "n": np.float32(2)}, path)
    return path.read_bytes()


def _nested(depth: int) -> bytes:
    return b'{"format": 1, "root": ' + b'{"type": "list", "items": [' * depth + b"]}" * depth + b"}"


FOREIGN = {
    "random_bytes": lambda: bytes(random.Random(1).randrange(256) for _ in range(2000)),
    "pickle_payload": lambda: pickle.dumps({"weights": np.zeros(3)}),
    "pickled_object_npy": lambda: _npy(np.array([object()], dtype=object), allow_pickle=True),
    "plain_npy": lambda: _npy(np.ones(3)),
    "text_zip": lambda: _zip({"readme.txt": "hello"}),
    "plain_npz": lambda: _zip({"a.npy": _npy(np.zeros(3))}),
    "structure_is_a_list": lambda: _gradcore_zip([1, 2]),
    "structure_without_root": lambda: _gradcore_zip({"format": 1}),
    "items_not_a_list": lambda: _gradcore_zip({"root": {"type": "dict", "items": 5}}),
    "item_not_a_pair": lambda: _gradcore_zip({"root": {"type": "dict", "items": [[1]]}}),
    "unhashable_key": lambda: _gradcore_zip({"root": {"type": "dict", "items": [[[1], 2]]}}),
    "array_key_not_a_string": lambda: _gradcore_zip({"root": {"type": "tensor", "key": ["a"]}}),
    "missing_array": lambda: _gradcore_zip({"root": {"type": "ndarray", "key": "nope"}}),
    "unknown_node": lambda: _gradcore_zip({"root": {"type": "pickle"}}),
    "scalar_with_a_shape": lambda: _gradcore_zip(
        {"root": {"type": "scalar", "key": "a"}}, {"a.npy": _npy(np.zeros(3))}
    ),
    "object_array_entry": lambda: _gradcore_zip(
        {"root": {"type": "ndarray", "key": "a"}},
        {"a.npy": _npy(np.array([object()], dtype=object), allow_pickle=True)},
    ),
    "structure_not_utf8": lambda: _gradcore_zip(b"\xff\xfe\x00"),
    "structure_not_json": lambda: _gradcore_zip(b"{not json"),
    "structure_too_deep": lambda: _gradcore_zip(_nested(100_000)),
    "version_is_a_string": lambda: _gradcore_zip({"root": None}, version=np.asarray("one")),
    "version_is_an_array": lambda: _gradcore_zip({"root": None}, version=np.zeros(3)),
    "version_too_new": lambda: _gradcore_zip({"root": None}, version=np.asarray(2**62)),
    "huge_declared_entry": lambda: _gradcore_zip(
        {"root": {"type": "ndarray", "key": "a"}}, {"a.npy": _npy_header_only("(10**11,)")}
    ),
    "overflowing_declared_entry": lambda: _gradcore_zip(
        {"root": {"type": "ndarray", "key": "a"}},
        {"a.npy": _npy_header_only("(2**40, 2**40, 2**40)")},
    ),
}


@pytest.mark.parametrize("case", sorted(FOREIGN))
def test_load_foreign_or_malformed_file(tmp_path, case):
    path = tmp_path / f"{case}.npz"
    path.write_bytes(FOREIGN[case]())
    with pytest.raises(FileFormatError, match=case):  # the message names the file
        gradcore.load(path)


def test_load_truncated_and_bit_flipped_files(tmp_path):
    good = _good_file_bytes(tmp_path)
    path = tmp_path / "damaged.npz"
    rng = random.Random(0)
    variants = [good[:n] for n in (0, 1, 10, 30, 100, len(good) // 2, len(good) - 1)]
    for _ in range(150):
        b = bytearray(good)
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        variants.append(bytes(b))
    for data in variants:
        path.write_bytes(data)
        try:
            gradcore.load(path)  # a flip in padding or a comment may leave the file readable
        except FileFormatError as e:
            assert "damaged.npz" in str(e)
        # any other exception type fails the test


def test_file_format_error_is_a_value_error():
    assert issubclass(FileFormatError, ValueError)
    assert gradcore.serialization.FileFormatError is FileFormatError


# ------------------------------------------------------------------ training checkpoints
def _model():
    gradcore.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


@pytest.mark.parametrize(
    "ckpt,match",
    [
        ({"kind": "gradcore-checkpoint", "epoch": 1}, "no model state dict"),
        ({"kind": "gradcore-checkpoint", "epoch": "1", "model": {}}, "epoch"),
        ({"kind": "gradcore-checkpoint", "epoch": -1, "model": {}}, "epoch"),
        ({"kind": "gradcore-checkpoint", "epoch": 0, "model": {}, "optimizer": [1]}, "optimizer"),
        ({"kind": "gradcore-checkpoint", "epoch": 0, "model": {}, "history": 3}, "history"),
        ({"weights": np.zeros(2)}, "not a training checkpoint"),
        ([1, 2, 3], "not a training checkpoint"),
    ],
)
def test_malformed_checkpoint(tmp_path, ckpt, match):
    path = tmp_path / "ckpt.npz"
    gradcore.save(ckpt, path)
    with pytest.raises(FileFormatError, match=match) as e:
        load_checkpoint(path)
    assert "ckpt.npz" in str(e.value)


def test_checkpoint_with_corrupt_rng_state(tmp_path):
    model = _model()
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, model, epoch=1)
    ckpt = gradcore.load(path)
    ckpt["rng"] = {"bit_generator": "PCG64", "state": {"state": "x", "inc": 1}}
    gradcore.save(ckpt, path)
    with pytest.raises(FileFormatError, match="RNG state"):
        resume(path, _model())


def test_resume_into_another_model_or_optimizer(tmp_path):
    model = _model()
    opt = gradcore.optim.Adam(model.parameters(), lr=0.01)
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, model, opt, epoch=2)
    other = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    with pytest.raises(CheckpointMismatchError, match="does not fit this model") as e:
        resume(path, other)
    assert "ckpt.npz" in str(e.value) and "\n" not in str(e.value)
    fresh = _model()
    sgd = gradcore.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(CheckpointMismatchError, match="does not fit this optimizer.*momentum"):
        resume(path, fresh, sgd)
    with pytest.raises(CheckpointMismatchError, match="no scheduler state"):
        resume(path, _model(), scheduler=gradcore.optim.lr_scheduler.StepLR(sgd, 1))
    assert issubclass(CheckpointMismatchError, ValueError)
    # the matching model and optimizer still resume
    again = _model()
    assert resume(path, again, gradcore.optim.Adam(again.parameters(), lr=0.01))["epoch"] == 2


# ------------------------------------------------------------------------- IDX files
def _idx_header(code: int, shape) -> bytes:
    return bytes([0, 0, code, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)


IDX_CASES = {
    "empty": b"",
    "random_bytes": bytes(random.Random(2).randrange(256) for _ in range(500)),
    "huge_declared_dims": _idx_header(0x08, (2**32 - 1,) * 4) + b"\x00" * 16,
    "pickle_payload": pickle.dumps(np.zeros((2, 28, 28), np.uint8)),
    "npz_archive": _zip({"a.npy": _npy(np.zeros(3))}),
    "gzip_of_garbage": gzip.compress(b"\x12\x34garbage"),
    "truncated_gzip": gzip.compress(_idx_header(0x08, (2, 3)) + bytes(6))[:-9],
}


@pytest.mark.parametrize("case", sorted(IDX_CASES))
def test_idx_corrupt_or_foreign(tmp_path, case):
    path = tmp_path / f"{case}.idx"
    path.write_bytes(IDX_CASES[case])
    with pytest.raises(FileFormatError, match=case):
        read_idx(path)


def test_idx_bit_flips_and_truncations(tmp_path):
    path = tmp_path / "flipped.idx.gz"
    write_idx(path, np.arange(2 * 5 * 5, dtype=np.uint8).reshape(2, 5, 5))
    good = path.read_bytes()
    rng = random.Random(3)
    variants = [good[:n] for n in range(0, len(good), 7)]
    for _ in range(100):
        b = bytearray(good)
        b[rng.randrange(len(b))] = rng.randrange(256)
        variants.append(bytes(b))
    for data in variants:
        path.write_bytes(data)
        try:
            read_idx(path)
        except FileFormatError as e:
            assert "flipped.idx.gz" in str(e)


def test_dataset_with_foreign_files(tmp_path, monkeypatch):
    from gradcore.data import FashionMNIST
    from gradcore.data import datasets as dsmod

    monkeypatch.setitem(dsmod.SYSTEM_DIRS, "fashion-mnist", [])
    dsmod.clear_cache()
    d = tmp_path / "root"
    d.mkdir()
    write_idx(d / "train-images-idx3-ubyte", np.zeros((3, 28, 28), np.float32))
    write_idx(d / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(FileFormatError, match="expected uint8 images"):
        FashionMNIST(root=d)
    (d / "train-images-idx3-ubyte").write_bytes(b"PK\x03\x04 not an IDX file")
    with pytest.raises(FileFormatError, match="train-images-idx3-ubyte"):
        FashionMNIST(root=d)
    dsmod.clear_cache()


def test_collections_round_trip_still_loads(tmp_path):
    """The stricter decoder still reads everything `save` writes."""
    obj = {
        "c": collections.Counter("abca"),
        "o": collections.OrderedDict([((1, "x"), None), (2.5, [True, "s"])]),
        "t": (np.int64(3), np.arange(3), gradcore.tensor([1.0, 2.0], requires_grad=True)),
    }
    gradcore.save(obj, tmp_path / "ok.npz")
    back = gradcore.load(tmp_path / "ok.npz")
    assert back["c"] == obj["c"] and back["o"] == obj["o"]
    assert back["t"][0] == 3 and back["t"][2].requires_grad
