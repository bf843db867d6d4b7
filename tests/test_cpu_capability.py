"""CPU capability levels: the ordered paths, selection from Python and from
GRADCORE_CPU_CAPABILITY, per-path tuning, and the profiler's peak taken from the path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CPU_CAPABILITIES, cpu_capability_selected

import gradcore
from gradcore import _C, profiler

LEVELS = ("generic", "avx2_fma", "avx512")  # in order
PYTHON_DIR = str(Path(gradcore.__file__).resolve().parent.parent)


def _import_with(level: str, **extra: str) -> subprocess.CompletedProcess:
    """A fresh interpreter importing gradcore with GRADCORE_CPU_CAPABILITY=level."""
    code = "import gradcore; from gradcore import _C; print(_C.cpu_capability())"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADCORE_")}
    env.update(GRADCORE_CPU_CAPABILITY=level, **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PYTHON_DIR, env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_levels_are_ordered_and_supported_is_a_prefix():
    supported = list(_C.supported_cpu_capabilities())
    assert supported == list(CPU_CAPABILITIES)
    assert supported == list(LEVELS[: len(supported)])  # generic first, no gaps
    assert _C.cpu_capability() == supported[-1]  # the default is the best available
    # detection is apart from selection: the CPU may have more than the build implements
    assert LEVELS.index(_C.cpu_detected_capability()) >= LEVELS.index(supported[-1])
    # an x86-64 build implements every level: the CPU alone decides how far the prefix goes
    if _C.cpu_detected_capability() == "avx512":
        assert supported[-1] == "avx512"


def test_at_least_ordering_through_the_selected_path_tuning():
    # at_least(avx2_fma) holds for avx2_fma and above: the tuning of each level is that of the
    # highest implemented path at or below it
    assert _C.cpu_path_tuning("generic")["name"] == "generic"
    if "avx2_fma" in CPU_CAPABILITIES:  # an x86-64 build: the avx512 path is implemented
        assert _C.cpu_path_tuning("avx2_fma")["name"] == "avx2_fma"
        assert _C.cpu_path_tuning("avx512")["name"] == "avx512"
    for level in CPU_CAPABILITIES:
        with cpu_capability_selected(level):
            assert _C.cpu_capability() == level
            assert _C.cpu_path_tuning()["name"] == level


def test_set_cpu_capability_refuses_unavailable_levels():
    before = _C.cpu_capability()
    if "avx512" not in CPU_CAPABILITIES:
        with pytest.raises(ValueError, match="set_cpu_capability: level 'avx512' is not available"):
            _C.set_cpu_capability("avx512")
    with pytest.raises(ValueError, match="set_cpu_capability: unknown level 'sse9'"):
        _C.set_cpu_capability("sse9")
    assert _C.cpu_capability() == before  # no silent fallback or change


def test_tuning_fields():
    for level in CPU_CAPABILITIES:
        t = _C.cpu_path_tuning(level)
        for key in ("gemm_f32", "gemm_f64"):
            b = t[key]
            assert b["mc"] % b["mr"] == 0 and b["nc"] % b["nr"] == 0, (level, key)
        assert t["flops_per_cycle_f32"] == 2 * t["flops_per_cycle_f64"]
        assert t["l1d_bytes"] > 0 and t["l2_bytes"] > t["l1d_bytes"]
    assert _C.cpu_path_tuning("generic")["flops_per_cycle_f32"] == 8
    if "avx2_fma" in CPU_CAPABILITIES:
        t = _C.cpu_path_tuning("avx2_fma")
        assert t["flops_per_cycle_f32"] == 32
        assert (t["gemm_f32"]["mr"], t["gemm_f32"]["nr"]) == (6, 16)
        # Zen 4 runs a 512-bit FMA as two 256-bit halves: the same peak as AVX2 there
        t = _C.cpu_path_tuning("avx512")
        assert t["flops_per_cycle_f32"] == 32
        assert (t["gemm_f32"]["mr"], t["gemm_f32"]["nr"]) == (8, 32)
        assert (t["gemm_f64"]["mr"], t["gemm_f64"]["nr"]) == (8, 16)
        assert t["l1d_bytes"] == 32 * 1024 and t["l2_bytes"] == 1024 * 1024
    with pytest.raises(ValueError, match="cpu_path_tuning: unknown level"):
        _C.cpu_path_tuning("sse9")


def test_profiler_peak_comes_from_the_path(monkeypatch):
    monkeypatch.setitem(profiler._peak_cache, "ghz", 2.0)
    threads = 1
    for level in CPU_CAPABILITIES:
        with cpu_capability_selected(level):
            per_cycle = _C.cpu_path_tuning()["flops_per_cycle_f32"]
            assert profiler.peak_gflops(threads) == pytest.approx(per_cycle * 2.0)
    if len(CPU_CAPABILITIES) > 1:
        with cpu_capability_selected("generic"):
            low = profiler.peak_gflops(threads)
        with cpu_capability_selected(CPU_CAPABILITIES[-1]):
            assert profiler.peak_gflops(threads) > low


@pytest.mark.parametrize("level", CPU_CAPABILITIES)
def test_environment_variable_selects_a_path(level):
    out = _import_with(level)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == level


@pytest.mark.parametrize("level", ["avx512", "sse9", "AVX2_FMA"])
def test_environment_variable_refuses_unavailable_levels(level):
    if level in CPU_CAPABILITIES:  # pragma: no cover - a build with AVX-512 kernels
        pytest.skip(f"{level} is available here")
    out = _import_with(level)
    assert out.returncode != 0
    assert "ImportError" in out.stderr
    assert f"GRADCORE_CPU_CAPABILITY={level}" in out.stderr
    assert "available here: " + ", ".join(CPU_CAPABILITIES) in out.stderr


def test_replaced_force_generic_variable_is_not_ignored():
    out = _import_with("", GRADCORE_FORCE_GENERIC="1")
    assert out.returncode != 0
    assert "GRADCORE_FORCE_GENERIC is no longer read" in out.stderr
    assert "GRADCORE_CPU_CAPABILITY=generic" in out.stderr
    out = _import_with("generic", GRADCORE_FORCE_GENERIC="1")  # the new variable wins
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "generic"


@pytest.mark.skipif(
    "avx512" not in CPU_CAPABILITIES,
    reason="the CPU has no AVX-512 F+BW+VL+DQ with OS ZMM state: the avx512 path cannot run here",
)
def test_avx512_path_runs_the_avx2_code_of_the_other_kernels():
    """at_least(avx2_fma) holds on the avx512 path, so the kernels without AVX-512 code of their
    own (softmax's vexp loops, pooling, optimizer steps) run their AVX2 builds there: bitwise
    the avx2_fma results. The softmax loops round differently in the portable build, which
    shows the comparison can tell the builds apart."""
    import gradcore.nn.functional as F

    rng = np.random.default_rng(7)
    logits = rng.standard_normal((64, 1000)).astype(np.float32)
    planes = rng.standard_normal((4, 8, 33, 35)).astype(np.float32)
    param = rng.standard_normal(10000).astype(np.float32)
    grad = rng.standard_normal(10000).astype(np.float32)

    def outputs() -> dict:
        p, m, v, vmax = param.copy(), *(np.zeros_like(param) for _ in range(3))
        _C.adam_step_(p, grad, m, v, vmax, 1, 1e-3, 0.9, 0.999, 1e-8, 0.01, False, True, False)
        return {
            "softmax": F.softmax(gradcore.tensor(logits), dim=1).numpy(),
            "log_softmax": F.log_softmax(gradcore.tensor(logits), dim=1).numpy(),
            "max_pool2d": F.max_pool2d(gradcore.tensor(planes), 2).numpy(),
            "avg_pool2d": F.avg_pool2d(gradcore.tensor(planes), 2).numpy(),
            "adam_step_": p,
        }

    got = {}
    for level in CPU_CAPABILITIES:
        with cpu_capability_selected(level):
            got[level] = outputs()
    for name, want in got["avx2_fma"].items():
        np.testing.assert_array_equal(got["avx512"][name], want, err_msg=name)
    assert not np.array_equal(got["generic"]["softmax"], got["avx2_fma"]["softmax"])
