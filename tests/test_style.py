"""The repository's own style checks: ruff (lint + format) and clang-format.

They run as tests so that the README's single test command (and CI) enforce them.
"""

import shutil
import subprocess
import sys
from pathlib import Path

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
