"""conv2d pass by pass: forward, input gradient and weight gradient, gradcore vs PyTorch CPU,
each as a fraction of the machine's fp32 peak.

    python bench/bench_conv_passes.py [--threads 1,2] [--shapes 1,3] [--shape N,C,H,W,K,k,s,p]
                                      [--json PATH]

bench_conv.py times forward and forward+backward; this script splits the backward into its
two GEMM passes (gradcore's conv2d_backward_input / conv2d_backward_weight kernels, PyTorch's
aten.convolution_backward with one output mask each) so that a ratio below 1 can be traced to
one pass, and puts every pass next to the peak of that many threads
(gradcore.profiler.peak_gflops: threads x FLOP/cycle of the CPU path x measured clock). A
pass both libraries run near the peak cannot be made much faster than PyTorch's by anyone:
"fb_ratio_ceiling" is how much faster than PyTorch's forward+backward a run at 100% of the
peak would be. Timing: interleaved, median of the rounds (bench/common.interleaved). FLOPs
per pass: 2*N*K*OH*OW*(C/groups)*R*S, the direct algorithm's, for every algorithm: a Winograd
pass (gradcore.backends.cpu; 2.25x fewer multiplies) reports that effective rate, which may
pass 100%, and the ceiling then bounds only the GEMM algorithm. The "gemm" columns time
gradcore's passes with the Winograd algorithm switched off, in the same interleaved rounds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_conv import SHAPES, out_size  # noqa: E402
from common import interleaved, machine_info, write_json  # noqa: E402

import gradcore  # noqa: E402
from gradcore import _C, profiler  # noqa: E402
from gradcore.backends import cpu as cpu_backend  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

PASSES = ("fwd", "dx", "dw")


def pass_fns(shape: tuple) -> dict:
    """{"<lib>_<pass>": fn} for gradcore and, when installed, PyTorch, on one shape."""
    n, c, h, w, k, r, s, p = shape
    rng = np.random.default_rng(0)
    oh, ow = out_size(h, r, s, p), out_size(w, r, s, p)
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((k, c, r, r), dtype=np.float32)
    dy = rng.standard_normal((n, k, oh, ow), dtype=np.float32)
    geom = ((s, s), (p, p), (1, 1), 1)
    fns = {
        "gradcore_fwd": lambda: _C.conv2d_forward(x, wt, None, *geom),
        "gradcore_dx": lambda: _C.conv2d_backward_input(dy, wt, (h, w), *geom),
        "gradcore_dw": lambda: _C.conv2d_backward_weight(dy, x, (r, r), *geom),
    }

    def gemm_only(fn):
        def run():
            with cpu_backend.flags(winograd=False):
                fn()

        return run

    fns["gemm_fwd"] = gemm_only(fns["gradcore_fwd"])
    fns["gemm_dx"] = gemm_only(fns["gradcore_dx"])
    fns["gemm_dw"] = gemm_only(fns["gradcore_dw"])
    if torch is not None:
        tx, tw, tdy = torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(dy)
        conv_bwd = torch.ops.aten.convolution_backward

        def torch_bwd(mask):
            return lambda: conv_bwd(
                tdy, tx, tw, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, mask
            )

        fns["torch_fwd"] = lambda: torch.nn.functional.conv2d(tx, tw, None, s, p)
        fns["torch_dx"] = torch_bwd([True, False, False])
        fns["torch_dw"] = torch_bwd([False, True, False])
    return fns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="2")
    ap.add_argument("--shapes", default=None, help="indices into bench_conv.SHAPES, e.g. 1,3")
    ap.add_argument(
        "--shape",
        action="append",
        default=[],
        help="an extra shape N,C,H,W,K,kernel,stride,pad (repeatable), e.g. 64,16,28,28,32,3,1,1",
    )
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "conv_passes.json"))
    args = ap.parse_args()
    shapes = SHAPES if args.shapes is None else [SHAPES[int(i)] for i in args.shapes.split(",")]
    if args.shape:
        extra = [tuple(int(v) for v in s.split(",")) for s in args.shape]
        if any(len(s) != 8 for s in extra):
            ap.error("--shape takes 8 integers: N,C,H,W,K,kernel,stride,pad")
        shapes = (shapes if args.shapes is not None else []) + extra
    results = []
    print(
        f"{'shape (N,C,H,W,K,k,s,p)':32} thr pass | {'gc ms':>7} {'%peak':>6} | "
        f"{'torch ms':>8} {'%peak':>6} | {'torch/gc':>8}"
    )
    for threads in [int(t) for t in args.threads.split(",")]:
        gradcore.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        peak = profiler.peak_gflops(threads)
        for shape in shapes:
            n, c, h, w, k, r, s, p = shape
            flop = 2.0 * n * k * out_size(h, r, s, p) * out_size(w, r, s, p) * c * r * r
            t = interleaved(pass_fns(shape), repeat=args.repeat)
            row = {"shape": list(shape), "threads": threads, "peak_gflops": round(peak, 1)}
            for ps in PASSES:
                for lib in ("gradcore", "gemm", "torch"):
                    sec = t.get(f"{lib}_{ps}")
                    if sec is None:
                        continue
                    row[f"{lib}_{ps}_ms"] = round(sec * 1e3, 3)
                    row[f"{lib}_{ps}_pct_peak"] = round(100 * flop / sec / 1e9 / peak, 1)
                gc_ms, th_ms = row[f"gradcore_{ps}_ms"], row.get(f"torch_{ps}_ms")
                if th_ms is not None:
                    row[f"{ps}_ratio"] = round(th_ms / gc_ms, 3)
                gemm_ms = row.get(f"gemm_{ps}_ms")
                if gemm_ms is not None:
                    row[f"{ps}_gemm_over_default"] = round(gemm_ms / gc_ms, 3)
                print(
                    f"{str(shape):32} {threads:3d} {ps:4} | {gc_ms:7.2f} "
                    f"{row[f'gradcore_{ps}_pct_peak']:6.1f} | "
                    + (
                        f"{th_ms:8.2f} {row[f'torch_{ps}_pct_peak']:6.1f} | {th_ms / gc_ms:8.2f}"
                        if th_ms is not None
                        else "(no torch)"
                    )
                    + (f" | gemm {gemm_ms:7.2f}" if gemm_ms is not None else "")
                )
            if torch is not None:
                th_fb = sum(row[f"torch_{ps}_ms"] for ps in PASSES)
                gc_fb = sum(row[f"gradcore_{ps}_ms"] for ps in PASSES)
                row["fb_ratio"] = round(th_fb / gc_fb, 3)
                at_peak_ms = 3 * flop / (peak * 1e9) * 1e3
                row["fb_ratio_ceiling"] = round(th_fb / at_peak_ms, 3)
                print(
                    f"{'':32} {threads:3d} f+b  | torch/gc {row['fb_ratio']:.2f}; "
                    f"a run at 100% of the peak would be {row['fb_ratio_ceiling']:.2f}x torch"
                )
            results.append(row)
    write_json(args.json, {"machine": machine_info(), "results": results})


if __name__ == "__main__":
    main()
