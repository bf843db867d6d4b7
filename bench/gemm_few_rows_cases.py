"""GEMM products of few rows (at most one register tile of rows) for bench_overhead_ab.py's
`--cases`: float32, one thread, C written in place, B of several sizes and row alignments.

    python bench/bench_overhead_ab.py --base /tmp/base/python --candidate python \\
        --cases gemm_few_rows_cases --rounds 20 --number 50
"""

from __future__ import annotations

import numpy as np

# (M, K, N): rows of A and C, inner dimension, columns of B and C; the two 32-row and
# 16-row products (more than one row tile) are controls
SHAPES = [
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
    (16, 64, 196),
    (32, 9, 784),
]


def ab_cases() -> dict:
    """{"MxKxN": fn} for each of SHAPES: fn computes C = A @ B with gradcore's GEMM."""
    from gradcore import _C

    rng = np.random.default_rng(0)
    out = {}
    for m, k, n in SHAPES:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        c = np.empty((m, n), np.float32)
        out[f"{m}x{k}x{n}"] = lambda a=a, b=b, c=c: _C.gemm(a, b, c)
    return out
