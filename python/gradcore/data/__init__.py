"""Data loading: datasets, the DataLoader, batch transforms, IDX files, Fashion-MNIST/MNIST,
CIFAR-10 and ImageFolder (your own images)."""

from gradcore.data import transforms
from gradcore.data.cifar import CIFAR10
from gradcore.data.dataset import (
    ConcatDataset,
    Dataset,
    Subset,
    TensorDataset,
    random_split,
    train_val_split,
)
from gradcore.data.datasets import (
    MNIST,
    DatasetNotFoundError,
    DownloadError,
    FashionMNIST,
    cache_dir,
)
from gradcore.data.idx import read_idx, write_idx
from gradcore.data.image_folder import ImageFolder
from gradcore.data.loader import DataLoader, default_collate
from gradcore.data.sampler import DistributedSampler

__all__ = [
    "CIFAR10",
    "ImageFolder",
    "MNIST",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DatasetNotFoundError",
    "DistributedSampler",
    "DownloadError",
    "FashionMNIST",
    "Subset",
    "TensorDataset",
    "cache_dir",
    "default_collate",
    "random_split",
    "read_idx",
    "train_val_split",
    "transforms",
    "write_idx",
]
