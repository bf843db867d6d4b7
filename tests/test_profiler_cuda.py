"""CUDA kernels in gradcore.profiler: the merge of the CUDA module's event records into a
profile, its table rows (kind "cuda") and its Chrome-trace track ("CUDA stream N"), fed
synthetic records or a fake CUDA module where no GPU is present; the real thing on a GPU."""

import json
import os

import numpy as np
import pytest
from cuda_helpers import cuda_module, requires_gpu, to_cpu, to_gpu

import gradcore.cuda
from gradcore import _C, devices
from gradcore.profiler import _CUDA_PID_BASE, profile


def _synthetic(prof, device=0):
    t0 = prof.start_ns
    return [
        ("relu_forward", t0 + 1_000, 2_000, 100.0, 800.0, 0, device),
        ("gemm", t0 + 5_000, 4_000, 2.0 * 8 * 16 * 4, 4.0 * (8 * 4 + 4 * 16 + 8 * 16), 1, device),
        ("relu_forward", t0 + 12_000, 1_000, 100.0, 800.0, 0, device),
    ]


def _trace(prof):
    return list(prof.trace_events())


def test_merged_records_become_cuda_events_sorted_with_cpu_kernels(rng):
    a = rng.standard_normal((6, 5)).astype(np.float32)
    with profile() as prof:
        _C.gemm(a, a.T.copy())
    cpu = [e for e in prof.events if e.kind == "kernel"]
    assert cpu
    prof._merge_cuda(_synthetic(prof))
    cuda = [e for e in prof.events if e.kind == "cuda"]
    assert [e.name for e in cuda] == ["relu_forward", "gemm", "relu_forward"]
    assert [e.thread for e in cuda] == [0, 1, 0]  # the stream ids
    assert cuda[1].flops == 2.0 * 8 * 16 * 4 and cuda[1].dur_ns == 4_000
    assert all(e.shapes == () and e.device == 0 for e in cuda)
    starts = [e.start_ns for e in prof.events]
    assert starts == sorted(starts)
    assert all(any(e is f for f in prof.events) for e in cpu)


def test_merge_extends_the_end_to_the_last_kernel():
    with profile() as prof:
        pass
    late = prof.end_ns + 50_000
    prof._merge_cuda([("relu_forward", late, 7_000, 0.0, 0.0, 0)])  # six fields: device 0
    assert prof.end_ns == late + 7_000
    assert prof.events[0].device == 0


def test_merge_of_no_records_changes_nothing(rng):
    with profile() as prof:
        _C.gemm(np.ones((3, 3), np.float32), np.ones((3, 3), np.float32))
    before = (list(prof.events), prof.end_ns)
    prof._merge_cuda([])
    assert (prof.events, prof.end_ns) == before


def test_table_has_cuda_rows_without_a_cpu_peak():
    with profile() as prof:
        pass
    prof._merge_cuda(_synthetic(prof))
    rows = {(s.kind, s.name): s for s in prof.key_averages()}
    relu = rows[("cuda", "relu_forward")]
    assert relu.calls == 2 and relu.total_ns == 3_000 and relu.flops == 200.0
    assert rows[("cuda", "gemm")].gflops == pytest.approx(2.0 * 8 * 16 * 4 / 4_000)
    assert [s.name for s in prof.key_averages(kind="cuda")] == ["relu_forward", "gemm"]
    text = prof.table(sort_by="total")
    lines = [ln for ln in text.splitlines() if ln.startswith(("gemm ", "relu_forward "))]
    assert len(lines) == 2
    for ln in lines:
        assert ln.split()[1] == "cuda"
        assert ln.split()[-1] == "-"  # % peak: the CPU's peak does not apply
    assert "relu_forward" in prof.table(kind="cuda") and "gemm" in prof.table(kind="cuda")


def test_trace_puts_cuda_kernels_on_their_own_track():
    with profile() as prof:
        pass
    prof._merge_cuda(_synthetic(prof) + [("relu_forward", prof.start_ns + 2_000, 500, 0, 0, 0, 1)])
    ev = _trace(prof)
    pid = os.getpid()
    names = {
        (e["pid"], e.get("tid"), e["name"]): e["args"].get("name") for e in ev if e["ph"] == "M"
    }
    assert names[(pid, None, "process_name")] == "gradcore"
    assert names[(_CUDA_PID_BASE, None, "process_name")] == "gradcore CUDA device 0"
    assert names[(_CUDA_PID_BASE + 1, None, "process_name")] == "gradcore CUDA device 1"
    assert names[(_CUDA_PID_BASE, 0, "thread_name")] == "CUDA stream 0"
    assert names[(_CUDA_PID_BASE, 1, "thread_name")] == "CUDA stream 1"
    assert names[(_CUDA_PID_BASE + 1, 0, "thread_name")] == "CUDA stream 0"
    assert not any(e["ph"] == "M" and e["pid"] == pid and e["name"] == "thread_name" for e in ev)
    xs = [e for e in ev if e["ph"] == "X"]
    assert all(e["cat"] == "cuda" and e["pid"] >= _CUDA_PID_BASE for e in xs)
    gemm = next(e for e in xs if e["name"] == "gemm")
    assert (gemm["pid"], gemm["tid"]) == (_CUDA_PID_BASE, 1)
    assert gemm["ts"] == pytest.approx(5.0) and gemm["dur"] == pytest.approx(4.0)
    assert gemm["args"]["flops"] == 2.0 * 8 * 16 * 4 and gemm["args"]["bytes"] > 0


def test_exported_trace_keeps_cpu_threads_and_cuda_track(tmp_path, rng):
    a = rng.standard_normal((9, 9)).astype(np.float32)
    with profile() as prof:
        _C.gemm(a, a)
    prof._merge_cuda(_synthetic(prof))
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    ev = json.loads(path.read_text())["traceEvents"]
    cpu = [e for e in ev if e["ph"] == "X" and e["cat"] == "kernel"]
    cuda = [e for e in ev if e["ph"] == "X" and e["cat"] == "cuda"]
    assert cpu and all(e["pid"] == os.getpid() for e in cpu)
    assert len(cuda) == 3 and all(e["pid"] == _CUDA_PID_BASE for e in cuda)
    cpu_threads = {e["tid"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {e["tid"] for e in cpu} <= cpu_threads


class _FakeCudaModule:
    """The CUDA module's profiler entry points, recording the calls (no GPU needed)."""

    def __init__(self, records):
        self.records = records
        self.calls = []

    def profiler_start(self):
        self.calls.append("start")
        return True

    def profiler_stop(self):
        self.calls.append("stop")

    def profiler_collect(self):
        self.calls.append("collect")
        return self.records


class _FakeStorage:
    pass


@pytest.fixture
def fake_cuda_backend(monkeypatch):
    if devices.is_registered("cuda"):
        pytest.skip("the real cuda backend is registered in this process")
    fake = _FakeCudaModule([])
    monkeypatch.setattr(gradcore.cuda, "_module", fake)
    devices.register_backend("cuda", _FakeStorage, fake, lambda a: a, lambda d: d)
    try:
        yield fake
    finally:
        devices.unregister_backend("cuda")


def test_profile_starts_stops_and_collects_the_cuda_module(fake_cuda_backend, rng):
    fake = fake_cuda_backend
    with profile() as prof:
        fake.records = _synthetic(prof)
        assert fake.calls == ["start"]
        _C.gemm(np.ones((4, 4), np.float32), np.ones((4, 4), np.float32))
    assert fake.calls == ["start", "stop", "collect"]
    kinds = [e.kind for e in prof.events]
    assert kinds.count("cuda") == 3 and kinds.count("kernel") >= 1
    with profile(enabled=False):
        pass
    assert fake.calls == ["start", "stop", "collect"]


def test_cuda_collect_failure_warns_and_keeps_cpu_records(fake_cuda_backend):
    def fail():
        raise RuntimeError("cudaEventSynchronize (profiler): cudaErrorIllegalAddress")

    fake_cuda_backend.profiler_collect = fail
    with pytest.warns(RuntimeWarning, match="CUDA kernel records lost"):
        with profile() as prof:
            _C.gemm(np.ones((4, 4), np.float32), np.ones((4, 4), np.float32))
    assert any(e.kind == "kernel" for e in prof.events)
    assert not any(e.kind == "cuda" for e in prof.events)


def test_cuda_start_failure_warns_and_profiles_the_cpu(fake_cuda_backend):
    def fail():
        raise RuntimeError("cudaEventCreate (profiler): cudaErrorLaunchFailure")

    fake_cuda_backend.profiler_start = fail
    with pytest.warns(RuntimeWarning, match="CUDA kernels not recorded"):
        with profile() as prof:
            _C.gemm(np.ones((4, 4), np.float32), np.ones((4, 4), np.float32))
    assert [e.kind for e in prof.events] == ["kernel"]
    assert fake_cuda_backend.calls == []  # neither stopped nor collected


def test_no_cuda_module_call_without_the_cuda_backend(monkeypatch, rng):
    """Where the CUDA device is not set up (no GPU, or not used yet) profile() never asks
    the CUDA module anything: built or not, it works as before."""
    if devices.is_registered("cuda"):
        pytest.skip("the real cuda backend is registered in this process")

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"profile() asked the CUDA module for {name}")

    monkeypatch.setattr(gradcore.cuda, "_module", Untouchable())
    with profile() as prof:
        _C.gemm(np.ones((5, 5), np.float32), np.ones((5, 5), np.float32))
    assert [e.kind for e in prof.events] == ["kernel"]


@pytest.mark.skipif(
    not gradcore.cuda.is_built() or gradcore.cuda.is_available(),
    reason="needs gradcore's CUDA module built and no GPU visible",
)
def test_profile_as_before_when_cuda_is_built_but_no_gpu(rng):
    a = rng.standard_normal((7, 3)).astype(np.float32)
    with profile() as prof:
        _C.gemm(a, a.T.copy())
    assert [(e.name, e.kind) for e in prof.events] == [("gemm", "kernel")]
    assert "cuda" not in [s.kind for s in prof.key_averages()]
    assert '"cuda"' not in json.dumps(list(prof.trace_events()))


@requires_gpu
def test_gpu_relu_and_gemm_are_on_the_cuda_track(tmp_path, rng):
    gradcore.cuda.init()  # the "cuda" device: the profiler records its kernels from now on
    m = cuda_module()
    M, N, K = 64, 48, 80
    x = to_gpu(rng.standard_normal((1000,)).astype(np.float32))
    a = to_gpu(rng.standard_normal((M, K)).astype(np.float32))
    b = to_gpu(rng.standard_normal((K, N)).astype(np.float32))
    m.synchronize()
    with profile() as prof:
        y = m.relu_forward(x)
        c = m.gemm(a, b)
    np.testing.assert_array_equal(to_cpu(y), np.maximum(to_cpu(x), 0))
    assert c.shape == (M, N)
    cuda = {e.name: e for e in prof.events if e.kind == "cuda"}
    assert {"relu_forward", "gemm"} <= set(cuda)
    assert cuda["gemm"].flops == 2.0 * M * N * K and cuda["gemm"].bytes > 0
    assert cuda["relu_forward"].bytes == 2.0 * 1000 * 4
    for name in ("relu_forward", "gemm"):
        e = cuda[name]
        assert e.dur_ns > 0
        assert prof.start_ns <= e.start_ns <= prof.end_ns
    assert cuda["relu_forward"].start_ns <= cuda["gemm"].start_ns  # same stream, in order
    rows = [ln.split() for ln in prof.table(kind="cuda").splitlines()]
    assert any(r[:2] == ["gemm", "cuda"] for r in rows)
    assert any(r[:2] == ["relu_forward", "cuda"] for r in rows)
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    ev = json.loads(path.read_text())["traceEvents"]
    track = [e for e in ev if e["ph"] == "X" and e["cat"] == "cuda"]
    gemm = next(e for e in track if e["name"] == "gemm")
    assert gemm["pid"] >= _CUDA_PID_BASE and gemm["dur"] > 0
    assert gemm["args"]["flops"] == 2.0 * M * N * K
    thread_names = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in ev
        if e["ph"] == "M" and e["name"] == "thread_name"
    }
    assert thread_names[(gemm["pid"], gemm["tid"])].startswith("CUDA stream ")
    # Nothing stays recorded: a second profile sees only its own kernels, and outside a
    # profile the CUDA module records nothing.
    assert not m.profiler_enabled()
    with profile() as prof2:
        m.relu_forward(x)
    assert [e.name for e in prof2.events if e.kind == "cuda"] == ["relu_forward"]


@requires_gpu
def test_gpu_events_are_pooled_across_profiles(rng):
    gradcore.cuda.init()
    m = cuda_module()
    x = to_gpu(rng.standard_normal((4096,)).astype(np.float32))
    for _ in range(3):  # 300 launches > the 256 events reserved: the pool grows, then reuses
        with profile() as prof:
            for _ in range(300):
                m.relu_forward(x)
        cuda = [e for e in prof.events if e.kind == "cuda"]
        assert len(cuda) == 300 and all(e.dur_ns > 0 for e in cuda)
        starts = [e.start_ns for e in cuda]
        assert starts == sorted(starts)
