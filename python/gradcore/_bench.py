"""`gradcore bench`: run the main native kernels under the profiler; print a roofline summary.

For each kernel: arithmetic intensity (FLOP/byte), achieved GFLOP/s and GB/s, the
roofline bound min(peak, intensity x bandwidth) and how close the kernel gets to it.
Peak = cores x FLOP/cycle of the CPU path in use (its tuning) x measured clock; bandwidth = a measured
large-array copy. The fuller comparisons with numpy and PyTorch live in bench/.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

import numpy as np

from gradcore import _C
from gradcore.profiler import peak_gflops, profile


def measure_bandwidth_gbs(mb: int = 256) -> float:
    """Copy bandwidth of this machine in GB/s (bytes read + written per second)."""
    src = np.ones(mb * 2**20 // 4, np.float32)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best / 1e9


def _workloads(rng: np.random.Generator) -> list[tuple[str, Callable[[], object]]]:
    f32 = np.float32

    def randn(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(f32)

    a, b = randn(1024, 1024), randn(1024, 1024)
    x, w = randn(64, 32, 14, 14), randn(64, 32, 3, 3)
    y = _C.conv2d_forward(x, w, None, (1, 1), (1, 1), (1, 1), 1)
    p = randn(64, 32, 28, 28)
    py_, idx = _C.max_pool2d_forward(p, (2, 2), (2, 2), (0, 0), (1, 1), False)
    act = randn(64, 32, 28, 28)
    logits, target = randn(64, 10), rng.integers(0, 10, 64).astype(np.int64)
    bn_w, bn_b = np.ones(32, f32), np.zeros(32, f32)
    param, grad = randn(3136 * 128), randn(3136 * 128)
    m, v = np.zeros_like(param), np.zeros_like(param)
    return [
        ("gemm 1024^3", lambda: _C.gemm(a, b)),
        (
            "conv2d fwd 64x32x14x14 k64 3x3",
            lambda: _C.conv2d_forward(x, w, None, (1, 1), (1, 1), (1, 1), 1),
        ),
        (
            "conv2d bwd-input",
            lambda: _C.conv2d_backward_input(y, w, (14, 14), (1, 1), (1, 1), (1, 1), 1),
        ),
        (
            "conv2d bwd-weight",
            lambda: _C.conv2d_backward_weight(y, x, (3, 3), (1, 1), (1, 1), (1, 1), 1),
        ),
        (
            "max_pool2d fwd 2x2",
            lambda: _C.max_pool2d_forward(p, (2, 2), (2, 2), (0, 0), (1, 1), False),
        ),
        ("max_pool2d bwd 2x2", lambda: _C.max_pool2d_backward(py_, idx, p.shape)),
        ("relu fwd", lambda: _C.relu_forward(act)),
        (
            "batch_norm fwd train",
            lambda: _C.batch_norm_forward_train(act, bn_w, bn_b, None, None, 0.1, 1e-5),
        ),
        (
            "cross_entropy fwd",
            lambda: _C.cross_entropy_forward(logits, target, None, -100, 0.0, "mean"),
        ),
        (
            "adam step 401k params",
            lambda: _C.adam_step_(
                param, grad, m, v, None, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, False, False
            ),
        ),
    ]


def run(repeats: int = 5, roofline_png: Optional[str] = None) -> str:
    """Profile each workload `repeats` times (after one warm-up) and return the summary;
    with `roofline_png`, also draw the kernels on the roofline (gradcore.plots.plot_roofline)."""
    rng = np.random.default_rng(0)
    work = _workloads(rng)
    for _, fn in work:
        fn()
    with profile() as prof:
        for _, fn in work:
            for _ in range(repeats):
                fn()
    peak = peak_gflops()
    bw = measure_bandwidth_gbs()
    if roofline_png is not None:
        from gradcore.plots import plot_roofline

        plot_roofline(prof, roofline_png, peak_gflops=peak, bandwidth_gbs=bw)
    rows = [r for r in prof.key_averages() if r.kind == "kernel"]
    rows.sort(key=lambda r: -r.total_ns)
    head = (
        f"{'kernel':<28} {'calls':>6} {'mean us':>10} {'FLOP/B':>8} {'GFLOP/s':>9} "
        f"{'GB/s':>8} {'% peak':>7} {'roof GF/s':>10} {'% roof':>7}"
    )
    lines = [
        f"peak {peak:.1f} GFLOP/s ({_C.get_num_threads()} threads, {_C.cpu_capability()}), "
        f"copy bandwidth {bw:.1f} GB/s",
        head,
        "-" * len(head),
    ]
    for r in rows:
        if r.flops > 0:  # compute or bandwidth bound, whichever is lower
            roof = min(peak, r.intensity * bw)
            pct_roof = 100 * r.gflops / roof
        else:  # pure data movement: compare with the copy bandwidth
            roof = 0.0
            pct_roof = 100 * r.gbytes_per_s / bw
        lines.append(
            f"{r.name[:28]:<28} {r.calls:>6} {r.mean_us:>10.1f} {r.intensity:>8.2f} "
            f"{r.gflops:>9.2f} {r.gbytes_per_s:>8.2f} {100 * r.gflops / peak:>6.1f}% "
            f"{roof:>10.1f} {pct_roof:>6.1f}%"
        )
    return "\n".join(lines)
