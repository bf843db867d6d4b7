"""DataLoader: batches, seeded shuffling, per-batch transforms, background prefetch.

Reproducibility: epoch e's order is ``default_rng([seed, e]).permutation(n)`` and batch b's
augmentation draws from ``default_rng([seed, e, 1, b])``, so both depend only on
(seed, epoch, batch index): a loader restored with ``load_state_dict`` continues exactly
where the saved one stopped, and prefetching never changes the numbers.
"""

from __future__ import annotations

import queue
import threading
import warnings
import weakref
from typing import Any, Callable, Dict, Iterator, Optional

import numpy as np

from gradcore.data.dataset import _as_numpy, _is_tensor, to_tensor
from gradcore.data.transforms import apply_transform
from gradcore.profiler import record_function

_AUG_STREAM = 1  # distinguishes augmentation streams from the shuffle stream


def _default_seed() -> int:
    """A loader seed drawn from gradcore's global generator (so gradcore.manual_seed makes
    unseeded loaders reproducible, like torch.manual_seed does for torch's)."""
    from gradcore.random import draw_seed

    return int(draw_seed())


def default_collate(samples):
    """Stack a list of samples: tuples/lists field by field, dicts key by key, arrays/numbers
    with np.stack. Returns numpy arrays (the loader converts them to Tensors)."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([s[k] for s in samples]) for k in range(len(first)))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if _is_tensor(first):
        return np.stack([s.numpy() for s in samples])
    if isinstance(first, (bool, np.bool_)):
        return np.asarray(samples, dtype=np.bool_)
    if isinstance(first, (int, np.integer)):
        return np.asarray(samples, dtype=np.int64)
    if isinstance(first, (float, np.floating)) and not isinstance(first, np.ndarray):
        return np.asarray(samples, dtype=np.result_type(first))
    return np.stack([np.asarray(s) for s in samples])


def _convert(batch):
    """numpy batch (tuple / dict / array) -> Tensors: the one place arrays become Tensors."""
    if isinstance(batch, tuple):
        return tuple(_convert(b) for b in batch)
    if isinstance(batch, dict):
        return {k: _convert(v) for k, v in batch.items()}
    if isinstance(batch, np.ndarray):
        return to_tensor(batch)
    return batch


class DataLoader:
    """Iterate over `dataset` in batches of (x Tensor, y Tensor), like torch's DataLoader.

    Args:
        dataset: a Dataset. One with ``get_batch`` (TensorDataset, FashionMNIST, MNIST,
            their Subsets) is batched by fancy indexing; others item by item + collate_fn.
        batch_size, shuffle, drop_last: as in PyTorch.
        seed: shuffle/augmentation seed (None: drawn once from gradcore's global generator,
            so ``gradcore.manual_seed`` fixes it).
        transform: a batch transform applied to the first field (x) of each batch, after the
            dataset's own transform; random transforms draw from the loader's generator.
        collate_fn: turns a list of samples into a batch of numpy arrays (forces the
            item-by-item path).
        prefetch: batches assembled ahead in a background thread (0: no thread).
        sampler: the item order instead of ``shuffle`` (e.g. a DistributedSampler); its
            ``set_epoch`` is called with the loader's epoch.
        pin_memory: put each batch's arrays in pinned host memory (in the prefetch thread),
            so that ``x.to("cuda", non_blocking=True)`` copies asynchronously; the batches'
            Tensors have ``is_pinned()`` True. Buffers are reused across batches, never while
            a batch or a copy still uses them (gradcore.data.pinning). Without a CUDA GPU it
            warns and yields unpinned batches, as PyTorch does.

    Each ``iter(loader)`` runs one epoch and advances the epoch counter; ``set_epoch(e)``
    chooses the next one. ``state_dict()`` / ``load_state_dict()`` save and restore
    (seed, epoch, batches already consumed in that epoch).
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: Optional[int] = None,
        transform: Optional[Callable] = None,
        collate_fn: Optional[Callable] = None,
        prefetch: int = 2,
        sampler=None,
        pin_memory: bool = False,
    ) -> None:
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be positive, got {batch_size}")
        if isinstance(prefetch, bool) or not isinstance(prefetch, (int, np.integer)):
            raise TypeError(f"DataLoader: prefetch must be an int, got {prefetch!r}")
        if prefetch < 0:
            raise ValueError(f"DataLoader: prefetch must be >= 0, got {prefetch}")
        if not isinstance(pin_memory, (bool, np.bool_)):
            raise TypeError(f"DataLoader: pin_memory must be a bool, got {pin_memory!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        if seed is None:
            seed = _default_seed()
        self.seed = int(seed)
        self.transform = transform
        self.collate_fn = collate_fn
        self.prefetch = int(prefetch)
        self.sampler = sampler
        self.pin_memory = bool(pin_memory)
        self._pin_pool = None  # the pinned buffers when pin_memory is in effect
        if self.pin_memory:
            from gradcore import cuda

            if cuda.is_available():
                from gradcore.data.pinning import PinnedBufferPool

                # the batches in the queue, the one being assembled, the caller's, one in a copy
                self._pin_pool = PinnedBufferPool(per_shape=self.prefetch + 3)
            else:
                warnings.warn(
                    "pin_memory=True but no CUDA GPU is available; batches are not pinned",
                    UserWarning,
                    stacklevel=2,
                )
        self._next_epoch = 0
        self._resume_batches = 0
        self._active = None  # weakref to the iterator of the epoch in progress

    # -- sizes and order -------------------------------------------------------------
    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    @property
    def epoch(self) -> int:
        """The epoch that the next ``iter()`` runs."""
        return self._next_epoch

    def set_epoch(self, epoch: int) -> None:
        """Run epoch `epoch` (its own order and augmentation) on the next ``iter()``.

        Setting the epoch that a ``load_state_dict`` left pending keeps its position, so a
        training loop may call ``set_epoch(e)`` at every epoch start, resumed or not."""
        epoch = int(epoch)
        if epoch != self._next_epoch:
            self._resume_batches = 0
        self._next_epoch = epoch

    def epoch_indices(self, epoch: int) -> np.ndarray:
        """Item order of `epoch`: a permutation depending only on (seed, epoch) if shuffled."""
        if self.sampler is not None:
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(epoch)
            return np.fromiter(iter(self.sampler), dtype=np.int64)
        n = len(self.dataset)
        if self.shuffle:
            return np.random.default_rng([self.seed, int(epoch)]).permutation(n)
        return np.arange(n, dtype=np.int64)

    # -- resume -------------------------------------------------------------------
    def state_dict(self) -> Dict[str, int]:
        """{"seed", "epoch", "batches_done"}: where the next batch of this loader comes from."""
        it = self._active() if self._active is not None else None
        if it is not None and not it.finished:
            return {"seed": self.seed, "epoch": it.epoch, "batches_done": it.consumed}
        return {"seed": self.seed, "epoch": self._next_epoch, "batches_done": self._resume_batches}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore a state_dict: the next ``iter()`` continues that epoch after its
        `batches_done` batches (nothing before them is assembled)."""
        missing = {"seed", "epoch", "batches_done"} - set(state)
        if missing:
            raise KeyError(f"DataLoader.load_state_dict: missing keys {sorted(missing)}")
        done = int(state["batches_done"])
        if not 0 <= done <= len(self):
            raise ValueError(
                f"DataLoader.load_state_dict: batches_done={done} outside [0, {len(self)}] "
                "(was the state saved with another dataset or batch size?)"
            )
        self.seed = int(state["seed"])
        self._next_epoch = int(state["epoch"])
        self._resume_batches = done

    # -- iteration ----------------------------------------------------------------
    def _batches(self, epoch: int, start: int) -> Iterator[Any]:
        """Numpy batches of `epoch` from batch index `start` (runs in the prefetch thread)."""
        order = self.epoch_indices(epoch)
        n, bs = order.shape[0], self.batch_size
        nb = len(self)
        fast = self.collate_fn is None and hasattr(self.dataset, "get_batch")
        collate = self.collate_fn or default_collate
        seed, transform = self.seed, self.transform
        for b in range(start, nb):
            with record_function("DataLoader.assemble"):  # a span on the prefetch thread
                idx = order[b * bs : min((b + 1) * bs, n)]
                rng = np.random.default_rng([seed, epoch, _AUG_STREAM, b])
                if fast:
                    batch = self.dataset.get_batch(idx, rng)
                else:
                    batch = collate([self.dataset[int(i)] for i in idx])
                if isinstance(batch, list):
                    batch = tuple(batch)
                if transform is not None:
                    if isinstance(batch, tuple):
                        x = apply_transform(transform, _as_numpy(batch[0]), rng)
                        batch = (x,) + batch[1:]
                    else:
                        batch = apply_transform(transform, _as_numpy(batch), rng)
            yield batch

    def __iter__(self) -> _LoaderIterator:
        epoch, start = self._next_epoch, self._resume_batches
        self._next_epoch, self._resume_batches = epoch + 1, 0
        batches = self._batches(epoch, start)
        if self._pin_pool is not None:
            from gradcore.data.pinning import pin_batches

            batches = pin_batches(batches, self._pin_pool)
        it = _LoaderIterator(batches, epoch, start, self.prefetch)
        self._active = weakref.ref(it)
        return it

    def __repr__(self) -> str:
        return (
            f"DataLoader(dataset={type(self.dataset).__name__}[{len(self.dataset)}], "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"seed={self.seed}, prefetch={self.prefetch}"
            + (", pin_memory=True)" if self.pin_memory else ")")
        )


_END = object()


class _Error:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _produce(gen: Iterator[Any], q: queue.Queue, stop: threading.Event) -> None:
    """Prefetch thread body. Holds no reference to the iterator object, so an abandoned
    iterator is garbage-collected, and its finalizer stops this thread."""

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    try:
        for batch in gen:
            if not put(batch):
                return
        put(_END)
    except BaseException as e:  # noqa: BLE001 - handed to the main thread
        put(_Error(e))
    finally:
        gen.close()


def _shutdown(stop: threading.Event, q: queue.Queue, thread: threading.Thread) -> None:
    stop.set()
    try:  # unblock a producer waiting on a full queue
        while True:
            q.get_nowait()
    except queue.Empty:
        pass
    if thread is not threading.current_thread():
        thread.join(timeout=10)


class _LoaderIterator:
    """One epoch. Batches come from a bounded queue filled by a daemon thread (or directly
    when prefetch == 0). close() (also on garbage collection) stops the thread."""

    def __init__(self, gen: Iterator[Any], epoch: int, start: int, prefetch: int) -> None:
        self.epoch = epoch
        self.consumed = start
        self.finished = False
        self._gen = gen
        self._thread = None
        if prefetch > 0:
            self._queue: queue.Queue = queue.Queue(maxsize=prefetch)
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=_produce,
                args=(gen, self._queue, self._stop),
                name=f"gradcore-DataLoader-epoch{epoch}",
                daemon=True,
            )
            self._gen = None
            self._thread.start()
            self._finalizer = weakref.finalize(
                self, _shutdown, self._stop, self._queue, self._thread
            )

    def __iter__(self) -> _LoaderIterator:
        return self

    def __next__(self):
        # a profiler span "DataLoader.next": the time the training thread waits for a batch
        with record_function("DataLoader.next"):
            return self._next()

    def _next(self):
        if self.finished:
            raise StopIteration
        if self._thread is None:
            try:
                batch = next(self._gen)
            except StopIteration:
                self.finished = True
                raise
            except BaseException:
                self.finished = True
                raise
        else:
            item = self._queue.get()
            if item is _END:
                self.close()
                raise StopIteration
            if isinstance(item, _Error):
                self.close()
                if hasattr(item.exc, "add_note"):  # Python >= 3.11
                    item.exc.add_note(
                        f"(raised in the DataLoader prefetch thread while assembling batch "
                        f"{self.consumed} of epoch {self.epoch})"
                    )
                raise item.exc
            batch = item
        self.consumed += 1
        return _convert(batch)

    def close(self) -> None:
        """Stop prefetching (idempotent); further next() raises StopIteration."""
        self.finished = True
        if self._thread is not None:
            self._finalizer()
        elif self._gen is not None:
            self._gen.close()

    def __del__(self) -> None:  # the finalizer also covers this; close the sync generator too
        try:
            if self._thread is None and self._gen is not None:
                self._gen.close()
        except Exception:  # pragma: no cover
            pass
