"""GEMM throughput: gradcore._C.gemm vs numpy's `@` (its BLAS, OpenBLAS in the wheels), and
PyTorch when installed, timed interleaved in the same process.

    python bench/bench_gemm.py [--quick] [--json PATH] [--threads 1,2]
                               [--capability avx2_fma,avx512]

Shapes: square 64..2048 and the im2col GEMMs of a small CNN's convolutions, C = W (M x K)
@ cols (K x N), none transposed. For each thread count the script re-runs itself in a
subprocess with OMP_NUM_THREADS / OPENBLAS_NUM_THREADS set (so numpy's BLAS and gradcore
use the same number of threads), times every library round-robin per shape (9 rounds, the
order reversed every other round) and reports GFLOP/s (median over the rounds), the ratio
numpy_time / gradcore_time (> 1: gradcore is faster; the median of the per-round ratios, each
round's times taken seconds apart under the same load; the ratio of the two medians is in
the JSON as ratio_of_medians_vs_numpy) and the fraction of the machine's peak (cores x fp32
FLOP/cycle of the CPU path in use x clock). --capability times several CPU paths in the same
rounds (gradcore._C.set_cpu_capability whenever the path changes: it costs ~0.4 us, which had
made small products look 10% slower; default: the path the import selects,
e.g. GRADCORE_CPU_CAPABILITY=generic for the portable one): one row per shape and path, its
"path" column saying which, and for each path after the first a paired ratio against the first
("ratio_vs_<first path>", > 1: faster).

--dtype bfloat16 times gradcore's bfloat16 GEMM (_C.gemm_bf16: bfloat16 operands, float32
accumulation and output; vdpbf16ps where the CPU has AVX512_BF16 and the avx512 path runs)
against gradcore's own float32 GEMM on the same values ("ratio_vs_gradcore_f32", the issue's
>= 1.6x target), numpy's float32 `@` and PyTorch's bfloat16 matmul (bfloat16 output), all in the
same rounds; the error column compares with float64 on the bfloat16 values.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    interleaved_samples,
    machine_info,
    machine_peak_gflops,
    medians,
    paired_ratio,
    write_json,
)

SQUARE = [64, 128, 256, 512, 768, 1024, 1536, 2048]
QUICK_SQUARE = [128, 512, 1024]
CONV = [  # (M, K, N): output channels, C*R*S, batch*OH*OW (or OH*OW per image)
    (32, 9, 784),
    (64, 288, 196),
    (32, 9, 50176),
    (64, 576, 3136),
    (128, 1152, 196),
    (64, 288, 12544),
    (96, 363, 3025),  # 11x11 filters on 3 channels, 55x55 output: odd K and N
    (64, 64, 12544),  # 1x1 convolution
]


def shapes(quick: bool):
    out = [("square", s, s, s) for s in (QUICK_SQUARE if quick else SQUARE)]
    out += [("conv", m, k, n) for m, k, n in CONV]
    return out


def worker(threads: int, quick: bool, dtype: str, paths: list) -> list:
    """Times every shape at `threads` threads on each CPU path in `paths` (empty: the selected
    one), numpy and PyTorch round-robin; returns one row per shape and path."""
    import gradcore
    from gradcore import _C

    try:
        import torch
    except ImportError:  # pragma: no cover - optional
        torch = None
    gradcore.set_num_threads(threads)
    try:
        from common import set_numpy_threads

        set_numpy_threads(threads)
    except ImportError:  # pragma: no cover
        pass
    if torch is not None:
        torch.set_num_threads(threads)
    paths = paths or [_C.cpu_capability()]

    selected = [None]  # the path last set: a switch costs ~0.4 us, 6% of a 6 us product

    def select(path: str) -> None:
        if selected[0] != path:
            _C.set_cpu_capability(path)
            selected[0] = path

    def on_path(path: str, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
        select(path)
        _C.gemm(a, b, c)

    def on_path_bf16(path: str, a16: np.ndarray, b16: np.ndarray, c: np.ndarray) -> None:
        select(path)
        c[...] = _C.gemm_bf16(a16, b16)

    bf16 = dtype == "bfloat16"
    rng = np.random.default_rng(0)
    dt = np.dtype(np.float32 if bf16 else dtype)
    rows = []
    for kind, M, K, N in shapes(quick):
        a = rng.standard_normal((M, K)).astype(dt)
        b = rng.standard_normal((K, N)).astype(dt)
        outs = {path: np.empty((M, N), dt) for path in paths}
        c_np = np.empty((M, N), dt)
        if bf16:  # the operands rounded to bfloat16; the float32 runs use the same values
            a16, b16 = _C.float_to_bfloat16(a), _C.float_to_bfloat16(b)
            a, b = _C.bfloat16_to_float(a16), _C.bfloat16_to_float(b16)
            fns = {
                f"gradcore[{path}]": lambda path=path, x=a16, y=b16, c=outs[path]: on_path_bf16(
                    path, x, y, c
                )
                for path in paths
            }
            c_f32 = np.empty((M, N), dt)
            fns["gradcore_f32"] = lambda a=a, b=b, c=c_f32: on_path(paths[0], a, b, c)
        else:
            fns = {
                f"gradcore[{path}]": lambda path=path, a=a, b=b, c=outs[path]: on_path(
                    path, a, b, c
                )
                for path in paths
            }
        fns["numpy"] = lambda a=a, b=b, c=c_np: np.matmul(a, b, out=c)
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            if bf16:
                ta, tb = ta.bfloat16(), tb.bfloat16()
                tc = torch.empty((M, N), dtype=torch.bfloat16)
            else:
                tc = torch.from_numpy(np.empty((M, N), dt))
            fns["torch"] = lambda ta=ta, tb=tb, tc=tc: torch.matmul(ta, tb, out=tc)
        flops = 2.0 * M * N * K
        samples = interleaved_samples(
            fns, repeat=5 if quick else 9, min_time=0.03 if quick else 0.1
        )
        t = medians(samples)
        for fn in fns.values():
            fn()
        for path in paths:
            me = f"gradcore[{path}]"
            ref = a.astype(np.float64) @ b.astype(np.float64) if bf16 else c_np
            err = np.max(np.abs(outs[path].astype(np.float64) - ref)) / max(1.0, np.sqrt(K))
            others = {n: s for n, s in t.items() if not n.startswith("gradcore")}
            row = {
                "kind": kind,
                "path": path,
                "M": M,
                "K": K,
                "N": N,
                "threads": threads,
                "dtype": dtype,
                "gflops": {
                    "gradcore": flops / t[me] / 1e9,
                    **{n: flops / s / 1e9 for n, s in others.items()},
                },
                "seconds": {"gradcore": t[me], **others},
                "round_seconds": samples,
                "ratio_vs_numpy": paired_ratio(samples, "numpy", me),
                "ratio_of_medians_vs_numpy": t["numpy"] / t[me],
                "max_abs_diff_over_sqrtK": float(err),
            }
            if "torch" in t:
                row["ratio_vs_torch"] = paired_ratio(samples, "torch", me)
            if "gradcore_f32" in t:
                row["gflops"]["gradcore_f32"] = flops / t["gradcore_f32"] / 1e9
                row["ratio_vs_gradcore_f32"] = paired_ratio(samples, "gradcore_f32", me)
                row["bf16_route"] = _C.gemm_bf16_route()
            if path != paths[0]:  # paired against the first path, in the same rounds
                row[f"ratio_vs_{paths[0]}"] = paired_ratio(samples, f"gradcore[{paths[0]}]", me)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer shapes and repeats")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "gemm.json"))
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64", "bfloat16"])
    ap.add_argument(
        "--capability",
        default="",
        help="comma-separated CPU paths (generic, avx2_fma, avx512), timed round-robin with numpy"
        " in one process per thread count; default: the selected path",
    )
    ap.add_argument("--paths", default="", help=argparse.SUPPRESS)
    ap.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        worker(args.worker, args.quick, args.dtype, [c for c in args.paths.split(",") if c])
        return

    peak = machine_peak_gflops()
    per_core = peak / (os.cpu_count() or 1)
    rows = []
    for n in [int(x) for x in args.threads.split(",")]:
        env = dict(os.environ, OMP_NUM_THREADS=str(n), OPENBLAS_NUM_THREADS=str(n))
        env["MKL_NUM_THREADS"] = str(n)
        cmd = [sys.executable, __file__, "--worker", str(n), "--dtype", args.dtype]
        cmd += ["--paths", args.capability]
        if args.quick:
            cmd.append("--quick")
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"bench_gemm: the worker at {n} threads failed:\n{done.stderr}")
        rows += [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]

    has_torch = any("torch" in r["gflops"] for r in rows)
    head = f"{'shape':>22} {'path':>8} {'thr':>3} {'gradcore':>9} {'numpy':>9} {'ratio':>6}"
    head += f" {'torch':>9} {'ratio':>6}" if has_torch else ""
    head += f" {'%peak':>6}"
    first = rows[0]["path"] if rows else ""
    vs_first = f"ratio_vs_{first}"
    if any(vs_first in r for r in rows):
        head += f" {'vs ' + first:>12}"
    has_f32 = any("ratio_vs_gradcore_f32" in r for r in rows)
    if has_f32:  # --dtype bfloat16: gradcore's own float32 GEMM on the same values
        head += f" {'own f32':>9} {'ratio':>6}"
    print(
        f"GEMM {args.dtype}, GFLOP/s (ratio: median over the rounds of other's time /"
        " gradcore's time, > 1: gradcore faster)"
    )
    print(f"machine peak {peak:.0f} GFLOP/s fp32 ({per_core:.0f} per core)")
    if args.dtype == "bfloat16":
        print("%peak is of the fp32 peak: vdpbf16ps does twice the FLOPs per instruction")
    print(head)
    for r in rows:
        g = r["gflops"]
        shape = f"{r['kind']} {r['M']}x{r['K']}x{r['N']}"
        line = f"{shape:>22} {r['path']:>8} {r['threads']:>3} {g['gradcore']:9.1f}"
        line += f" {g['numpy']:9.1f}"
        line += f" {r['ratio_vs_numpy']:6.2f}"
        if has_torch:
            line += (
                f" {g.get('torch', float('nan')):9.1f} {r.get('ratio_vs_torch', float('nan')):6.2f}"
            )
        line += f" {100 * g['gradcore'] / (per_core * r['threads']):5.0f}%"
        if vs_first in r:
            line += f" {r[vs_first]:12.2f}"
        if has_f32:
            line += f" {g['gradcore_f32']:9.1f} {r['ratio_vs_gradcore_f32']:6.2f}"
        print(line)
    payload = {
        "benchmark": "gemm",
        "command": " ".join([Path(sys.executable).name] + sys.argv),
        "machine": machine_info(),
        "dtype": args.dtype,
        "shape_order": "M x K x N (C = A[MxK] @ B[KxN])",
        "rows": rows,
    }
    print(f"wrote {write_json(args.json, payload)}")


if __name__ == "__main__":
    main()
