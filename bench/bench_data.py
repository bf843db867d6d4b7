"""DataLoader throughput on Fashion-MNIST vs the cnn-small training step budget.

    python bench/bench_data.py [--quick] [--json PATH] [--root DIR]

Measures, in one run:
  * dataset decode time (first load, then the per-process cache);
  * batches/s of DataLoader(FashionMNIST train, batch 64, shuffle) without and with
    augmentation (RandomCrop(28, padding=4) + RandomHorizontalFlip + Normalize), with the
    prefetch thread (prefetch=2) and without (prefetch=0);
  * the same epoch through numpy alone (permutation + fancy indexing: the floor) and,
    when installed, torch.utils.data.DataLoader over a TensorDataset (a familiar reference);
  * the time the training thread actually waits for a batch when each step takes the
    budget (simulated with sleep, which releases the GIL as native kernels do).
Loading cost is reported as a percentage of the ~14 ms cnn-small step (target < 5%).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from gradcore.data import DataLoader, FashionMNIST
from gradcore.data import transforms as T

STEP_BUDGET_S = 0.014  # cnn-small training step target per batch of 64
BATCH = 64


def _median_epoch_time(make_iter, repeat, max_batches):
    """Median over `repeat` runs of (seconds, batches) to pull max_batches batches."""
    times, count = [], 0
    for _ in range(repeat):
        it = make_iter()
        t0 = time.perf_counter()
        count = 0
        for _batch in it:
            count += 1
            if count >= max_batches:
                break
        times.append(time.perf_counter() - t0)
        del it
    return statistics.median(times), count


def _row(name, seconds, batches):
    per = seconds / batches
    return {
        "config": name,
        "batches": batches,
        "seconds": seconds,
        "batches_per_s": batches / seconds,
        "ms_per_batch": per * 1e3,
        "pct_of_step_budget": 100.0 * per / STEP_BUDGET_S,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer batches and repeats")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "data.json"))
    ap.add_argument("--root", default=None, help="Fashion-MNIST directory (default: search)")
    args = ap.parse_args(argv)
    repeat = 3 if args.quick else 5
    max_batches = 200 if args.quick else 10**9

    t0 = time.perf_counter()
    train = FashionMNIST(root=args.root, train=True)
    first_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    FashionMNIST(root=args.root, train=True)
    cached_load = time.perf_counter() - t0

    aug = T.Compose(
        [T.RandomCrop(28, padding=4), T.RandomHorizontalFlip(), T.Normalize(0.2860, 0.3530)]
    )
    rows = []

    def loader_iter(transform, prefetch):
        loader = DataLoader(
            train, batch_size=BATCH, shuffle=True, seed=0, transform=transform, prefetch=prefetch
        )
        return lambda: iter(loader)

    def numpy_floor():
        data, targets = train.data, train.targets
        perm = np.random.default_rng(0).permutation(len(targets))
        return ((data[i], targets[i]) for i in np.array_split(perm, len(perm) // BATCH))

    configs = [
        ("numpy fancy indexing (floor)", numpy_floor),
        ("gradcore prefetch=0", loader_iter(None, 0)),
        ("gradcore prefetch=2", loader_iter(None, 2)),
        ("gradcore +aug prefetch=0", loader_iter(aug, 0)),
        ("gradcore +aug prefetch=2", loader_iter(aug, 2)),
    ]
    try:
        import torch
        from torch.utils.data import DataLoader as TorchLoader
        from torch.utils.data import TensorDataset as TorchTensorDataset

        torch.set_num_threads(1)
        tds = TorchTensorDataset(torch.from_numpy(train.data), torch.from_numpy(train.targets))
        gen = torch.Generator().manual_seed(0)
        tl = TorchLoader(tds, batch_size=BATCH, shuffle=True, generator=gen)
        configs.append(("torch DataLoader(TensorDataset)", lambda: iter(tl)))
    except ImportError:
        pass

    for _name, make in configs:  # warm-up pass over a few batches
        _median_epoch_time(make, 1, 20)
    for name, make in configs:
        sec, nb = _median_epoch_time(make, repeat, max_batches)
        rows.append(_row(name, sec, nb))

    # wait time of the training thread when each step takes the budget
    wait_batches = 40 if args.quick else 100
    waits = {}
    for name, transform, prefetch in (
        ("+aug prefetch=0", aug, 0),
        ("+aug prefetch=2", aug, 2),
    ):
        loader = DataLoader(
            train, batch_size=BATCH, shuffle=True, seed=1, transform=transform, prefetch=prefetch
        )
        it = iter(loader)
        next(it)
        waited = []
        for _ in range(wait_batches):
            time.sleep(STEP_BUDGET_S)  # the "step": GIL released, like native kernels
            t0 = time.perf_counter()
            next(it)
            waited.append(time.perf_counter() - t0)
        del it
        w = statistics.median(waited)
        waits[name] = {
            "median_wait_ms": w * 1e3,
            "mean_wait_ms": statistics.fmean(waited) * 1e3,
            "pct_of_step_budget": 100.0 * statistics.fmean(waited) / STEP_BUDGET_S,
        }

    print(
        f"Fashion-MNIST train: first load {first_load * 1e3:.0f} ms, "
        f"cached {cached_load * 1e3:.2f} ms; batch {BATCH}, step budget "
        f"{STEP_BUDGET_S * 1e3:.0f} ms"
    )
    print(f"{'config':36s} {'batches/s':>10s} {'ms/batch':>9s} {'% of step':>9s}")
    for r in rows:
        print(
            f"{r['config']:36s} {r['batches_per_s']:10.0f} {r['ms_per_batch']:9.3f} "
            f"{r['pct_of_step_budget']:8.2f}%"
        )
    print("training-thread wait per batch with a 14 ms step (overlap):")
    for k, v in waits.items():
        print(
            f"  {k:22s} median {v['median_wait_ms']:.3f} ms, mean {v['mean_wait_ms']:.3f} ms "
            f"({v['pct_of_step_budget']:.2f}% of step)"
        )

    payload = {
        "benchmark": "data",
        "dataset": {"name": "FashionMNIST", "root": train.root, "n": len(train)},
        "batch_size": BATCH,
        "step_budget_ms": STEP_BUDGET_S * 1e3,
        "first_load_ms": first_load * 1e3,
        "cached_load_ms": cached_load * 1e3,
        "throughput": rows,
        "overlap_wait": waits,
        "quick": args.quick,
        "machine": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
