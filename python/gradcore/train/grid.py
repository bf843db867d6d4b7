"""Grid search: one short training run per hyper-parameter combination, ranked by validation
accuracy, and the plain-text table it prints."""

from __future__ import annotations

import itertools
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np

from gradcore.train.factories import build_optimizer
from gradcore.train.loop import NonFiniteLossError, fit

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
