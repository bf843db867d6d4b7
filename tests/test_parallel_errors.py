"""Issue 16 item 4: a C++ exception thrown inside an OpenMP region (an allocation failure in a
thread's scratch memory) reaches Python as MemoryError instead of aborting the interpreter.

Each case runs in a child process: before the fix the child died of SIGABRT ("terminate
called recursively"), which a test in the same process could not survive.
"""

from __future__ import annotations

import json
import resource
import signal

from subprocess_helpers import child_env, run_python

# Every kind of parallel region: conv blocks over images (parallel_for, per-thread columns),
# the weight gradient's work groups, a tall GEMM (gemm_shared_b: its threads agree on the
# failure at a barrier), a wide GEMM split over columns, and the implicit-GEMM conv.
FAIL_IN_THREAD = r"""
import json
import numpy as np
import gradcore
from gradcore import _C

gradcore.set_num_threads(2)
rng = np.random.default_rng(0)
x = rng.standard_normal((8, 16, 20, 20)).astype(np.float32)
w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
dy = rng.standard_normal((8, 32, 10, 10)).astype(np.float32)
xi = rng.standard_normal((1, 64, 32, 32)).astype(np.float32)
wi = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
tall = rng.standard_normal((768, 512)).astype(np.float32)
sq = rng.standard_normal((512, 512)).astype(np.float32)
wide_a = rng.standard_normal((8, 512)).astype(np.float32)
wide_b = rng.standard_normal((512, 4096)).astype(np.float32)
cases = {
    "conv_forward": lambda: _C.conv2d_forward(x, w, None, 2, 1),
    "conv_backward_weight": lambda: _C.conv2d_backward_weight(dy, x, (3, 3), 2, 1),
    "conv_implicit": lambda: _C.conv2d_forward(xi, wi, None, 1, 1),
    "matmul_tall": lambda: gradcore.matmul(tall, sq),
    "matmul_wide": lambda: gradcore.matmul(wide_a, wide_b),
}
out = {}
for name, fn in cases.items():
    want = fn()
    got = {}
    for thread in (0, 1):
        _C.fail_scratch_in_thread(thread)
        try:
            fn()
            got[thread] = "no error"
        except MemoryError:
            got[thread] = "MemoryError"
        finally:
            _C.fail_scratch_in_thread(-1)
    got["after"] = bool(np.array_equal(fn(), want))  # the kernel works again, same result
    out[name] = got
print(json.dumps(out))
"""


def test_scratch_failure_in_any_thread_raises_memory_error():
    p = run_python(FAIL_IN_THREAD, env=child_env(OMP_NUM_THREADS="2"))
    assert p.returncode == 0, f"child died (rc {p.returncode}): {p.stderr[-2000:]}"
    results = json.loads(p.stdout.strip().splitlines()[-1])
    for name, got in results.items():
        assert got["0"] == "MemoryError" and got["1"] == "MemoryError", (name, got)
        assert got["after"], f"{name}: different result after the failure"


# The issue's case: a stride-2 conv of a (2, 1, 2100, 2100) input with a (1, 1, 2048, 2048)
# weight wants ~12 GB of per-thread columns; under a 2.5 GB address-space limit the allocation
# fails inside the parallel region over the two images.
ISSUE_CASE = r"""
import numpy as np
import gradcore
import gradcore.nn.functional as F

gradcore.set_num_threads(2)
x = gradcore.tensor(np.ones((2, 1, 2100, 2100), np.float32))
w = gradcore.tensor(np.ones((1, 1, 2048, 2048), np.float32))
try:
    F.conv2d(x, w, stride=2)
    print("no error")
except MemoryError:
    print("MemoryError")
"""


def _limit_address_space() -> None:
    limit = 2_500_000 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_out_of_memory_inside_parallel_conv_is_memory_error():
    p = run_python(ISSUE_CASE, env=child_env(OMP_NUM_THREADS="2"), preexec_fn=_limit_address_space)
    assert p.returncode != -signal.SIGABRT, f"interpreter aborted: {p.stderr[-2000:]}"
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip() == "MemoryError"
