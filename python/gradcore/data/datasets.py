"""Fashion-MNIST and MNIST: discovery, optional download, decoding to float32 images.

Where the files are looked for, in order (the first directory holding both files of the
requested split wins):

1. with ``root`` given (the argument): ``root``, ``root/<name>`` and ``root/<ClassName>/raw``
   (torchvision's layout), and nowhere else: an explicit root that lacks the files (a typo, an
   empty directory) raises DatasetNotFoundError rather than silently loading another copy;
2. without ``root``: ``$GRADCORE_DATA/<name>``;
3. the user cache ``$XDG_CACHE_HOME/gradcore/<name>`` (default ``~/.cache/gradcore/<name>``);
4. system directories: ``/usr/share/datasets/fashion-mnist`` for Fashion-MNIST (Debian's
   package ``dataset-fashion-mnist``).

``<name>`` is ``fashion-mnist`` or ``mnist``; each file may be gzip-compressed
(``train-images-idx3-ubyte.gz``) or raw (``train-images-idx3-ubyte``). If nothing is found,
``download=True`` fetches the official files into ``root`` (when given) or the user cache,
checks their published MD5 and writes them atomically; otherwise DatasetNotFoundError
lists every place searched and how to get the data. Files that are found but corrupt, or not
IDX files of the expected shapes, raise gradcore.serialization.FileFormatError (a ValueError)
naming the file.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from gradcore.data.dataset import Dataset
from gradcore.data.idx import read_idx
from gradcore.data.transforms import apply_transform
from gradcore.serialization import FileFormatError
from gradcore.utils.progress import progress_bar

ENV_DATA = "GRADCORE_DATA"
ENV_MIRROR = "GRADCORE_DATA_MIRROR"

# system-wide directories per dataset name, searched last (tests patch this dict)
SYSTEM_DIRS: Dict[str, List[str]] = {
    "fashion-mnist": ["/usr/share/datasets/fashion-mnist"],
    "mnist": [],
}

_SPLIT_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are in none of the searched places."""


class DownloadError(OSError):
    """A download failed on every mirror (network error or checksum mismatch)."""


def cache_dir(name: Optional[str] = None) -> Path:
    """The user cache for gradcore data: $XDG_CACHE_HOME/gradcore (absolute values only),
    else ~/.cache/gradcore; with `name`, that dataset's subdirectory."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    d = base / "gradcore"
    return d / name if name else d


def md5_file(path: str) -> str:
    """Hex MD5 of a file's bytes (for checking downloads against published sums)."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def download_url(url: str, dest: os.PathLike, md5: Optional[str], timeout: float = 60.0) -> None:
    """Fetch `url` to `dest` atomically: stream into a temporary file in the same directory,
    check the MD5, fsync, then os.replace. On any failure no file (partial or bad) remains
    and the error says why; a checksum mismatch raises ValueError. A tqdm bar shows the
    progress when tqdm is installed and stderr is a terminal."""
    dest = os.fspath(dest)
    directory = os.path.dirname(dest) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix="." + os.path.basename(dest) + ".", suffix=".part"
    )
    bar = None
    try:
        h = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                size = resp.headers.get("Content-Length")
                bar = progress_bar(
                    total=int(size) if size and size.isdigit() else None,
                    desc=os.path.basename(dest),
                    unit="B",
                    unit_scale=True,
                )
                while True:
                    chunk = resp.read(1 << 20)
                    if not chunk:
                        break
                    h.update(chunk)
                    out.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        got = h.hexdigest()
        if md5 is not None and got != md5.lower():
            raise ValueError(f"MD5 mismatch for {url}: expected {md5}, got {got}")
        os.replace(tmp, dest)
        _fsync_dir(directory)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    finally:
        if bar is not None:
            bar.close()


# decoded arrays per process, keyed by the files' identity (path, mtime, size)
_ARRAY_CACHE: Dict[tuple, Tuple[np.ndarray, np.ndarray]] = {}
_ARRAY_CACHE_MAX = 4
_CACHE_LOCK = threading.Lock()


def _file_key(path: str) -> tuple:
    st = os.stat(path)
    return (os.path.realpath(path), st.st_mtime_ns, st.st_size)


def _load_pair(images_path: str, labels_path: str, num_classes: int):
    key = (_file_key(images_path), _file_key(labels_path))
    with _CACHE_LOCK:
        hit = _ARRAY_CACHE.get(key)
    if hit is not None:
        return hit
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise FileFormatError(
            f"{images_path}: expected uint8 images (N, H, W), got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise FileFormatError(
            f"{labels_path}: expected uint8 labels (N,), got {labels.dtype} {labels.shape}"
        )
    if images.shape[0] != labels.shape[0]:
        raise FileFormatError(
            f"{images_path} has {images.shape[0]} images but {labels_path} "
            f"has {labels.shape[0]} labels"
        )
    if labels.size and int(labels.max()) >= num_classes:
        raise FileFormatError(f"{labels_path}: label {int(labels.max())} >= {num_classes} classes")
    data = images.astype(np.float32)[:, None, :, :]
    data /= np.float32(255.0)
    targets = labels.astype(np.int64)
    data.flags.writeable = False  # shared between datasets of this process
    targets.flags.writeable = False
    with _CACHE_LOCK:
        if len(_ARRAY_CACHE) >= _ARRAY_CACHE_MAX:
            _ARRAY_CACHE.pop(next(iter(_ARRAY_CACHE)))
        _ARRAY_CACHE[key] = (data, targets)
    return data, targets


def clear_cache() -> None:
    """Forget the decoded arrays kept in memory."""
    with _CACHE_LOCK:
        _ARRAY_CACHE.clear()


class _IDXImageDataset(Dataset):
    name = ""  # directory name: fashion-mnist / mnist
    classes: Sequence[str] = ()
    resources: Dict[str, str] = {}  # file name -> MD5 of the official .gz
    mirrors: Sequence[str] = ()
    apt_package: Optional[str] = None

    def __init__(
        self,
        root: Optional[os.PathLike] = None,
        train: bool = True,
        download: bool = False,
        transform=None,
        mirrors: Optional[Sequence[str]] = None,
    ) -> None:
        self.train = bool(train)
        self.transform = transform
        self._rng = np.random.default_rng()
        found, tried = self._find(root)
        if found is None and download:
            target = Path(root) if root is not None else cache_dir(self.name)
            self._download(target, mirrors)
            found, tried = self._find(root)
        if found is None:
            raise DatasetNotFoundError(self._not_found_message(tried, root))
        self.root = str(found[0])
        self.images_path, self.labels_path = str(found[1]), str(found[2])
        self.data, self.targets = _load_pair(self.images_path, self.labels_path, len(self.classes))

    # -- discovery ----------------------------------------------------------------
    @classmethod
    def search_dirs(cls, root: Optional[os.PathLike] = None) -> List[Tuple[Optional[Path], str]]:
        """(directory, why it is searched) in search order; directory None if unset. An
        explicit `root` is searched alone (its three layouts)."""
        out: List[Tuple[Optional[Path], str]] = []
        if root is not None:
            r = Path(root).expanduser()
            return [
                (r, "root argument"),
                (r / cls.name, "root argument"),
                (r / cls.__name__ / "raw", "root argument, torchvision layout"),
            ]
        env = os.environ.get(ENV_DATA, "")
        out.append((Path(env).expanduser() / cls.name if env else None, f"${ENV_DATA}/{cls.name}"))
        out.append((cache_dir(cls.name), "user cache"))
        for d in SYSTEM_DIRS.get(cls.name, []):
            why = f"Debian package {cls.apt_package}" if cls.apt_package else "system directory"
            out.append((Path(d), why))
        return out

    def _find(self, root):
        tried = []
        stems = _SPLIT_FILES[self.train]
        for d, why in self.search_dirs(root):
            if d is None:
                tried.append((None, why, "not set"))
                continue
            if not d.is_dir():
                tried.append((d, why, "no such directory"))
                continue
            paths, missing = [], []
            for stem in stems:
                p = next((d / f for f in (stem + ".gz", stem) if (d / f).is_file()), None)
                if p is None:
                    missing.append(stem + "[.gz]")
                paths.append(p)
            if not missing:
                return (d, paths[0], paths[1]), tried
            tried.append((d, why, "missing " + ", ".join(missing)))
        return None, tried

    def _not_found_message(self, tried, root) -> str:
        split = "train" if self.train else "test"
        lines = [f"{type(self).__name__} ({split} split) not found. Looked in, in order:"]
        for i, (d, why, what) in enumerate(tried, 1):
            where = f"{d} ({why})" if d is not None else why
            lines.append(f"  {i}. {where}: {what}")
        if root is not None:
            lines.append(
                f"(an explicit root is searched alone; without root, ${ENV_DATA}/{self.name}, "
                "the user cache and the system directories are searched)"
            )
        lines.append("Get it in one of these ways:")
        if self.apt_package:
            lines.append(
                f"  - sudo apt-get install {self.apt_package}   "
                f"(Debian/Ubuntu: installs to {SYSTEM_DIRS[self.name][0]})"
            )
        lines.append(
            f"  - {type(self).__name__}(download=True)   "
            f"(fetches the official files into {cache_dir(self.name)}, or into root if given)"
        )
        lines.append(
            f"  - or put {', '.join(s + '.gz' for s in _SPLIT_FILES[self.train])} in root "
            f"or ${ENV_DATA}/{self.name}"
        )
        return "\n".join(lines)

    # -- download -----------------------------------------------------------------
    @classmethod
    def _mirror_list(cls, mirrors: Optional[Sequence[str]]) -> List[str]:
        if mirrors is None:
            env = os.environ.get(ENV_MIRROR, "")
            mirrors = env.replace(",", " ").split() if env.strip() else list(cls.mirrors)
        elif isinstance(mirrors, str):
            mirrors = [mirrors]
        return [m if m.endswith("/") else m + "/" for m in mirrors]

    def _download(self, target: Path, mirrors: Optional[Sequence[str]]) -> None:
        target.mkdir(parents=True, exist_ok=True)
        bases = self._mirror_list(mirrors)
        for stem in _SPLIT_FILES[self.train]:
            fname = stem + ".gz"
            dest = target / fname
            if dest.is_file() and md5_file(str(dest)) == self.resources[fname]:
                continue
            errors = []
            for base in bases:
                url = base + fname
                print(f"gradcore: downloading {url} -> {dest}", file=sys.stderr)
                try:
                    download_url(url, dest, self.resources[fname])
                    break
                except (OSError, ValueError) as e:  # URLError/HTTPError are OSErrors
                    errors.append(f"  {url}: {e}")
            else:
                raise DownloadError(
                    f"could not download {fname} for {type(self).__name__} into {target}:\n"
                    + "\n".join(errors)
                )

    # -- items --------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def __getitem__(self, index: int):
        """(image float32 (1, H, W) in [0, 1] (a copy), label int), transform applied."""
        x = np.array(self.data[index])
        if self.transform is not None:
            x = apply_transform(self.transform, x, self._rng)
        return x, int(self.targets[index])

    def get_batch(self, indices: np.ndarray, rng: Optional[np.random.Generator] = None):
        """(images (n, 1, H, W) float32, labels (n,) int64) for `indices`, transform applied."""
        x = self.data[indices]
        if self.transform is not None:
            x = apply_transform(self.transform, x, rng if rng is not None else self._rng)
        return x, self.targets[indices]

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}({split}, {len(self)} items, root={self.root!r})"


class FashionMNIST(_IDXImageDataset):
    """Zalando's Fashion-MNIST: 60000 train / 10000 test 28x28 grey images, 10 classes.

    ``FashionMNIST(root=None, train=True, download=False, transform=None, mirrors=None)``:
    ``data`` float32 (N, 1, 28, 28) in [0, 1], ``targets`` int64 (N,). See the module
    docstring for where the files are looked for.
    """

    name = "fashion-mnist"
    apt_package = "dataset-fashion-mnist"
    classes = (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )
    resources = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    mirrors = (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    )


class MNIST(_IDXImageDataset):
    """LeCun, Cortes and Burges' handwritten digits: 60000 train / 10000 test, 28x28.

    Same interface as FashionMNIST; no system package, so the data comes from root,
    $GRADCORE_DATA/mnist, the user cache, or ``download=True``.
    """

    name = "mnist"
    classes = tuple(str(i) for i in range(10))
    resources = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    mirrors = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )
