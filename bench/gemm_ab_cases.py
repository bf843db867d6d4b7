"""Small GEMM products for bench_overhead_ab.py's `--cases` (float32, one thread, C written
in place): products of few rows (at most one register tile of rows), with B of several sizes
and row alignments, and products of a short inner dimension (K <= 64, as the first layers of
a CNN have), whose widths end in a partial panel; numpy's product of the first short one as
a control.

    python bench/bench_overhead_ab.py --base /tmp/base/python --candidate python \\
        --cases gemm_ab_cases --rounds 30 --number 100
"""

from __future__ import annotations

import numpy as np

# (M, K, N): rows of A and C, inner dimension, columns of B and C
FEW_ROWS = [
    (1, 512, 512),
    (2, 3136, 128),
    (4, 128, 512),
    (6, 100, 300),
    (6, 100, 320),
    (8, 64, 1000),
    (8, 64, 1024),
    (8, 288, 64),
    (8, 500, 1000),
    (8, 512, 1024),
    (8, 1152, 196),
    (1, 512, 768),
    (1, 512, 1024),  # rows 4 KiB apart: packed, as before
]
SHORT_K = [
    (16, 27, 1000),
    (16, 64, 196),
    (32, 9, 784),
    (32, 9, 50176),
    (32, 64, 784),
    (64, 9, 3136),
    (64, 64, 12544),
]
CONTROLS = [(64, 288, 196)]  # neither: B packed, as before


def ab_cases() -> dict:
    """{"MxKxN": fn} for each shape: fn computes C = A @ B with gradcore's GEMM; and
    "numpy 32x9x784": numpy's product of that shape."""
    from gradcore import _C

    rng = np.random.default_rng(0)
    out = {}
    for m, k, n in FEW_ROWS + SHORT_K + CONTROLS:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        c = np.empty((m, n), np.float32)
        out[f"{m}x{k}x{n}"] = lambda a=a, b=b, c=c: _C.gemm(a, b, c)
    a, b = rng.standard_normal((32, 9), np.float32), rng.standard_normal((9, 784), np.float32)
    c = np.empty((32, 784), np.float32)
    out["numpy 32x9x784"] = lambda: np.matmul(a, b, out=c)
    return out
