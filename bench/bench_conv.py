"""conv2d throughput: gradcore vs PyTorch CPU vs a plain numpy im2col+BLAS reference.

    python bench/bench_conv.py [--quick] [--json PATH] [--threads 1,2] [--no-numpy]
                               [--capability avx2_fma,avx512] [--amp]

For each shape (N, C, H, W, K, kernel, stride, pad) and thread count, times (interleaved,
median of several rounds) the forward pass and forward+backward (input, weight and bias
gradients), and reports ms, GFLOP/s and the ratio of PyTorch's time to gradcore's
(> 1: gradcore is faster). FLOPs: forward 2*N*K*OH*OW*C*R*S; backward twice that.
--capability times several CPU paths in the same rounds (gradcore._C.set_cpu_capability
before each call): one row per shape, threads and path, its "path" saying which; rows of a
path after the first carry "ratio_vs_<first path>" (> 1: faster), paired in the same rounds.
--amp adds, in the same rounds, gradcore's bfloat16 convolutions (what autocast runs, less its
rounding passes: conv2d_*_bf16 on bit patterns, or the float32 kernels on the rounded values
where _C.conv_bf16_native says autocast takes them) as "gradcore_bf16" and PyTorch's convolution on
bfloat16 tensors (what its CPU autocast runs) as "torch_bf16"; rows gain bf16_*_vs_own_f32
(gradcore float32 time / bf16 time) and bf16_*_vs_torch_bf16 (PyTorch bf16 time / gradcore
bf16 time), > 1: gradcore's bf16 is faster.
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

SHAPES = [  # N, C, H, W, K, kernel, stride, pad
    (64, 1, 28, 28, 32, 3, 1, 1),
    (64, 32, 14, 14, 64, 3, 1, 1),
    (128, 64, 32, 32, 64, 3, 1, 1),
    (128, 128, 16, 16, 128, 3, 1, 1),
    (128, 64, 32, 32, 128, 1, 1, 0),
    (32, 3, 224, 224, 64, 7, 2, 3),
]
QUICK_SHAPES = [SHAPES[0], SHAPES[1], SHAPES[3], SHAPES[4]]


def out_size(h, k, s, p):
    return (h + 2 * p - k) // s + 1


# ---- numpy reference: im2col as a strided view + one BLAS GEMM over the whole batch ----


def np_im2col(x, k, s, p):
    n, c = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    oh, ow = win.shape[2:4]
    return win.transpose(1, 4, 5, 0, 2, 3).reshape(c * k * k, n * oh * ow), oh, ow


def np_forward(x, w, b, k, s, p):
    cols, oh, ow = np_im2col(x, k, s, p)
    kk = w.shape[0]
    y = (w.reshape(kk, -1) @ cols).reshape(kk, x.shape[0], oh, ow).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(y) + b[None, :, None, None]


def np_forward_backward(x, w, b, dy, k, s, p):
    n, c, h, wd = x.shape
    kk = w.shape[0]
    cols, oh, ow = np_im2col(x, k, s, p)
    w2 = w.reshape(kk, -1)
    y = np.ascontiguousarray((w2 @ cols).reshape(kk, n, oh, ow).transpose(1, 0, 2, 3))
    y += b[None, :, None, None]
    dy2 = dy.transpose(1, 0, 2, 3).reshape(kk, -1)
    dw = (dy2 @ cols.T).reshape(w.shape)
    db = dy.sum(axis=(0, 2, 3))
    dcols = (w2.T @ dy2).reshape(c, k, k, n, oh, ow)
    dxp = np.zeros((n, c, h + 2 * p, wd + 2 * p), x.dtype)
    for r in range(k):
        for q in range(k):
            dxp[:, :, r : r + s * oh : s, q : q + s * ow : s] += dcols[:, r, q].transpose(
                1, 0, 2, 3
            )
    return y, dxp[:, :, p : p + h, p : p + wd], dw, db


def _key(path: str) -> str:
    return f"gradcore[{path}]" if path else "gradcore[]"


def _as_gradcore(times: dict, me: str, paths: list) -> dict:
    """The timings with this path's entry named "gradcore" and the other paths left out."""
    out = {"gradcore": times[me]}
    out.update({k: v for k, v in times.items() if not k.startswith("gradcore[")})
    return out


def add_bf16(fwd, fb, x, w, b, dy, kern, st, pd, h, w_, k) -> None:
    """The --amp entries: what gradcore's autocast runs for this layer (the bfloat16 kernels on
    bit patterns where _C.conv_bf16_native says so, else the float32 kernels on the rounded
    values), PyTorch on bfloat16 tensors (bias float32 in gradcore, bfloat16 in PyTorch, as each
    one's autocast has it)."""
    xb, wb, dyb = (_C.float_to_bfloat16(a) for a in (x, w, dy))
    if _C.conv_bf16_native(x.shape, w.shape, 1, st, pd):
        forward, input_grad = _C.conv2d_forward_bf16, _C.conv2d_backward_input_bf16
        weight_grad, bias_grad = _C.conv2d_backward_weight_bf16, _C.conv2d_backward_bias_bf16
    else:
        xb, wb, dyb = (_C.bfloat16_to_float(a) for a in (xb, wb, dyb))
        forward, input_grad = _C.conv2d_forward, _C.conv2d_backward_input
        weight_grad, bias_grad = _C.conv2d_backward_weight, _C.conv2d_backward_bias

    def g_fwd():
        return forward(xb, wb, b, st, pd)

    def g_fb():
        y = forward(xb, wb, b, st, pd)
        dx = input_grad(dyb, wb, (h, w_), st, pd)
        dw = weight_grad(dyb, xb, (kern, kern), st, pd)
        return y, dx, dw, bias_grad(dyb)

    fwd["gradcore_bf16"], fb["gradcore_bf16"] = g_fwd, g_fb
    if torch is None:
        return
    tensors = (torch.from_numpy(a).to(torch.bfloat16) for a in (x, w, b, dy))
    fwd["torch_bf16"], fb["torch_bf16"] = torch_passes(*tensors, st, pd, k)


def torch_passes(tx, tw, tb, tdy, st, pd, k):
    """PyTorch's forward and forward + backward (input, weight and bias gradients) on these
    tensors, as two timing closures."""

    def t_fwd():
        with torch.no_grad():
            return torch.nn.functional.conv2d(tx, tw, tb, st, pd)

    def t_fb():
        with torch.no_grad():
            y = torch.ops.aten.convolution(tx, tw, tb, list(st), list(pd), [1, 1], False, [0, 0], 1)
            g = torch.ops.aten.convolution_backward(
                tdy, tx, tw, [k], list(st), list(pd), [1, 1], False, [0, 0], 1, [True] * 3
            )
        return y, g

    return t_fwd, t_fb


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer shapes and repeats")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "conv.json"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--no-numpy", action="store_true", help="skip the (slow) numpy reference")
    ap.add_argument("--shapes", default="", help="indices into the shape list, e.g. 0,2")
    ap.add_argument(
        "--capability", default="", help="CPU paths to time side by side, e.g. avx2_fma,avx512"
    )
    ap.add_argument("--amp", action="store_true", help="add bfloat16 columns (gradcore, torch)")
    args = ap.parse_args(argv)
    # "": the path the import selected (no switching; also runs against older builds)
    paths = args.capability.split(",") if args.capability else [""]
    shapes = QUICK_SHAPES if args.quick else SHAPES
    if args.shapes:
        shapes = [SHAPES[int(i)] for i in args.shapes.split(",")]
    repeat = 3 if args.quick else 5
    min_time = 0.05 if args.quick else 0.2
    rng = np.random.default_rng(0)
    rows = []
    print(
        f"{'shape (N,C,H,W,K,k,s,p)':32} thr {'path':9} | {'fwd ms':>8} {'GF/s':>6} {'torch':>8} {'x':>5}"
        f" | {'f+b ms':>8} {'GF/s':>6} {'torch':>8} {'x':>5} | {'numpy f+b':>9}"
    )
    for threads in [int(t) for t in args.threads.split(",")]:
        gradcore.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        numpy_threads = set_numpy_threads(threads)
        for shape in shapes:
            n, c, h, w_, k, kern, s, p = shape
            oh, ow = out_size(h, kern, s, p), out_size(w_, kern, s, p)
            x = rng.standard_normal((n, c, h, w_), dtype=np.float32)
            w = rng.standard_normal((k, c, kern, kern), dtype=np.float32) * 0.1
            b = rng.standard_normal(k, dtype=np.float32)
            dy = rng.standard_normal((n, k, oh, ow), dtype=np.float32)
            st, pd = (s, s), (p, p)

            def gc_fwd(path, x=x, w=w, b=b, st=st, pd=pd):
                if path:
                    _C.set_cpu_capability(path)
                return _C.conv2d_forward(x, w, b, st, pd)

            def gc_fb(path, x=x, w=w, b=b, dy=dy, st=st, pd=pd, kern=kern, h=h, w_=w_):
                if path:
                    _C.set_cpu_capability(path)
                y = _C.conv2d_forward(x, w, b, st, pd)
                dx = _C.conv2d_backward_input(dy, w, (h, w_), st, pd)
                dw = _C.conv2d_backward_weight(dy, x, (kern, kern), st, pd)
                return y, dx, dw, _C.conv2d_backward_bias(dy)

            fwd = {_key(p): (lambda p=p: gc_fwd(p)) for p in paths}
            fb = {_key(p): (lambda p=p: gc_fb(p)) for p in paths}
            if torch is not None:
                tensors = (torch.from_numpy(a) for a in (x, w, b, dy))
                fwd["torch"], fb["torch"] = torch_passes(*tensors, st, pd, k)
            if args.amp:
                add_bf16(fwd, fb, x, w, b, dy, kern, st, pd, h, w_, k)
            if not args.no_numpy:
                fb["numpy"] = lambda x=x, w=w, b=b, dy=dy, kern=kern, s=s, p=p: np_forward_backward(
                    x, w, b, dy, kern, s, p
                )
            tf = interleaved(fwd, repeat, min_time)
            tfb = interleaved(fb, max(2, repeat - 2) if "numpy" in fb else repeat, min_time)
            flops = 2.0 * n * k * oh * ow * c * kern * kern
            for path in paths:
                me = _key(path)
                row = {
                    "shape": dict(N=n, C=c, H=h, W=w_, K=k, kernel=kern, stride=s, pad=p),
                    "threads": threads,
                    "path": path or getattr(_C, "cpu_capability", lambda: "default")(),
                    "numpy_threads_set": numpy_threads,
                    "forward_flops": flops,
                    "forward_s": _as_gradcore(tf, me, paths),
                    "forward_backward_s": _as_gradcore(tfb, me, paths),
                }
                row["forward_gflops"] = {kk: flops / v / 1e9 for kk, v in row["forward_s"].items()}
                row["forward_backward_gflops"] = {
                    kk: 3 * flops / v / 1e9 for kk, v in row["forward_backward_s"].items()
                }
                if "torch" in tf:
                    row["forward_ratio_vs_torch"] = tf["torch"] / tf[me]
                    row["forward_backward_ratio_vs_torch"] = tfb["torch"] / tfb[me]
                if "numpy" in tfb:
                    row["forward_backward_ratio_vs_numpy"] = tfb["numpy"] / tfb[me]
                if "gradcore_bf16" in tf:
                    row["bf16_forward_vs_own_f32"] = tf[me] / tf["gradcore_bf16"]
                    row["bf16_forward_backward_vs_own_f32"] = tfb[me] / tfb["gradcore_bf16"]
                if "torch_bf16" in tf:
                    row["bf16_forward_vs_torch_bf16"] = tf["torch_bf16"] / tf["gradcore_bf16"]
                    row["bf16_forward_backward_vs_torch_bf16"] = (
                        tfb["torch_bf16"] / tfb["gradcore_bf16"]
                    )
                first = _key(paths[0])
                if me != first:
                    row[f"forward_ratio_vs_{paths[0]}"] = tf[first] / tf[me]
                    row[f"forward_backward_ratio_vs_{paths[0]}"] = tfb[first] / tfb[me]
                rows.append(row)
                tt = tf.get("torch", float("nan"))
                tbt = tfb.get("torch", float("nan"))
                print(
                    f"{str(shape):32} {threads:3} {path or '-':9} | {tf[me] * 1e3:8.2f}"
                    f" {row['forward_gflops']['gradcore']:6.1f} {tt * 1e3:8.2f}"
                    f" {tt / tf[me]:5.2f} | {tfb[me] * 1e3:8.2f}"
                    f" {row['forward_backward_gflops']['gradcore']:6.1f} {tbt * 1e3:8.2f}"
                    f" {tbt / tfb[me]:5.2f} | {tfb.get('numpy', float('nan')) * 1e3:9.1f}",
                    flush=True,
                )
                if "gradcore_bf16" in tf:
                    line = f"{'':32} {'':3} {'bf16':9} | {tf['gradcore_bf16'] * 1e3:8.2f}"
                    line += f" x{row['bf16_forward_vs_own_f32']:.2f} own f32"
                    line += f" | {tfb['gradcore_bf16'] * 1e3:8.2f}"
                    line += f" x{row['bf16_forward_backward_vs_own_f32']:.2f} own f32"
                    if "torch_bf16" in tf:
                        line += f" | vs torch bf16: fwd x{row['bf16_forward_vs_torch_bf16']:.2f}"
                        line += f" f+b x{row['bf16_forward_backward_vs_torch_bf16']:.2f}"
                    print(line, flush=True)
    payload = {
        "benchmark": "conv2d",
        "machine": machine_info(),
        "torch": getattr(torch, "__version__", None),
        "gradcore": gradcore.__version__,
        "quick": args.quick,
        "note": "ratios are torch_time / gradcore_time (> 1: gradcore faster), same run",
        "results": rows,
    }
    print("wrote", write_json(args.json, payload))


if __name__ == "__main__":
    main()
