"""gradcore.save / gradcore.load: round trips, the documented npz layout, version checks,
corrupt files, atomic writes, Module.load_state_dict validation."""

from __future__ import annotations

import collections
import math
import os

import numpy as np
import pytest

import gradcore
from gradcore import serialization


def test_round_trip_nested(tmp_path, rng):
    sd = collections.OrderedDict(
        [("0.weight", rng.standard_normal((4, 3)).astype(np.float32)), ("0.bias", np.arange(4.0))]
    )
    obj = {
        "model": sd,
        "optimizer": {
            "state": {0: {"step": 3, "exp_avg": rng.standard_normal(5)}, 1: {}},
            "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1], "a": None}],
        },
        "epoch": 7,
        "best": math.inf,
        "nan": float("nan"),
        "flag": True,
        "name": "cnn-small",
        "rng": gradcore.get_rng_state(),
        "counter": collections.Counter({3: 1, 7: 2}),
        "scalar": np.float32(2.5),
        "ints": np.arange(6, dtype=np.int64).reshape(2, 3),
        "mask": np.array([True, False]),
        "empty": np.zeros((0, 3), np.float32),
        "tuple_key": {(1, "a"): 1.5},
        "list": [1, 2.0, "x", [None]],
    }
    path = tmp_path / "ckpt.npz"
    gradcore.save(obj, path)
    back = gradcore.load(path)
    assert list(back) == list(obj)
    assert isinstance(back["model"], collections.OrderedDict)
    assert list(back["model"]) == ["0.weight", "0.bias"]
    for k in sd:
        np.testing.assert_array_equal(np.asarray(back["model"][k]), sd[k])
        assert np.asarray(back["model"][k]).dtype == sd[k].dtype
    opt = back["optimizer"]
    assert list(opt["state"]) == [0, 1] and opt["state"][1] == {}
    np.testing.assert_array_equal(
        opt["state"][0]["exp_avg"], obj["optimizer"]["state"][0]["exp_avg"]
    )
    assert opt["param_groups"][0]["betas"] == (0.9, 0.999)
    assert opt["param_groups"][0]["a"] is None
    assert back["epoch"] == 7 and isinstance(back["epoch"], int)
    assert back["best"] == math.inf and math.isnan(back["nan"])
    assert back["flag"] is True and back["name"] == "cnn-small"
    assert back["rng"] == obj["rng"]
    assert back["counter"] == obj["counter"] and isinstance(back["counter"], collections.Counter)
    assert back["scalar"] == np.float32(2.5) and back["scalar"].dtype == np.float32
    assert back["scalar"].shape == ()
    np.testing.assert_array_equal(back["ints"], obj["ints"])
    np.testing.assert_array_equal(back["mask"], obj["mask"])
    assert back["empty"].shape == (0, 3)
    assert back["tuple_key"] == {(1, "a"): 1.5}
    assert back["list"] == [1, 2.0, "x", [None]]
    # the rng state restores the generator exactly
    gradcore.set_rng_state(back["rng"])
    a = gradcore.randn(3).numpy().copy()
    gradcore.set_rng_state(obj["rng"])
    np.testing.assert_array_equal(a, gradcore.randn(3).numpy())


def test_tensors_and_documented_layout(tmp_path):
    w = gradcore.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    path = tmp_path / "w.npz"
    gradcore.save({"weight": w, "nested": {"b": gradcore.tensor(np.ones(2))}}, path)
    back = gradcore.load(path)
    assert isinstance(back["weight"], gradcore.Tensor)
    assert back["weight"].requires_grad
    np.testing.assert_array_equal(back["weight"].numpy(), w.numpy())
    raw = gradcore.load(path, as_tensors=False)
    assert isinstance(raw["weight"], np.ndarray)
    # plain numpy can read it: documented entry names
    with np.load(path) as z:
        assert set(z.files) == {
            "__gradcore_format__",
            "__gradcore_structure__",
            "weight",
            "nested/b",
        }
        assert int(z["__gradcore_format__"]) == serialization.FORMAT_VERSION == 1
        np.testing.assert_array_equal(z["weight"], w.numpy())
    assert "__gradcore_format__" in serialization.__doc__


def test_model_state_dict_round_trip_and_torch_names(tmp_path):
    from gradcore.models import build_model

    gradcore.manual_seed(0)
    m = build_model("cnn-bn")
    gradcore.save(m.state_dict(), tmp_path / "m.npz")
    gradcore.manual_seed(1)
    m2 = build_model("cnn-bn")
    m2.load_state_dict(gradcore.load(tmp_path / "m.npz"))
    for (k, a), (k2, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with np.load(tmp_path / "m.npz") as z:
        assert "0.weight" in z.files and "1.running_mean" in z.files


def test_load_state_dict_validates_names_and_shapes(tmp_path):
    from gradcore.models import build_model

    m = build_model("cnn-small")
    sd = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    bad_shape = dict(sd)
    bad_shape["0.weight"] = np.zeros((3, 3), np.float32)
    with pytest.raises((ValueError, RuntimeError), match="0.weight"):
        m.load_state_dict(bad_shape)
    missing = dict(sd)
    del missing["3.bias"]
    with pytest.raises((KeyError, ValueError, RuntimeError), match="3.bias"):
        m.load_state_dict(missing)
    extra = dict(sd)
    extra["9.weight"] = np.zeros(1, np.float32)
    with pytest.raises((KeyError, ValueError, RuntimeError), match="9.weight"):
        m.load_state_dict(extra)


def test_version_and_format_errors(tmp_path):
    path = tmp_path / "x.npz"
    gradcore.save({"a": 1}, path)
    # a newer format version
    with np.load(path) as z:
        entries = {k: z[k] for k in z.files}
    entries["__gradcore_format__"] = np.asarray(99, dtype=np.int64)
    newer = tmp_path / "newer.npz"
    np.savez(newer, **entries)
    with pytest.raises(ValueError, match="format version 99"):
        gradcore.load(newer)
    # a plain npz without the version field
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.ones(2))
    with pytest.raises(ValueError, match="not a gradcore file"):
        gradcore.load(plain)
    # truncated / garbage files
    data = path.read_bytes()
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="trunc.npz"):
        gradcore.load(trunc)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip file at all")
    with pytest.raises(ValueError, match="not a readable gradcore file"):
        gradcore.load(junk)
    with pytest.raises(FileNotFoundError, match="no such file"):
        gradcore.load(tmp_path / "missing.npz")


def test_unsupported_objects(tmp_path):
    with pytest.raises(TypeError, match="cannot store a object at 'a/b'"):
        gradcore.save({"a": {"b": object()}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="object array"):
        gradcore.save({"a": np.array([None, 1], dtype=object)}, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()
    assert os.listdir(tmp_path) == []


def test_atomic_write_keeps_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    gradcore.save({"v": np.full(1000, 1.0)}, path)

    def broken(f, arrays):
        f.write(b"PK\x03\x04 partial garbage")  # a partial archive, then the crash
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(serialization, "_write_archive", broken)
    with pytest.raises(KeyboardInterrupt):
        gradcore.save({"v": np.full(1000, 2.0)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(gradcore.load(path)["v"], np.full(1000, 1.0))
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # the temporary file is gone


def test_sigkill_during_save_keeps_previous_file(tmp_path):
    """A process killed (SIGKILL) in the middle of writing leaves the previous file intact."""
    import signal
    import subprocess
    import sys

    path = tmp_path / "ckpt.npz"
    gradcore.save({"v": np.full(10, 1.0)}, path)
    script = f"""
import os, signal, numpy as np, gradcore
from gradcore import serialization
real = serialization._write_archive
def dying(f, arrays):
    real(f, arrays)             # the new archive is complete in the temporary file ...
    f.truncate(f.tell() // 2)   # ... make it torn, then die before the rename
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
serialization._write_archive = dying
gradcore.save({{"v": np.full(10, 2.0)}}, {str(path)!r})
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    np.testing.assert_array_equal(gradcore.load(path)["v"], np.full(10, 1.0))


def _torch_twin(torch, name):
    tn = torch.nn
    if name == "cnn-small":
        return tn.Sequential(
            tn.Conv2d(1, 32, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2),
            tn.Conv2d(32, 64, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2),
            tn.Flatten(), tn.Linear(3136, 128), tn.ReLU(), tn.Linear(128, 10),
        )  # fmt: skip
    if name == "cnn-bn":
        return tn.Sequential(
            tn.Conv2d(1, 32, 3, padding=1), tn.BatchNorm2d(32), tn.ReLU(), tn.MaxPool2d(2),
            tn.Conv2d(32, 64, 3, padding=1), tn.BatchNorm2d(64), tn.ReLU(), tn.MaxPool2d(2),
            tn.Flatten(), tn.Linear(3136, 128), tn.ReLU(), tn.Dropout(0.25), tn.Linear(128, 10),
        )  # fmt: skip
    raise ValueError(name)


@pytest.mark.parametrize("name", ["cnn-small", "cnn-bn"])
def test_saved_weights_load_into_pytorch(name, tmp_path, rng, torch):
    """The npz written by gradcore.save has torch's state_dict names and layouts."""
    from gradcore.models import build_model

    gradcore.manual_seed(3)
    model = build_model(name)
    for k, v in model.state_dict().items():  # non-trivial running stats
        if k.endswith("running_var"):
            v.numpy()[...] = rng.uniform(0.5, 2.0, v.shape)
    gradcore.save(model.state_dict(), tmp_path / "w.npz")
    twin = _torch_twin(torch, name)
    with np.load(tmp_path / "w.npz") as z:
        sd = {k: torch.from_numpy(z[k]) for k in z.files if not k.startswith("__gradcore")}
    twin.load_state_dict(sd, strict=True)
    model.eval()
    twin.eval()
    x = rng.standard_normal((3, 1, 28, 28)).astype(np.float32)
    with gradcore.no_grad():
        ours = model(gradcore.tensor(x)).numpy()
    theirs = twin(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_next_save_removes_temporaries_of_killed_saves(tmp_path):
    """SIGKILL between writing the temporary file and renaming it leaves the temporary file;
    the next save to the same target removes it (the issue saw 61 MB pile up after 12 kills),
    but not the temporary file of a writer that is still running, nor other files."""
    import signal
    import subprocess
    import sys

    path = tmp_path / "ckpt.npz"
    script = f"""
import os, signal, numpy as np, gradcore
from gradcore import serialization
def dying(f, arrays):
    np.savez(f, **arrays)
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
serialization._write_archive = dying
gradcore.save({{"v": np.zeros(100_000)}}, {str(path)!r})
"""
    for _ in range(3):  # each killed save first removes the one its predecessor left
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
        stale = [p.name for p in tmp_path.iterdir()]
        assert len(stale) == 1 and stale[0].startswith(".ckpt.npz.pid"), stale
    live = tmp_path / f".ckpt.npz.pid{os.getpid()}.abcd1234.tmp"  # a writer that still runs
    live.write_bytes(b"in progress")
    other = tmp_path / ".other.npz.pid1.abcd1234.tmp"  # another target's temporary file
    other.write_bytes(b"x")
    gradcore.save({"v": np.ones(3)}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ckpt.npz", live.name, other.name])
    np.testing.assert_array_equal(gradcore.load(path)["v"], np.ones(3))
