"""2x2 stride-2 pooling throughput: gradcore vs PyTorch CPU vs a plain numpy reference.

    python bench/bench_pool.py [--quick] [--json PATH] [--threads 1,2] [--no-numpy]

For each shape (N, C, H, W) and thread count, times (interleaved, median of several rounds)
max_pool2d forward, max_pool2d forward+backward, avg_pool2d forward and avg_pool2d
forward+backward (kernel 2, stride 2, no padding), and the CNN block's relu + max pool forward
+backward ("relu_max_fwd_bwd": gradcore's fused max_pool2d_relu kernels, which nn.Sequential
runs, against gradcore's two ops pool-first ("unfused") and PyTorch's relu then pool), and
reports ms, GB/s and the ratio of PyTorch's time to gradcore's (> 1: gradcore is faster).
GB/s counts the bytes each kernel must move: max forward reads x and writes y and the int64
indices; max backward reads dy and the indices and writes dx; the fused pair moves one byte
per output instead of the index; average pooling moves x and y (forward) and dy and dx
(backward).
A "copy" row gives the machine's streaming rate for scale (numpy copy of an x-sized array;
torch's copy_ at the same thread count). The numpy reference is reshape-based: the 2x2
windows as a (N, C, OH, OW, 4) array, argmax/take_along_axis forward and put_along_axis
backward (first maximum, NaN wins, like PyTorch); mean and broadcast for average pooling.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved, machine_info, set_numpy_threads, write_json  # noqa: E402

import gradcore  # noqa: E402
from gradcore import _C  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

SHAPES = [  # N, C, H, W (window 2x2, stride 2)
    (128, 64, 32, 32),
    (64, 32, 28, 28),
    (64, 64, 14, 14),
]
QUICK_SHAPES = SHAPES[:2]
K2 = (2, 2)


# ---- numpy reference ----


def np_windows(x):
    n, c, h, w = x.shape
    oh, ow = h // 2, w // 2
    x6 = x[:, :, : 2 * oh, : 2 * ow].reshape(n, c, oh, 2, ow, 2)
    return x6.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, 4)


def np_max_forward(x):
    win = np_windows(x)
    a = np.argmax(win, axis=-1)[..., None]  # first maximum; NaN counts as the maximum
    return np.take_along_axis(win, a, -1)[..., 0], a


def np_max_forward_backward(x, dy):
    n, c, h, w = x.shape
    y, a = np_max_forward(x)
    dwin = np.zeros(a.shape[:-1] + (4,), x.dtype)
    np.put_along_axis(dwin, a, dy[..., None], -1)
    oh, ow = dy.shape[2:]
    dx = np.zeros_like(x)
    dx[:, :, : 2 * oh, : 2 * ow] = (
        dwin.reshape(n, c, oh, ow, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, 2 * oh, 2 * ow)
    )
    return y, dx


def np_avg_forward(x):
    n, c, h, w = x.shape
    oh, ow = h // 2, w // 2
    return x[:, :, : 2 * oh, : 2 * ow].reshape(n, c, oh, 2, ow, 2).mean(axis=(3, 5))


def np_avg_forward_backward(x, dy):
    n, c, h, w = x.shape
    oh, ow = dy.shape[2:]
    y = np_avg_forward(x)
    dx = np.zeros_like(x)
    g = np.broadcast_to((dy * x.dtype.type(0.25))[:, :, :, None, :, None], (n, c, oh, 2, ow, 2))
    dx[:, :, : 2 * oh, : 2 * ow] = g.reshape(n, c, 2 * oh, 2 * ow)
    return y, dx


# ---- one shape ----


def check_against_numpy(x, dy):
    """The timed gradcore calls agree with the numpy reference (so the bench times real work)."""
    y, idx = _C.max_pool2d_forward(x, K2, K2)
    dx = _C.max_pool2d_backward(dy, idx, x.shape)
    ry, rdx = np_max_forward_backward(x, dy)
    assert np.array_equal(y, ry) and np.array_equal(dx, rdx), "max pool mismatch vs numpy"
    ya = _C.avg_pool2d_forward(x, K2, K2)
    dxa = _C.avg_pool2d_backward(dy, x.shape, K2, K2)
    ra, rda = np_avg_forward_backward(x, dy)
    assert np.allclose(ya, ra, rtol=1e-6, atol=1e-6) and np.allclose(dxa, rda), "avg mismatch"
    yr, cells = _C.max_pool2d_relu_forward(x)
    dxr = _C.max_pool2d_relu_backward(dy, cells, x.shape)
    ry, rdx = np_relu_max_forward_backward(x, dy)
    assert np.array_equal(yr, ry) and np.array_equal(dxr, rdx), "relu + max pool mismatch"


def np_relu_max_forward_backward(x, dy):
    """relu then 2x2 max pool, and the input gradient (numpy)."""
    r = np.maximum(x, 0)
    y, dr = np_max_forward_backward(r, dy)
    return y, dr * (r > 0)


def bench_shape(shape, threads, repeat, min_time, use_numpy, rng):
    n, c, h, w = shape
    oh, ow = h // 2, w // 2
    x = rng.standard_normal(shape, dtype=np.float32)
    dy = rng.standard_normal((n, c, oh, ow), dtype=np.float32)
    check_against_numpy(x, dy)
    xs, ys = 4 * n * c * h * w, 4 * n * c * oh * ow  # bytes of x (dx) and y (dy)
    idx_b = 2 * ys  # int64 indices
    nbytes = {
        "max_fwd": xs + ys + idx_b,
        "max_fwd_bwd": (xs + ys + idx_b) + (ys + idx_b + xs),
        "avg_fwd": xs + ys,
        "avg_fwd_bwd": 2 * (xs + ys),
        "relu_max_fwd_bwd": 2 * (xs + ys + ys // 4),
    }
    shp = x.shape

    def gc_max_fwd():
        return _C.max_pool2d_forward(x, K2, K2)

    def gc_max_fb():
        y, idx = _C.max_pool2d_forward(x, K2, K2)
        return y, _C.max_pool2d_backward(dy, idx, shp)

    def gc_avg_fwd():
        return _C.avg_pool2d_forward(x, K2, K2)

    def gc_avg_fb():
        return _C.avg_pool2d_forward(x, K2, K2), _C.avg_pool2d_backward(dy, shp, K2, K2)

    def gc_relu_max_fb():
        y, cells = _C.max_pool2d_relu_forward(x)
        return y, _C.max_pool2d_relu_backward(dy, cells, shp)

    def gc_relu_max_fb_unfused():  # what Sequential ran before: pool, relu; relu', unpool
        p, idx = _C.max_pool2d_forward(x, K2, K2)
        y = _C.relu_forward(p)
        return y, _C.max_pool2d_backward(_C.relu_backward(dy, y), idx, shp)

    fns = {
        "relu_max_fwd_bwd": {"gradcore": gc_relu_max_fb, "unfused": gc_relu_max_fb_unfused},
        "max_fwd": {"gradcore": gc_max_fwd},
        "max_fwd_bwd": {"gradcore": gc_max_fb},
        "avg_fwd": {"gradcore": gc_avg_fwd},
        "avg_fwd_bwd": {"gradcore": gc_avg_fb},
    }
    if torch is not None:
        tx, tdy = torch.from_numpy(x), torch.from_numpy(dy)
        aten = torch.ops.aten

        def t_max_fwd():
            with torch.no_grad():
                return aten.max_pool2d_with_indices(tx, [2, 2], [2, 2])

        def t_max_fb():
            with torch.no_grad():
                y, idx = aten.max_pool2d_with_indices(tx, [2, 2], [2, 2])
                return y, aten.max_pool2d_with_indices_backward(
                    tdy, tx, [2, 2], [2, 2], [0, 0], [1, 1], False, idx
                )

        def t_avg_fwd():
            with torch.no_grad():
                return aten.avg_pool2d(tx, [2, 2], [2, 2])

        def t_avg_fb():
            with torch.no_grad():
                y = aten.avg_pool2d(tx, [2, 2], [2, 2])
                return y, aten.avg_pool2d_backward(
                    tdy, tx, [2, 2], [2, 2], [0, 0], False, True, None
                )

        def t_relu_max_fb():
            with torch.no_grad():
                r = aten.relu(tx)
                y, idx = aten.max_pool2d_with_indices(r, [2, 2], [2, 2])
                dr = aten.max_pool2d_with_indices_backward(
                    tdy, r, [2, 2], [2, 2], [0, 0], [1, 1], False, idx
                )
                return y, aten.threshold_backward(dr, r, 0)

        fns["relu_max_fwd_bwd"]["torch"] = t_relu_max_fb
        fns["max_fwd"]["torch"] = t_max_fwd
        fns["max_fwd_bwd"]["torch"] = t_max_fb
        fns["avg_fwd"]["torch"] = t_avg_fwd
        fns["avg_fwd_bwd"]["torch"] = t_avg_fb
    if use_numpy:
        fns["max_fwd"]["numpy"] = lambda: np_max_forward(x)
        fns["max_fwd_bwd"]["numpy"] = lambda: np_max_forward_backward(x, dy)
        fns["avg_fwd"]["numpy"] = lambda: np_avg_forward(x)
        fns["avg_fwd_bwd"]["numpy"] = lambda: np_avg_forward_backward(x, dy)
        fns["relu_max_fwd_bwd"]["numpy"] = lambda: np_relu_max_forward_backward(x, dy)
    rows = []
    for op, group in fns.items():
        t = interleaved(group, repeat, min_time)
        row = {
            "shape": dict(N=n, C=c, H=h, W=w),
            "op": op,
            "threads": threads,
            "bytes": nbytes[op],
            "seconds": t,
            "gbps": {k: nbytes[op] / v / 1e9 for k, v in t.items()},
        }
        if "torch" in t:
            row["ratio_vs_torch"] = t["torch"] / t["gradcore"]
        if "numpy" in t:
            row["ratio_vs_numpy"] = t["numpy"] / t["gradcore"]
        if "unfused" in t:
            row["ratio_vs_unfused"] = t["unfused"] / t["gradcore"]
        rows.append(row)
    return rows


def copy_rate(shape, threads, repeat, min_time):
    """Streaming rate (GB/s, read + write) of copying an x-sized float32 array."""
    src = np.ones(shape, np.float32)
    dst = np.empty_like(src)
    fns = {"numpy": lambda: np.copyto(dst, src)}
    if torch is not None:
        ts, td = torch.from_numpy(src), torch.from_numpy(dst)
        fns["torch"] = lambda: td.copy_(ts)
    t = interleaved(fns, repeat, min_time)
    return {k: 2 * src.nbytes / v / 1e9 for k, v in t.items()}


def fmt_row(r):
    t, g = r["seconds"], r["gbps"]
    tt = t.get("torch", float("nan"))
    tn = t.get("numpy", float("nan"))
    s = r["shape"]
    shape = f"({s['N']},{s['C']},{s['H']},{s['W']})"
    return (
        f"{shape:18} {r['op']:12} {r['threads']:3} | {t['gradcore'] * 1e3:8.3f}"
        f" {g['gradcore']:6.1f} | {tt * 1e3:8.3f} {g.get('torch', float('nan')):6.1f}"
        f" {tt / t['gradcore']:6.2f} | {tn * 1e3:8.2f} {tn / t['gradcore']:6.1f}"
        + (
            f" | unfused {t['unfused'] * 1e3:.3f} ms, x{r['ratio_vs_unfused']:.2f}"
            if "unfused" in t
            else ""
        )
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer shapes and repeats")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "pool.json"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--no-numpy", action="store_true", help="skip the (slow) numpy reference")
    ap.add_argument("--shapes", default="", help="indices into the shape list, e.g. 0,2")
    args = ap.parse_args(argv)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    if args.shapes:
        shapes = [SHAPES[int(i)] for i in args.shapes.split(",")]
    repeat = 3 if args.quick else 7
    min_time = 0.05 if args.quick else 0.1
    rng = np.random.default_rng(0)
    rows, copies = [], []
    print(
        f"{'shape':18} {'op':12} thr | {'gc ms':>8} {'GB/s':>6} | {'torch ms':>8} {'GB/s':>6}"
        f" {'x':>6} | {'numpy ms':>8} {'x':>6}"
    )
    for threads in [int(t) for t in args.threads.split(",")]:
        gradcore.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        set_numpy_threads(threads)
        cp = copy_rate(shapes[0], threads, repeat, min_time)
        copies.append({"threads": threads, "shape": shapes[0], "gbps": cp})
        print(
            f"copy {str(shapes[0]):24} {threads:3} | "
            + "  ".join(f"{k} {v:.1f} GB/s" for k, v in cp.items()),
            flush=True,
        )
        for shape in shapes:
            for r in bench_shape(shape, threads, repeat, min_time, not args.no_numpy, rng):
                rows.append(r)
                print(fmt_row(r), flush=True)
    payload = {
        "benchmark": "pool2d",
        "machine": machine_info(),
        "torch": getattr(torch, "__version__", None),
        "gradcore": gradcore.__version__,
        "quick": args.quick,
        "note": "window 2x2 stride 2; ratios are torch_time / gradcore_time (> 1: gradcore "
        "faster), same run; GB/s = bytes each kernel must move / time",
        "copy_gbps": copies,
        "results": rows,
    }
    print("wrote", write_json(args.json, payload))


if __name__ == "__main__":
    main()
