"""Winograd convolution passes for bench_overhead_ab.py's `--cases`: forward, input gradient and
weight gradient of three float32 3x3 layers that the Winograd algorithm takes.

    python bench/bench_overhead_ab.py --base /tmp/base/python --candidate python \\
        --cases conv_winograd_ab_cases --threads 2 --rounds 12 --number 3
"""

from __future__ import annotations

import numpy as np

LAYERS = [(64, 32, 14, 14, 64), (32, 128, 16, 16, 128), (16, 64, 28, 28, 64)]  # N,C,H,W,K


def ab_cases() -> dict:
    """{"fwd|dx|dw N,C,H,W,K": fn} for each of LAYERS (padding 1)."""
    from gradcore import _C

    rng = np.random.default_rng(0)
    out = {}
    for N, C, H, W, K in LAYERS:
        x = rng.standard_normal((N, C, H, W)).astype(np.float32)
        w = rng.standard_normal((K, C, 3, 3)).astype(np.float32)
        b = np.zeros(K, np.float32)
        dy = rng.standard_normal((N, K, H, W)).astype(np.float32)
        tag = f"{N},{C},{H},{W},{K}"
        out[f"fwd {tag}"] = lambda x=x, w=w, b=b: _C.conv2d_forward(x, w, b, 1, 1, 1, 1)
        out[f"dx {tag}"] = lambda dy=dy, w=w, H=H, W=W: _C.conv2d_backward_input(
            dy, w, (H, W), 1, 1, 1, 1
        )
        out[f"dw {tag}"] = lambda dy=dy, x=x: _C.conv2d_backward_weight(dy, x, (3, 3), 1, 1, 1, 1)
    return out
