"""The repository's own style checks: ruff (lint + format) and clang-format.

They run as tests so that the README's single test command (and CI) enforce them.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set

import pytest

ROOT = Path(__file__).resolve().parents[1]
CXX_DIRS = ("csrc",)


def _tool(name: str) -> str:
    exe = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(exe).exists():
        pytest.fail(f"{name} is not installed: pip install '.[test]' installs it")
    return exe


def _run(cmd):
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}"


def test_ruff_lint():
    _run([_tool("ruff"), "check", "python", "tests", "bench", "examples"])


def test_ruff_format():
    _run([_tool("ruff"), "format", "--check", "python", "tests", "bench", "examples"])


def test_clang_format():
    files = [
        str(p)
        for d in CXX_DIRS
        for p in sorted((ROOT / d).rglob("*"))
        if p.suffix in (".h", ".cpp", ".cu", ".cuh")
    ]
    assert files, "no C++ sources found"
    _run([_tool("clang-format"), "--dry-run", "--Werror", *files])


# ------------------------------------------------------------------------------ file length
MAX_LINES = 500
# A longer library file states why on one of its first lines: "# long-file: <reason>" (Python)
# or "// long-file: <reason>" (C++).
LONG_FILE_MARKER = re.compile(r"^\s*(#|//)\s*long-file:\s*(\S.*)$")
MARKER_WITHIN = 10  # lines from the top
LIBRARY_GLOBS = (
    ("python/gradcore", "*.py"),
    ("csrc", "*.h"),
    ("csrc", "*.cpp"),
    ("csrc", "*.cu"),
    ("csrc", "*.cuh"),
)


def _long_file_reason(lines: List[str], comment: str) -> Optional[str]:
    """The reason after a `long-file:` marker in the first MARKER_WITHIN lines, or None."""
    for line in lines[:MARKER_WITHIN]:
        m = LONG_FILE_MARKER.match(line)
        if m and m.group(1) == comment:
            return m.group(2).strip()
    return None


def test_long_files_state_a_reason():
    """A library file over MAX_LINES lines carries a `long-file:` reason near its top."""
    offenders = []
    for top, pattern in LIBRARY_GLOBS:
        for path in sorted((ROOT / top).rglob(pattern)):
            lines = path.read_text(encoding="utf-8").splitlines()
            if len(lines) <= MAX_LINES:
                continue
            comment = "#" if path.suffix == ".py" else "//"
            if _long_file_reason(lines, comment) is None:
                offenders.append(f"{path.relative_to(ROOT)} ({len(lines)} lines)")
    assert not offenders, (
        f"library files over {MAX_LINES} lines without a stated reason: {', '.join(offenders)}; "
        f"split them by purpose, or put '# long-file: <reason>' ('// long-file: <reason>' in "
        f"C++) in their first {MARKER_WITHIN} lines"
    )


def test_long_file_marker_parsing():
    """The marker needs its comment syntax, a reason, and a place near the top."""
    assert _long_file_reason(["# long-file: one table", "x = 1"], "#") == "one table"
    assert _long_file_reason(['"""doc"""', "// long-file: kernels"], "//") == "kernels"
    assert _long_file_reason(["# long-file:", "x = 1"], "#") is None  # no reason
    assert _long_file_reason(["// long-file: kernels"], "#") is None  # wrong comment syntax
    assert _long_file_reason([""] * MARKER_WITHIN + ["# long-file: late"], "#") is None


# ------------------------------------------------------------------- _C symbols and callers
BINDINGS_DIR = "csrc/bindings"
# Bound names that no library code calls, each with the reason it stays bound.
TEST_ONLY_SYMBOLS: Dict[str, str] = {
    "set_cpu_capability": "tests run each kernel on every CPU path the machine supports",
    "profiler_enabled": "tests check that the native profiler is off outside a profile",
    "profiler_scope_cost_ns": "bench/bench_profiler.py measures the cost of a profiling scope",
    "fail_scratch_in_thread": "tests make a worker's scratch allocation fail inside OpenMP",
    "gemm_tile_for": "tests check which path and tile multiply narrow products",
    "float_to_float16": "CPU test driver of the CUDA float16 packing kernel (_C.cuda_host)",
    "float16_to_float": "CPU test driver of the CUDA float16 unpacking kernel (_C.cuda_host)",
    "im2col": "CPU test driver of the CUDA im2col kernel (_C.cuda_host); _C has no im2col binding",
    "col2im": "CPU test driver of the CUDA col2im kernel (_C.cuda_host); _C has no col2im binding",
    "set_gemm_narrow_route": "the avx512 tests exercise its own tiles on narrow products too",
    "strided_copy": "CPU test driver of the CUDA array ops; the op layer calls them on CUDA "
    "storage (gradcore.cuda)",
}

_DEF_CALL = re.compile(r"\.\s*def\s*\(\s*(?:\"([A-Za-z_]\w*)\"|([A-Za-z_]\w*))")
_HELPER_LAMBDA = re.compile(r"\bauto\s+([A-Za-z_]\w*)\s*=\s*\[")


def _bound_names(sources: Dict[str, str]) -> Dict[str, str]:
    """Every name a binding source defines on the module: {name: file}.

    `m.def("name", ...)` (or `.def("name"` on any object) counts directly. A `.def(var, ...)`
    inside a helper lambda (`auto def_pair = [&m](const char* fwd_name, ...) { m.def(fwd_name...`)
    counts the string literals that open each call of that helper (`def_pair("a", "b", ...)`).
    A `.def(` whose name can be found neither way fails, so no binding escapes the check.
    """
    names: Dict[str, str] = {}
    for file, text in sources.items():
        for m in _DEF_CALL.finditer(text):
            if m.group(1):
                names[m.group(1)] = file
                continue
            helpers = _HELPER_LAMBDA.findall(text[: m.start()])
            line = text.count("\n", 0, m.start()) + 1
            assert helpers, f"{file}:{line}: cannot tell the name bound by `.def({m.group(2)}`"
            call = re.compile(r"\b" + helpers[-1] + r"\s*\(\s*(\"\w+\"(?:\s*,\s*\"\w+\")*)")
            found = [n for c in call.finditer(text) for n in re.findall(r"\"(\w+)\"", c.group(1))]
            assert found, f'{file}:{line}: no call of {helpers[-1]}("name", ...) found'
            for n in found:
                names[n] = file
    return names


def _used_names(sources: Iterable[str]) -> Set[str]:
    """Identifiers that Python sources use after a dot (`_C.x`, `kernels.x`) or as a string
    (`getattr(_C, "x")`, a table of names)."""
    used: Set[str] = set()
    for text in sources:
        used.update(re.findall(r"\.\s*([A-Za-z_]\w*)", text))
        used.update(re.findall(r"[\"']([A-Za-z_]\w*)[\"']", text))
    return used


def test_bound_name_parsing():
    cpp = (
        'm.def("relu_forward", [](py::array x) { return x; });\n'
        'm.def(\n    "gemm",\n    [](py::array a) { return a; });\n'
        "auto def_pair = [&m](const char* fwd_name, const char* bwd_name) {\n"
        "  m.def(fwd_name, f);\n  m.def(bwd_name, g);\n};\n"
        'def_pair("mse_loss_forward", "mse_loss_backward");\n'
    )
    assert set(_bound_names({"bind_x.cpp": cpp})) == {
        "relu_forward",
        "gemm",
        "mse_loss_forward",
        "mse_loss_backward",
    }
    with pytest.raises(AssertionError, match="cannot tell the name"):
        _bound_names({"bind_y.cpp": "m.def(name_from_a_loop, f);"})
    used = _used_names(["y = _C.relu_forward(x)", "k = kernels . gemm", 'getattr(_C, "sgd_step_")'])
    assert {"relu_forward", "gemm", "sgd_step_"} <= used
    assert "relu" not in used


def test_every_bound_name_has_a_caller():
    """Every function gradcore._C defines is used by the library (python/gradcore), or is
    listed in TEST_ONLY_SYMBOLS with its reason."""
    sources = {
        str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
        for p in sorted((ROOT / BINDINGS_DIR).glob("*"))
        if p.suffix in (".cpp", ".h")
    }
    bound = _bound_names(sources)
    assert len(bound) > 20, f"found only {len(bound)} bindings in {BINDINGS_DIR}: parser broken?"
    used = _used_names(
        p.read_text(encoding="utf-8") for p in sorted((ROOT / "python/gradcore").rglob("*.py"))
    )
    uncalled = sorted(n for n in bound if n not in used and n not in TEST_ONLY_SYMBOLS)
    assert not uncalled, (
        "gradcore._C functions that no code in python/gradcore calls: "
        + ", ".join(f"{n} ({bound[n]})" for n in uncalled)
        + "; call them, delete the binding, or list them in TEST_ONLY_SYMBOLS with a reason"
    )
    stale = sorted(n for n in TEST_ONLY_SYMBOLS if n not in bound or n in used)
    assert not stale, f"TEST_ONLY_SYMBOLS entries that are not bound or have a caller: {stale}"
