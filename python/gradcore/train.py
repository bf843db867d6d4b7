"""The training loop: fit / evaluate, History, callbacks, checkpoints and resume, grid search.

    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()), train_loader,
                  epochs=5, val_loader=test_loader,
                  callbacks=[ProgressBar(), ModelCheckpoint("runs/ckpt.npz")])

A checkpoint (`save_checkpoint`) is one gradcore file (see gradcore.serialization) holding the
model, optimizer and scheduler state dicts, the number of epochs done, the global RNG state,
the train loader's state and the history so far; `resume` (or ``fit(..., resume_from=path)``)
restores all of it, so an interrupted run continues bit-exactly as if it had never stopped.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import sys
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

from gradcore.profiler import record_function

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "ModelCheckpoint",
    "NonFiniteLossError",
    "ProfileSteps",
    "ProgressBar",
    "build_optimizer",
    "build_scheduler",
    "evaluate",
    "fit",
    "grid_search",
    "load_checkpoint",
    "resume",
    "save_checkpoint",
]

CHECKPOINT_KIND = "gradcore-checkpoint"


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or Inf; training stopped before the update (epoch/step named)."""

    def __init__(self, epoch: int, step: int, value: float) -> None:
        self.epoch, self.step, self.value = epoch, step, value
        super().__init__(
            f"non-finite loss {value} at epoch {epoch + 1}, step {step + 1}: training stopped "
            "before this update (the last checkpoint written, if any, is intact). Lower the "
            "learning rate, clip gradients (clip_grad_norm=...) or check the data."
        )


# --------------------------------------------------------------------------------- history
class History:
    """Per-epoch records: epoch, train_loss, train_acc, val_loss, val_acc, lr, time,
    images_per_s. ``history["val_acc"]`` is a column; ``history.rows`` the list of dicts."""

    COLUMNS = (
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "lr",
        "time",
        "images_per_s",
    )

    def __init__(self, rows: Optional[Iterable[Mapping[str, Any]]] = None) -> None:
        self.rows: List[Dict[str, Any]] = [dict(r) for r in (rows or [])]

    def append(self, row: Mapping[str, Any]) -> None:
        self.rows.append(dict(row))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: str) -> List[Any]:
        return [r.get(key) for r in self.rows]

    @property
    def columns(self) -> List[str]:
        cols = [c for c in self.COLUMNS if any(c in r for r in self.rows)]
        extra = sorted({k for r in self.rows for k in r} - set(cols))
        return cols + extra

    def __repr__(self) -> str:
        return f"History({len(self.rows)} epochs, columns={self.columns})"

    def to_csv(self, path: Union[str, os.PathLike]) -> None:
        """Write one line per epoch with a header."""
        cols = self.columns
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            for r in self.rows:
                w.writerow({c: _fmt_cell(r.get(c)) for c in cols})

    def plot(self, path: Union[str, os.PathLike]) -> None:
        """Save loss and accuracy curves (train and validation) to `path` (needs matplotlib)."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError(
                "History.plot needs matplotlib, which is not installed: "
                "pip install matplotlib (or pip install gradcore[plot])"
            ) from None
        epochs = self["epoch"]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        for key, label in (("train_loss", "train"), ("val_loss", "validation")):
            ys = self[key]
            if any(y is not None for y in ys):
                ax1.plot(epochs, [np.nan if y is None else y for y in ys], marker="o", label=label)
        for key, label in (("train_acc", "train"), ("val_acc", "validation")):
            ys = self[key]
            if any(y is not None for y in ys):
                ax2.plot(epochs, [np.nan if y is None else y for y in ys], marker="o", label=label)
        ax1.set(xlabel="epoch", ylabel="loss", title="loss")
        ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
        ax1.legend()
        ax2.legend()
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)


def _fmt_cell(v: Any) -> Any:
    if isinstance(v, float):
        return repr(v)
    return "" if v is None else v


# ------------------------------------------------------------------------------- callbacks
class Callback:
    """Hooks called by `fit`; `trainer` is the running `_Trainer` (model, optimizer,
    scheduler, train_loader, history, epoch, stop_training)."""

    def on_train_begin(self, trainer: _Trainer) -> None:
        pass

    def on_epoch_begin(self, trainer: _Trainer, epoch: int) -> None:
        pass

    def on_batch_end(self, trainer: _Trainer, step: int, logs: Dict[str, float]) -> None:
        pass

    def on_epoch_end(self, trainer: _Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        pass

    def on_train_end(self, trainer: _Trainer) -> None:
        pass


def _resolve_mode(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    return mode


class _Monitor:
    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.mode = _resolve_mode(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf

    def value(self, logs: Mapping[str, Any]) -> Optional[float]:
        v = logs.get(self.monitor)
        if v is None:
            available = ", ".join(k for k, x in logs.items() if isinstance(x, float))
            raise KeyError(
                f"{type(self).__name__}: monitored value {self.monitor!r} is not in the epoch "
                f"logs (available: {available}); pass val_loader to fit for val_* values"
            )
        return float(v)

    def improved(self, v: float) -> bool:
        if math.isnan(v):
            return False
        if self.mode == "min":
            return v < self.best - self.min_delta
        return v > self.best + self.min_delta


class ProgressBar(Callback):
    """Per-batch progress (tqdm when installed, else a line every `every` batches) and one line
    per epoch: loss, accuracy, validation, lr, throughput."""

    def __init__(self, use_tqdm: Optional[bool] = None, every: int = 0, file: Any = None):
        if use_tqdm is None:
            try:
                import tqdm  # noqa: F401

                use_tqdm = True
            except ImportError:
                use_tqdm = False
        self.use_tqdm = use_tqdm
        self.every = every
        self.file = file
        self._bar = None

    def _print(self, msg: str) -> None:
        f = self.file or sys.stdout
        if self._bar is not None:
            self._bar.write(msg, file=f)
        else:
            print(msg, file=f, flush=True)

    def on_epoch_begin(self, trainer: _Trainer, epoch: int) -> None:
        self._t0 = time.perf_counter()
        if self.use_tqdm:
            from tqdm import tqdm

            self._bar = tqdm(
                total=trainer.steps_per_epoch,
                desc=f"epoch {epoch + 1}/{trainer.epochs}",
                file=self.file or sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )

    def on_batch_end(self, trainer: _Trainer, step: int, logs: Dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.update(1)
            if step % 10 == 0 or step + 1 == trainer.steps_per_epoch:
                self._bar.set_postfix(
                    loss=f"{logs['loss']:.4f}",
                    acc=f"{logs.get('acc', float('nan')):.4f}",
                    img_s=f"{logs['images_per_s']:.0f}",
                )
        elif self.every and (step + 1) % self.every == 0:
            self._print(
                f"  step {step + 1}/{trainer.steps_per_epoch}  loss {logs['loss']:.4f}  "
                f"acc {logs.get('acc', float('nan')):.4f}  {logs['images_per_s']:.0f} img/s"
            )

    def on_epoch_end(self, trainer: _Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._print(format_epoch(logs, trainer.epochs))

    def on_train_end(self, trainer: _Trainer) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def format_epoch(logs: Mapping[str, Any], epochs: Optional[int] = None) -> str:
    """One line for an epoch row of the history."""
    total = f"/{epochs}" if epochs else ""
    parts = [f"epoch {logs['epoch']}{total}"]
    for key, label, fmt in (
        ("train_loss", "loss", ".4f"),
        ("train_acc", "acc", ".4f"),
        ("val_loss", "val_loss", ".4f"),
        ("val_acc", "val_acc", ".4f"),
        ("lr", "lr", ".3g"),
        ("time", "time", ".1f"),
        ("images_per_s", "img/s", ".0f"),
    ):
        v = logs.get(key)
        if v is not None:
            parts.append(f"{label} {v:{fmt}}" + ("s" if key == "time" else ""))
    return "  ".join(parts)


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs;
    optionally put back the best epoch's weights at the end."""

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 3,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        verbose: bool = True,
    ) -> None:
        self._m = _Monitor(monitor, mode, min_delta)
        self.monitor = monitor
        self.patience = int(patience)
        self.restore_best_weights = restore_best_weights
        self.verbose = verbose
        self.wait = 0
        self.best_epoch: Optional[int] = None
        self.stopped_epoch: Optional[int] = None
        self._best_weights: Optional[Dict[str, np.ndarray]] = None

    @property
    def best(self) -> float:
        return self._m.best

    def on_epoch_end(self, trainer: _Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        v = self._m.value(logs)
        if self._m.improved(v):
            self._m.best = v
            self.wait = 0
            self.best_epoch = epoch
            if self.restore_best_weights:
                self._best_weights = _copy_state(trainer.model.state_dict())
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop_training = True
            self.stopped_epoch = epoch
            if self.verbose:
                print(
                    f"early stopping at epoch {epoch + 1}: {self.monitor} did not improve for "
                    f"{self.wait} epochs (best {self._m.best:.4f} at epoch "
                    f"{(self.best_epoch or 0) + 1})",
                    flush=True,
                )

    def on_train_end(self, trainer: _Trainer) -> None:
        if self.restore_best_weights and self._best_weights is not None:
            trainer.model.load_state_dict(self._best_weights)

    def state_dict(self) -> Dict[str, Any]:
        return {"best": self._m.best, "wait": self.wait, "best_epoch": self.best_epoch}

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        self._m.best = float(sd["best"])
        self.wait = int(sd["wait"])
        self.best_epoch = sd.get("best_epoch")


class ModelCheckpoint(Callback):
    """Write a full checkpoint (model, optimizer, scheduler, epoch, RNG and loader states,
    history) after each epoch, atomically; with `save_best_only` only when `monitor` improves.

    `path` is a file, or a directory (existing, or ending with a separator) in which
    ``checkpoint.npz`` is written.
    """

    def __init__(
        self,
        path: Union[str, os.PathLike],
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        verbose: bool = False,
    ) -> None:
        path = os.fspath(path)
        if os.path.isdir(path) or path.endswith(os.sep):
            path = os.path.join(path, "checkpoint.npz")
        self.path = path
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.verbose = verbose
        self._m = _Monitor(monitor, mode)

    def on_train_begin(self, trainer: _Trainer) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)

    def on_epoch_end(self, trainer: _Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        if self.save_best_only:
            v = self._m.value(logs)
            if not self._m.improved(v):
                return
            self._m.best = v
        trainer.save_checkpoint(self.path)
        if self.verbose:
            print(f"checkpoint written: {self.path} (epoch {epoch + 1})", flush=True)

    def state_dict(self) -> Dict[str, Any]:
        return {"best": self._m.best}

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        self._m.best = float(sd["best"])


class CSVLogger(Callback):
    """Append each epoch's row to a CSV file (header written first; `append` keeps old rows)."""

    def __init__(self, path: Union[str, os.PathLike], append: bool = False) -> None:
        self.path = os.fspath(path)
        self.append = append
        self._cols: Optional[List[str]] = None

    def on_train_begin(self, trainer: _Trainer) -> None:
        d = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(d, exist_ok=True)
        if not self.append or not os.path.exists(self.path):
            open(self.path, "w").close()
            self._cols = None
        else:
            with open(self.path, newline="") as f:
                header = next(csv.reader(f), None)
            self._cols = header

    def on_epoch_end(self, trainer: _Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        new = self._cols is None
        if new:
            self._cols = [c for c in History.COLUMNS if c in logs] + sorted(
                set(logs) - set(History.COLUMNS)
            )
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self._cols, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({c: _fmt_cell(logs.get(c)) for c in self._cols})


class ProfileSteps(Callback):
    """Profile `steps` training steps after `warmup` steps, then print the profiler table
    and write a Chrome trace to `path` (open it in Perfetto or chrome://tracing).

    The profile covers whole steps, batch end to batch end: waiting for the DataLoader,
    forward, backward and the optimizer step. If the epoch ends first, the profile stops at
    the end of that epoch (and then includes its validation pass). The finished profile is
    kept in `self.profile` (None until then).
    """

    def __init__(
        self,
        path: Optional[Union[str, os.PathLike]],
        warmup: int = 10,
        steps: int = 20,
        file: Any = None,
        top: int = 25,
    ) -> None:
        if warmup < 0 or steps < 1:
            raise ValueError(
                f"ProfileSteps: need warmup >= 0 and steps >= 1, got {warmup}, {steps}"
            )
        self.path = None if path is None else os.fspath(path)
        self.warmup = int(warmup)
        self.steps = int(steps)
        self.file = file
        self.top = top
        self.profile: Any = None
        self._running: Any = None
        self._seen = 0
        self._first = 0

    def on_train_begin(self, trainer: _Trainer) -> None:
        from gradcore import profiler

        if profiler._active is not None:
            raise RuntimeError(
                "ProfileSteps: a profile is already active (e.g. GRADCORE_PROFILE profiles the "
                "whole script); use one or the other"
            )
        self._seen = 0
        if self.warmup == 0:
            self._start()

    def _start(self) -> None:
        from gradcore import profiler

        self._first = self._seen
        self._running = profiler.profile(record_shapes=True)
        self._running.__enter__()

    def on_batch_end(self, trainer: _Trainer, step: int, logs: Dict[str, float]) -> None:
        self._seen += 1
        if self._running is None and self.profile is None and self._seen == self.warmup:
            self._start()
        elif self._running is not None and self._seen - self._first >= self.steps:
            self._finish()

    def on_epoch_end(self, trainer: _Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        if self._running is not None:
            self._finish()

    def on_train_end(self, trainer: _Trainer) -> None:
        if self._running is not None:
            self._finish()

    def _finish(self) -> None:
        prof, self._running = self._running, None
        prof.__exit__(None, None, None)
        self.profile = prof
        n = max(self._seen - self._first, 1)
        out = self.file if self.file is not None else sys.stdout
        print(prof.table(sort_by="total", top=self.top), file=out)
        print(step_summary(prof, n), file=out)
        if self.path is not None:
            prof.export_chrome_trace(self.path)
            print(f"profile of {n} steps written: {self.path}", file=out, flush=True)


def step_summary(prof: Any, steps: int) -> str:
    """One line on a profile of `steps` training steps: ms per step, and the share of the
    step spent waiting for data, in forward, backward and the optimizer (Python spans)."""
    totals: Dict[str, int] = {"data wait": 0, "forward": 0, "backward": 0, "optimizer": 0}
    for s in prof.key_averages(kind="python"):
        if s.name == "DataLoader.next":
            totals["data wait"] += s.total_ns
        elif s.name == "autograd.backward":
            totals["backward"] += s.total_ns
        elif s.name.endswith(".step") and s.name != "train.step":
            totals["optimizer"] += s.total_ns
        elif s.name.startswith("nn.") and s.calls == steps:
            # every module runs once per step; the model (outermost) takes the longest
            totals["forward"] = max(totals["forward"], s.total_ns)
    wall = prof.wall_ns
    parts = ", ".join(f"{k} {100.0 * v / wall:.1f}%" for k, v in totals.items())
    return f"{steps} steps, {wall / 1e6 / steps:.2f} ms per step: {parts}"


# ---------------------------------------------------------------------------- checkpoints
def _copy_state(sd: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    return {k: np.array(v.numpy() if hasattr(v, "numpy") else v, copy=True) for k, v in sd.items()}


def _loader_state(loader: Any) -> Optional[Dict[str, Any]]:
    if loader is not None and hasattr(loader, "state_dict"):
        return dict(loader.state_dict())
    return None


def save_checkpoint(
    path: Union[str, os.PathLike],
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    epoch: int = 0,
    loader: Any = None,
    history: Optional[History] = None,
    extra: Optional[Mapping[str, Any]] = None,
) -> None:
    """Write a full training checkpoint atomically (`epoch` = number of epochs completed)."""
    import gradcore
    from gradcore.serialization import save

    ckpt: Dict[str, Any] = {
        "kind": CHECKPOINT_KIND,
        "epoch": int(epoch),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": gradcore.get_rng_state(),
        "loader": _loader_state(loader),
        "history": history.rows if history is not None else [],
    }
    if extra:
        ckpt["extra"] = dict(extra)
    save(ckpt, path)


def load_checkpoint(path: Union[str, os.PathLike]) -> Dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint` / ModelCheckpoint (validated)."""
    from gradcore.serialization import load

    ckpt = load(path)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
        raise ValueError(
            f"{os.fspath(path)} is a gradcore file but not a training checkpoint (use "
            "gradcore.load for plain state dicts)"
        )
    return ckpt


def resume(
    path: Union[str, os.PathLike],
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    loader: Any = None,
    callbacks: Sequence[Callback] = (),
) -> Dict[str, Any]:
    """Restore model, optimizer, scheduler, global RNG and loader state from a checkpoint.

    Returns ``{"epoch": epochs done (the start_epoch to continue from), "history": History}``.
    """
    import gradcore

    ckpt = load_checkpoint(path)
    model.load_state_dict(ckpt["model"])
    if optimizer is not None:
        if ckpt.get("optimizer") is None:
            raise ValueError(f"resume: {os.fspath(path)} holds no optimizer state")
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None:
        if ckpt.get("scheduler") is None:
            raise ValueError(f"resume: {os.fspath(path)} holds no scheduler state")
        scheduler.load_state_dict(ckpt["scheduler"])
    if ckpt.get("rng") is not None:
        gradcore.set_rng_state(ckpt["rng"])
    if loader is not None and ckpt.get("loader") is not None and hasattr(loader, "load_state_dict"):
        loader.load_state_dict(ckpt["loader"])
    cb_states = (ckpt.get("extra") or {}).get("callbacks") or {}
    for i, cb in enumerate(callbacks):
        key = f"{i}:{type(cb).__name__}"
        if key in cb_states and hasattr(cb, "load_state_dict"):
            cb.load_state_dict(cb_states[key])
    return {"epoch": int(ckpt["epoch"]), "history": History(ckpt.get("history") or [])}


# ------------------------------------------------------------------------------ the loop
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


class _Trainer:
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


def evaluate(
    model: Any, loader: Iterable[Any], loss_fn: Optional[Callable] = None
) -> Dict[str, Any]:
    """Run `model` over `loader` in eval mode without gradients.

    Returns {"loss": mean loss over samples (if loss_fn), "accuracy", "n"}; the model's
    train/eval mode is restored afterwards.
    """
    from gradcore.autograd import no_grad

    was_training = getattr(model, "training", False)
    model.eval()
    n = 0
    correct = 0
    loss_sum = 0.0
    try:
        with no_grad():
            for batch in loader:
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
    history = History()
    if resume_from is not None:
        r = resume(resume_from, model, optimizer, scheduler, train_loader, callbacks)
        start_epoch = r["epoch"]
        history = r["history"]
    per_batch = scheduler is not None and (
        scheduler_interval == "batch" or (scheduler_interval == "auto" and _is_per_batch(scheduler))
    )
    trainer = _Trainer(model, optimizer, scheduler, train_loader, int(epochs), history, callbacks)
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
                ev = evaluate(model, val_loader, loss_fn)
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
    return history


# ------------------------------------------------------------------------ factories
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULERS = ("none", "step", "multistep", "exponential", "cosine", "onecycle", "plateau")


def build_optimizer(
    name: str,
    params: Iterable[Any],
    lr: float = 1e-3,
    weight_decay: Optional[float] = None,
    momentum: Optional[float] = None,
) -> Any:
    """An optimizer by name (sgd, adam, adamw, rmsprop, adagrad); None keeps its defaults."""
    from gradcore import optim

    kw: Dict[str, Any] = {"lr": lr}
    if weight_decay is not None:
        kw["weight_decay"] = weight_decay
    name = name.lower()
    if name == "sgd":
        return optim.SGD(params, momentum=momentum or 0.0, **kw)
    if name == "rmsprop":
        return optim.RMSprop(params, momentum=momentum or 0.0, **kw)
    if name in ("adam", "adamw", "adagrad"):
        if momentum:
            raise ValueError(f"--momentum does not apply to {name}")
        cls = {"adam": optim.Adam, "adamw": optim.AdamW, "adagrad": optim.Adagrad}[name]
        return cls(params, **kw)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def build_scheduler(
    name: str,
    optimizer: Any,
    epochs: int,
    steps_per_epoch: int = 1,
    warmup_epochs: int = 0,
    step_size: Optional[int] = None,
    gamma: Optional[float] = None,
) -> Any:
    """A scheduler by name (see SCHEDULERS), optionally after `warmup_epochs` of linear
    warm-up (epoch-based schedulers). Returns None for "none" without warm-up."""
    from gradcore.optim import lr_scheduler as L

    name = name.lower()
    main_epochs = max(1, epochs - warmup_epochs)
    if name == "onecycle":
        max_lr = optimizer.param_groups[0]["lr"]
        pct = 0.3 if not warmup_epochs else min(1.0, warmup_epochs / max(1, epochs))
        return L.OneCycleLR(
            optimizer,
            max_lr=max_lr,
            epochs=max(1, epochs),
            steps_per_epoch=steps_per_epoch,
            pct_start=float(pct),
        )
    if name == "none":
        main = None
    elif name == "step":
        main = L.StepLR(
            optimizer, step_size=step_size or max(1, main_epochs // 3), gamma=gamma or 0.1
        )
    elif name == "multistep":
        ms = [max(1, int(main_epochs * 0.5)), max(2, int(main_epochs * 0.75))]
        main = L.MultiStepLR(optimizer, milestones=ms, gamma=gamma or 0.1)
    elif name == "exponential":
        main = L.ExponentialLR(optimizer, gamma=gamma or 0.9)
    elif name == "cosine":
        main = L.CosineAnnealingLR(optimizer, T_max=main_epochs)
    elif name == "plateau":
        if warmup_epochs:
            raise ValueError("--warmup-epochs cannot be combined with the plateau scheduler")
        return L.ReduceLROnPlateau(optimizer, factor=gamma or 0.1, patience=step_size or 2)
    else:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")
    if not warmup_epochs:
        return main
    warm = L.LinearLR(optimizer, start_factor=0.1, total_iters=warmup_epochs)
    if main is None:
        return warm
    return L.SequentialLR(optimizer, [warm, main], milestones=[warmup_epochs])


# ---------------------------------------------------------------------------- grid search
_TRAIN_KEYS = ("lr", "batch_size", "weight_decay", "momentum", "optimizer", "epochs")


def grid_search(
    build_fn: Callable[..., Any],
    param_grid: Mapping[str, Sequence[Any]],
    train_dataset: Any,
    val_fraction: float = 0.2,
    epochs: int = 1,
    loss_fn: Optional[Callable] = None,
    optimizer: str = "adam",
    seed: int = 0,
    verbose: bool = True,
) -> List[Dict[str, Any]]:
    """Train one model per combination of `param_grid` on a fixed train/validation split of
    `train_dataset` and rank them by validation accuracy.

    Keys lr, batch_size, weight_decay, momentum, optimizer, epochs set the training; any other
    key is passed to ``build_fn(**kwargs)``. Each run reseeds gradcore with `seed`. Returns the
    rows (params + val_acc, val_loss, train_loss, time), best first, and prints a table.
    """
    import gradcore
    from gradcore import nn
    from gradcore.data import DataLoader, Subset

    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"grid_search: val_fraction must be in (0, 1), got {val_fraction}")
    keys = list(param_grid)
    for k in keys:
        if isinstance(param_grid[k], (str, bytes)) or not hasattr(param_grid[k], "__iter__"):
            raise TypeError(f"grid_search: param_grid[{k!r}] must be a list of values")
    n = len(train_dataset)
    n_val = max(1, int(round(n * val_fraction)))
    order = np.random.default_rng(seed).permutation(n)
    train_part = Subset(train_dataset, order[n_val:].tolist())
    val_part = Subset(train_dataset, order[:n_val].tolist())
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    rows: List[Dict[str, Any]] = []
    for values in itertools.product(*(list(param_grid[k]) for k in keys)):
        params = dict(zip(keys, values))
        train_kw = {k: v for k, v in params.items() if k in _TRAIN_KEYS}
        model_kw = {k: v for k, v in params.items() if k not in _TRAIN_KEYS}
        gradcore.manual_seed(seed)
        model = build_fn(**model_kw)
        opt = build_optimizer(
            train_kw.get("optimizer", optimizer),
            model.parameters(),
            lr=train_kw.get("lr", 1e-3),
            weight_decay=train_kw.get("weight_decay"),
            momentum=train_kw.get("momentum"),
        )
        bs = int(train_kw.get("batch_size", 64))
        tl = DataLoader(train_part, batch_size=bs, shuffle=True, seed=seed)
        vl = DataLoader(val_part, batch_size=256)
        t0 = time.perf_counter()
        try:
            h = fit(model, loss_fn, opt, tl, int(train_kw.get("epochs", epochs)), val_loader=vl)
            last = h.rows[-1]
            row = dict(params)
            row.update(
                val_acc=last.get("val_acc"),
                val_loss=last.get("val_loss"),
                train_loss=last.get("train_loss"),
            )
        except NonFiniteLossError as e:
            row = dict(params, val_acc=float("nan"), val_loss=float("nan"), train_loss=float("nan"))
            row["error"] = str(e).split(":")[0]
        row["time"] = time.perf_counter() - t0
        rows.append(row)
    rows.sort(key=lambda r: -(r["val_acc"] if r["val_acc"] == r["val_acc"] else -1.0))
    if verbose:
        print(format_table(rows, keys + ["val_acc", "val_loss", "train_loss", "time"]))
    return rows


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain text table (floats to 4 significant digits)."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    table = [list(columns)] + [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    lines = ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
