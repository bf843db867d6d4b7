"""Benchmark of the ops kernels: relu, gelu, silu, softmax, cross-entropy (forward and backward)
and the float32 <-> bfloat16 conversions, against PyTorch (when installed) and numpy (ml_dtypes
for bfloat16), timed interleaved in the same run, at 1 and 2 threads. Reports ms per call, GB/s (bytes each kernel must move) and ratios.

    python bench/bench_ops.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved, machine_info, write_json  # noqa: E402

import gradcore  # noqa: E402
from gradcore import _C  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    torch = None
try:
    import ml_dtypes
except ImportError:  # pragma: no cover - the bf16 extra
    ml_dtypes = None

SQRT_2_PI = np.float32(np.sqrt(2.0 / np.pi))


def np_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_ce_fwd_bwd(x, t):
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(s[:, 0])
    loss = np.mean(lse - x[np.arange(len(t)), t])
    g = e / s
    g[np.arange(len(t)), t] -= 1
    return loss, g / len(t)


def cases(quick: bool, rng):
    n = 1 << (20 if quick else 22)
    rows, cols = (1024, 1000) if quick else (4096, 1000)
    x = rng.standard_normal(n).astype(np.float32)
    dy = rng.standard_normal(n).astype(np.float32)
    y = _C.relu_forward(x)
    xs = rng.standard_normal((rows, cols)).astype(np.float32)
    dys = rng.standard_normal((rows, cols)).astype(np.float32)
    ys = _C.softmax_forward(xs)
    tgt = rng.integers(0, cols, rows).astype(np.int64)
    tt = {}
    if torch:
        tt = {
            k: torch.from_numpy(v) for k, v in dict(x=x, dy=dy, y=y, xs=xs, dys=dys, ys=ys).items()
        }
        tt["xr"] = torch.from_numpy(xs.copy()).requires_grad_(True)
        tt["tgt"] = torch.from_numpy(tgt)
    out = []

    def add(name, nbytes, gc, npf, tf=None):
        out.append((name, nbytes, gc, npf, tf))

    add(
        "relu_forward",
        8 * n,
        lambda: _C.relu_forward(x),
        lambda: np.maximum(x, 0),
        (lambda: torch.relu(tt["x"])) if torch else None,
    )
    add(
        "relu_backward",
        12 * n,
        lambda: _C.relu_backward(dy, y),
        lambda: np.where(y > 0, dy, 0),
        (lambda: torch.ops.aten.threshold_backward(tt["dy"], tt["y"], 0)) if torch else None,
    )
    add(
        "gelu_forward",
        8 * n,
        lambda: _C.gelu_forward(x),
        lambda: 0.5 * x * (1 + np.tanh(SQRT_2_PI * (x + 0.044715 * x**3))),  # numpy has no erf
        (lambda: F.gelu(tt["x"])) if torch else None,
    )
    add(
        "gelu_backward",
        12 * n,
        lambda: _C.gelu_backward(dy, x),
        None,
        (lambda: torch.ops.aten.gelu_backward(tt["dy"], tt["x"])) if torch else None,
    )
    add(
        "silu_forward",
        8 * n,
        lambda: _C.silu_forward(x),
        lambda: x / (1 + np.exp(-x)),
        (lambda: F.silu(tt["x"])) if torch else None,
    )
    add(
        "silu_backward",
        12 * n,
        lambda: _C.silu_backward(dy, x),
        None,
        (lambda: torch.ops.aten.silu_backward(tt["dy"], tt["x"])) if torch else None,
    )
    add(
        "softmax_forward",
        8 * rows * cols,
        lambda: _C.softmax_forward(xs),
        lambda: np_softmax(xs),
        (lambda: torch.softmax(tt["xs"], -1)) if torch else None,
    )
    add(
        "softmax_backward",
        12 * rows * cols,
        lambda: _C.softmax_backward(dys, ys),
        lambda: ys * (dys - (dys * ys).sum(axis=1, keepdims=True)),
        (lambda: torch._softmax_backward_data(tt["dys"], tt["ys"], -1, torch.float32))
        if torch
        else None,
    )

    def gc_ce():
        loss, lse = _C.cross_entropy_forward(xs, tgt, None, -100, 0.0, "mean")
        return _C.cross_entropy_backward(np.ones((), np.float32), xs, tgt, lse, None, -100, 0.0)

    def torch_ce():
        tt["xr"].grad = None
        F.cross_entropy(tt["xr"], tt["tgt"]).backward()

    add(
        "cross_entropy_fwd_bwd",
        12 * rows * cols,
        gc_ce,
        lambda: np_ce_fwd_bwd(xs, tgt),
        torch_ce if torch else None,
    )
    # float32 <-> bfloat16 (gradcore.bfloat16 storage); numpy's side is ml_dtypes' cast
    xb = _C.float_to_bfloat16(x)
    add(
        "float_to_bfloat16",
        6 * n,
        lambda: _C.float_to_bfloat16(x),
        (lambda: x.astype(ml_dtypes.bfloat16)) if ml_dtypes else None,
        (lambda: tt["x"].to(torch.bfloat16)) if torch else None,
    )
    tb = tt["x"].to(torch.bfloat16) if torch else None
    add(
        "bfloat16_to_float",
        6 * n,
        lambda: _C.bfloat16_to_float(xb),
        (lambda: xb.view(ml_dtypes.bfloat16).astype(np.float32)) if ml_dtypes else None,
        (lambda: tb.float()) if torch else None,
    )
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    p.add_argument("--json", default=str(Path(__file__).parent / "results" / "ops.json"))
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    repeat = 3 if args.quick else 7
    results = []
    hdr = f"{'op':24s} {'thr':>3s} {'gc ms':>8s} {'GB/s':>6s} {'torch ms':>9s} {'np ms':>8s}"
    print(hdr + f" {'gc/torch':>8s} {'gc/np':>6s}")
    for name, nbytes, gc, npf, tf in cases(args.quick, rng):
        for threads in (1, 2):
            gradcore.set_num_threads(threads)
            if torch:
                torch.set_num_threads(threads)
            fns = {"gradcore": gc}
            if tf:
                fns["torch"] = tf
            if npf and threads == 1:  # numpy elementwise is single-threaded
                fns["numpy"] = npf
            t = interleaved(fns, repeat=repeat, min_time=0.05)
            row = {
                "op": name,
                "threads": threads,
                "bytes": nbytes,
                "gradcore_s": t["gradcore"],
                "gradcore_gbps": nbytes / t["gradcore"] / 1e9,
                "torch_s": t.get("torch"),
                "numpy_s": t.get("numpy"),
            }
            row["torch_over_gradcore"] = t["torch"] / t["gradcore"] if "torch" in t else None
            row["numpy_over_gradcore"] = t["numpy"] / t["gradcore"] if "numpy" in t else None
            results.append(row)

            def ms(v):
                return f"{v * 1e3:8.3f}" if v else f"{'-':>8s}"

            rt = f"{t['gradcore'] / t['torch']:8.2f}" if "torch" in t else f"{'-':>8s}"
            rn = f"{t['gradcore'] / t['numpy']:6.2f}" if "numpy" in t else f"{'-':>6s}"
            print(
                f"{name:24s} {threads:3d} {ms(t['gradcore'])} {row['gradcore_gbps']:6.1f} "
                f"{ms(t.get('torch')):>9s} {ms(t.get('numpy'))} {rt} {rn}"
            )
    path = write_json(
        args.json,
        {
            "bench": "ops",
            "quick": args.quick,
            "machine": machine_info(),
            "note": "*_over_gradcore > 1 means gradcore is faster",
            "results": results,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
