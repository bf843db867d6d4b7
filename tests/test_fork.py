"""Issue 16 item 8: a process forked after gradcore's OpenMP threads have run (os.fork, or a
multiprocessing Pool with the fork start method) can still run kernels. Before the fix the
child hung in its first parallel conv or matmul; it now runs them on one thread, with the
same results (kernels do not depend on the thread count).

Each case runs in a child Python under a timeout, so a hang fails the test.
"""

from __future__ import annotations

import json

from subprocess_helpers import child_env, run_python

SETUP = r"""
import json, os, warnings
import multiprocessing as mp
import numpy as np
import gradcore
from gradcore import _C

gradcore.set_num_threads(2)
rng = np.random.default_rng(0)
a = rng.standard_normal((512, 512)).astype(np.float32)  # large enough to go parallel
x = rng.standard_normal((8, 16, 32, 32)).astype(np.float32)
w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)

def work(_=None):
    y = _C.conv2d_forward(x, w, None, 1, 1)
    c = gradcore.matmul(a, a)
    return y, c, gradcore.get_num_threads()
"""

AFTER_THREADS = (
    SETUP
    + r"""
want_y, want_c, _ = work()  # the parent's OpenMP team is started (and spinning)
out = {"parent_threads": gradcore.get_num_threads()}

r, w_ = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    y, c, n = work()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gradcore.set_num_threads(2)
    res = {
        "same": bool(np.array_equal(y, want_y) and np.array_equal(c, want_c)),
        "threads": n,
        "after_set": gradcore.get_num_threads(),
        "warned": any("forked" in str(m.message) for m in caught),
        "disabled": gradcore.info()["threads_disabled_by_fork"],
    }
    os.write(w_, json.dumps(res).encode())
    os._exit(0)
os.close(w_)
with os.fdopen(r) as f:
    out["fork_child"] = json.loads(f.read())
_, status = os.waitpid(pid, 0)
out["fork_status"] = status

with mp.get_context("fork").Pool(2) as pool:
    results = pool.map(work, range(4))
out["pool_same"] = all(
    np.array_equal(y, want_y) and np.array_equal(c, want_c) for y, c, _ in results
)
out["pool_threads"] = sorted({n for _, _, n in results})
out["parent_after"] = bool(np.array_equal(work()[0], want_y)) and gradcore.get_num_threads()
print(json.dumps(out))
"""
)


def test_fork_and_fork_pool_after_threads_ran():
    p = run_python(AFTER_THREADS, timeout=180, env=child_env(OMP_NUM_THREADS="2"))
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["fork_status"] == 0
    child = out["fork_child"]
    assert child["same"], "forked child computed different results"
    assert child["threads"] == 1 and child["after_set"] == 1 and child["disabled"]
    assert child["warned"], "set_num_threads(2) in the child did not warn"
    assert out["pool_same"] and out["pool_threads"] == [1]
    assert out["parent_after"] == out["parent_threads"] == 2  # the parent keeps its threads


NO_THREADS_YET = (
    SETUP
    + r"""
pid = os.fork()  # before any parallel region: the child may start its own team
if pid == 0:
    y, c, n = work()
    os._exit(0 if n == 2 and not _C.threads_disabled_by_fork() else 3)
_, status = os.waitpid(pid, 0)
print(json.dumps({"status": status}))
"""
)


def test_fork_before_threads_ran_keeps_threads():
    p = run_python(NO_THREADS_YET, timeout=120, env=child_env(OMP_NUM_THREADS="2"))
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads(p.stdout.strip().splitlines()[-1])["status"] == 0
