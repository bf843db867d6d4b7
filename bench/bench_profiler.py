"""Cost of the native profiler: per-scope cost off and on, and a 1-element op's time.

python bench/bench_profiler.py [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from gradcore import _C
from gradcore.profiler import profile


def time_call(fn, n: int) -> float:
    """Median over 5 runs of the mean time of one call, in ns."""
    runs = []
    for _ in range(5):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter_ns() - t0) / n)
    return float(np.median(runs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", default="bench/results/profiler.json")
    args = ap.parse_args()

    a = np.ones((1, 1), np.float32)
    result = {
        "scope_cost_off_ns": min(_C.profiler_scope_cost_ns(2_000_000, False) for _ in range(3)),
        "scope_cost_on_ns": min(_C.profiler_scope_cost_ns(200_000, True) for _ in range(3)),
        "gemm_1x1x1_off_ns": time_call(lambda: _C.gemm(a, a), 20_000),
    }
    with profile():
        result["gemm_1x1x1_on_ns"] = time_call(lambda: _C.gemm(a, a), 20_000)
    for k, v in result.items():
        print(f"{k:<22} {v:10.1f}")
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
