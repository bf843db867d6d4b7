"""Per-op Python overhead of gradcore vs PyTorch (same run, interleaved, 1 thread).

Cases: a 1-element add; a 1x1x4x4 conv (3x3, pad 1); a tiny graph forward+backward
(x 4x8 and w 8x8 both requiring grad: matmul, relu, sum, backward); and each op that once
had a hand-written fast path (add, mul, full sum, 2-d matmul, conv2d, relu) alone, with
inputs that need no grad ("_nograd") and inputs that require grad ("_grad": the graph node
is recorded, no backward). At these sizes the kernels cost almost nothing, so the times
measure the framework's own per-op overhead.

    python bench/bench_overhead.py [--quick] [--stat median|min] [--json PATH]

--stat min reports each case's fastest round instead of the median: on a shared VM, whose
speed drifts by up to 30% within minutes, the minimum is the steadier estimate of what the
code itself costs (bench_ab.py then pairs the minima of two builds round by round).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import interleaved_samples, machine_info, write_json  # noqa: E402

import gradcore as gc  # noqa: E402
import gradcore.nn.functional as F  # noqa: E402

TARGETS = {"add_1elem": 1.5, "conv_1x1x4x4": 1.5, "tiny_graph_fwd_bwd": 0.5}
SINGLE_OPS = ("add", "mul", "sum", "matmul", "conv2d", "relu")
TARGETS.update({f"{op}_{mode}": 1.5 for op in SINGLE_OPS for mode in ("nograd", "grad")})


def single_op_cases(torch, rng) -> dict:
    """{name: {"gradcore": fn, "torch": fn}} for each op of SINGLE_OPS, without and with
    inputs that require grad (4x8 @ 8x8 matmul, 1x1x4x4 conv with a 3x3 kernel, 4x8 else)."""
    shapes = {"x": (4, 8), "w": (8, 8), "img": (1, 1, 4, 4), "k": (1, 1, 3, 3)}
    arrays = {k: rng.standard_normal(v).astype(np.float32) for k, v in shapes.items()}
    out = {}
    for mode in ("nograd", "grad"):
        grad = mode == "grad"
        t = {k: gc.tensor(v.copy(), requires_grad=grad) for k, v in arrays.items()}
        fns = {
            "add": lambda t=t: t["x"] + t["x"],
            "mul": lambda t=t: t["x"] * t["x"],
            "sum": lambda t=t: t["x"].sum(),
            "matmul": lambda t=t: t["x"] @ t["w"],
            "conv2d": lambda t=t: F.conv2d(t["img"], t["k"], None, 1, 1),
            "relu": lambda t=t: F.relu(t["x"]),
        }
        for op in SINGLE_OPS:
            out[f"{op}_{mode}"] = {"gradcore": fns[op]}
        if torch is not None:
            tt = {k: torch.from_numpy(v.copy()).requires_grad_(grad) for k, v in arrays.items()}
            tfns = {
                "add": lambda tt=tt: tt["x"] + tt["x"],
                "mul": lambda tt=tt: tt["x"] * tt["x"],
                "sum": lambda tt=tt: tt["x"].sum(),
                "matmul": lambda tt=tt: tt["x"] @ tt["w"],
                "conv2d": lambda tt=tt: torch.nn.functional.conv2d(tt["img"], tt["k"], None, 1, 1),
                "relu": lambda tt=tt: torch.relu(tt["x"]),
            }
            for op in SINGLE_OPS:
                out[f"{op}_{mode}"]["torch"] = tfns[op]
    return out


def cases(torch):
    rng = np.random.default_rng(0)
    out = {}
    # 1-element add
    a, b = gc.tensor(np.ones(1, np.float32)), gc.tensor(np.full(1, 2.0, np.float32))
    out["add_1elem"] = {"gradcore": lambda: a + b}
    # 1x1x4x4 conv, 3x3 kernel, padding 1
    x = gc.tensor(rng.standard_normal((1, 1, 4, 4)).astype(np.float32))
    w = gc.tensor(rng.standard_normal((1, 1, 3, 3)).astype(np.float32))
    out["conv_1x1x4x4"] = {"gradcore": lambda: F.conv2d(x, w, None, 1, 1)}
    # tiny graph fwd+bwd
    xg = gc.tensor(rng.standard_normal((4, 8)).astype(np.float32), requires_grad=True)
    wg = gc.tensor(rng.standard_normal((8, 8)).astype(np.float32), requires_grad=True)

    def tiny():
        F.relu(xg @ wg).sum().backward()

    out["tiny_graph_fwd_bwd"] = {"gradcore": tiny}
    if torch is not None:
        ta, tb = torch.from_numpy(a.numpy()), torch.from_numpy(b.numpy())
        out["add_1elem"]["torch"] = lambda: ta + tb
        tx, tw = torch.from_numpy(x.numpy()), torch.from_numpy(w.numpy())
        out["conv_1x1x4x4"]["torch"] = lambda: torch.nn.functional.conv2d(tx, tw, None, 1, 1)
        txg = torch.from_numpy(xg.numpy().copy()).requires_grad_()
        twg = torch.from_numpy(wg.numpy().copy()).requires_grad_()

        def ttiny():
            torch.relu(txg @ twg).sum().backward()

        out["tiny_graph_fwd_bwd"]["torch"] = ttiny
    out.update(single_op_cases(torch, rng))
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--stat", choices=("median", "min"), default="median")
    ap.add_argument(
        "--json", default=os.path.join(os.path.dirname(__file__), "results", "overhead.json")
    )
    args = ap.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        torch = None
    gc.set_num_threads(1)
    repeat, min_time = (5, 0.05) if args.quick else (11, 0.2)
    rows = []
    print(f"{'case':<22}{'gradcore us':>13}{'torch us':>11}{'ratio':>8}{'target':>8}  ok")
    for name, fns in cases(torch).items():
        samples = interleaved_samples(fns, repeat=repeat, min_time=min_time)
        t = {
            k: (min(v) if args.stat == "min" else statistics.median(v)) for k, v in samples.items()
        }
        g_us = t["gradcore"] * 1e6
        t_us = t["torch"] * 1e6 if "torch" in t else None
        ratio = g_us / t_us if t_us else None
        ok = ratio is not None and ratio <= TARGETS[name]
        rows.append(
            {
                "case": name,
                "gradcore_us": round(g_us, 3),
                "torch_us": None if t_us is None else round(t_us, 3),
                "ratio_vs_torch": None if ratio is None else round(ratio, 3),
                "target_ratio": TARGETS[name],
                "meets_target": ok,
            }
        )
        ts = f"{t_us:11.2f}" if t_us else f"{'-':>11}"
        rs = f"{ratio:8.2f}" if ratio else f"{'-':>8}"
        print(f"{name:<22}{g_us:13.2f}{ts}{rs}{TARGETS[name]:8.2f}  {'yes' if ok else 'NO'}")
    payload = {
        "benchmark": "overhead",
        "threads": 1,
        "stat": args.stat,
        "torch_version": None if torch is None else torch.__version__,
        "machine": machine_info(),
        "results": rows,
    }
    path = write_json(args.json, payload)
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
