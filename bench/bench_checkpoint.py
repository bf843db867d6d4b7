"""Memory saved by activation checkpointing on a deep CNN (tracemalloc peak of forward +
backward, with and without gradcore.utils.checkpoint), plus the time it costs.

    python bench/bench_checkpoint.py [--quick] [--json PATH] [--blocks 20] [--segments 4]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc
from pathlib import Path

import numpy as np

import gradcore as gc
from gradcore import nn
from gradcore.utils import checkpoint_sequential


def build(blocks: int, ch: int) -> nn.Sequential:
    gc.manual_seed(0)
    mods = []
    for _ in range(blocks):
        mods += [nn.Conv2d(ch, ch, 3, padding=1, bias=False), nn.BatchNorm2d(ch), nn.ReLU()]
    return nn.Sequential(*mods)


def run(net, x, segments: int):
    tracemalloc.start()
    t0 = time.perf_counter()
    y = checkpoint_sequential(net, segments, x) if segments else net(x)
    y.sum().backward()
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    net.zero_grad()
    return peak, dt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--segments", type=int, default=4)
    ap.add_argument(
        "--json", default=os.path.join(os.path.dirname(__file__), "results", "checkpoint.json")
    )
    a = ap.parse_args(argv)
    n, ch, hw = (4, 8, 16) if a.quick else (8, 16, 32)
    net = build(a.blocks, ch)
    x = gc.tensor(np.random.default_rng(0).standard_normal((n, ch, hw, hw)).astype(np.float32))
    act = x.numpy().nbytes
    run(net, x, 0)  # warm-up
    p0, t0 = run(net, x, 0)
    p1, t1 = run(net, x, a.segments)
    res = {
        "benchmark": "checkpoint_memory",
        "model": f"{a.blocks} x (conv3x3-bn-relu), {ch} channels, input {(n, ch, hw, hw)}",
        "activation_bytes": act,
        "segments": a.segments,
        "peak_bytes_plain": p0,
        "peak_bytes_checkpointed": p1,
        "memory_ratio": round(p1 / p0, 3),
        "time_plain_s": round(t0, 4),
        "time_checkpointed_s": round(t1, 4),
        "time_ratio": round(t1 / t0, 3),
    }
    print(f"model: {res['model']}")
    print(f"peak (tracemalloc) plain        : {p0 / 2**20:8.2f} MiB  ({p0 / act:.1f} activations)")
    print(f"peak (tracemalloc) checkpointed : {p1 / 2**20:8.2f} MiB  ({p1 / act:.1f} activations)")
    print(f"memory ratio {res['memory_ratio']}, time ratio {res['time_ratio']}")
    path = Path(a.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
