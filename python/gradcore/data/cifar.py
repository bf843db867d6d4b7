"""CIFAR-10 from the official "python version": ``cifar-10-python.tar.gz``, whose
``cifar-10-batches-py/`` holds ``data_batch_1`` .. ``data_batch_5`` (train, 10,000 images
each), ``test_batch`` and ``batches.meta``.

Each batch is a pickle (protocol 2, written by Python 2) of a dict with ``b"data"``: a uint8
numpy array (10000, 3072), each row one 32x32 image's red, green and blue planes in row-major
order, and ``b"labels"``: a list of ints 0..9. Pickle can run any code a file names, so the
batches are read with a restricted Unpickler that builds only what that format holds (dicts,
lists, bytes, ints, numpy arrays and dtypes) and refuses every other class or function with a
FileFormatError naming it.
"""

from __future__ import annotations

import io
import os
import pickle
import sys
import tarfile
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from gradcore.data.dataset import Dataset
from gradcore.data.datasets import (
    DatasetNotFoundError,
    DownloadError,
    cache_dir,
    download_url,
    md5_file,
)
from gradcore.data.transforms import apply_transform
from gradcore.serialization import FileFormatError

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
BATCH_DIR = "cifar-10-batches-py"

# the only globals an official batch refers to: numpy's array reconstruction (under numpy 1's
# and numpy 2's module names) and, for bytes written with protocol 2 by Python 3, _codecs.encode
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    """Builds only the types of a CIFAR batch; any other global is refused."""

    def __init__(self, f: Any, path: str) -> None:
        super().__init__(f, encoding="bytes")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            if module == "numpy.core.multiarray":  # numpy 2 warns on the old module name
                import numpy

                if hasattr(numpy, "_core"):
                    module = "numpy._core.multiarray"
            return super().find_class(module, name)
        raise FileFormatError(
            f"{self.path}: refusing to load {module}.{name}: a CIFAR batch holds only dicts, "
            "lists, bytes, ints and numpy arrays"
        )


def read_batch(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """One batch file: (images uint8 (N, 3, 32, 32), labels int64 (N,))."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        obj = _BatchUnpickler(io.BytesIO(raw), path).load()
    except FileFormatError:
        raise
    except Exception as e:
        raise FileFormatError(f"{path}: not a CIFAR-10 python batch ({e})") from None
    if not isinstance(obj, dict) or b"data" not in obj or b"labels" not in obj:
        raise FileFormatError(f"{path}: expected a dict with b'data' and b'labels'")
    data, labels = obj[b"data"], obj[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise FileFormatError(f"{path}: b'data' must be a uint8 array (N, 3072)")
    if data.shape[1] != 3 * 32 * 32:
        raise FileFormatError(f"{path}: b'data' rows have {data.shape[1]} values, not 3072")
    targets = np.asarray(labels, dtype=np.int64)
    if targets.shape != (data.shape[0],):
        raise FileFormatError(f"{path}: {data.shape[0]} images but {targets.size} labels")
    if targets.size and (targets.min() < 0 or targets.max() > 9):
        raise FileFormatError(f"{path}: labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), targets


def _safe_extract(archive: str, target: Path) -> None:
    """Extract the archive's regular files and directories, refusing absolute paths, '..',
    links and devices."""
    with tarfile.open(archive, "r:gz") as tar:
        for m in tar.getmembers():
            parts = Path(m.name).parts
            if m.name.startswith("/") or ".." in parts or not (m.isfile() or m.isdir()):
                raise FileFormatError(f"{archive}: unsafe member {m.name!r}")
        for m in tar.getmembers():
            dest = target / m.name
            if m.isdir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(m)
            assert src is not None  # a regular file
            with src, open(dest, "wb") as out:
                out.write(src.read())


class CIFAR10(Dataset):
    """CIFAR-10: 50,000 train / 10,000 test 32x32 colour images, 10 classes.

    ``CIFAR10(root=None, train=True, download=False, transform=None, mirrors=None)``: looks for
    ``cifar-10-batches-py/`` in `root` (or `root` itself holding the batches); without root,
    in ``$GRADCORE_DATA/cifar10`` and the user cache. ``download=True`` fetches the official
    archive (MD5-checked, written atomically) into root or the user cache and unpacks it.
    ``data`` float32 (N, 3, 32, 32) in [0, 1], ``targets`` int64 (N,).
    """

    name = "cifar10"
    archive = "cifar-10-python.tar.gz"
    archive_md5 = "c58f30108f718f92721af3b95e74349a"
    mirrors: Sequence[str] = ("https://www.cs.toronto.edu/~kriz/",)
    classes = (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    )

    def __init__(
        self,
        root: Optional[os.PathLike] = None,
        train: bool = True,
        download: bool = False,
        transform: Optional[Callable] = None,
        mirrors: Optional[Sequence[str]] = None,
    ) -> None:
        self.train = bool(train)
        self.transform = transform
        self._rng = np.random.default_rng()
        files = TRAIN_BATCHES if self.train else TEST_BATCHES
        found, tried = self._find(root, files)
        if found is None and download:
            self._download(Path(root) if root is not None else cache_dir(self.name), mirrors)
            found, tried = self._find(root, files)
        if found is None:
            lines = [f"CIFAR10 ({'train' if self.train else 'test'} split) not found. Looked in:"]
            lines += [f"  - {d}: {why}" for d, why in tried]
            lines.append(
                f"Get it with CIFAR10(download=True) (or gradcore train --dataset cifar10 "
                f"--download), or unpack {self.archive} into one of these directories"
            )
            raise DatasetNotFoundError("\n".join(lines))
        self.root = str(found)
        parts = [read_batch(str(found / f)) for f in files]
        images = np.concatenate([p[0] for p in parts])
        self.data = images.astype(np.float32) / np.float32(255.0)
        self.targets = np.concatenate([p[1] for p in parts])

    def _search_dirs(self, root: Optional[os.PathLike]) -> List[Path]:
        if root is not None:
            r = Path(root).expanduser()
            return [r / BATCH_DIR, r]
        out = []
        env = os.environ.get("GRADCORE_DATA", "")
        if env:
            out.append(Path(env).expanduser() / self.name / BATCH_DIR)
        out.append(cache_dir(self.name) / BATCH_DIR)
        return out

    def _find(self, root, files) -> Tuple[Optional[Path], List[Tuple[Path, str]]]:
        tried = []
        for d in self._search_dirs(root):
            missing = [f for f in files if not (d / f).is_file()]
            if not missing:
                return d, tried
            tried.append((d, "missing " + ", ".join(missing)))
        return None, tried

    def _download(self, target: Path, mirrors: Optional[Sequence[str]]) -> None:
        target.mkdir(parents=True, exist_ok=True)
        dest = target / self.archive
        if not (dest.is_file() and md5_file(str(dest)) == self.archive_md5):
            bases = [mirrors] if isinstance(mirrors, str) else list(mirrors or self.mirrors)
            errors = []
            for base in bases:
                url = (base if base.endswith("/") else base + "/") + self.archive
                print(f"gradcore: downloading {url} -> {dest}", file=sys.stderr)
                try:
                    download_url(url, dest, self.archive_md5)
                    break
                except (OSError, ValueError) as e:
                    errors.append(f"  {url}: {e}")
            else:
                raise DownloadError(
                    f"could not download {self.archive} into {target}:\n" + "\n".join(errors)
                )
        _safe_extract(str(dest), target)

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def __getitem__(self, index: int):
        """(image float32 (3, 32, 32) in [0, 1] (a copy), label int), transform applied."""
        x = np.array(self.data[index])
        if self.transform is not None:
            x = apply_transform(self.transform, x[None], self._rng)[0]
        return x, int(self.targets[index])

    def get_batch(self, indices: np.ndarray, rng: Optional[np.random.Generator] = None):
        """(images (n, 3, 32, 32) float32, labels (n,) int64), transform applied."""
        x = self.data[indices]
        if self.transform is not None:
            x = apply_transform(self.transform, x, rng if rng is not None else self._rng)
        return x, self.targets[indices]

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"CIFAR10({split}, {len(self)} items, root={self.root!r})"
