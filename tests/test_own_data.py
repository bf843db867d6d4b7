"""Your own data: CIFAR-10 in its official python layout (generated small batches, a tarball,
checksum-verified download from a file:// mirror, the restricted unpickler) and ImageFolder
(generated PNG/JPEG files)."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from gradcore.data import CIFAR10, DataLoader, DatasetNotFoundError, ImageFolder
from gradcore.data.cifar import BATCH_DIR, read_batch
from gradcore.data.datasets import DownloadError
from gradcore.serialization import FileFormatError


def _batch_bytes(data, labels, old_numpy_name=False):
    raw = pickle.dumps(
        {b"batch_label": b"testing", b"labels": list(labels), b"data": data, b"filenames": []},
        protocol=2,
    )
    if old_numpy_name:  # what the official files (numpy 1, Python 2) name
        raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return raw


def write_fake_cifar(directory, per_batch=4, seed=0):
    """cifar-10-batches-py/ with data_batch_1..5 and test_batch of `per_batch` images each;
    returns {file name: (data, labels)}."""
    rng = np.random.default_rng(seed)
    d = os.path.join(directory, BATCH_DIR)
    os.makedirs(d, exist_ok=True)
    out = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        with open(os.path.join(d, name), "wb") as f:
            f.write(_batch_bytes(data, labels, old_numpy_name=i % 2 == 0))
        out[name] = (data, labels)
    with open(os.path.join(d, "batches.meta"), "wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in CIFAR10.classes]}, f, protocol=2)
    return out


def test_cifar10_reads_the_official_layout(tmp_path):
    batches = write_fake_cifar(tmp_path)
    train = CIFAR10(root=tmp_path, train=True)
    test = CIFAR10(root=tmp_path / BATCH_DIR, train=False)  # the batch directory itself
    assert (len(train), len(test)) == (20, 4)
    assert train.data.shape == (20, 3, 32, 32) and train.data.dtype == np.float32
    data, labels = batches["data_batch_2"]
    # row layout: 1024 red, 1024 green, 1024 blue values, each plane row-major
    np.testing.assert_array_equal(train.data[4:8], data.reshape(4, 3, 32, 32) / np.float32(255))
    assert train.targets[4:8].tolist() == labels
    assert train[5][0][1, 2, 3] == np.float32(data[1, 1024 + 2 * 32 + 3]) / np.float32(255)
    x, y = next(iter(DataLoader(test, batch_size=4)))
    assert tuple(x.shape) == (4, 3, 32, 32) and y.numpy().tolist() == batches["test_batch"][1]


def test_cifar10_refuses_pickles_that_name_other_code(tmp_path):
    evil = tmp_path / "data_batch_1"

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    evil.write_bytes(pickle.dumps({b"data": Boom(), b"labels": []}, protocol=2))
    with pytest.raises(FileFormatError, match=r"refusing to load (posix|os|nt)\.system"):
        read_batch(str(evil))
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(FileFormatError, match="not a CIFAR-10 python batch"):
        read_batch(str(junk))
    bad = tmp_path / "bad"
    bad.write_bytes(_batch_bytes(np.zeros((2, 100), np.uint8), [0, 1]))
    with pytest.raises(FileFormatError, match="3072"):
        read_batch(str(bad))


def _tarball(src_dir, path):
    with tarfile.open(path, "w:gz") as tar:
        tar.add(os.path.join(src_dir, BATCH_DIR), arcname=BATCH_DIR)
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_cifar10_download_verifies_the_checksum(tmp_path, monkeypatch, capsys):
    write_fake_cifar(tmp_path / "src")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    md5 = _tarball(tmp_path / "src", mirror / CIFAR10.archive)
    root = tmp_path / "root"
    with pytest.raises(DatasetNotFoundError, match="download=True"):
        CIFAR10(root=root)
    monkeypatch.setattr(CIFAR10, "archive_md5", "0" * 32)
    with pytest.raises(DownloadError, match="MD5 mismatch"):
        CIFAR10(root=root, download=True, mirrors=[mirror.as_uri()])
    assert not (root / CIFAR10.archive).exists()  # nothing half-written kept
    monkeypatch.setattr(CIFAR10, "archive_md5", md5)
    ds = CIFAR10(root=root, train=False, download=True, mirrors=[mirror.as_uri()])
    assert len(ds) == 4 and (root / CIFAR10.archive).is_file()
    assert "downloading" in capsys.readouterr().err


def test_cifar10_refuses_an_archive_that_escapes(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with tarfile.open(mirror / CIFAR10.archive, "w:gz") as tar:
        info = tarfile.TarInfo("../outside")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    md5 = hashlib.md5((mirror / CIFAR10.archive).read_bytes()).hexdigest()
    monkeypatch.setattr(CIFAR10, "archive_md5", md5)
    with pytest.raises(FileFormatError, match="unsafe member '../outside'"):
        CIFAR10(root=tmp_path / "root", download=True, mirrors=[mirror.as_uri()])
    assert not (tmp_path / "outside").exists()


# ----------------------------------------------------------------------------- ImageFolder
@pytest.fixture
def pil():
    return pytest.importorskip("PIL.Image", reason="ImageFolder needs the images extra (Pillow)")


def write_image_folder(PIL, root, per_class=3, size=(6, 5), seed=0):
    """root/<class>/<i>.png|.jpg of colour images whose red channel encodes the class."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for ci, cls in enumerate(["cat", "dog", "emu"]):
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        for i in range(per_class):
            a = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            a[..., 0] = 40 * ci
            ext = "jpg" if (cls == "emu" and i == 0) else "png"
            path = os.path.join(root, cls, f"{i}.{ext}")
            PIL.fromarray(a).save(path)
            arrays[path] = a
    (root / "cat" / "notes.txt").write_text("not an image")
    return arrays


def test_image_folder_classes_samples_and_pixels(tmp_path, pil):
    arrays = write_image_folder(pil, tmp_path)
    ds = ImageFolder(tmp_path)
    assert ds.classes == ["cat", "dog", "emu"] and ds.class_to_idx["dog"] == 1
    assert len(ds) == 9 and ds.targets.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    x, y = ds[4]
    path = ds.samples[4][0]
    assert y == 1 and x.shape == (3, 6, 5) and x.dtype == np.float32
    np.testing.assert_array_equal(x, arrays[path].transpose(2, 0, 1) / np.float32(255))  # PNG
    jpeg, _ = ds[6]  # lossy, but the red channel (constant 80) survives closely
    assert abs(float(jpeg[0].mean()) - 80 / 255) < 0.05
    grey = ImageFolder(tmp_path, channels=1, size=(8, 8))
    assert grey[0][0].shape == (1, 8, 8)
    xb, yb = next(iter(DataLoader(ds, batch_size=9)))
    assert tuple(xb.shape) == (9, 3, 6, 5) and yb.numpy().tolist() == ds.targets.tolist()


def test_image_folder_errors(tmp_path, pil):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        ImageFolder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no class sub-directories"):
        ImageFolder(tmp_path / "empty")
    (tmp_path / "empty" / "a").mkdir()
    with pytest.raises(FileNotFoundError, match="no .png/.jpg/.jpeg files"):
        ImageFolder(tmp_path / "empty")
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        ImageFolder(tmp_path, channels=2)
    root = tmp_path / "mixed"
    write_image_folder(pil, root)
    pil.fromarray(np.zeros((9, 9, 3), np.uint8)).save(root / "cat" / "big.png")
    with pytest.raises(ValueError, match="different sizes"):
        next(iter(DataLoader(ImageFolder(root), batch_size=16)))
    (root / "dog" / "broken.png").write_bytes(b"garbage")
    ds = ImageFolder(root, size=(6, 5))
    idx = [i for i, (p, _) in enumerate(ds.samples) if p.endswith("broken.png")][0]
    with pytest.raises(OSError, match="cannot read image .*broken.png"):
        ds[idx]


# ------------------------------------------------------------------------ the command line
def test_cli_trains_and_evaluates_on_cifar10(tmp_path, capsys):
    from gradcore.__main__ import main

    write_fake_cifar(tmp_path / "data", per_batch=20)
    out = tmp_path / "run"
    common = ["--dataset", "cifar10", "--data-dir", str(tmp_path / "data")]
    argv = ["train", "--model", "cnn-small", "--epochs", "1", "--augment", "--out", str(out)]
    assert main(argv + common) == 0
    text = capsys.readouterr().out
    assert "on cifar10 (90 train / 10 validation (split seed 0) / 20 test images)" in text
    # the model takes 3 channels of 32x32: conv1's weight is (32, 3, 3, 3)
    import gradcore

    assert tuple(gradcore.load(out / "weights.npz")["0.weight"].shape) == (32, 3, 3, 3)
    assert (
        main(["evaluate", "--weights", str(out / "weights.npz"), "--model", "cnn-small"] + common)
        == 0
    )
    assert "test accuracy:" in capsys.readouterr().out


def test_cli_trains_on_an_image_folder(tmp_path, capsys, pil):
    from gradcore.__main__ import main

    write_image_folder(pil, tmp_path / "imgs" / "train", per_class=4, size=(8, 8))
    write_image_folder(pil, tmp_path / "imgs" / "test", per_class=2, size=(8, 8), seed=1)
    common = ["--dataset", "imagefolder", "--data-dir", str(tmp_path / "imgs")]
    argv = ["train", "--model", "cnn-small", "--epochs", "1", "--channels", "1"]
    assert main(argv + common + ["--image-size", "12"]) == 0
    assert "(11 train / 1 validation (split seed 0) / 6 test images)" in capsys.readouterr().out
    assert main(["train", "--dataset", "imagefolder"]) == 2
    assert "needs --data-dir" in capsys.readouterr().err
