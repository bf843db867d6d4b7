"""IDX reader, Fashion-MNIST/MNIST discovery, missing-data message and download.

Everything runs on small generated IDX files; downloads go to a local HTTP server on
127.0.0.1. Only test_real_fashion_mnist reads the real data (skips when it is absent).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from gradcore.data import (
    MNIST,
    DataLoader,
    DatasetNotFoundError,
    DownloadError,
    FashionMNIST,
    cache_dir,
    read_idx,
    write_idx,
)
from gradcore.data import datasets as dsmod
from gradcore.data import transforms as T

TRAIN = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
REAL_DIR = "/usr/share/datasets/fashion-mnist"


# ---------------------------------------------------------------- IDX reader
def _header(code, shape):
    return bytes([0, 0, code, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)


def test_idx_hand_built_file_big_endian(tmp_path):
    # int32 values 1 and -2 and 258 stored big-endian: bytes written by hand, not by write_idx
    body = (1).to_bytes(4, "big", signed=True) + (-2).to_bytes(4, "big", signed=True)
    body += (258).to_bytes(4, "big", signed=True) * 4
    p = tmp_path / "a.idx"
    p.write_bytes(_header(0x0C, (3, 2)) + body)
    a = read_idx(p)
    assert a.dtype == np.int32 and a.dtype.isnative and a.shape == (3, 2)
    assert a.tolist() == [[1, -2], [258, 258], [258, 258]]
    a[0, 0] = 5  # writable
    u = tmp_path / "u.idx.gz"
    u.write_bytes(gzip.compress(_header(0x08, (2, 2, 3)) + bytes(range(12))))
    b = read_idx(str(u))
    assert b.dtype == np.uint8 and b.shape == (2, 2, 3) and b.ravel().tolist() == list(range(12))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip(tmp_path, dtype, gz, rng):
    a = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    p = tmp_path / ("x.idx.gz" if gz else "x.idx")
    write_idx(p, a)
    assert (p.read_bytes()[:2] == b"\x1f\x8b") == gz
    b = read_idx(p)
    assert b.dtype == np.dtype(dtype) and b.shape == a.shape
    np.testing.assert_array_equal(a, b)
    one = np.arange(7, dtype=dtype)
    write_idx(p, one)
    np.testing.assert_array_equal(read_idx(p), one)


@pytest.mark.parametrize(
    "data,match",
    [
        (b"\x00\x00", "too short"),
        (b"\x12\x34\x08\x01" + (2).to_bytes(4, "big") + b"ab", "bad magic"),
        (b"\x00\x00\x07\x01" + (2).to_bytes(4, "big") + b"ab", "unknown element type"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03" + (2).to_bytes(4, "big"), "truncated header"),
        (
            _header(0x08, (2, 3)) + bytes(5),
            r"truncated: shape \(2, 3\).*needs 6 data bytes, found 5",
        ),
        (_header(0x0C, (2,)) + bytes(7), "needs 8 data bytes, found 7"),
        (_header(0x08, (2, 3)) + bytes(7), "1 unexpected trailing bytes"),
    ],
)
@pytest.mark.parametrize("gz", [False, True])
def test_idx_errors_name_file_and_problem(tmp_path, data, match, gz):
    p = tmp_path / ("broken.gz" if gz else "broken")
    p.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(ValueError, match=match) as e:
        read_idx(p)
    assert str(p) in str(e.value)


def test_idx_corrupt_gzip(tmp_path):
    good = gzip.compress(_header(0x08, (100,)) + bytes(100))
    p = tmp_path / "cut.gz"
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="gzip") as e:
        read_idx(p)
    assert str(p) in str(e.value)
    bad = bytearray(good)
    bad[12:20] = b"\xff" * 8  # garbage in the deflate stream
    p.write_bytes(bytes(bad))
    with pytest.raises(ValueError, match=str(p)):
        read_idx(p)


def test_write_idx_rejects_unsupported():
    with pytest.raises(ValueError, match="IDX type code"):
        write_idx("never.idx", np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx("never.idx", np.float32(1))


# ---------------------------------------------------------------- fake datasets
def _make_split(directory, n, train=True, label_offset=0, gz=True, seed=0):
    """Write n random 28x28 images and labels; returns (images uint8, labels)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = ((np.arange(n) + label_offset) % 10).astype(np.uint8)
    stems = TRAIN if train else TEST
    ext = ".gz" if gz else ""
    write_idx(directory / (stems[0] + ext), images)
    write_idx(directory / (stems[1] + ext), labels)
    return images, labels


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real data visible: HOME, XDG cache, $GRADCORE_DATA and the system dir all in tmp."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("GRADCORE_DATA", raising=False)
    monkeypatch.delenv("GRADCORE_DATA_MIRROR", raising=False)
    monkeypatch.setitem(dsmod.SYSTEM_DIRS, "fashion-mnist", [str(tmp_path / "system")])
    monkeypatch.setitem(dsmod.SYSTEM_DIRS, "mnist", [])
    dsmod.clear_cache()
    yield tmp_path
    dsmod.clear_cache()


def test_loads_and_decodes(isolated):
    images, labels = _make_split(isolated / "r", 7)
    ds = FashionMNIST(root=isolated / "r")
    assert len(ds) == 7 and ds.root == str(isolated / "r")
    assert ds.data.shape == (7, 1, 28, 28) and ds.data.dtype == np.float32
    assert ds.targets.dtype == np.int64
    np.testing.assert_array_equal(ds.targets, labels)
    np.testing.assert_allclose(ds.data[:, 0], images / np.float32(255), rtol=1e-7)
    x, y = ds[3]
    assert x.shape == (1, 28, 28) and isinstance(y, int) and y == labels[3]
    bx, by = ds.get_batch(np.array([6, 0]))
    np.testing.assert_array_equal(bx, ds.data[[6, 0]])
    np.testing.assert_array_equal(by, labels[[6, 0]])
    assert ds.classes[0] == "T-shirt/top" and len(ds.classes) == 10
    with pytest.raises(DatasetNotFoundError):  # only the train split exists there
        FashionMNIST(root=isolated / "r", train=False)


def test_raw_files_and_test_split(isolated):
    _, labels = _make_split(isolated / "r", 4, train=False, gz=False)
    ds = MNIST(root=isolated / "r", train=False)
    assert ds.images_path.endswith("t10k-images-idx3-ubyte")
    np.testing.assert_array_equal(ds.targets, labels)


def test_discovery_order(isolated, monkeypatch):
    home = isolated / "home"
    root, env, system = isolated / "root", isolated / "env", isolated / "system"
    cache = home / ".cache" / "gradcore" / "fashion-mnist"
    _make_split(root, 1)
    _make_split(env / "fashion-mnist", 2)
    _make_split(cache, 3)
    _make_split(system, 4)
    monkeypatch.setenv("GRADCORE_DATA", str(env))
    assert cache_dir("fashion-mnist") == cache
    assert len(FashionMNIST(root=root)) == 1
    assert len(FashionMNIST()) == 2  # no root: $GRADCORE_DATA first
    monkeypatch.delenv("GRADCORE_DATA")
    assert len(FashionMNIST()) == 3  # then the user cache
    xdg = isolated / "xdg"
    _make_split(xdg / "gradcore" / "fashion-mnist", 5)
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    assert len(FashionMNIST()) == 5  # XDG_CACHE_HOME honoured
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the spec says
    assert len(FashionMNIST()) == 3
    monkeypatch.delenv("XDG_CACHE_HOME")
    for f in cache.iterdir():
        f.unlink()
    ds = FashionMNIST()
    assert len(ds) == 4 and ds.root == str(system)  # the system directory last
    # root/<name> and torchvision's root/FashionMNIST/raw
    _make_split(isolated / "r2" / "fashion-mnist", 6)
    assert len(FashionMNIST(root=isolated / "r2")) == 6
    _make_split(isolated / "r3" / "FashionMNIST" / "raw", 8)
    assert len(FashionMNIST(root=isolated / "r3")) == 8
    # MNIST never looks at the Fashion-MNIST directories
    with pytest.raises(DatasetNotFoundError):
        MNIST()


def test_missing_data_message(isolated, monkeypatch):
    monkeypatch.setenv("GRADCORE_DATA", str(isolated / "env"))
    partial = isolated / "partial"
    partial.mkdir()
    write_idx(partial / (TRAIN[0] + ".gz"), np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DatasetNotFoundError) as e:
        FashionMNIST(root=partial)
    assert isinstance(e.value, FileNotFoundError)
    msg = str(e.value)
    assert f"{partial} (root argument): missing {TRAIN[1]}[.gz]" in msg
    assert f"{partial / 'FashionMNIST' / 'raw'} (root argument, torchvision layout)" in msg
    assert "an explicit root is searched alone" in msg
    searched = [line for line in msg.splitlines() if line[:5].strip().rstrip(".").isdigit()]
    assert len(searched) == 3  # an explicit root is the only place searched (three layouts)
    assert all("root argument" in line for line in searched)
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "download=True" in msg
    # without root: every other place, in search order
    with pytest.raises(DatasetNotFoundError) as e:
        FashionMNIST()
    msg = str(e.value)
    for where in (
        str(isolated / "env" / "fashion-mnist"),
        str(isolated / "home" / ".cache" / "gradcore" / "fashion-mnist"),
        str(isolated / "system"),
    ):
        assert where in msg
    assert msg.index("env") < msg.index(".cache") < msg.index("system")

    monkeypatch.delenv("GRADCORE_DATA")
    with pytest.raises(DatasetNotFoundError) as e:
        MNIST()
    assert "$GRADCORE_DATA/mnist: not set" in str(e.value)
    assert "apt-get" not in str(e.value) and "download=True" in str(e.value)


def test_explicit_root_never_falls_back(isolated, monkeypatch):
    """A typo in root must not silently load another copy ($GRADCORE_DATA, the user cache or
    the system directory all hold one here)."""
    env, system = isolated / "env", isolated / "system"
    _make_split(env / "fashion-mnist", 2)
    _make_split(isolated / "home" / ".cache" / "gradcore" / "fashion-mnist", 3)
    _make_split(system, 4)
    monkeypatch.setenv("GRADCORE_DATA", str(env))
    for typo in (isolated / "nonexistent" / "typo", isolated):  # missing, or no files in it
        with pytest.raises(DatasetNotFoundError, match="root argument"):
            FashionMNIST(root=typo)
    assert len(FashionMNIST()) == 2  # without root the other places are still searched


def test_inconsistent_files_rejected(isolated):
    d = isolated / "bad"
    _make_split(d, 5)
    write_idx(d / (TRAIN[1] + ".gz"), np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        FashionMNIST(root=d)
    write_idx(d / (TRAIN[1] + ".gz"), np.full(5, 10, np.uint8))
    with pytest.raises(ValueError, match="label 10 >= 10"):
        FashionMNIST(root=d)
    write_idx(d / (TRAIN[0] + ".gz"), np.zeros((5, 28, 28), np.float32))
    with pytest.raises(ValueError, match="expected uint8 images"):
        FashionMNIST(root=d)
    (d / (TRAIN[0] + ".gz")).write_bytes(b"\x00\x00\x08\x03")
    with pytest.raises(ValueError, match="truncated header"):
        FashionMNIST(root=d)


def test_in_memory_cache_and_loader(isolated):
    _make_split(isolated / "r", 10)
    a = FashionMNIST(root=isolated / "r")
    b = FashionMNIST(root=isolated / "r", transform=T.RandomHorizontalFlip(1.0))
    assert a.data is b.data  # decoded once per process
    assert not a.data.flags.writeable
    loader = DataLoader(b, batch_size=4, shuffle=True, seed=0)
    seen = []
    for x, y in loader:
        x, y = (t.numpy() if hasattr(t, "numpy") else t for t in (x, y))
        assert x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x, a.get_batch(y)[0][..., ::-1])  # labels = indices here
        seen += y.tolist()
    assert sorted(seen) == list(range(10))
    np.testing.assert_array_equal(b[2][0], a[2][0][..., ::-1])


# ---------------------------------------------------------------- download
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A local HTTP server for tmp_path/served; stopped at the end of the test."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")  # never through a proxy
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def _serve_split(served, n=6, train=True):
    images, labels = _make_split(served, n, train=train, seed=4)
    stems = TRAIN if train else TEST
    return images, labels, {s + ".gz": _md5(served / (s + ".gz")) for s in stems}


def test_download_verifies_and_loads(isolated, server, monkeypatch):
    url, served = server
    _, labels, sums = _serve_split(served)
    monkeypatch.setattr(FashionMNIST, "resources", sums)
    with pytest.raises(DatasetNotFoundError):
        FashionMNIST(mirrors=[url])  # download=False never fetches
    ds = FashionMNIST(download=True, mirrors=[url])
    cache = isolated / "home" / ".cache" / "gradcore" / "fashion-mnist"
    assert ds.root == str(cache)
    assert sorted(os.listdir(cache)) == sorted(sums)  # no temporary files left
    np.testing.assert_array_equal(ds.targets, labels)
    for name, s in sums.items():
        assert _md5(cache / name) == s
    # found in the cache next time: no server needed
    assert len(FashionMNIST(download=True, mirrors=["http://127.0.0.1:9/"])) == 6


def test_download_into_root_with_env_mirror_and_fallback(isolated, server, monkeypatch):
    url, served = server
    _, labels, sums = _serve_split(served, train=False)
    monkeypatch.setattr(MNIST, "resources", sums)
    # first mirror has nothing (404), the second (env var) serves the files
    monkeypatch.setenv("GRADCORE_DATA_MIRROR", f"{url}missing/, {url}")
    ds = MNIST(root=isolated / "mine", train=False, download=True)
    assert ds.root == str(isolated / "mine")
    np.testing.assert_array_equal(ds.targets, labels)


def test_checksum_mismatch_leaves_no_file(isolated, server, monkeypatch):
    url, served = server
    _, _, sums = _serve_split(served)
    bad = dict(sums)
    bad[TRAIN[0] + ".gz"] = "0" * 32
    monkeypatch.setattr(FashionMNIST, "resources", bad)
    with pytest.raises(DownloadError, match="MD5 mismatch") as e:
        FashionMNIST(download=True, mirrors=url)
    assert url + TRAIN[0] + ".gz" in str(e.value)
    cache = isolated / "home" / ".cache" / "gradcore" / "fashion-mnist"
    assert not cache.exists() or os.listdir(cache) == []


def test_download_unreachable_mirror(isolated, server, monkeypatch):
    url, _ = server  # serves nothing: 404 for every file
    with pytest.raises(DownloadError, match="404") as e:
        FashionMNIST(download=True, mirrors=[url])
    assert isinstance(e.value, OSError)
    cache = isolated / "home" / ".cache" / "gradcore" / "fashion-mnist"
    assert os.listdir(cache) == []


def test_download_url_atomic(tmp_path, server):
    url, served = server
    (served / "f.bin").write_bytes(b"hello")
    dest = tmp_path / "out" / "f.bin"
    dsmod.download_url(url + "f.bin", dest, hashlib.md5(b"hello").hexdigest())
    assert dest.read_bytes() == b"hello"
    dest.write_bytes(b"old")
    with pytest.raises(ValueError, match="MD5 mismatch"):
        dsmod.download_url(url + "f.bin", dest, "1" * 32)
    assert dest.read_bytes() == b"old"  # a failed download never replaces a file
    assert os.listdir(dest.parent) == ["f.bin"]


# ---------------------------------------------------------------- the real data
def test_real_fashion_mnist():
    if not all(os.path.isfile(os.path.join(REAL_DIR, s + ".gz")) for s in TRAIN + TEST):
        pytest.skip(f"{REAL_DIR} absent (apt-get install dataset-fashion-mnist to run this)")
    train = FashionMNIST(root=REAL_DIR, train=True)
    test = FashionMNIST(root=REAL_DIR, train=False)
    assert train.data.shape == (60000, 1, 28, 28) and test.data.shape == (10000, 1, 28, 28)
    assert train.data.dtype == np.float32 and train.targets.dtype == np.int64
    for ds, per_class in ((train, 6000), (test, 1000)):
        assert ds.targets.min() == 0 and ds.targets.max() == 9
        assert np.bincount(ds.targets).tolist() == [per_class] * 10
        assert 0.0 <= float(ds.data.min()) and float(ds.data.max()) == 1.0
    assert 0.2 < float(train.data.mean()) < 0.4  # Fashion-MNIST's mean pixel is ~0.286
