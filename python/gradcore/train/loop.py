"""The training loop: fit / evaluate, the running Trainer state, NonFiniteLossError.

Each step: zero_grad, forward, loss, NaN/Inf check, backward, optional clipping, optimizer step,
per-batch scheduler step; after each epoch: validation, epoch scheduler step, history row,
callbacks (see gradcore.train.callbacks).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Optional, Sequence, Union

import numpy as np

from gradcore.amp import autocast
from gradcore.profiler import record_function
from gradcore.train.checkpoint import resume, save_checkpoint
from gradcore.train.history import History

if TYPE_CHECKING:
    from gradcore.train.callbacks import Callback


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or Inf; training stopped before the update (epoch/step named)."""

    def __init__(self, epoch: int, step: int, value: float) -> None:
        self.epoch, self.step, self.value = epoch, step, value
        super().__init__(
            f"non-finite loss {value} at epoch {epoch + 1}, step {step + 1}: training stopped "
            "before this update (the last checkpoint written, if any, is intact). Lower the "
            "learning rate, clip gradients (clip_grad_norm=...) or check the data."
        )


def _batch_xy(batch: Any) -> Any:
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise TypeError(f"fit: each batch must be a pair (inputs, targets), got {type(batch).__name__}")


def _np(t: Any) -> np.ndarray:
    return t if isinstance(t, np.ndarray) else t.numpy()


def _correct(logits: Any, y: Any) -> int:
    out = _np(logits)
    target = _np(y)
    if out.ndim != 2 or target.ndim != 1:
        return -1
    return int(np.count_nonzero(out.argmax(axis=1) == target))


def _batch_size(x: Any) -> int:
    return int(_np(x).shape[0])


def _is_per_batch(scheduler: Any) -> bool:
    from gradcore.optim.lr_scheduler import OneCycleLR

    return isinstance(scheduler, OneCycleLR)


def _is_plateau(scheduler: Any) -> bool:
    from gradcore.optim.lr_scheduler import ReduceLROnPlateau

    return isinstance(scheduler, ReduceLROnPlateau)


def _hold_out(train_loader, val_loader, val_size, split_seed, val_transform):
    """(train loader on the rest, validation loader) for fit(val_size=...)."""
    from gradcore.data import DataLoader, train_val_split

    if val_loader is not None:
        raise ValueError("fit: pass either val_loader or val_size, not both")
    if not isinstance(train_loader, DataLoader):
        raise TypeError(
            "fit: val_size needs a gradcore DataLoader as train_loader (to split its dataset), "
            f"got {type(train_loader).__name__}; split it yourself with "
            "gradcore.data.train_val_split and pass val_loader"
        )
    train_ds, val_ds = train_val_split(train_loader.dataset, val_size, seed=split_seed)
    new_train = DataLoader(
        train_ds,
        batch_size=train_loader.batch_size,
        shuffle=train_loader.shuffle,
        drop_last=train_loader.drop_last,
        seed=train_loader.seed,
        transform=train_loader.transform,
        collate_fn=train_loader.collate_fn,
        prefetch=train_loader.prefetch,
    )
    val = DataLoader(
        val_ds,
        batch_size=max(256, train_loader.batch_size),
        transform=val_transform if val_transform is not None else train_loader.transform,
        collate_fn=train_loader.collate_fn,
        prefetch=train_loader.prefetch,
    )
    return new_train, val


class Trainer:
    """State of a running `fit`, handed to callbacks."""

    def __init__(self, model, optimizer, scheduler, train_loader, epochs, history, callbacks):
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.train_loader = train_loader
        self.epochs = epochs
        self.history = history
        self.callbacks = list(callbacks)
        self.epoch = 0
        self.epochs_done = 0
        self.stop_training = False
        try:
            self.steps_per_epoch = len(train_loader)
        except TypeError:
            self.steps_per_epoch = None

    def save_checkpoint(self, path: Union[str, os.PathLike]) -> None:
        states = {
            f"{i}:{type(cb).__name__}": cb.state_dict()
            for i, cb in enumerate(self.callbacks)
            if hasattr(cb, "state_dict")
        }
        save_checkpoint(
            path,
            self.model,
            self.optimizer,
            self.scheduler,
            epoch=self.epochs_done,
            loader=self.train_loader,
            history=self.history,
            extra={"callbacks": states},
        )


def _autocast(dtype: Any):
    """autocast("cpu", dtype), or a block that changes nothing when dtype is None."""
    return contextlib.nullcontext() if dtype is None else autocast("cpu", dtype=dtype)


def evaluate(
    model: Any,
    loader: Iterable[Any],
    loss_fn: Optional[Callable] = None,
    progress: Optional[bool] = False,
    autocast_dtype: Any = None,
) -> Dict[str, Any]:
    """Run `model` over `loader` in eval mode without gradients (under
    ``gradcore.amp.autocast`` with `autocast_dtype` when given).

    Returns {"loss": mean loss over samples (if loss_fn), "accuracy", "n"}; the model's
    train/eval mode is restored afterwards. `progress`: a tqdm bar over the batches (True, or
    None for "when stderr is a terminal"; needs tqdm).
    """
    from gradcore.autograd import no_grad
    from gradcore.utils.progress import progress_bar

    was_training = getattr(model, "training", False)
    model.eval()
    n = 0
    correct = 0
    loss_sum = 0.0
    try:
        bar = progress_bar(loader, desc="evaluate", unit="batch", enabled=progress)
        with no_grad(), _autocast(autocast_dtype):
            for batch in loader if bar is None else bar:
                x, y = _batch_xy(batch)
                out = model(x)
                bs = _batch_size(x)
                if loss_fn is not None:
                    loss_sum += float(loss_fn(out, y).item()) * bs
                c = _correct(out, y)
                correct = -1 if c < 0 or correct < 0 else correct + c
                n += bs
    finally:
        model.train(was_training)
    if getattr(getattr(loader, "sampler", None), "num_replicas", 1) > 1:
        # each rank saw its shard (a DistributedSampler): sum the totals over the ranks
        from gradcore import distributed

        totals = np.array([n, correct, loss_sum], dtype=np.float64)
        distributed.all_reduce(totals)
        if correct >= 0:  # -1 ("no accuracy") on one rank is -1 on all: same model
            correct = int(totals[1])
        n, loss_sum = int(totals[0]), float(totals[2])
    res: Dict[str, Any] = {"n": n, "accuracy": (correct / n) if n and correct >= 0 else None}
    if loss_fn is not None:
        res["loss"] = loss_sum / n if n else float("nan")
    return res


def fit(
    model: Any,
    loss_fn: Callable,
    optimizer: Any,
    train_loader: Iterable[Any],
    epochs: int,
    val_loader: Optional[Iterable[Any]] = None,
    scheduler: Any = None,
    callbacks: Sequence[Callback] = (),
    clip_grad_norm: Optional[float] = None,
    metrics: Sequence[str] = ("accuracy",),
    start_epoch: int = 0,
    resume_from: Optional[Union[str, os.PathLike]] = None,
    scheduler_interval: str = "auto",
    test_loader: Optional[Iterable[Any]] = None,
    val_size: Optional[Union[int, float]] = None,
    split_seed: int = 0,
    val_transform: Optional[Callable] = None,
    autocast_dtype: Any = None,
) -> History:
    """Train `model` for epochs start_epoch..epochs-1; returns the History (incl. earlier
    epochs when resuming).

    Each step: zero_grad, forward, loss, NaN/Inf check (NonFiniteLossError before any update),
    backward, optional gradient clipping by total norm, optimizer.step, and a per-batch
    scheduler step (OneCycleLR, or scheduler_interval="batch"). After each epoch: validation
    (if val_loader), the epoch scheduler step (ReduceLROnPlateau gets val_loss, else
    train_loss), the history row and the callbacks (checkpoints, early stopping, logging).
    The train loader is told its epoch (``set_epoch``) so the shuffle order depends on the
    epoch only, which makes a resumed run identical to an uninterrupted one.

    `val_loader` is for model selection (early stopping, best checkpoint, ReduceLROnPlateau):
    hold it out of the training set (``gradcore.data.train_val_split``), never the test set.
    `test_loader`, if given, is evaluated once, after training and after the callbacks'
    on_train_end (so an EarlyStopping with restore_best_weights is tested on the best
    epoch's weights); the result is ``history.test`` = {"loss", "accuracy", "n"}.
    `val_size` (a count or a fraction, instead of val_loader) holds the validation set out of
    a gradcore DataLoader's dataset here: ``train_val_split(train_loader.dataset, val_size,
    seed=split_seed)``; training then runs on the rest with the loader's settings, and the
    validation loader uses `val_transform` (pass it when the training transform is random
    augmentation), else the training loader's transform.
    `autocast_dtype` (gradcore.bfloat16): forward and loss of every step, validation and test
    run under ``gradcore.amp.autocast("cpu", dtype=autocast_dtype)``; None: float32.
    """
    from gradcore.nn.utils import clip_grad_norm_

    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    unknown = set(metrics) - {"accuracy"}
    if unknown:
        raise ValueError(f"fit: unknown metrics {sorted(unknown)} (supported: 'accuracy')")
    if scheduler_interval not in ("auto", "epoch", "batch"):
        raise ValueError(
            "fit: scheduler_interval must be 'auto', 'epoch' or 'batch', "
            f"got {scheduler_interval!r}"
        )
    want_acc = "accuracy" in metrics
    if val_size is not None:
        train_loader, val_loader = _hold_out(
            train_loader, val_loader, val_size, split_seed, val_transform
        )
    history = History()
    if resume_from is not None:
        r = resume(resume_from, model, optimizer, scheduler, train_loader, callbacks)
        start_epoch = r["epoch"]
        history = r["history"]
    per_batch = scheduler is not None and (
        scheduler_interval == "batch" or (scheduler_interval == "auto" and _is_per_batch(scheduler))
    )
    trainer = Trainer(model, optimizer, scheduler, train_loader, int(epochs), history, callbacks)
    trainer.epochs_done = int(start_epoch)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for cb in trainer.callbacks:
        cb.on_train_begin(trainer)
    try:
        for epoch in range(int(start_epoch), int(epochs)):
            trainer.epoch = epoch
            if hasattr(train_loader, "set_epoch"):
                train_loader.set_epoch(epoch)
            for cb in trainer.callbacks:
                cb.on_epoch_begin(trainer, epoch)
            model.train()
            t0 = time.perf_counter()
            n_seen = 0
            loss_sum = 0.0
            correct = 0
            for step, batch in enumerate(train_loader):
                with record_function("train.step"):
                    x, y = _batch_xy(batch)
                    optimizer.zero_grad(set_to_none=True)
                    with _autocast(autocast_dtype):
                        out = model(x)
                        loss = loss_fn(out, y)
                    value = float(loss.item())
                    if not math.isfinite(value):
                        raise NonFiniteLossError(epoch, step, value)
                    loss.backward()
                    if clip_grad_norm is not None:
                        clip_grad_norm_(params, clip_grad_norm)
                    optimizer.step()
                    if per_batch:
                        scheduler.step()
                bs = _batch_size(x)
                n_seen += bs
                loss_sum += value * bs
                logs = {"loss": value, "images_per_s": n_seen / max(time.perf_counter() - t0, 1e-9)}
                if want_acc:
                    c = _correct(out, y)
                    if c >= 0:
                        correct += c
                        logs["acc"] = c / bs
                for cb in trainer.callbacks:
                    cb.on_batch_end(trainer, step, logs)
            train_time = time.perf_counter() - t0
            row: Dict[str, Any] = {
                "epoch": epoch + 1,
                "train_loss": loss_sum / n_seen if n_seen else float("nan"),
            }
            if want_acc:
                row["train_acc"] = correct / n_seen if n_seen else float("nan")
            if val_loader is not None:
                ev = evaluate(model, val_loader, loss_fn, autocast_dtype=autocast_dtype)
                row["val_loss"] = ev["loss"]
                if want_acc:
                    row["val_acc"] = ev["accuracy"]
            row["lr"] = float(optimizer.param_groups[0]["lr"])
            row["time"] = train_time
            row["images_per_s"] = n_seen / train_time if train_time > 0 else float("nan")
            if scheduler is not None and not per_batch:
                if _is_plateau(scheduler):
                    scheduler.step(row.get("val_loss", row["train_loss"]))
                else:
                    scheduler.step()
            trainer.epochs_done = epoch + 1
            history.append(row)
            for cb in trainer.callbacks:
                cb.on_epoch_end(trainer, epoch, row)
            if trainer.stop_training:
                break
    finally:
        for cb in trainer.callbacks:
            cb.on_train_end(trainer)
    if test_loader is not None:
        history.test = evaluate(model, test_loader, loss_fn, autocast_dtype=autocast_dtype)
    return history
