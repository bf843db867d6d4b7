"""cnn-small training step (forward + backward + Adam step, batch 64, 1x28x28) vs PyTorch CPU.

    python bench/bench_train.py [--quick] [--json PATH] [--threads 1,2] [--rounds 3]
                                [--capability avx2_fma,avx512] [--amp]

Each (framework, threads) measurement runs in its own subprocess (so peak memory is that
framework's alone: VmHWM, and the growth over the process's size after imports and model
construction), and the subprocesses are interleaved round by round (gradcore 1 thread, torch 1
thread, gradcore 2 threads, ...) so that load from other processes hits both alike; the
reported step time is the median over rounds of each subprocess's median (the order is
reversed every other round). Same model, batch,
data shape and thread count for both. Target: gradcore step time <= 0.67x PyTorch's, peak
memory no higher. gradcore_pct_peak: the step's conv and linear FLOPs (step_flops) per second
as % of the fp32 peak (gradcore.profiler.peak_gflops: FLOPs/cycle of the CPU path x the
measured clock x threads). --capability runs gradcore once per CPU path (GRADCORE_CPU_CAPABILITY) in
the same rounds: the first path's columns are gradcore_*, the others gradcore_<path>_*, with
ratio_<path>_vs_<first> = median over rounds of first's step time / this path's (> 1: faster).
--amp adds gradcore under `gradcore.autocast()` (CPU bfloat16) and PyTorch under
`torch.autocast("cpu", dtype=torch.bfloat16)` to the same rounds (forward and loss inside the
block, as both frameworks document): gradcore_amp_ms, torch_amp_ms, amp_time_ratio =
gradcore_amp / torch_amp (median over rounds of the paired ratios) and amp_vs_fp32 =
gradcore_amp / gradcore (likewise). Target: amp_time_ratio <= 0.6.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

BATCH = 64
NBATCH = 4  # distinct random batches cycled through


def _rss_mb() -> float:
    """Peak resident set of this process in MiB: VmHWM of /proc/self/status. Not ru_maxrss:
    Linux carries ru_maxrss across fork and execve, so a worker started by a parent that has
    imported torch would report the parent's size as its own peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # pragma: no cover
        return float("nan")


def _time_steps(step, warmup: int, samples: int, per_sample: int) -> list:
    for _ in range(warmup):
        step()
    out = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(per_sample):
            step()
        out.append((time.perf_counter() - t0) / per_sample)
    return out


def worker_gradcore(
    threads: int, warmup: int, samples: int, per_sample: int, amp: bool = False
) -> dict:
    import contextlib

    import numpy as np

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
    base = _current_rss_mb()
    i = [0]

    block = gradcore.autocast if amp else contextlib.nullcontext

    def step():
        k = i[0] % NBATCH
        i[0] += 1
        opt.zero_grad()
        with block():
            loss = loss_fn(model(xs[k]), ys[k])
        loss.backward()
        opt.step()

    times = _time_steps(step, warmup, samples, per_sample)
    from gradcore import profiler

    return {
        "times": times,
        "base_rss_mb": base,
        "peak_rss_mb": _rss_mb(),
        "step_gflop": step_flops(model, xs[0]) / 1e9,
        "peak_gflops": profiler.peak_gflops(threads),
    }


def step_flops(model, x) -> float:
    """FLOPs of one training step's convolutions and linear layers: per layer 2 * outputs *
    (inputs per output) for the forward pass and again for the weight gradient, and again for
    the input gradient unless the layer's input needs none (the first layer). Counted on one
    forward pass with each Conv2d's and Linear's forward wrapped."""
    import gradcore
    from gradcore import nn

    total = [0.0]

    def counting(module, fwd):
        def wrapped(inp, *a, **kw):
            out = fwd(inp, *a, **kw)
            if isinstance(module, nn.Conv2d):
                r, s = module.weight.shape[2:]
                per_out = module.weight.shape[1] * r * s  # (C / groups) * R * S
            else:
                per_out = module.weight.shape[1]
            passes = 3 if inp.requires_grad else 2
            total[0] += passes * 2.0 * out.numel() * per_out
            return out

        return wrapped

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for m in layers:
        m.forward = counting(m, m.forward)
    try:
        model(
            gradcore.tensor(x.numpy())
        )  # a graph as in training: inputs of later layers need grad
    finally:
        for m in layers:
            del m.forward
    return total[0]


def worker_torch(
    threads: int, warmup: int, samples: int, per_sample: int, amp: bool = False
) -> dict:
    import contextlib

    import numpy as np
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    xs = [torch.from_numpy(rng.random((BATCH, 1, 28, 28), dtype=np.float32)) for _ in range(NBATCH)]
    ys = [torch.from_numpy(rng.integers(0, 10, BATCH)) for _ in range(NBATCH)]
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(3136, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    base = _current_rss_mb()
    i = [0]

    def block():
        if amp:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def step():
        k = i[0] % NBATCH
        i[0] += 1
        opt.zero_grad()
        with block():
            loss = loss_fn(model(xs[k]), ys[k])
        loss.backward()
        opt.step()

    times = _time_steps(step, warmup, samples, per_sample)
    return {"times": times, "base_rss_mb": base, "peak_rss_mb": _rss_mb()}


def run_worker(framework: str, threads: int, args, capability: str = "", amp: bool = False) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if capability:
        env["GRADCORE_CPU_CAPABILITY"] = capability
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        framework,
        "--threads",
        str(threads),
        "--warmup",
        str(args.warmup),
        "--samples",
        str(args.samples),
        "--per-sample",
        str(args.per_sample),
    ] + (["--amp"] if amp else [])
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if p.returncode != 0:
        raise RuntimeError(f"{framework} worker failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and rounds")
    ap.add_argument("--json", default=None, help="output (default bench/results/train.json)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--capability", default="", help="CPU paths to compare, e.g. avx2_fma,avx512")
    ap.add_argument("--amp", action="store_true", help="add bfloat16 autocast runs of both")
    ap.add_argument("--worker", choices=("gradcore", "torch"), help=argparse.SUPPRESS)
    ap.add_argument("--warmup", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--samples", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--per-sample", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.warmup = args.warmup if args.warmup is not None else (3 if args.quick else 5)
    args.samples = args.samples if args.samples is not None else (3 if args.quick else 5)
    args.per_sample = args.per_sample if args.per_sample is not None else (5 if args.quick else 10)
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)

    if args.worker:
        threads = int(args.threads)
        fn = worker_gradcore if args.worker == "gradcore" else worker_torch
        print(json.dumps(fn(threads, args.warmup, args.samples, args.per_sample, args.amp)))
        return 0

    paths = args.capability.split(",") if args.capability else [""]
    # name -> (worker, capability, amp): "gradcore" runs the first path, "gradcore_<p>" the
    # others, "*_amp" under bfloat16 autocast
    runs_of = {"gradcore": ("gradcore", paths[0], False)}
    runs_of.update({f"gradcore_{p}": ("gradcore", p, False) for p in paths[1:]})
    if args.amp:
        runs_of["gradcore_amp"] = ("gradcore", paths[0], True)
    try:
        import torch  # noqa: F401

        runs_of["torch"] = ("torch", "", False)
        if args.amp:
            runs_of["torch_amp"] = ("torch", "", True)
    except ImportError:
        print("PyTorch not installed: measuring gradcore only")
    frameworks = list(runs_of)
    thread_counts = [int(t) for t in args.threads.split(",")]
    raw = {(f, t): [] for f in frameworks for t in thread_counts}
    for r in range(rounds):
        for t in thread_counts:
            for f in frameworks if r % 2 == 0 else frameworks[::-1]:  # no fixed position
                worker, capability, amp = runs_of[f]
                res = run_worker(worker, t, args, capability, amp)
                raw[(f, t)].append(res)
                med = statistics.median(res["times"]) * 1e3
                print(
                    f"  round {r + 1}/{rounds}: {f:8s} {t} thread(s): {med:7.2f} ms/step",
                    flush=True,
                )

    rows = []
    for t in thread_counts:
        row = {"threads": t, "batch": BATCH}
        for f in frameworks:
            runs = raw[(f, t)]
            ms = statistics.median(statistics.median(x["times"]) for x in runs) * 1e3
            row[f"{f}_ms"] = ms
            row[f"{f}_images_per_s"] = BATCH / ms * 1e3
            row[f"{f}_peak_rss_mb"] = max(x["peak_rss_mb"] for x in runs)
            row[f"{f}_rss_growth_mb"] = max(x["peak_rss_mb"] - x["base_rss_mb"] for x in runs)
            if "step_gflop" in runs[0]:  # gradcore: the step's conv/linear FLOPs vs the peak
                peak = statistics.median(x["peak_gflops"] for x in runs)
                row[f"{f}_pct_peak"] = 100 * runs[0]["step_gflop"] / (ms / 1e3) / peak
                row["step_gflop"] = runs[0]["step_gflop"]
                row["peak_gflops"] = peak

        def paired(num: str, den: str, t: int = t) -> float:  # median of num's / den's time
            a = [statistics.median(x["times"]) for x in raw[(num, t)]]
            b = [statistics.median(x["times"]) for x in raw[(den, t)]]
            return statistics.median(x / y for x, y in zip(a, b))

        for p in paths[1:]:
            row[f"ratio_{p}_vs_{paths[0]}"] = paired("gradcore", f"gradcore_{p}")
        if args.amp:
            row["amp_vs_fp32"] = paired("gradcore_amp", "gradcore")
            if "torch_amp" in frameworks:
                row["amp_time_ratio"] = paired("gradcore_amp", "torch_amp")
                row["torch_amp_vs_fp32"] = paired("torch_amp", "torch")
        if "torch" in frameworks:
            row["time_ratio"] = row["gradcore_ms"] / row["torch_ms"]
            for p in paths[1:]:
                row[f"time_ratio_{p}"] = row[f"gradcore_{p}_ms"] / row["torch_ms"]
            row["peak_rss_ratio"] = row["gradcore_peak_rss_mb"] / row["torch_peak_rss_mb"]
        rows.append(row)

    print()
    hdr = f"{'threads':>7} {'gradcore ms':>12} {'img/s':>7} {'torch ms':>9} {'img/s':>7} "
    hdr += f"{'ratio':>6} {'gc peak MB':>10} {'torch peak MB':>13}"
    print("cnn-small train step (fwd+bwd+Adam), batch 64")
    print(hdr)
    for row in rows:
        line = (
            f"{row['threads']:>7} {row['gradcore_ms']:>12.2f} {row['gradcore_images_per_s']:>7.0f}"
        )
        if "torch_ms" in row:
            line += f" {row['torch_ms']:>9.2f} {row['torch_images_per_s']:>7.0f}"
            line += f" {row['time_ratio']:>6.2f} {row['gradcore_peak_rss_mb']:>10.1f}"
            line += f" {row['torch_peak_rss_mb']:>13.1f}"
        if "gradcore_pct_peak" in row:
            line += f"\n{'':>7} gradcore at {row['gradcore_pct_peak']:.0f}% of the fp32 peak "
            line += f"({row['step_gflop']:.2f} GFLOP/step, peak {row['peak_gflops']:.0f} GFLOP/s)"
        if "amp_time_ratio" in row:
            line += f"\n{'':>7} bf16 autocast: gradcore {row['gradcore_amp_ms']:.2f} ms "
            line += f"(x{row['amp_vs_fp32']:.2f} of its fp32), torch {row['torch_amp_ms']:.2f} ms "
            line += f"(x{row['torch_amp_vs_fp32']:.2f}); gradcore/torch {row['amp_time_ratio']:.2f}"
        for p in paths[1:]:
            line += f"\n{'':>7} {p}: {row[f'gradcore_{p}_ms']:.2f} ms, "
            line += f"x{row[f'ratio_{p}_vs_{paths[0]}']:.3f} vs {paths[0]} (paired)"
        print(line)

    payload = {
        "command": "python bench/bench_train.py " + " ".join(argv if argv else sys.argv[1:]),
        "paths": paths,
        "benchmark": "train_step_cnn_small",
        "model": "cnn-small",
        "optimizer": "adam",
        "batch": BATCH,
        "input": [1, 28, 28],
        "rounds": rounds,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "rows": rows,
        "raw_ms": {
            f"{f}_{t}": [statistics.median(x["times"]) * 1e3 for x in raw[(f, t)]] for (f, t) in raw
        },
    }
    path = args.json or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results", "train.json"
    )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
