"""Issue 16 item 6: the implicit-GEMM convolution's extra memory is bounded.

Its tap masks used to take (R*S + 1) x OH*OW int32s: a 1x1x512x512 input with a 31x31 kernel
and padding 15 peaked at ~1 GB (torch: 29 MB), and 1024x1024 raised MemoryError under 3 GB.
They now take O(R + S*W) (a pixel range per kernel row, lane masks per kernel column).
"""

from __future__ import annotations

import json

import pytest
from subprocess_helpers import run_python

PEAK = r"""
import json, sys
import numpy as np
from gradcore import _C

def vm_hwm_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

n = int(sys.argv[1])
x = np.random.default_rng(0).standard_normal((1, 1, n, n)).astype(np.float32)
w = np.random.default_rng(1).standard_normal((1, 1, 31, 31)).astype(np.float32)
before = vm_hwm_mb()
y = _C.conv2d_forward(x, w, None, 1, 15)
assert y.shape == (1, 1, n, n)
dw = _C.conv2d_backward_weight(np.ones_like(y), x, (31, 31), 1, 15)
print(json.dumps({"before_mb": before, "peak_mb": vm_hwm_mb()}))
"""


@pytest.mark.parametrize("n", [512, 1024])
def test_large_kernel_same_conv_peak_memory(n):
    """Forward and weight gradient of a 31x31 'same' conv: the child's peak resident memory
    stays under 150 MB (before: ~1 GB at 512x512; MemoryError under 3 GB at 1024x1024)."""
    p = run_python(PEAK.replace("sys.argv[1]", str(n)), timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    mem = json.loads(p.stdout.strip().splitlines()[-1])
    assert mem["peak_mb"] < 150, mem
