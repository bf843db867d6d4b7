"""Callbacks for `fit`: progress, early stopping, checkpoints, CSV log, profiling steps.

Each hook receives the running `Trainer` (gradcore.train.loop): model, optimizer, scheduler,
train_loader, history, epoch, stop_training.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Union

import numpy as np

from gradcore.train.checkpoint import copy_state
from gradcore.train.history import History, csv_cell

if TYPE_CHECKING:
    from gradcore.train.loop import Trainer


class Callback:
    """Hooks called by `fit`; `trainer` is the running `Trainer` (model, optimizer,
    scheduler, train_loader, history, epoch, stop_training)."""

    def on_train_begin(self, trainer: Trainer) -> None:
        pass

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        pass

    def on_batch_end(self, trainer: Trainer, step: int, logs: Dict[str, float]) -> None:
        pass

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        pass

    def on_train_end(self, trainer: Trainer) -> None:
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

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
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

    def on_batch_end(self, trainer: Trainer, step: int, logs: Dict[str, float]) -> None:
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

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._print(format_epoch(logs, trainer.epochs))

    def on_train_end(self, trainer: Trainer) -> None:
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

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        v = self._m.value(logs)
        if self._m.improved(v):
            self._m.best = v
            self.wait = 0
            self.best_epoch = epoch
            if self.restore_best_weights:
                self._best_weights = copy_state(trainer.model.state_dict())
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

    def on_train_end(self, trainer: Trainer) -> None:
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

    def on_train_begin(self, trainer: Trainer) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Dict[str, Any]) -> None:
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

    def on_train_begin(self, trainer: Trainer) -> None:
        d = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(d, exist_ok=True)
        if not self.append or not os.path.exists(self.path):
            open(self.path, "w").close()
            self._cols = None
        else:
            with open(self.path, newline="") as f:
                header = next(csv.reader(f), None)
            self._cols = header

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        new = self._cols is None
        if new:
            self._cols = [c for c in History.COLUMNS if c in logs] + sorted(
                set(logs) - set(History.COLUMNS)
            )
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self._cols, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({c: csv_cell(logs.get(c)) for c in self._cols})


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

    def on_train_begin(self, trainer: Trainer) -> None:
        from gradcore import profiler

        if profiler._active is not None:
            raise RuntimeError(
                "ProfileSteps: a profile is already active (e.g. GRADCORE_PROFILE profiles the "
                "whole script); use one or the other"
            )
        if self.path is not None:  # fail now, not after the warm-up and profiled steps
            if os.path.isdir(self.path):
                raise IsADirectoryError(f"ProfileSteps: {self.path!r} is a directory, not a file")
            directory = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(directory):
                raise FileNotFoundError(
                    f"ProfileSteps: cannot write the trace to {self.path!r}: directory "
                    f"{directory!r} does not exist"
                )
        self._seen = 0
        if self.warmup == 0:
            self._start()

    def _start(self) -> None:
        from gradcore import profiler

        self._first = self._seen
        self._running = profiler.profile(record_shapes=True)
        self._running.__enter__()

    def on_batch_end(self, trainer: Trainer, step: int, logs: Dict[str, float]) -> None:
        self._seen += 1
        if self._running is None and self.profile is None and self._seen == self.warmup:
            self._start()
        elif self._running is not None and self._seen - self._first >= self.steps:
            self._finish()

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        if self._running is not None:
            self._finish()

    def on_train_end(self, trainer: Trainer) -> None:
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
