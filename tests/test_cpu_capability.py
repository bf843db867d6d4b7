"""CPU capability levels: the ordered paths, selection from Python and from
GRADCORE_CPU_CAPABILITY, per-path tuning, the profiler's peak taken from the path, and the ISA
file rules (no target attributes in csrc, no weak symbols in ISA object files)."""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy as np
import pytest
from conftest import CPU_CAPABILITIES, cpu_capability_selected

import gradcore
from gradcore import _C, profiler

LEVELS = ("generic", "avx2_fma", "avx512")  # in order
PYTHON_DIR = str(Path(gradcore.__file__).resolve().parent.parent)
ROOT = Path(__file__).resolve().parents[1]


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
    # the default is the best available path (kDefaultCeiling = the highest implemented)
    assert _C.cpu_default_capability() == supported[-1]
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


def test_default_is_the_best_path_and_lower_ones_are_selectable():
    """Without GRADCORE_CPU_CAPABILITY the kernels run the best path the CPU and build support
    (cpu_features.h, kDefaultCeiling): avx512 where the CPU has AVX-512 F+BW+VL+DQ with OS ZMM
    state; every lower level is selectable by the variable and by set_cpu_capability."""
    out = _import_with("")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == _C.cpu_default_capability() == CPU_CAPABILITIES[-1]
    if _C.cpu_detected_capability() == "avx512":
        assert _C.cpu_default_capability() == "avx512"
    for level in CPU_CAPABILITIES:
        out = _import_with(level)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == level
        with cpu_capability_selected(level):
            assert _C.cpu_capability() == level
            assert _C.cpu_path_tuning()["name"] == level


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


# ------------------------------------------------------------------------------ ISA files
# ISA code lives in *_<isa>.cpp files compiled with that level's flags (CMakeLists.txt, "ISA
# files"); no function anywhere is compiled for another target by an attribute or pragma.
TARGET_ATTRIBUTE = re.compile(
    r"__attribute__\s*\(\(.*?\b(__)?target(_clones)?(__)?\s*\("
    r"|\[\[\s*gnu\s*::\s*(__)?target(_clones)?(__)?\s*\("
    r"|#\s*pragma\s+GCC\s+target\b"
    r"|#\s*pragma\s+clang\s+attribute\b.*\btarget\b"
)


def _target_attributes(text: str) -> List[str]:
    """The lines of C++ source `text` that compile a function for another target."""
    return [line.strip() for line in text.splitlines() if TARGET_ATTRIBUTE.search(line)]


def test_target_attribute_parsing():
    for line in (
        '__attribute__((target("avx2,fma"), flatten)) void f();',
        '__attribute__((always_inline, target("avx2"))) inline void f();',
        '__attribute__ (( __target__ ("fma"))) void f();',
        '__attribute__((target_clones("avx2", "default"))) void f();',
        '[[gnu::target("avx512f")]] void f();',
        '#pragma GCC target("avx2")',
        '#pragma clang attribute push (__attribute__((target("avx2"))), apply_to=function)',
    ):
        assert _target_attributes(line) == [line], line
    for line in (
        "__attribute__((always_inline, flatten)) inline float f(float x);",
        'set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "-mavx2")',
        '#pragma GCC optimize("no-trapping-math")',
        "if (at_least(CpuCapability::kAvx2Fma)) return avx2_fma::f(target, n);",
    ):
        assert _target_attributes(line) == [], line


def test_no_target_attributes_in_csrc():
    files = [
        p for p in sorted((ROOT / "csrc").rglob("*")) if p.suffix in (".h", ".cpp", ".cu", ".cuh")
    ]
    assert files, "no C++ sources found"
    found = [
        f"{p.relative_to(ROOT)}: {line}"
        for p in files
        for line in _target_attributes(p.read_text(encoding="utf-8"))
    ]
    assert not found, "ISA code belongs in a *_<isa>.cpp file (CMakeLists.txt):\n" + "\n".join(
        found
    )


def _isa_names() -> List[str]:
    """The ISA levels CMakeLists.txt sets flags for (GRADCORE_ISA_FLAGS_<isa>)."""
    names = re.findall(r"set\(GRADCORE_ISA_FLAGS_(\w+)\b", (ROOT / "CMakeLists.txt").read_text())
    assert names, "no GRADCORE_ISA_FLAGS_<isa> in CMakeLists.txt"
    return names


def _build_dir_of_imported_module() -> Path:
    """The CMake build directory under build/ that produced the imported gradcore._C, by
    content: a dev build copies the module out of build/<dir>, a pip build installs it."""
    module = Path(_C.__file__).resolve()
    for so in sorted(ROOT.glob("build/*/_C*.so")):
        if so.resolve() == module or filecmp.cmp(so, module, shallow=False):
            return so.parent
    pytest.skip(f"gradcore._C ({module}) was not built in {ROOT / 'build'}: no object files")


def test_isa_object_files_have_no_weak_symbols():
    """A weak (COMDAT) definition in an ISA object may replace the portable copy of the same
    inline function or template at link time, and then run on a CPU without that ISA."""
    build = _build_dir_of_imported_module()
    nm = shutil.which("nm")
    if nm is None:
        pytest.fail("nm (binutils) is needed to read the object files in " + str(build))
    objects = {}
    for isa in _isa_names():
        for src in sorted((ROOT / "csrc").rglob(f"*_{isa}.cpp")):
            rel = src.relative_to(ROOT)
            obj = build / "CMakeFiles" / "_C.dir" / f"{rel}.o"
            assert obj.exists(), f"no object file {obj} for {rel}"
            objects[rel] = (isa, obj)
    assert objects, "no ISA files (*_<isa>.cpp) found in csrc"
    weak = []
    for rel, (isa, obj) in objects.items():
        # POSIX format, one "<name> <type> <value> [<size>]" per symbol (mangled: no spaces);
        # nm reads the symbol table of LTO objects through the compiler's plugin
        out = subprocess.run(
            [nm, "--defined-only", "--portability", str(obj)],
            capture_output=True,
            text=True,
            check=True,
        )
        symbols = [line.split()[:2] for line in out.stdout.splitlines()]
        namespace = f"_ZN8gradcore{len(isa)}{isa}"  # gradcore::<isa>::, mangled
        assert any(n.startswith(namespace) for n, _ in symbols), (
            f"nm found no gradcore::{isa}:: function in {obj}: cannot check its symbols"
        )
        weak += [f"{rel}: {k} {n}" for n, k in symbols if k in ("W", "V", "u")]
    assert not weak, "weak symbols in ISA object files (CMakeLists.txt, ISA files):\n" + "\n".join(
        weak
    )
