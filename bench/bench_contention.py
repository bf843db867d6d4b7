"""Sharing a machine: the cnn-small training step alone vs two jobs at once, per wait policy.

    python bench/bench_contention.py [--quick] [--json PATH] [--rounds N] [--threads 2]
                                     [--policy NAME=ENV ...]

Each job is a subprocess running bench_train.py's gradcore step (batch 64, 1x28x28, Adam) on
`--threads` threads. For every policy and round the script times the step of one job alone
("solo") and of two jobs started together ("pair"): the jobs import, build and warm up, report
ready, and after a pause (so start-up load has died down) all are told to start at once; each
then times single steps for a fixed window and reports its median. The policies and the
solo/pair measurements are interleaved round by round (the order reversed every other round),
so load from other processes hits all of them alike; the step times are medians over rounds,
and both ratios are medians of per-round ratios (pair/solo: the pair over the solo of the same
policy and round; solo/old: the policy's solo over the old policy's solo of the same round).

A policy is the OpenMP environment its jobs get (OMP_WAIT_POLICY and GOMP_SPINCOUNT are
removed from the inherited environment first):
  old: GOMP_SPINCOUNT=300000, libgomp's own default (spin about 3 ms before sleeping), which
       is what gradcore ran with before it set a wait policy;
  new: nothing set, so gradcore applies its default (gradcore/_wait_policy.py).
More can be added with --policy NAME=VAR=VALUE[,VAR=VALUE] (e.g. passive=OMP_WAIT_POLICY=passive).

Targets (issue 16): pair step <= 2.3x solo step under the new policy; new solo within 3% of
old solo, both on an otherwise idle machine (the JSON records the load average before each
round: with other processes running, spinning policies lose more). Output: a table, and JSON
(default bench/results/contention.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import machine_info, write_json  # noqa: E402

DEFAULT_POLICIES = {"old": {"GOMP_SPINCOUNT": "300000"}, "new": {}}
POLICY_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def worker(threads: int, window: float) -> None:
    """One job: build the step, warm up, print 'ready', wait for 'go' on stdin, then time
    single steps for `window` seconds and print their median (seconds) as JSON."""
    import numpy as np
    from bench_train import BATCH, NBATCH  # the same step as bench/bench_train.py

    import gradcore
    from gradcore import nn, optim
    from gradcore.models import build_model

    gradcore.set_num_threads(threads)
    gradcore.manual_seed(0)
    rng = np.random.default_rng(0)
    xs = [gradcore.tensor(rng.random((BATCH, 1, 28, 28), dtype=np.float32)) for _ in range(NBATCH)]
    ys = [gradcore.tensor(rng.integers(0, 10, BATCH)) for _ in range(NBATCH)]
    model = build_model("cnn-small")
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step(k: int) -> None:
        opt.zero_grad()
        loss = loss_fn(model(xs[k % NBATCH]), ys[k % NBATCH])
        loss.backward()
        opt.step()

    for k in range(5):
        step(k)
    print("ready", flush=True)
    sys.stdin.readline()  # "go"
    times = []
    t_end = time.perf_counter() + window
    k = 0
    while time.perf_counter() < t_end or len(times) < 5:
        t0 = time.perf_counter()
        step(k)
        times.append(time.perf_counter() - t0)
        k += 1
    print(
        json.dumps(
            {
                "median_s": statistics.median(times),
                "steps": len(times),
                "wait_policy_env": {v: os.environ.get(v) for v in POLICY_VARS},
            }
        ),
        flush=True,
    )


def policy_env(extra: dict, threads: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in POLICY_VARS}
    env.update(extra)
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def run_jobs(n_jobs: int, env: dict, threads: int, window: float, pause: float) -> list:
    """Start n_jobs workers, wait until all are warm, pause, start them together; their
    median step times in seconds."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--threads",
        str(threads),
        "--window",
        str(window),
    ]
    procs = [
        subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(n_jobs)
    ]
    try:
        for p in procs:
            line = p.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"contention worker did not start (got {line!r})")
        time.sleep(pause)
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        out = []
        for p in procs:
            line, _ = p.communicate(timeout=600)
            if p.returncode != 0:
                raise RuntimeError(f"contention worker failed with exit code {p.returncode}")
            out.append(json.loads(line.strip().splitlines()[-1])["median_s"])
        return out
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def parse_policies(items: list) -> dict:
    policies = dict(DEFAULT_POLICIES)
    for item in items:
        name, _, spec = item.partition("=")
        if not name or not spec:
            raise SystemExit(f"--policy wants NAME=VAR=VALUE[,VAR=VALUE], got {item!r}")
        env = {}
        for pair in spec.split(","):
            var, _, value = pair.partition("=")
            if var not in POLICY_VARS or not value:
                raise SystemExit(f"--policy {name}: set one of {', '.join(POLICY_VARS)}")
            env[var] = value
        policies[name] = env
    return policies


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds, shorter windows")
    ap.add_argument("--json", default=str(HERE / "results" / "contention.json"))
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2, help="threads per job")
    ap.add_argument("--window", type=float, default=None, help="seconds timed per job")
    ap.add_argument("--pause", type=float, default=1.0, help="seconds before each timed block")
    ap.add_argument("--policy", action="append", default=[], help="NAME=VAR=VALUE[,VAR=VALUE]")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    window = args.window if args.window is not None else (1.5 if args.quick else 3.0)
    if args.worker:
        worker(args.threads, window)
        return 0
    rounds = args.rounds if args.rounds is not None else (2 if args.quick else 5)
    policies = parse_policies(args.policy)

    solo = {name: [] for name in policies}
    pair = {name: [] for name in policies}
    load = []  # 1-minute load average before each round: other processes on the machine
    for r in range(rounds):
        load.append(os.getloadavg()[0])
        order = list(policies) if r % 2 == 0 else list(policies)[::-1]
        for name in order:
            env = policy_env(policies[name], args.threads)
            solo[name].append(run_jobs(1, env, args.threads, window, args.pause)[0])
            pair[name].append(statistics.median(run_jobs(2, env, args.threads, window, args.pause)))
            print(
                f"  round {r + 1}/{rounds} {name:8s} solo {solo[name][-1] * 1e3:7.2f} ms"
                f"  pair {pair[name][-1] * 1e3:7.2f} ms",
                flush=True,
            )

    rows = []
    base = "old" if "old" in policies else next(iter(policies))
    print(f"\n{'policy':8s} {'solo ms':>8s} {'pair ms':>8s} {'pair/solo':>9s} {'solo/old':>8s}")
    for name, env in policies.items():
        s, p = statistics.median(solo[name]), statistics.median(pair[name])
        # paired per round: this policy's solo over the base policy's solo of the same round
        vs_old = statistics.median(a / b for a, b in zip(solo[name], solo[base]))
        # paired per round: the pair's step over the solo step measured just before it
        slowdown = statistics.median(b / a for a, b in zip(solo[name], pair[name]))
        rows.append(
            {
                "policy": name,
                "env": env,
                "solo_ms": s * 1e3,
                "pair_ms": p * 1e3,
                "pair_over_solo": slowdown,
                "solo_over_old_solo": vs_old,
                "solo_ms_rounds": [t * 1e3 for t in solo[name]],
                "pair_ms_rounds": [t * 1e3 for t in pair[name]],
            }
        )
        print(f"{name:8s} {s * 1e3:8.2f} {p * 1e3:8.2f} {slowdown:9.2f} {vs_old:8.3f}")
    payload = {
        "benchmark": "contention",
        "step": "cnn-small training step, batch 64 (bench/bench_train.py)",
        "threads_per_job": args.threads,
        "window_s": window,
        "rounds": rounds,
        "load_average_1min_per_round": load,
        "machine": machine_info(),
        "results": rows,
    }
    print(f"wrote {write_json(args.json, payload)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
