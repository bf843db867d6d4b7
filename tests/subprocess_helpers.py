"""Running a snippet in a fresh Python that imports the same gradcore as the tests, under a
timeout (a hang fails the test instead of hanging the suite)."""

from __future__ import annotations

import os
import subprocess
import sys

import gradcore

# The directory holding the gradcore package under test (installed, or a PYTHONPATH tree).
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(gradcore.__file__)))


def child_env(**overrides: str | None) -> dict[str, str]:
    """This process's environment with gradcore importable; a None value removes a variable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_python(
    code: str, timeout: float = 120, env: dict[str, str] | None = None, **popen
) -> subprocess.CompletedProcess:
    """Run `code` with this interpreter; a run past `timeout` seconds fails the calling test."""
    try:
        return subprocess.run(
            [sys.executable, "-c", code],
            env=child_env() if env is None else env,
            capture_output=True,
            text=True,
            timeout=timeout,
            **popen,
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(
            f"child python did not finish within {timeout} s (hang); stdout: {e.stdout!r}"
        ) from None
