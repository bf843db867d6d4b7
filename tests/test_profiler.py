"""The native profiler and gradcore.profiler: records, tables, Chrome traces."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import num_threads

import gradcore
from gradcore import _C
from gradcore.profiler import profile, record_function


def _gemm(rng, m, n, k):
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    return _C.gemm(a, b)


def test_records_name_shapes_and_flops(rng):
    with profile() as prof:
        _gemm(rng, 7, 5, 3)
        _gemm(rng, 16, 8, 4)
    kernels = [e for e in prof.events if e.kind == "kernel" and e.name == "gemm"]
    assert len(kernels) == 2
    assert [e.shapes for e in kernels] == [((7, 5, 3),), ((16, 8, 4),)]
    assert [e.flops for e in kernels] == [2.0 * 7 * 5 * 3, 2.0 * 16 * 8 * 4]
    assert all(e.dur_ns > 0 and e.bytes > 0 for e in kernels)
    assert all(prof.start_ns <= e.start_ns <= prof.end_ns for e in kernels)


def test_nothing_recorded_outside_a_profile(rng):
    _gemm(rng, 4, 4, 4)
    assert not _C.profiler_enabled()
    with profile() as prof:
        pass
    assert prof.events == []


def test_disabled_profile_records_nothing(rng):
    with profile(enabled=False) as prof:
        _gemm(rng, 4, 4, 4)
    assert prof.events == []


def test_python_spans_contain_their_kernels(rng):
    with profile() as prof:
        with record_function("outer"):
            _gemm(rng, 32, 32, 32)
    outer = [e for e in prof.events if e.name == "outer"]
    inner = [e for e in prof.events if e.name == "gemm"]
    assert len(outer) == 1 and outer[0].kind == "python"
    assert outer[0].thread == inner[0].thread
    assert outer[0].start_ns <= inner[0].start_ns
    assert inner[0].start_ns + inner[0].dur_ns <= outer[0].start_ns + outer[0].dur_ns


def test_profiling_does_not_change_results(rng):
    a = rng.standard_normal((67, 45)).astype(np.float32)
    b = rng.standard_normal((45, 33)).astype(np.float32)
    plain = _C.gemm(a, b)
    with profile():
        profiled = _C.gemm(a, b)
    assert np.array_equal(plain, profiled)


def test_fast_path_ops_get_forward_spans_and_same_results(rng):
    """Tensor + Tensor, *, full sum, 2-d matmul and relu (once hand-written fast paths, now
    Function.apply's one- and two-Tensor paths) record "<Op>.forward" spans around their
    kernels inside a profile, with the same values and gradients as outside one."""
    x0 = rng.standard_normal((5, 7)).astype(np.float32)
    w0 = rng.standard_normal((7, 3)).astype(np.float32)
    b0 = rng.standard_normal((3,)).astype(np.float32)

    def run():
        x = gradcore.tensor(x0, requires_grad=True)
        w = gradcore.tensor(w0, requires_grad=True)
        b = gradcore.tensor(b0, requires_grad=True)
        y = (gradcore.nn.functional.relu(x @ w + b) * b).sum()
        y.backward()
        return y.item(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()

    plain = run()
    with profile() as prof:
        profiled = run()
    for p, q in zip(plain, profiled):
        np.testing.assert_array_equal(p, q)
    names = {e.name for e in prof.events if e.kind == "python"}
    for op in ("MatMul2d", "Add", "ReLU", "Mul", "SumAll"):
        assert f"{op}.forward" in names and f"{op}.backward" in names, (op, sorted(names))
    span = next(e for e in prof.events if e.name == "MatMul2d.forward")
    gemm = next(e for e in prof.events if e.kind == "kernel" and e.start_ns >= span.start_ns)
    assert gemm.start_ns + gemm.dur_ns <= span.start_ns + span.dur_ns


def test_key_averages_and_table(rng):
    with profile() as prof:
        for _ in range(3):
            _gemm(rng, 8, 8, 8)
        _gemm(rng, 9, 9, 9)
    rows = {r.name: r for r in prof.key_averages()}
    assert rows["gemm"].calls == 4
    assert rows["gemm"].flops == 3 * 2 * 8**3 + 2 * 9**3
    by_shape = prof.key_averages(group_by_shape=True)
    assert sorted(r.calls for r in by_shape) == [1, 3]
    text = prof.table(sort_by="calls", group_by_shape=True)
    for col in ("calls", "total ms", "GFLOP/s", "GB/s", "% peak", "gemm"):
        assert col in text
    with pytest.raises(ValueError, match="sort_by"):
        prof.table(sort_by="bogus")


def test_chrome_trace_is_valid_trace_event_json(rng, tmp_path):
    with profile() as prof:
        with record_function("step"):
            _gemm(rng, 16, 16, 16)
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    data = json.loads(path.read_text())
    events = data["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    assert {e["name"] for e in complete} >= {"step", "gemm"}
    for e in complete:
        assert {"ts", "dur", "pid", "tid", "name", "cat"} <= set(e)
        assert e["dur"] >= 0
    assert any(e["ph"] == "M" and e["name"] == "thread_name" for e in events)


def test_profiles_do_not_nest():
    with profile():
        with pytest.raises(RuntimeError, match="already active"):
            profile().__enter__()


def test_records_from_threaded_kernels(rng):
    with num_threads(2), profile() as prof:
        _gemm(rng, 300, 300, 300)
    assert any(e.name == "gemm" for e in prof.events)


def test_peak_gflops_is_plausible():
    peak1 = gradcore.profiler.peak_gflops(1)
    assert 1.0 < peak1 < 1000.0
    assert gradcore.profiler.peak_gflops(2) >= peak1 or os.cpu_count() == 1


def test_env_var_profiles_a_whole_script(tmp_path):
    trace = tmp_path / "whole.json"
    code = "import numpy as np, gradcore\na = np.ones((8, 8), np.float32)\ngradcore._C.gemm(a, a)\n"
    env = dict(os.environ, GRADCORE_PROFILE=str(trace))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "gemm" in out.stderr and "Chrome trace written" in out.stderr
    names = {e["name"] for e in json.loads(trace.read_text())["traceEvents"]}
    assert "gemm" in names


def _contains(outer, inner) -> bool:
    return (
        outer.thread == inner.thread
        and outer.start_ns <= inner.start_ns
        and inner.start_ns + inner.dur_ns <= outer.start_ns + outer.dur_ns
    )


def test_training_step_spans_nest_kernels(rng):
    """A training step shows both levels: module/op/optimizer/data spans and the kernels
    inside them, on the thread that ran them."""
    from gradcore import nn, optim
    from gradcore.data import DataLoader, TensorDataset

    gradcore.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 3)
    )
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = rng.standard_normal((8, 1, 6, 6)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    with profile() as prof:
        for xb, yb in loader:
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
    ev = prof.events
    py = {e.name for e in ev if e.kind == "python"}
    assert {"nn.Sequential", "nn.Conv2d", "nn.Linear", "autograd.backward", "SGD.step"} <= py
    assert {"DataLoader.next", "DataLoader.assemble"} <= py
    assert any(n.endswith(".forward") for n in py) and any(n.endswith(".backward") for n in py)

    def one(name):
        return [e for e in ev if e.name == name]

    conv_fwd = [k for k in one("conv2d_forward")]
    assert len(conv_fwd) == 2 and all(
        any(_contains(m, k) for m in one("nn.Conv2d")) for k in conv_fwd
    )
    for m in one("nn.Conv2d"):
        assert any(_contains(s, m) for s in one("nn.Sequential"))
    bwd_kernels = [e for e in ev if e.kind == "kernel" and "backward" in e.name]
    assert bwd_kernels and all(
        any(_contains(b, k) for b in one("autograd.backward")) for k in bwd_kernels
    )
    sgd_kernels = [e for e in ev if e.kind == "kernel" and e.name.startswith("sgd")]
    assert sgd_kernels and all(any(_contains(s, k) for s in one("SGD.step")) for k in sgd_kernels)
    # every python span lies inside the profile's window
    assert all(prof.start_ns <= e.start_ns <= e.start_ns + e.dur_ns <= prof.end_ns for e in ev)


def test_python_spans_cost_nothing_when_off(rng):
    """With no profile active, hooks record nothing (and the graph still works)."""
    from gradcore import nn

    model = nn.Linear(3, 2)
    out = model(gradcore.tensor(rng.standard_normal((2, 3)).astype(np.float32)))
    out.sum().backward()
    with profile() as prof:
        pass
    assert prof.events == []


def test_export_chrome_trace_bad_paths_leave_no_stray_file(rng, tmp_path):
    """A directory, or a file in a missing directory: a clear error and no temporary file
    anywhere (the old code left `<path>.tmp<pid>` next to the directory)."""
    with profile() as prof:
        _gemm(rng, 4, 4, 4)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        prof.export_chrome_trace(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        prof.export_chrome_trace(str(tmp_path / "missing" / "t.json"))
    assert os.listdir(tmp_path) == []
    assert not os.path.exists(f"{tmp_path}.tmp{os.getpid()}")
    prof.export_chrome_trace(str(tmp_path / "t.json"))
    assert os.listdir(tmp_path) == ["t.json"]
    assert json.loads((tmp_path / "t.json").read_text())["traceEvents"]
