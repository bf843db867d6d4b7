"""Per-op overhead of two gradcore builds, timed in lockstep: bench_overhead's cases, each
build in a worker process of its own, the two taking turns block by block.

bench_ab.py pairs whole runs of two processes; at the 0.5-1 us these cases take, its
per-round ratios swing 0.35-1.5 on the 2-core VMs, whose speed drifts by up to 30% within
minutes. Here the parent asks each build's worker in turn for one block of `--number` calls
of a case (the other worker waits, blocked on its pipe), round-robin over the cases for
`--rounds` rounds, so that the drift hits both builds alike; a case's figure is the minimum
over rounds (and the median, for comparison). Both workers run one thread, pinned to the
same CPU: the vCPUs of a VM need not be equally fast (unpinned, a shape's ratio moved by
15% between runs). With `--threads N` (N > 1) they run N threads each, unpinned.
`--base-env` / `--candidate-env NAME=VALUE` set a variable for one side only (the same build
twice then compares two settings, e.g. GRADCORE_CPU_CAPABILITY; not a wait policy that keeps
one side's threads spinning while the other side runs, which steals the other's cores).

Two builds cannot share one process: their native modules are both `gradcore._C`, and
pybind11 hands the second import the module object of the first (seen: the candidate's
Python ran on the base's kernels), so each build gets a process.

    python bench/bench_overhead_ab.py --base /tmp/base/python --candidate python \\
        [--rounds 60] [--number 1000] [--cases MODULE] [--json PATH]

Each path is a directory holding a built `gradcore` package (python/ of a checkout after
the dev build, or a site-packages). `--cases` names another module of bench/ (or a .py
file) whose `ab_cases()` returns {name: fn} to time instead of bench_overhead's cases.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import machine_info, write_json  # noqa: E402


def load_cases(spec: str) -> dict:
    """{name: fn} of the cases module `spec` (a module of bench/ or a .py file): its
    `ab_cases()`, or for bench_overhead its cases' gradcore functions."""
    if spec.endswith(".py"):
        loader_spec = importlib.util.spec_from_file_location("ab_cases_module", spec)
        module = importlib.util.module_from_spec(loader_spec)
        loader_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(spec)
    if hasattr(module, "ab_cases"):
        return module.ab_cases()
    return {name: fns["gradcore"] for name, fns in module.cases(None).items()}


def worker(
    path: str, cases_spec: str, number: int, cpu: int | None = None, threads: int = 1
) -> None:
    """One build's side: import gradcore from `path` (pinned to `cpu` when given), then answer
    each line naming a case with the ns per call of a block of `number` calls (a line "quit"
    ends it). The first line out describes the build: its case names, its native module's
    file, the machine."""
    sys.path.insert(0, path)
    try:
        import gradcore
    except ImportError:
        gradcore = None
    if gradcore is None or os.path.dirname(os.path.dirname(gradcore.__file__)) != path:
        found = "nothing" if gradcore is None else gradcore.__file__
        print(json.dumps({"error": f"{path} holds no gradcore package (found {found})"}))
        return
    gradcore.set_num_threads(threads)
    if cpu is not None and threads == 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    fns = load_cases(cases_spec)
    for fn in fns.values():  # warm-up
        fn()
    print(
        json.dumps({"cases": list(fns), "native": gradcore._C.__file__, "machine": machine_info()}),
        flush=True,
    )
    clock = time.perf_counter_ns
    for line in sys.stdin:
        name = line.strip()
        if name == "quit":
            return
        fn = fns[name]
        t0 = clock()
        for _ in range(number):
            fn()
        print((clock() - t0) / number, flush=True)


class Build:
    """A worker process timing one build's cases on request."""

    def __init__(
        self,
        path: str,
        cases_spec: str,
        number: int,
        cpu: int | None,
        threads: int,
        env: dict | None = None,
    ):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", path, "--number", str(number)]
        cmd += ["--cases", cases_spec, "--threads", str(threads)]
        cmd += [] if cpu is None else ["--cpu", str(cpu)]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=None if not env else {**os.environ, **env},
        )
        first = self.proc.stdout.readline()
        info = json.loads(first) if first else {"error": f"the worker for {path} failed"}
        if "error" in info:
            self.close()
            raise RuntimeError(info["error"])
        self.cases, self.native, self.machine = info["cases"], info["native"], info["machine"]

    def time(self, name: str) -> float:
        """ns per call of one block of the case `name`."""
        self.proc.stdin.write(name + "\n")
        return float(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            self.proc.wait(timeout=60)


def time_blocks(builds: dict, names: list, rounds: int) -> dict:
    """{(case, build): [ns per call in each round]}: each round times every case once on
    each build, back to back, the builds' order alternating from case to case and round to
    round."""
    samples = {(n, b): [] for n in names for b in builds}
    keys = list(builds)
    i = 0
    for _ in range(rounds):
        for n in names:
            for b in keys if i % 2 == 0 else reversed(keys):
                samples[(n, b)].append(builds[b].time(n))
            i += 1
    return samples


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", help="directory holding the base build's gradcore")
    ap.add_argument("--candidate", help="directory holding the candidate's")
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--number", type=int, default=1000, help="calls per timed block")
    ap.add_argument("--cases", default="bench_overhead", help="module whose cases are timed")
    ap.add_argument(
        "--cpu",
        type=int,
        default=None,
        help="the CPU both workers run on (default: the first this process may use; -1: any)",
    )
    ap.add_argument(
        "--threads", type=int, default=1, help="gradcore threads per worker (pinned only at 1)"
    )
    for role in ("base", "candidate"):
        ap.add_argument(
            f"--{role}-env",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=f"an environment variable for the {role}'s worker (repeatable)",
        )
    ap.add_argument("--json", default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(os.path.abspath(args.worker), args.cases, args.number, args.cpu, args.threads)
        return {}
    if not (args.base and args.candidate):
        ap.error("--base and --candidate are required")
    envs = {}
    for role in ("base", "candidate"):
        pairs = getattr(args, f"{role}_env")
        bad = [kv for kv in pairs if "=" not in kv or kv.startswith("=")]
        if bad:
            ap.error(f"--{role}-env takes NAME=VALUE, got {bad[0]!r}")
        envs[role] = dict(kv.split("=", 1) for kv in pairs)
    cpu = args.cpu
    if cpu is None and hasattr(os, "sched_getaffinity"):
        cpu = min(os.sched_getaffinity(0))
    cpu = None if cpu is not None and cpu < 0 else cpu
    builds = {}
    try:
        for role, path in (("base", args.base), ("candidate", args.candidate)):
            builds[role] = Build(
                os.path.abspath(path), args.cases, args.number, cpu, args.threads, envs[role]
            )
        names = [n for n in builds["base"].cases if n in builds["candidate"].cases]
        samples = time_blocks(builds, names, args.rounds)
    finally:
        for b in builds.values():
            b.close()
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
            f"{n:22s} base {row['base_min_us']:8.3f} us  candidate {row['candidate_min_us']:8.3f}"
            f" us  base/candidate {row['ratio_min']:.2f} (medians {row['ratio_median']:.2f})"
        )
    payload = {
        "benchmark": "overhead_ab",
        "base": os.path.abspath(args.base),
        "candidate": os.path.abspath(args.candidate),
        "native": {role: b.native for role, b in builds.items()},
        "cases_module": args.cases,
        "cpu": cpu if args.threads == 1 else None,
        "threads": args.threads,
        "env": {"base": args.base_env, "candidate": args.candidate_env},
        "rounds": args.rounds,
        "number": args.number,
        "note": "ratio = base / candidate time per call (> 1: candidate faster); one worker "
        "process per build, timed in turns",
        "machine": builds["candidate"].machine,
        "results": results,
    }
    if args.json:
        write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
