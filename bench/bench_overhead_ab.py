"""Per-op overhead of two gradcore builds in ONE process: bench_overhead's cases, interleaved
in short blocks, so that the drift of a shared VM (up to 30% within minutes, and bursts
that halve the speed for a second) hits both builds alike.

bench_ab.py pairs whole runs of two processes; at the 0.5-1 us these cases take, its
per-round ratios still swing 0.35-1.5 on the 2-core VMs. Here each build's cases run in
blocks of `--number` calls, round-robin over both builds for `--rounds` rounds; a case's
figure is the minimum over rounds (and the median, for comparison).

    python bench/bench_overhead_ab.py --base /tmp/base/python --candidate python \\
        [--rounds 60] [--number 1000] [--json PATH]

Each path is a directory holding a built `gradcore` package (python/ of a checkout after
the dev build, or a site-packages). The two builds' modules are imported one after the
other and kept apart (sys.modules is swapped between the imports); each keeps its own
`_C`, whose pybind11 module registers no Python classes, so both coexist.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import machine_info, write_json  # noqa: E402


def load_build(path: str) -> tuple:
    """Import gradcore (and bench_overhead's cases on it) from `path`; return its cases and
    the machine info it reports, and remove its modules from sys.modules, so that the next
    build imports afresh."""
    own = [k for k in sys.modules if k == "gradcore" or k.startswith("gradcore.")]
    if own:
        raise RuntimeError("load_build: a gradcore is already imported in this process")
    sys.path.insert(0, path)
    try:
        try:
            import gradcore
        except ImportError:
            raise RuntimeError(f"{path} holds no gradcore package") from None
        if os.path.dirname(os.path.dirname(gradcore.__file__)) != os.path.abspath(path):
            raise RuntimeError(f"{path} holds no gradcore package (found {gradcore.__file__})")
        sys.modules.pop("bench_overhead", None)
        bench = importlib.import_module("bench_overhead")
        gradcore.set_num_threads(1)
        cases = {name: fns["gradcore"] for name, fns in bench.cases(None).items()}
        info = machine_info()
    finally:
        sys.path.remove(path)
        for k in [k for k in sys.modules if k == "gradcore" or k.startswith("gradcore.")]:
            del sys.modules[k]
        sys.modules.pop("bench_overhead", None)
    return cases, info


def time_blocks(fns: dict, rounds: int, number: int) -> dict:
    """{key: [ns per call in each round]}: blocks of `number` calls, round-robin, the order
    reversed every other round."""
    samples = {k: [] for k in fns}
    keys = list(fns)
    clock = time.perf_counter_ns
    for fn in fns.values():  # warm-up
        fn()
    for r in range(rounds):
        for k in keys if r % 2 == 0 else reversed(keys):
            fn = fns[k]
            t0 = clock()
            for _ in range(number):
                fn()
            samples[k].append((clock() - t0) / number)
    return samples


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="directory holding the base build's gradcore")
    ap.add_argument("--candidate", required=True, help="directory holding the candidate's")
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--number", type=int, default=1000, help="calls per timed block")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    builds = {"base": load_build(args.base)[0]}
    builds["candidate"], info = load_build(args.candidate)
    names = [n for n in builds["base"] if n in builds["candidate"]]
    fns = {(n, b): builds[b][n] for n in names for b in builds}
    samples = time_blocks(fns, args.rounds, args.number)
    results = []
    for n in names:
        base, cand = samples[(n, "base")], samples[(n, "candidate")]
        row = {
            "case": n,
            "base_min_us": min(base) / 1e3,
            "candidate_min_us": min(cand) / 1e3,
            "base_median_us": statistics.median(base) / 1e3,
            "candidate_median_us": statistics.median(cand) / 1e3,
        }
        row["ratio_min"] = row["base_min_us"] / row["candidate_min_us"]
        row["ratio_median"] = row["base_median_us"] / row["candidate_median_us"]
        results.append(row)
        print(
            f"{n:22s} base {row['base_min_us']:7.3f} us  candidate {row['candidate_min_us']:7.3f}"
            f" us  base/candidate {row['ratio_min']:.2f} (medians {row['ratio_median']:.2f})"
        )
    payload = {
        "benchmark": "overhead_ab",
        "base": os.path.abspath(args.base),
        "candidate": os.path.abspath(args.candidate),
        "rounds": args.rounds,
        "number": args.number,
        "note": "ratio = base / candidate time per call (> 1: candidate faster); one process",
        "machine": info,
        "results": results,
    }
    if args.json:
        write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
