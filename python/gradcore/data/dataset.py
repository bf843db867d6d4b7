"""Map-style datasets: Dataset, TensorDataset, Subset, random_split, train_val_split.

A dataset that holds whole arrays also offers ``get_batch(indices, rng=None)``: the
DataLoader then assembles a batch with one fancy-indexing call per array instead of a
Python loop over items (the fast path). ``get_batch`` returns numpy arrays.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from gradcore.data.transforms import apply_transform
from gradcore.tensor import Tensor, from_numpy


def _is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def _as_numpy(obj) -> np.ndarray:
    if isinstance(obj, Tensor):
        return obj.numpy()
    return np.asarray(obj)


def to_tensor(a: np.ndarray) -> Tensor:
    """Wrap a numpy array as a gradcore Tensor: shares memory when it is C-contiguous
    (the batches built here are), else copies once. The loader's only conversion point."""
    a = np.asarray(a)
    if not a.flags.c_contiguous:
        a = a.copy(order="C")
    return from_numpy(a)


class Dataset:
    """Base class of map-style datasets: implement ``__getitem__(i)`` and ``__len__()``."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Items are ``tuple(t[i] for t in tensors)``; all tensors share their first dimension.

    Accepts gradcore Tensors or anything numpy can convert (arrays, lists). Items keep the
    kind they came in (Tensor rows for Tensors, numpy rows for arrays).
    """

    def __init__(self, *tensors, transform=None) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tensors
        self.arrays = tuple(_as_numpy(t) for t in tensors)
        for i, a in enumerate(self.arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {i} is 0-dimensional (need a first dim)")
        sizes = [a.shape[0] for a in self.arrays]
        if any(s != sizes[0] for s in sizes):
            shapes = ", ".join(str(tuple(a.shape)) for a in self.arrays)
            raise ValueError(f"TensorDataset: size mismatch along the first dim: {shapes}")
        self._is_tensor = tuple(_is_tensor(t) for t in tensors)
        self.transform = transform

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"TensorDataset: index {index} out of range for length {n}")
        items = []
        for k, (a, is_t) in enumerate(zip(self.arrays, self._is_tensor)):
            item = a[index]
            if k == 0 and self.transform is not None:
                item = apply_transform(self.transform, np.asarray(item)[None], None)[0]
            items.append(to_tensor(np.asarray(item)) if is_t else item)
        return tuple(items)

    def get_batch(self, indices: np.ndarray, rng: Optional[np.random.Generator] = None):
        """Rows `indices` of every array (copies), the dataset's transform applied to the first."""
        out = [a[indices] for a in self.arrays]
        if self.transform is not None:
            out[0] = apply_transform(self.transform, out[0], rng)
        return tuple(out)


class Subset(Dataset):
    """The items of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices out of range for a dataset of length {n}")
        if hasattr(dataset, "get_batch"):
            self.get_batch = self._get_batch

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def _get_batch(self, indices, rng=None):
        return self.dataset.get_batch(self.indices[indices], rng)


class ConcatDataset(Dataset):
    """Datasets one after the other."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"ConcatDataset: index out of range for length {n}")
        d = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = self.cumulative_sizes[d - 1] if d else 0
        return self.datasets[d][index - start]


def _split_lengths(n: int, lengths: Sequence[Union[int, float]]) -> List[int]:
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if any(v < 0 for v in lengths):
        raise ValueError(f"random_split: negative length in {lengths}")
    all_int = all(isinstance(v, (int, np.integer)) for v in lengths)
    if not all_int:
        if not math.isclose(sum(lengths), 1.0, abs_tol=1e-6) or any(v > 1 for v in lengths):
            raise ValueError(
                f"random_split: fractions must lie in [0, 1] and sum to 1, got {lengths}"
            )
        counts = [int(math.floor(n * f)) for f in lengths]
        # hand the remainder out one by one, first splits first (PyTorch's rule)
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        return counts
    lengths = [int(v) for v in lengths]
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: lengths {lengths} sum to {sum(lengths)}, the dataset has {n} items"
        )
    return lengths


def random_split(
    dataset: Dataset,
    lengths: Sequence[Union[int, float]],
    generator: Union[None, int, np.random.Generator] = None,
    *,
    seed: Optional[int] = None,
) -> List[Subset]:
    """Split `dataset` into non-overlapping random Subsets of the given lengths.

    `lengths` are item counts summing to len(dataset), or fractions summing to 1 (floor of
    each, then the remainder given out one item at a time from the first split). The
    permutation comes from `generator` (a numpy Generator or an int seed) or `seed`;
    the same seed gives the same split.
    """
    if seed is not None and generator is not None:
        raise ValueError("random_split: pass either generator or seed, not both")
    if generator is None:
        generator = seed
    rng = (
        generator
        if isinstance(generator, np.random.Generator)
        else np.random.default_rng(generator)
    )
    n = len(dataset)
    counts = _split_lengths(n, lengths)
    perm = rng.permutation(n)
    out, start = [], 0
    for c in counts:
        out.append(Subset(dataset, perm[start : start + c]))
        start += c
    return out


def train_val_split(
    dataset: Dataset, val_size: Union[int, float], seed: int = 0
) -> Tuple[Subset, Subset]:
    """Hold out a validation set from a training set: (train, val) Subsets.

    `val_size` is an item count (0 < val_size < len(dataset)) or a fraction in (0, 1). The
    split is ``random_split(dataset, [n - v, v], seed=seed)``, so one seed always holds out the
    same items; the test set stays untouched for a single final evaluation.
    """
    n = len(dataset)
    if isinstance(val_size, bool) or not isinstance(val_size, (int, float, np.integer)):
        raise TypeError(f"train_val_split: val_size must be an int or a float, got {val_size!r}")
    if isinstance(val_size, (float, np.floating)):
        if not 0.0 < val_size < 1.0:
            raise ValueError(
                f"train_val_split: a fractional val_size must lie in (0, 1), got {val_size}"
            )
        v = max(1, int(round(n * float(val_size))))
    else:
        v = int(val_size)
    if not 0 < v < n:
        raise ValueError(
            f"train_val_split: val_size {v} must be at least 1 and smaller than the "
            f"dataset's {n} items"
        )
    train, val = random_split(dataset, [n - v, v], seed=seed)
    return train, val
