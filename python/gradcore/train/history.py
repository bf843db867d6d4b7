"""History: the per-epoch records that `fit` returns (CSV export, loss/accuracy plot)."""

from __future__ import annotations

import csv
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union


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

    @classmethod
    def from_csv(cls, path: Union[str, os.PathLike]) -> History:
        """Read a history.csv written by `to_csv` or CSVLogger (numbers back to int/float,
        empty cells to None)."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"History.from_csv: no such file: {path}")
        rows = []
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "epoch" not in reader.fieldnames:
                raise ValueError(f"{path}: not a training history (no 'epoch' column)")
            for line, r in enumerate(reader, 2):
                row: Dict[str, Any] = {}
                for k, v in r.items():
                    if v is None or v == "":
                        row[k] = None
                        continue
                    try:
                        row[k] = int(v) if k == "epoch" else float(v)
                    except ValueError:
                        raise ValueError(
                            f"{path}, line {line}: {k} = {v!r} is not a number"
                        ) from None
                rows.append(row)
        return cls(rows)

    def plot(self, path: Union[str, os.PathLike]) -> None:
        """Save loss and accuracy curves (train and validation) to `path` (needs matplotlib;
        see gradcore.plots.plot_history)."""
        from gradcore.plots import plot_history

        plot_history(self, path)


def csv_cell(v: Any) -> Any:
    """One CSV cell: floats in full precision (repr), None as an empty cell."""
    if isinstance(v, float):
        return repr(v)
    return "" if v is None else v
