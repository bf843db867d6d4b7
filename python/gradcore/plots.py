"""PNG plots (matplotlib, an optional extra: ``pip install gradcore[plot]``).

- `plot_history(history, path)`: loss and accuracy curves, train and validation, per epoch
  (what ``gradcore plot RUN_DIR`` draws from a run's history.csv);
- `plot_roofline(prof, path)`: each profiled native kernel placed by arithmetic intensity
  (FLOP/byte, x) and achieved GFLOP/s (y) under the roofline min(peak, intensity x
  bandwidth) of this machine (peak from the CPU path's FLOPs per cycle and the measured clock,
  bandwidth a measured large copy), both axes logarithmic.
Figures are `size` inches at `dpi`, so a PNG is size[0]*dpi x size[1]*dpi pixels.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Tuple, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "plots need matplotlib, which is not installed: pip install matplotlib "
            "(or pip install gradcore[plot])"
        ) from None
    return plt


def plot_history(
    history: Any, path: PathLike, size: Tuple[float, float] = (10, 4), dpi: int = 100
) -> None:
    """Loss (left) and accuracy (right) per epoch, train and validation, from a History (or
    the path of a history.csv)."""
    from gradcore.train.history import History

    if not isinstance(history, History):
        history = History.from_csv(history)
    if not len(history):
        raise ValueError("plot_history: the history has no epochs")
    plt = _pyplot()
    epochs = history["epoch"]
    fig, axes = plt.subplots(1, 2, figsize=size, dpi=dpi)
    for ax, what in zip(axes, ("loss", "acc")):
        for split, label in (("train", "train"), ("val", "validation")):
            ys = history[f"{split}_{what}"]
            if any(y is not None for y in ys):
                ys = [np.nan if y is None else y for y in ys]
                ax.plot(epochs, ys, marker="o", label=label)
        ax.set(xlabel="epoch", ylabel="loss" if what == "loss" else "accuracy")
        ax.set_title("loss" if what == "loss" else "accuracy")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=dpi)
    plt.close(fig)


def plot_roofline(
    prof: Any,
    path: PathLike,
    peak_gflops: Optional[float] = None,
    bandwidth_gbs: Optional[float] = None,
    size: Tuple[float, float] = (8, 6),
    dpi: int = 100,
) -> None:
    """The roofline of a `gradcore.profiler.profile`'s native kernels (those with FLOPs).

    `peak_gflops` defaults to gradcore.profiler.peak_gflops(), `bandwidth_gbs` to a measured
    copy bandwidth (gradcore._bench.measure_bandwidth_gbs)."""
    from gradcore import profiler

    rows = [r for r in prof.key_averages(kind="kernel") if r.flops > 0 and r.bytes > 0]
    if not rows:
        raise ValueError("plot_roofline: the profile holds no native kernel with FLOPs")
    if peak_gflops is None:
        peak_gflops = profiler.peak_gflops()
    if bandwidth_gbs is None:
        from gradcore._bench import measure_bandwidth_gbs

        bandwidth_gbs = measure_bandwidth_gbs()
    plt = _pyplot()
    ai = np.array([r.intensity for r in rows])
    lo, hi = min(ai.min(), peak_gflops / bandwidth_gbs) / 4, max(ai.max(), 1.0) * 4
    xs = np.geomspace(lo, hi, 200)
    fig, ax = plt.subplots(figsize=size, dpi=dpi)
    ax.loglog(xs, np.minimum(peak_gflops, xs * bandwidth_gbs), "k-", label="roofline")
    ax.axhline(peak_gflops, color="grey", ls=":", lw=1)
    ax.text(lo * 1.1, peak_gflops * 1.08, f"peak {peak_gflops:.0f} GFLOP/s", fontsize=8)
    ax.text(lo * 1.1, lo * bandwidth_gbs * 1.3, f"{bandwidth_gbs:.0f} GB/s", fontsize=8)
    for r in rows:
        ax.loglog([r.intensity], [max(r.gflops, 1e-3)], "o")
        ax.annotate(
            r.name,
            (r.intensity, max(r.gflops, 1e-3)),
            fontsize=7,
            xytext=(4, 2),
            textcoords="offset points",
        )
    ax.set(xlabel="arithmetic intensity (FLOP/byte)", ylabel="GFLOP/s", title="roofline")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=dpi)
    plt.close(fig)
