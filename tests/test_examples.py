"""The example scripts run (on a small subset) and report a test accuracy."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAVE_FMNIST = os.path.isdir("/usr/share/datasets/fashion-mnist")


@pytest.mark.parametrize(
    ("script", "marker"),
    [("custom_model.py", "test accuracy:"), ("manual_loop.py", "test acc")],
)
def test_example_runs(script, marker):
    args = ["--limit", "512", "--epochs", "1"]
    if not HAVE_FMNIST:
        args.append("--synthetic")
    p = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", script), *args],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert marker in p.stdout
