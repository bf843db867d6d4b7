"""ImageFolder: your own images, one sub-directory per class (torchvision's layout).

    root/cat/001.png
    root/cat/002.jpg
    root/dog/xyz.jpeg

Classes are the sub-directory names in sorted order (``classes``, ``class_to_idx``); samples
are every PNG/JPEG file below each class directory, sorted by path. Images are decoded with
Pillow (``pip install gradcore[images]``) to float32 (C, H, W) in [0, 1].
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from gradcore.data.dataset import Dataset
from gradcore.data.transforms import apply_transform

IMG_EXTENSIONS = (".png", ".jpg", ".jpeg")
_MODES = {1: "L", 3: "RGB"}


def _pil_image() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "ImageFolder needs Pillow, which is not installed: pip install Pillow "
            "(or pip install gradcore[images])"
        ) from None
    return Image


class ImageFolder(Dataset):
    """Images in ``root/<class>/<file>``: items (image float32 (C, H, W) in [0, 1], class).

    `channels` 3 (RGB, the default, like torchvision) or 1 (greyscale); `size` (H, W) resizes
    every image (bilinear) so that they batch; without it all images must share one size,
    which is checked when a batch is assembled. `transform` is a gradcore batch transform
    (gradcore.data.transforms, on (N, C, H, W)) or a callable: the DataLoader applies it to
    whole batches; indexing one item applies it to a batch of one.
    """

    def __init__(
        self,
        root: os.PathLike,
        transform: Optional[Callable] = None,
        channels: int = 3,
        size: Optional[Sequence[int]] = None,
        extensions: Sequence[str] = IMG_EXTENSIONS,
    ) -> None:
        if channels not in _MODES:
            raise ValueError(f"ImageFolder: channels must be 1 or 3, got {channels!r}")
        self.root = os.fspath(root)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"ImageFolder: no such directory: {self.root}")
        self.transform = transform
        self.channels = channels
        self.size = None if size is None else (int(size[0]), int(size[1]))
        exts = tuple(e.lower() for e in extensions)
        self.classes: List[str] = sorted(
            e.name for e in os.scandir(self.root) if e.is_dir() and not e.name.startswith(".")
        )
        if not self.classes:
            raise FileNotFoundError(
                f"ImageFolder: {self.root} has no class sub-directories (expected "
                "root/<class>/<image>)"
            )
        self.class_to_idx: Dict[str, int] = {c: i for i, c in enumerate(self.classes)}
        self.samples: List[Tuple[str, int]] = []
        for c in self.classes:
            for dirpath, dirnames, filenames in os.walk(os.path.join(self.root, c)):
                dirnames.sort()
                for f in sorted(filenames):
                    if f.lower().endswith(exts):
                        self.samples.append((os.path.join(dirpath, f), self.class_to_idx[c]))
        if not self.samples:
            raise FileNotFoundError(
                f"ImageFolder: no {'/'.join(exts)} files under the class directories of {self.root}"
            )
        self.targets = np.array([t for _, t in self.samples], dtype=np.int64)
        self._rng = np.random.default_rng()

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, path: str) -> np.ndarray:
        """Decode one file: float32 (C, H, W) in [0, 1]."""
        Image = _pil_image()
        try:
            with Image.open(path) as img:
                img = img.convert(_MODES[self.channels])
                if self.size is not None and img.size != (self.size[1], self.size[0]):
                    img = img.resize((self.size[1], self.size[0]), Image.BILINEAR)
                a = np.asarray(img, dtype=np.uint8)
        except OSError as e:  # PIL.UnidentifiedImageError is an OSError
            raise OSError(f"ImageFolder: cannot read image {path}: {e}") from None
        a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)  # (H, W[, C]) -> (C, H, W)
        return a.astype(np.float32) / np.float32(255.0)

    def __getitem__(self, index: int):
        path, target = self.samples[index]
        x = self.load(path)
        if self.transform is not None:
            x = apply_transform(self.transform, x[None], self._rng)[0]
        return x, target

    def get_batch(self, indices: np.ndarray, rng: Optional[np.random.Generator] = None):
        """(images (n, C, H, W) float32, labels (n,) int64), transform applied to the batch."""
        images = [self.load(self.samples[int(i)][0]) for i in indices]
        shapes = {a.shape for a in images}
        if len(shapes) > 1:
            raise ValueError(
                f"ImageFolder: images of different sizes {sorted(shapes)} in one batch; "
                "pass size=(H, W) to resize them"
            )
        x = np.stack(images)
        if self.transform is not None:
            x = apply_transform(self.transform, x, rng if rng is not None else self._rng)
        return x, self.targets[np.asarray(indices)]

    def __repr__(self) -> str:
        return f"ImageFolder({len(self)} images, {len(self.classes)} classes, root={self.root!r})"
