"""DistributedSampler: each rank's disjoint share of a dataset's indices, epoch by epoch."""

from __future__ import annotations

import math
from typing import Iterator, Optional

import numpy as np

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """The indices of `dataset` that rank `rank` of `num_replicas` reads, as PyTorch's
    DistributedSampler: every epoch the (seeded, optionally shuffled) index list is padded by
    repeating its first indices (or, with `drop_last`, truncated) to a multiple of
    `num_replicas`, and rank r takes positions r, r + num_replicas, ...; so the shards are
    disjoint and together cover the epoch (plus the padding). `set_epoch(e)` changes the
    order; the order depends only on (seed, epoch). `num_replicas` and `rank` default to
    gradcore.distributed's world size and rank.

    Per rank: num_samples = ceil(len / num_replicas), or with drop_last (when len is not a
    multiple) ceil((len - num_replicas) / num_replicas). `pad=False` (not in PyTorch; for
    sharded evaluation) neither pads nor drops: rank r takes r, r + num_replicas, ... < len,
    so every item is seen exactly once over all ranks."""

    def __init__(
        self,
        dataset,
        num_replicas: Optional[int] = None,
        rank: Optional[int] = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        pad: bool = True,
    ) -> None:
        if num_replicas is None or rank is None:
            from gradcore import distributed as dist  # data sits beside distributed

            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if int(num_replicas) < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= int(rank) < int(num_replicas):
            raise ValueError(
                f"DistributedSampler: invalid rank {rank}, rank should be in [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.pad = bool(pad)
        self.epoch = 0
        n = len(dataset)
        if not self.pad:
            self.num_samples = len(range(self.rank, n, self.num_replicas))
            self.total_size = n
        elif self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch (int64, length num_samples)."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.arange(n, dtype=np.int64)
        if not self.pad:
            return order[self.rank :: self.num_replicas].astype(np.int64)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > n:
            reps = math.ceil((self.total_size - n) / n)
            order = np.concatenate([order] + [order] * reps)[: self.total_size]
        return order[self.rank : self.total_size : self.num_replicas].astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use epoch `epoch`'s order on the next iteration."""
        self.epoch = int(epoch)
