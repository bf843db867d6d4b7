"""conv_transpose2d throughput on decoder shapes: gradcore vs PyTorch CPU, paired.

    python bench/bench_conv_transpose.py [--quick] [--json PATH] [--threads 1,2]

For each shape (N, C_in, H, W, C_out, kernel, stride, pad, output_pad) and thread count,
times (interleaved rounds) the forward pass under no_grad and forward+backward through
autograd (input, weight and bias gradients), both from the Python API
(gradcore.nn.functional.conv_transpose2d vs torch.nn.functional.conv_transpose2d), and
reports ms, GFLOP/s and the paired ratio of PyTorch's time to gradcore's (median over
rounds of the per-round ratio; > 1: gradcore is faster).
FLOPs: forward 2*N*C_in*H*W*C_out*k*k (every input pixel meets every kernel tap of every
output channel); backward twice that.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved_samples, machine_info, medians, paired_ratio, write_json  # noqa: E402

import gradcore  # noqa: E402
from gradcore.nn import functional as F  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

SHAPES = [  # N, C_in, H, W, C_out, kernel, stride, pad, output_pad
    (32, 128, 8, 8, 64, 4, 2, 1, 0),  # DCGAN-style 8x8 -> 16x16
    (32, 64, 16, 16, 32, 3, 2, 1, 1),  # U-Net-style 16x16 -> 32x32
    (64, 32, 14, 14, 1, 4, 2, 1, 0),  # MNIST decoder output 14x14 -> 28x28
]
QUICK_SHAPES = SHAPES[:2]


def out_size(h, k, s, p, op):
    return (h - 1) * s - 2 * p + (k - 1) + op + 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer shapes and repeats")
    ap.add_argument(
        "--json", default=str(Path(__file__).parent / "results" / "conv_transpose.json")
    )
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args(argv)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    repeat = 3 if args.quick else 7
    min_time = 0.05 if args.quick else 0.2
    rng = np.random.default_rng(0)
    rows = []
    print(
        f"{'shape (N,Ci,H,W,Co,k,s,p,op)':34} thr | {'fwd ms':>8} {'GF/s':>6} {'torch':>8}"
        f" {'x':>5} | {'f+b ms':>8} {'GF/s':>6} {'torch':>8} {'x':>5}"
    )
    for threads in [int(t) for t in args.threads.split(",")]:
        gradcore.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        for shape in shapes:
            n, ci, h, w_, co, k, s, p, op = shape
            oh, ow = out_size(h, k, s, p, op), out_size(w_, k, s, p, op)
            x = rng.standard_normal((n, ci, h, w_), dtype=np.float32)
            w = rng.standard_normal((ci, co, k, k), dtype=np.float32) * 0.1
            b = rng.standard_normal(co, dtype=np.float32)
            dy = rng.standard_normal((n, co, oh, ow), dtype=np.float32)
            gx, gw, gb = (gradcore.tensor(a, requires_grad=True) for a in (x, w, b))
            gdy = gradcore.tensor(dy)

            def gc_fwd(gx=gx, gw=gw, gb=gb, s=s, p=p, op=op):
                with gradcore.no_grad():
                    return F.conv_transpose2d(gx, gw, gb, s, p, op)

            def gc_fb(gx=gx, gw=gw, gb=gb, gdy=gdy, s=s, p=p, op=op):
                gx.grad = gw.grad = gb.grad = None
                F.conv_transpose2d(gx, gw, gb, s, p, op).backward(gdy)

            fwd = {"gradcore": gc_fwd}
            fb = {"gradcore": gc_fb}
            if torch is not None:
                tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
                tdy = torch.from_numpy(dy)

                def t_fwd(tx=tx, tw=tw, tb=tb, s=s, p=p, op=op):
                    with torch.no_grad():
                        return torch.nn.functional.conv_transpose2d(tx, tw, tb, s, p, op)

                def t_fb(tx=tx, tw=tw, tb=tb, tdy=tdy, s=s, p=p, op=op):
                    tx.grad = tw.grad = tb.grad = None
                    torch.nn.functional.conv_transpose2d(tx, tw, tb, s, p, op).backward(tdy)

                fwd["torch"] = t_fwd
                fb["torch"] = t_fb
            sf = interleaved_samples(fwd, repeat, min_time)
            sfb = interleaved_samples(fb, repeat, min_time)
            tf, tfb = medians(sf), medians(sfb)
            flops = 2.0 * n * ci * h * w_ * co * k * k
            row = {
                "shape": dict(
                    N=n, C_in=ci, H=h, W=w_, C_out=co, kernel=k, stride=s, pad=p, output_pad=op
                ),  # fmt: skip
                "threads": threads,
                "forward_flops": flops,
                "forward_s": tf,
                "forward_backward_s": tfb,
                "forward_gflops": {kk: flops / v / 1e9 for kk, v in tf.items()},
                "forward_backward_gflops": {kk: 3 * flops / v / 1e9 for kk, v in tfb.items()},
            }
            fr = fbr = float("nan")
            if "torch" in tf:
                fr = row["forward_ratio_vs_torch"] = paired_ratio(sf, "torch", "gradcore")
                fbr = row["forward_backward_ratio_vs_torch"] = paired_ratio(
                    sfb, "torch", "gradcore"
                )
            rows.append(row)
            print(
                f"{str(shape):34} {threads:3} | {tf['gradcore'] * 1e3:8.2f}"
                f" {row['forward_gflops']['gradcore']:6.1f}"
                f" {tf.get('torch', float('nan')) * 1e3:8.2f} {fr:5.2f}"
                f" | {tfb['gradcore'] * 1e3:8.2f}"
                f" {row['forward_backward_gflops']['gradcore']:6.1f}"
                f" {tfb.get('torch', float('nan')) * 1e3:8.2f} {fbr:5.2f}",
                flush=True,
            )
    payload = {
        "benchmark": "conv_transpose2d",
        "machine": machine_info(),
        "torch": getattr(torch, "__version__", None),
        "gradcore": gradcore.__version__,
        "quick": args.quick,
        "note": "ratios are paired medians of torch_time / gradcore_time (> 1: gradcore "
        "faster), same run, Python API with autograd for forward+backward",
        "results": rows,
    }
    print("wrote", write_json(args.json, payload))


if __name__ == "__main__":
    main()
