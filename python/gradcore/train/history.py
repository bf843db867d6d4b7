"""History: the per-epoch records that `fit` returns (CSV export, loss/accuracy plot)."""

from __future__ import annotations

import csv
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import numpy as np


class History:
    """Per-epoch records: epoch, train_loss, train_acc, val_loss, val_acc, lr, time,
    images_per_s. ``history["val_acc"]`` is a column; ``history.rows`` the list of dicts.
    ``history.test`` is the single final test-set evaluation ({"loss", "accuracy", "n"}) when
    `fit` was given a test_loader, else None; it is never part of the epoch rows."""

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
        self.test: Optional[Dict[str, Any]] = None

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
                w.writerow({c: csv_cell(r.get(c)) for c in cols})

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


def csv_cell(v: Any) -> Any:
    """One CSV cell: floats in full precision (repr), None as an empty cell."""
    if isinstance(v, float):
        return repr(v)
    return "" if v is None else v
