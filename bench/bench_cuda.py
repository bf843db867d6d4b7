"""CUDA kernels against PyTorch on the same GPU (JSON): what gradcore's CUDA module has.

Each case times gradcore's kernel and PyTorch's equivalent with CUDA events (warm-up, then
the median of `--repeats` timed calls, one after the other in the same run), and reports the ratio
torch_time / gradcore_time (> 1: gradcore faster) with the achieved bandwidth or FLOP rate
against the H200's roofline (4.8 TB/s HBM3e; 67 TFLOP/s float32 without tensor cores).

    python bench/bench_cuda.py --out bench/results/cuda_h200.json

Needs a GPU, gradcore built with its CUDA module, and PyTorch with CUDA (the reference).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

import numpy as np

import gradcore

PEAK_BYTES = 4.8e12  # H200 HBM3e, bytes/s
PEAK_FP32 = 67e12  # H200 SXM float32 (CUDA cores), FLOP/s


def timed(fn, repeats: int) -> float:
    """Median milliseconds of fn() over `repeats` calls, timed with CUDA events."""
    import torch

    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    gradcore.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = gradcore.cuda.Event(), gradcore.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def torch_timed(fn, repeats: int) -> float:
    import torch

    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="JSON file (default: stdout only)")
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args(argv)
    if not gradcore.cuda.is_available():
        print("bench_cuda: no CUDA GPU or no CUDA module; nothing to measure", file=sys.stderr)
        return 2
    import torch

    g = gradcore.cuda._cuda_module()
    gradcore.cuda.load_cublas()
    rng = np.random.default_rng(0)
    results = []

    def record(name, shape, ms_gc, ms_torch, flops=0.0, nbytes=0.0):
        row = {
            "case": name,
            "shape": shape,
            "gradcore_ms": ms_gc,
            "torch_ms": ms_torch,
            "torch_over_gradcore": ms_torch / ms_gc,
        }
        if flops:
            row["gradcore_tflops"] = flops / ms_gc / 1e9
            row["fraction_of_fp32_peak"] = flops / ms_gc * 1e3 / PEAK_FP32
        if nbytes:
            row["gradcore_gbps"] = nbytes / ms_gc / 1e6
            row["fraction_of_hbm_peak"] = nbytes / ms_gc * 1e3 / PEAK_BYTES
        results.append(row)
        print(
            f"{name:28s} {str(shape):22s} gradcore {ms_gc:8.3f} ms  torch {ms_torch:8.3f} ms  "
            f"ratio {ms_torch / ms_gc:5.2f}"
        )

    torch.backends.cuda.matmul.allow_tf32 = False  # gradcore's GEMM is exact float32
    for n in (512, 2048, 4096):
        a = rng.standard_normal((n, n)).astype(np.float32)
        da, db = g.DeviceArray.from_numpy(a), g.DeviceArray.from_numpy(a)
        ta = torch.from_numpy(a).cuda()
        record(
            "gemm",
            [n, n, n],
            timed(lambda da=da, db=db: g.gemm(da, db), args.repeats),
            torch_timed(lambda ta=ta: ta @ ta, args.repeats),
            flops=2.0 * n**3,
        )

    for n in (1 << 20, 1 << 26):
        x = rng.standard_normal(n).astype(np.float32)
        dx, tx = g.DeviceArray.from_numpy(x), torch.from_numpy(x).cuda()
        for op, tfn in (
            ("relu_forward", torch.relu),
            ("sigmoid_forward", torch.sigmoid),
            ("gelu_forward", torch.nn.functional.gelu),
        ):
            kern = getattr(g, op)
            record(
                op,
                [n],
                timed(lambda k=kern, dx=dx: k(dx), args.repeats),
                torch_timed(lambda f=tfn, tx=tx: f(tx), args.repeats),
                nbytes=8.0 * n,
            )

    # kernels added by later work register themselves here when present
    if hasattr(g, "max_pool2d_forward"):
        x = rng.standard_normal((128, 64, 56, 56)).astype(np.float32)
        dx, tx = g.DeviceArray.from_numpy(x), torch.from_numpy(x).cuda()
        record(
            "max_pool2d_forward",
            list(x.shape),
            timed(lambda: g.max_pool2d_forward(dx, (2, 2), (2, 2)), args.repeats),
            torch_timed(lambda: torch.nn.functional.max_pool2d(tx, 2, 2), args.repeats),
            nbytes=x.nbytes * 1.25,
        )
    if hasattr(g, "softmax_forward"):
        x = rng.standard_normal((4096, 1000)).astype(np.float32)
        dx, tx = g.DeviceArray.from_numpy(x), torch.from_numpy(x).cuda()
        record(
            "softmax_forward",
            list(x.shape),
            timed(lambda: g.softmax_forward(dx), args.repeats),
            torch_timed(lambda: torch.softmax(tx, -1), args.repeats),
            nbytes=2.0 * x.nbytes,
        )

    doc = {
        "device": gradcore.cuda.get_device_name(),
        "capability": gradcore.cuda.get_device_capability(),
        "torch": torch.__version__,
        "results": results,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
