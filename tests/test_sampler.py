"""DistributedSampler: PyTorch's semantics (shards, padding, drop_last, epochs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch.utils.data as tud

import gradcore
from gradcore.data import DataLoader, DistributedSampler, TensorDataset


@pytest.mark.parametrize("n", [10, 11, 3])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_shards_are_disjoint_and_cover_the_epoch(n, replicas, drop_last):
    data = list(range(n))
    shards = [
        DistributedSampler(data, replicas, r, shuffle=True, seed=5, drop_last=drop_last)
        for r in range(replicas)
    ]
    lengths = {len(s) for s in shards}
    assert len(lengths) == 1  # every rank takes the same number of steps
    idx = [list(s) for s in shards]
    flat = [i for shard in idx for i in shard]
    assert all(len(shard) == len(shards[0]) for shard in idx)
    if drop_last:
        assert len(set(flat)) == len(flat)  # disjoint
        assert len(flat) == replicas * (n // replicas)
    else:
        assert set(flat) == set(range(n))  # covers the epoch
        assert len(flat) - n < replicas  # padding: fewer than one item per rank
        # the padding repeats items; without it the shards are disjoint
        assert len(set(flat)) == n


@pytest.mark.parametrize("n, replicas, drop_last", [(10, 3, False), (10, 3, True), (2, 5, False)])
def test_sizes_and_unshuffled_order_match_pytorch(n, replicas, drop_last):
    for r in range(replicas):
        ours = DistributedSampler(list(range(n)), replicas, r, shuffle=False, drop_last=drop_last)
        ref = tud.DistributedSampler(
            list(range(n)), replicas, r, shuffle=False, drop_last=drop_last
        )
        assert len(ours) == len(ref)
        assert list(ours) == list(ref)


def test_set_epoch_changes_the_order_deterministically():
    s = DistributedSampler(list(range(50)), 2, 0, seed=3)
    e0 = list(s)
    s.set_epoch(1)
    e1 = list(s)
    assert e0 != e1
    s.set_epoch(0)
    assert list(s) == e0
    assert list(DistributedSampler(list(range(50)), 2, 0, seed=4)) != e0


def test_unpadded_shards_for_evaluation():
    shards = [
        list(DistributedSampler(list(range(7)), 3, r, shuffle=False, pad=False)) for r in range(3)
    ]
    assert shards == [[0, 3, 6], [1, 4], [2, 5]]


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="invalid rank 2"):
        DistributedSampler([1, 2], 2, 2)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler([1, 2], 0, 0)


def test_dataloader_reads_the_sampler_order_and_sets_its_epoch():
    x = np.arange(12, dtype=np.float32).reshape(12, 1)
    ds = TensorDataset(gradcore.tensor(x), gradcore.tensor(np.arange(12)))
    s = DistributedSampler(ds, 2, 1, seed=9)
    loader = DataLoader(ds, batch_size=3, sampler=s, prefetch=0)
    assert len(loader) == 2
    got = [int(v) for xb, _ in loader for v in xb.numpy().ravel()]
    assert got == list(s) and s.epoch == 0
    got1 = [int(v) for xb, _ in loader for v in xb.numpy().ravel()]
    assert s.epoch == 1 and got1 == list(s)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=s, shuffle=True)
