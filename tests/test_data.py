"""DataLoader, datasets and batch transforms (gradcore.data), against plain numpy references."""

from __future__ import annotations

import gc
import threading
import time

import numpy as np
import pytest

import gradcore
from gradcore.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)
from gradcore.data import transforms as T


def _np(t):
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)


def _epoch(loader):
    return [tuple(_np(f).copy() for f in batch) for batch in loader]


def _assert_same_batches(a, b):
    assert len(a) == len(b)
    for ba, bb in zip(a, b):
        assert len(ba) == len(bb)
        for fa, fb in zip(ba, bb):
            assert fa.dtype == fb.dtype and fa.shape == fb.shape
            np.testing.assert_array_equal(fa, fb)


def _images(n, c=1, h=6, w=5, seed=0):
    x = np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)
    y = (np.arange(n) % 10).astype(np.int64)
    return x, y


class ListDataset(Dataset):
    """No get_batch: forces the item-by-item path."""

    def __init__(self, x, y):
        self.x, self.y = x, y
        self.calls = 0

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        self.calls += 1
        return self.x[i], int(self.y[i])


class CountingTensorDataset(TensorDataset):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.item_calls = 0
        self.batch_calls = 0

    def __getitem__(self, i):
        self.item_calls += 1
        return super().__getitem__(i)

    def get_batch(self, indices, rng=None):
        self.batch_calls += 1
        return super().get_batch(indices, rng)


# ---------------------------------------------------------------- order, len, drop_last
@pytest.mark.parametrize("prefetch", [0, 2])
def test_sequential_order_and_last_batch(prefetch):
    x = np.arange(10, dtype=np.float32).reshape(10, 1) * 10
    y = np.arange(10, dtype=np.int64)
    loader = DataLoader(TensorDataset(x, y), batch_size=3, prefetch=prefetch)
    assert len(loader) == 4
    batches = _epoch(loader)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    np.testing.assert_array_equal(batches[3][0], [[90.0]])
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64

    dl = DataLoader(TensorDataset(x, y), batch_size=3, drop_last=True, prefetch=prefetch)
    assert len(dl) == 3
    assert [b[1].tolist() for b in _epoch(dl)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


@pytest.mark.parametrize("n,bs", [(0, 4), (1, 1), (7, 7), (7, 8), (64, 5), (65, 64)])
def test_len_matches_iteration(n, bs):
    ds = TensorDataset(np.zeros((n, 2), np.float32), np.zeros(n, np.int64))
    for drop_last in (False, True):
        loader = DataLoader(ds, batch_size=bs, drop_last=drop_last, shuffle=True, seed=1)
        batches = _epoch(loader)
        expected = n // bs if drop_last else -(-n // bs)
        assert len(loader) == expected == len(batches)
        sizes = [b[0].shape[0] for b in batches]
        assert all(s == bs for s in sizes[:-1])
        assert sum(sizes) == (expected * bs if drop_last else n)


def test_bad_arguments():
    ds = TensorDataset(np.zeros((4, 2)), np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        DataLoader(ds, batch_size=2.0)
    with pytest.raises(ValueError, match="prefetch"):
        DataLoader(ds, prefetch=-1)


# ---------------------------------------------------------------- shuffling
def test_shuffle_is_a_permutation_depending_only_on_seed_and_epoch():
    n = 103
    x, y = np.arange(n, dtype=np.float32)[:, None], np.arange(n, dtype=np.int64)
    a = DataLoader(TensorDataset(x, y), batch_size=10, shuffle=True, seed=7)
    b = DataLoader(TensorDataset(x, y), batch_size=10, shuffle=True, seed=7, prefetch=0)
    c = DataLoader(TensorDataset(x, y), batch_size=10, shuffle=True, seed=8)
    orders = []
    for epoch in range(3):
        ea = np.concatenate([t[1] for t in _epoch(a)])
        eb = np.concatenate([t[1] for t in _epoch(b)])
        ec = np.concatenate([t[1] for t in _epoch(c)])
        assert sorted(ea.tolist()) == list(range(n))  # every item exactly once
        np.testing.assert_array_equal(ea, eb)  # same seed, same order (prefetch or not)
        assert not np.array_equal(ea, ec)  # another seed, another order
        # the documented contract: default_rng([seed, epoch]).permutation(n)
        np.testing.assert_array_equal(ea, np.random.default_rng([7, epoch]).permutation(n))
        orders.append(ea)
    assert not np.array_equal(orders[0], orders[1])  # each epoch its own order
    assert not np.array_equal(orders[1], orders[2])
    assert not np.array_equal(orders[0], np.arange(n))


def test_set_epoch_replays_an_epoch():
    x, y = _images(50)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=3)
    epochs = [_epoch(loader) for _ in range(3)]
    assert loader.epoch == 3
    loader.set_epoch(1)
    _assert_same_batches(_epoch(loader), epochs[1])
    assert loader.epoch == 2
    loader.load_state_dict({"seed": 3, "epoch": 2, "batches_done": 3})
    loader.set_epoch(0)  # another epoch: starts from its first batch
    assert loader.state_dict() == {"seed": 3, "epoch": 0, "batches_done": 0}
    _assert_same_batches(_epoch(loader), epochs[0])


def test_unseeded_loaders_differ():
    x, y = np.zeros((200, 1), np.float32), np.arange(200)
    a = DataLoader(TensorDataset(x, y), batch_size=200, shuffle=True)
    b = DataLoader(TensorDataset(x, y), batch_size=200, shuffle=True)
    assert a.seed != b.seed
    assert not np.array_equal(_epoch(a)[0][1], _epoch(b)[0][1])


# ---------------------------------------------------------------- resume
@pytest.mark.parametrize("prefetch", [0, 3])
def test_resume_mid_epoch_reproduces_order_and_augmentation(prefetch):
    x, y = _images(45, c=2, h=8, w=8)
    aug = T.Compose([T.RandomCrop(8, padding=2), T.RandomHorizontalFlip()])

    def make(seed=None):
        return DataLoader(
            TensorDataset(x, y),
            batch_size=4,
            shuffle=True,
            seed=seed,
            transform=aug,
            prefetch=prefetch,
        )

    ref = make(seed=11)
    epoch0 = _epoch(ref)
    epoch1 = _epoch(ref)
    epoch2 = _epoch(ref)

    a = make(seed=11)
    _epoch(a)
    it = iter(a)
    head = [tuple(_np(f).copy() for f in next(it)) for _ in range(5)]
    state = a.state_dict()
    assert state == {"seed": 11, "epoch": 1, "batches_done": 5}
    del it
    _assert_same_batches(head, epoch1[:5])

    b = make(seed=None)  # another seed, overwritten by the state
    b.load_state_dict(state)
    assert len(b) == 12
    b.set_epoch(1)  # a training loop announcing the resumed epoch keeps the position
    assert b.state_dict() == state
    _assert_same_batches(_epoch(b), epoch1[5:])
    _assert_same_batches(_epoch(b), epoch2)
    assert b.state_dict() == {"seed": 11, "epoch": 3, "batches_done": 0}
    assert epoch0  # epoch 0 was consumed by both


def test_state_between_epochs_and_bad_state():
    x, y = _images(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=3, shuffle=True, seed=5)
    assert loader.state_dict() == {"seed": 5, "epoch": 0, "batches_done": 0}
    _epoch(loader)
    assert loader.state_dict() == {"seed": 5, "epoch": 1, "batches_done": 0}
    with pytest.raises(ValueError, match="batches_done"):
        loader.load_state_dict({"seed": 6, "epoch": 9, "batches_done": 5})
    assert loader.state_dict() == {"seed": 5, "epoch": 1, "batches_done": 0}  # unchanged
    with pytest.raises(KeyError, match="epoch"):
        loader.load_state_dict({"seed": 5})
    loader.load_state_dict({"seed": 5, "epoch": 0, "batches_done": 4})  # all done
    assert _epoch(loader) == []


# ---------------------------------------------------------------- fast path vs items
def test_fast_path_uses_no_per_item_calls_and_matches_item_path():
    x, y = _images(37, c=3)
    fast_ds = CountingTensorDataset(x, y)
    slow_ds = ListDataset(x, y)
    aug = T.Compose([T.RandomCrop((4, 3), padding=1), T.Normalize([0.5, 0.4, 0.3], [2, 3, 4])])
    fast = DataLoader(fast_ds, batch_size=6, shuffle=True, seed=2, transform=aug)
    slow = DataLoader(slow_ds, batch_size=6, shuffle=True, seed=2, transform=aug)
    _assert_same_batches(_epoch(fast), _epoch(slow))
    assert fast_ds.item_calls == 0 and fast_ds.batch_calls == len(fast)
    assert slow_ds.calls == 37


def test_collate_fn_and_default_collate():
    x, y = _images(9)
    seen = []

    def collate(samples):
        seen.append(len(samples))
        xs, ys = zip(*samples)
        return np.stack(xs) * 2, np.asarray(ys, dtype=np.int64)

    loader = DataLoader(TensorDataset(x, y), batch_size=4, collate_fn=collate, prefetch=0)
    batches = _epoch(loader)
    assert seen == [4, 4, 1]
    np.testing.assert_array_equal(batches[0][0], x[:4] * 2)

    out = default_collate([(np.ones(2, np.float32), 3), (np.zeros(2, np.float32), 4)])
    assert out[0].dtype == np.float32 and out[0].shape == (2, 2)
    assert out[1].dtype == np.int64 and out[1].tolist() == [3, 4]
    d = default_collate([{"a": 1.5}, {"a": 2.5}])
    assert d["a"].tolist() == [1.5, 2.5]


def test_dataset_transform_is_applied_per_batch_with_loader_rng():
    x, _ = _images(20, h=6, w=6)
    y = np.arange(20)  # labels = indices, to find each item's source
    ds = TensorDataset(x, y, transform=T.RandomHorizontalFlip(0.5))
    a = _epoch(DataLoader(ds, batch_size=5, shuffle=True, seed=4))
    b = _epoch(DataLoader(ds, batch_size=5, shuffle=True, seed=4, prefetch=0))
    _assert_same_batches(a, b)
    flipped = sum(int(not np.array_equal(bx[i], x[by[i]])) for bx, by in a for i in range(len(by)))
    assert 0 < flipped < 20
    for bx, by in a:
        for i in range(len(by)):
            assert np.array_equal(bx[i], x[by[i]]) or np.array_equal(bx[i], x[by[i]][..., ::-1])


# ---------------------------------------------------------------- prefetch thread
def _loader_threads():
    return [t for t in threading.enumerate() if t.name.startswith("gradcore-DataLoader")]


def _wait_dead(thread, timeout=5.0):
    deadline = time.monotonic() + timeout
    while thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    return not thread.is_alive()


def test_prefetch_queue_is_bounded_and_thread_stops_when_abandoned():
    x, y = _images(400)
    ds = CountingTensorDataset(x, y)
    loader = DataLoader(ds, batch_size=2, prefetch=2)
    it = iter(loader)
    next(it)
    thread = it._thread
    time.sleep(0.2)
    # one batch handed out, at most `prefetch` queued, one more being put
    assert 1 <= ds.batch_calls <= 1 + 2 + 1
    assert thread.is_alive()
    del it
    gc.collect()
    assert _wait_dead(thread), "prefetch thread still running after the iterator was dropped"


def test_break_out_of_loop_stops_thread():
    x, y = _images(400)
    loader = DataLoader(TensorDataset(x, y), batch_size=2, prefetch=1)
    before = set(_loader_threads())
    for i, _ in enumerate(loader):
        if i == 3:
            break
    new = [t for t in _loader_threads() if t not in before]
    del _  # the loop variable holds a batch, not the iterator
    gc.collect()
    assert all(_wait_dead(t) for t in new)


def test_close_and_full_epoch_end_thread():
    x, y = _images(30)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, prefetch=2)
    it = iter(loader)
    next(it)
    it.close()
    assert _wait_dead(it._thread)
    with pytest.raises(StopIteration):
        next(it)
    it2 = iter(loader)
    assert len(list(it2)) == len(loader) - 0
    assert _wait_dead(it2._thread)


class Boom(RuntimeError):
    pass


class FailingDataset(TensorDataset):
    def get_batch(self, indices, rng=None):
        if 7 in indices.tolist():
            raise Boom("item 7 is broken")
        return super().get_batch(indices, rng)


@pytest.mark.parametrize("prefetch", [0, 2])
def test_worker_exception_reaches_main_thread(prefetch):
    x, y = _images(12)
    loader = DataLoader(FailingDataset(x, y), batch_size=3, prefetch=prefetch)
    got = []
    it = iter(loader)
    with pytest.raises(Boom, match="item 7 is broken") as e:
        for batch in it:
            got.append(batch)
    assert len(got) == 2  # batches before the failing one arrive first
    if prefetch and hasattr(e.value, "add_note"):
        assert "batch 2 of epoch 0" in "".join(e.value.__notes__)
    with pytest.raises(StopIteration):
        next(it)
    if prefetch:
        assert _wait_dead(it._thread)


# ---------------------------------------------------------------- datasets
def test_tensor_dataset_and_errors():
    x, y = _images(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, x[3])
    assert yi == y[3]
    assert ds[-1][1] == y[-1]
    with pytest.raises(IndexError):
        ds[5]
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(x, y[:4])
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-dimensional"):
        TensorDataset(np.float32(1.0))
    lst = TensorDataset([[1, 2], [3, 4]], [0, 1])
    assert lst[1][0].tolist() == [3, 4]


def test_subset_and_concat():
    x, y = _images(10)
    ds = TensorDataset(x, y)
    sub = Subset(ds, [9, 2, 4])
    assert len(sub) == 3 and sub[0][1] == y[9]
    bx, by = sub.get_batch(np.array([2, 0]))
    np.testing.assert_array_equal(by, y[[4, 9]])
    np.testing.assert_array_equal(bx, x[[4, 9]])
    with pytest.raises(IndexError):
        Subset(ds, [10])
    nested = Subset(sub, [1])
    assert nested[0][1] == y[2] and hasattr(nested, "get_batch")
    assert not hasattr(Subset(ListDataset(x, y), [0]), "get_batch")
    cat = ds + ListDataset(x[:3], y[:3] + 100)
    assert isinstance(cat, ConcatDataset) and len(cat) == 13
    assert cat[10][1] == 100 and cat[-1][1] == 102 and cat[9][1] == y[9]
    batches = _epoch(DataLoader(cat, batch_size=13))
    assert batches[0][1].tolist() == y.tolist() + [100, 101, 102]


def test_random_split():
    ds = TensorDataset(np.arange(10)[:, None], np.arange(10))
    a, b = random_split(ds, [7, 3], seed=0)
    assert len(a) == 7 and len(b) == 3
    items = sorted(a.indices.tolist() + b.indices.tolist())
    assert items == list(range(10))
    a2, _ = random_split(ds, [7, 3], generator=np.random.default_rng(0))
    np.testing.assert_array_equal(a.indices, a2.indices)
    a3, _ = random_split(ds, [7, 3], generator=0)
    np.testing.assert_array_equal(a.indices, a3.indices)
    c, _ = random_split(ds, [7, 3], seed=1)
    assert not np.array_equal(a.indices, c.indices)
    fr = random_split(ds, [0.5, 0.3, 0.2], seed=0)
    assert [len(s) for s in fr] == [5, 3, 2]
    fr = random_split(TensorDataset(np.arange(11)), [0.5, 0.5], seed=0)
    assert [len(s) for s in fr] == [6, 5]  # remainder to the first split
    with pytest.raises(ValueError, match="sum to"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="fractions"):
        random_split(ds, [0.5, 0.4])
    with pytest.raises(ValueError, match="negative"):
        random_split(ds, [11, -1])
    with pytest.raises(ValueError, match="either"):
        random_split(ds, [5, 5], generator=1, seed=1)


# ---------------------------------------------------------------- transforms
def _ref_normalize(x, mean, std):
    out = np.empty_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            out[n, c] = (x[n, c] - mean[c]) / std[c]
    return out


def _ref_crop(x, top, left, size, padding):
    (h, w), (ph, pw) = size, padding
    out = np.empty((x.shape[0], x.shape[1], h, w), x.dtype)
    for n in range(x.shape[0]):
        img = np.zeros((x.shape[1], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), x.dtype)
        img[:, ph : ph + x.shape[2], pw : pw + x.shape[3]] = x[n]
        out[n] = img[:, top[n] : top[n] + h, left[n] : left[n] + w]
    return out


def test_normalize_matches_reference():
    x, _ = _images(4, c=3, h=5, w=7)
    before = x.copy()
    mean, std = [0.1, 0.5, -0.3], [0.2, 1.5, 3.0]
    out = T.Normalize(mean, std)(x)
    np.testing.assert_allclose(out, _ref_normalize(x, mean, std), rtol=1e-6, atol=1e-6)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(x, before)  # input untouched
    np.testing.assert_allclose(T.Normalize(0.5, 0.25)(x), (x - 0.5) / 0.25, rtol=1e-6)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(T.Normalize(mean, std)(x64), _ref_normalize(x64, mean, std))
    single = T.Normalize(mean, std)(x[0])
    np.testing.assert_allclose(single, out[0])
    with pytest.raises(ValueError, match="channels"):
        T.Normalize([0.1, 0.2], [1, 1])(x)
    with pytest.raises(ValueError, match="non-zero"):
        T.Normalize(0.0, [1.0, 0.0])
    with pytest.raises(ValueError, match="N, C, H, W"):
        T.Normalize(0, 1)(np.zeros((2, 3)))


@pytest.mark.parametrize(
    "shape,size,padding",
    [((5, 2, 7, 6), (7, 6), 0), ((5, 2, 7, 6), (4, 3), (2, 1)), ((9, 1, 28, 28), 28, 4)],
)
def test_random_crop_matches_reference(shape, size, padding):
    x = np.random.default_rng(0).random(shape).astype(np.float32) + 1.0  # padding shows as 0
    crop = T.RandomCrop(size, padding)
    rng = np.random.default_rng(123)
    top, left = crop.get_params(shape[0], rng, shape[2:])
    out = crop.apply(x, (top, left))
    ref = _ref_crop(x, top, left, crop.size, crop.padding)
    np.testing.assert_array_equal(out, ref)
    assert out.flags.c_contiguous
    # __call__ draws exactly get_params' numbers from the generator it is given
    np.testing.assert_array_equal(crop(x, np.random.default_rng(123)), ref)


def test_random_crop_offsets_cover_the_valid_range():
    crop = T.RandomCrop(3, padding=1)  # on 4x5: rows 0..3, cols 0..4
    top, left = crop.get_params(2000, np.random.default_rng(0), (4, 5))
    assert sorted(set(top.tolist())) == [0, 1, 2, 3]
    assert sorted(set(left.tolist())) == [0, 1, 2, 3, 4]
    x = np.ones((2000, 1, 4, 5), np.float32)
    out = crop.apply(x, (top, left))
    # corner crops contain padding zeros, centre crops none
    assert (out[(top == 0) & (left == 0)][:, 0, 0, 0] == 0).all()
    assert (out[(top == 1) & (left == 1)] == 1).all()
    with pytest.raises(ValueError, match="larger than the padded"):
        T.RandomCrop(7, padding=1)(np.zeros((1, 1, 4, 5), np.float32))
    with pytest.raises(ValueError, match="padding"):
        T.RandomCrop(3, padding=-1)


def test_random_horizontal_flip_matches_reference():
    x, _ = _images(64, c=2, h=3, w=5)
    flip = T.RandomHorizontalFlip(0.5)
    mask = flip.get_params(64, np.random.default_rng(9))
    assert 10 < mask.sum() < 54
    out = flip(x, np.random.default_rng(9))
    for n in range(64):
        np.testing.assert_array_equal(out[n], x[n][:, :, ::-1] if mask[n] else x[n])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(x), x)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    with pytest.raises(ValueError, match="p must"):
        T.RandomHorizontalFlip(1.5)


def test_random_erasing_matches_reference():
    x, _ = _images(200, c=3, h=11, w=9)
    x = x + 1.0  # no zeros before erasing
    erase = T.RandomErasing(p=0.5, scale=(0.05, 0.3), ratio=(0.5, 2.0), value=0.0)
    top, left, h, w = erase.get_params(200, np.random.default_rng(4), (11, 9))
    out = erase(x, np.random.default_rng(4))
    erased = h > 0
    assert 60 < erased.sum() < 140  # about p of the images
    area = (h * w)[erased] / (11 * 9)
    assert area.min() >= 0.02 and area.max() <= 0.45  # rounding widens the 0.05-0.3 range a bit
    assert (h[erased] < 11).all() and (w[erased] < 9).all()
    assert (
        (top + h <= 11).all() and (left + w <= 9).all() and (top >= 0).all() and (left >= 0).all()
    )
    for n in range(200):
        ref = x[n].copy()
        ref[:, top[n] : top[n] + h[n], left[n] : left[n] + w[n]] = 0.0
        np.testing.assert_array_equal(out[n], ref)
    np.testing.assert_array_equal(T.RandomErasing(p=0.0)(x), x)
    assert (T.RandomErasing(p=1.0, value=-7.0)(x) == -7.0).any(axis=(1, 2, 3)).all()
    # offsets cover the whole valid range
    t, lft, hh, ww = T.RandomErasing(1.0, scale=(0.02, 0.02), ratio=(1, 1)).get_params(
        4000, np.random.default_rng(0), (10, 10)
    )
    assert (hh == 1).all() and (ww == 1).all()  # 2% of 100 pixels: 1x1
    assert t.max() == 9 and lft.max() == 9
    assert t.min() == 0 and lft.min() == 0
    for bad in (dict(p=2.0), dict(scale=(0.5, 0.1)), dict(scale=(0.0, 0.1)), dict(ratio=(0, 1))):
        with pytest.raises(ValueError, match="RandomErasing"):
            T.RandomErasing(**bad)


def test_compose_reproducible_and_sequential():
    x, _ = _images(16, c=3, h=8, w=8)
    steps = [T.RandomCrop(6, padding=1), T.RandomHorizontalFlip(), T.Normalize(0.5, 0.5)]
    comp = T.Compose(steps)
    a = comp(x, np.random.default_rng(5))
    b = comp(x, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(5)
    ref = x
    for t in steps:
        ref = t(ref, rng)
    np.testing.assert_array_equal(a, ref)
    assert not np.array_equal(a, comp(x, np.random.default_rng(6)))
    # own seeded generator when none is passed
    s1 = T.RandomCrop(6, padding=1, seed=3)(x)
    s2 = T.RandomCrop(6, padding=1, seed=3)(x)
    np.testing.assert_array_equal(s1, s2)
    lam = T.Compose([T.Lambda(lambda v: v * 2), lambda v: v + 1])
    np.testing.assert_array_equal(lam(x), x * 2 + 1)
    assert "RandomCrop" in repr(comp)


def test_to_float():
    u = np.array([[[[0, 51, 255]]]], dtype=np.uint8)
    out = T.ToFloat()(u)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[[[0.0, 0.2, 1.0]]]], rtol=1e-6)
    out = T.ToFloat(np.float64, scale=2.0)(np.ones((1, 1, 1, 2), np.float32))
    assert out.dtype == np.float64 and out.tolist() == [[[[2.0, 2.0]]]]
    with pytest.raises(ValueError, match="float"):
        T.ToFloat(np.int32)


# ---------------------------------------------------------------- Tensors in and out
def test_loader_yields_tensors():
    x, y = _images(10)
    for ds in (TensorDataset(x, y), ListDataset(x, y)):
        batches = list(DataLoader(ds, batch_size=4, transform=T.Normalize(0.5, 2.0)))
        assert len(batches) == 3
        for bx, by in batches:
            assert isinstance(bx, gradcore.Tensor) and isinstance(by, gradcore.Tensor)
            assert bx.dtype == np.float32 and by.dtype == np.int64
            assert not bx.requires_grad and bx.grad_fn is None
        np.testing.assert_allclose(batches[0][0].numpy(), (x[:4] - 0.5) / 2.0, rtol=1e-6)
        assert batches[2][1].numpy().tolist() == y[8:].tolist()


def test_tensor_dataset_of_tensors():
    xt, yt = gradcore.randn(6, 3), gradcore.tensor([5, 4, 3, 2, 1, 0])
    ds = TensorDataset(xt, yt)
    xi, yi = ds[2]
    assert isinstance(xi, gradcore.Tensor) and isinstance(yi, gradcore.Tensor)
    assert yi.shape == () and yi.item() == 3
    np.testing.assert_array_equal(xi.numpy(), xt.numpy()[2])
    (bx, by), *_ = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
    order = np.random.default_rng([0, 0]).permutation(6)[:4]
    np.testing.assert_array_equal(bx.numpy(), xt.numpy()[order])
    np.testing.assert_array_equal(by.numpy(), yt.numpy()[order])
    # item path collates Tensor items too
    (cx, cy), *_ = DataLoader(ds, batch_size=4, collate_fn=default_collate)
    np.testing.assert_array_equal(cx.numpy(), xt.numpy()[:4])
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(xt, gradcore.tensor([1, 2]))


def test_manual_seed_fixes_unseeded_loaders():
    x, y = np.zeros((50, 1), np.float32), np.arange(50)
    gradcore.manual_seed(123)
    a = DataLoader(TensorDataset(x, y), batch_size=50, shuffle=True)
    gradcore.manual_seed(123)
    b = DataLoader(TensorDataset(x, y), batch_size=50, shuffle=True)
    assert a.seed == b.seed
    np.testing.assert_array_equal(_epoch(a)[0][1], _epoch(b)[0][1])
