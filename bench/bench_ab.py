"""Before/after comparison of two gradcore builds in one run (A/B, paired, interleaved).

Runs one benchmark script of bench/ alternately under two Python interpreters, each with its
own gradcore installed (e.g. a venv of the last release and a venv of the working tree), for
several rounds with the order reversed every other round and a pause before each run. Every
gradcore time the script writes to its JSON is paired across the two builds round by round;
the reported ratio is the median of the per-round ratios base_time / candidate_time
(> 1: the candidate is faster), which is robust to a burst of load hitting one run.

    python bench/bench_ab.py --base /tmp/base-venv/bin/python --candidate .venv/bin/python \\
        --rounds 4 --json bench/results/ab_overhead.json -- bench/bench_overhead.py --quick

The script must accept --json PATH (every bench_*.py here does).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import machine_info, write_json  # noqa: E402

TIME_SUFFIXES = ("_s", "_ms", "_us")


def _label(item: dict, index: int) -> str:
    """A stable name for one row of a results list: its case, shape and thread count."""
    parts = []
    for key in ("case", "name", "op", "shape", "size", "threads", "batch"):
        if key in item:
            v = item[key]
            if isinstance(v, dict):
                v = "x".join(str(x) for x in v.values())
            parts.append(f"{key}={v}")
    return ",".join(parts) or str(index)


def gradcore_times(payload, prefix: str = "", timed: bool = False) -> dict:
    """Flatten a benchmark JSON into {path: seconds-or-other-unit} for gradcore's times.

    A number counts when its key names gradcore under a time key ("forward_s": {"gradcore":
    ...}) or is a gradcore time key itself ("gradcore_us", "gradcore_ms").
    """
    out = {}
    if isinstance(payload, dict):
        for key, value in payload.items():
            path = f"{prefix}/{key}" if prefix else key
            is_time = key.endswith(TIME_SUFFIXES) and not key.endswith("_per_s")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if (timed and key == "gradcore") or (key.startswith("gradcore") and is_time):
                    out[path] = float(value)
            elif key not in ("raw_ms", "machine"):
                out.update(gradcore_times(value, path, timed or is_time))
    elif isinstance(payload, list):
        for i, item in enumerate(payload):
            name = _label(item, i) if isinstance(item, dict) else str(i)
            out.update(gradcore_times(item, f"{prefix}[{name}]", timed))
    return out


def run_once(python: str, script: list, json_path: str) -> dict:
    """One run of `script` under `python`, without this process's PYTHONPATH: each build
    imports its own gradcore (a wrapper script may set its own)."""
    cmd = [python, *script, "--json", json_path]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return json.loads(Path(json_path).read_text())


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="python of the reference build")
    ap.add_argument("--candidate", required=True, help="python of the build under test")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--pause", type=float, default=2.0, help="seconds of rest before each run")
    ap.add_argument("--json", required=True)
    ap.add_argument("script", nargs=argparse.REMAINDER, help="-- bench/bench_x.py [its args]")
    args = ap.parse_args(argv)
    script = [a for a in args.script if a != "--"]
    if not script:
        ap.error("name the benchmark script after --")
    builds = {"base": args.base, "candidate": args.candidate}
    samples: dict = {"base": [], "candidate": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = list(builds) if r % 2 == 0 else list(builds)[::-1]
            for name in order:
                time.sleep(args.pause)
                out = run_once(builds[name], script, os.path.join(tmp, f"{name}{r}.json"))
                samples[name].append(gradcore_times(out))
                print(f"round {r}: {name} done", flush=True)
    keys = [k for k in samples["base"][0] if all(k in s for s in samples["candidate"])]
    rows = []
    for k in keys:
        ratios = [b[k] / c[k] for b, c in zip(samples["base"], samples["candidate"]) if c[k] > 0]
        rows.append(
            {
                "metric": k,
                "base": statistics.median(s[k] for s in samples["base"]),
                "candidate": statistics.median(s[k] for s in samples["candidate"]),
                "ratio_base_over_candidate": statistics.median(ratios),
                "per_round_ratios": ratios,
            }
        )
        print(f"{rows[-1]['ratio_base_over_candidate']:6.3f}  {k}")
    payload = {
        "benchmark": "ab",
        "script": script,
        "base": args.base,
        "candidate": args.candidate,
        "rounds": args.rounds,
        "note": "ratio = base time / candidate time, median of per-round paired ratios",
        "machine": machine_info(),
        "results": rows,
    }
    print(f"wrote {write_json(args.json, payload)}")
    return payload


if __name__ == "__main__":
    main()
