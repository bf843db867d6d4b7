"""Skip marker for tests whose native kernels have not landed in this build yet.

Each kernel family is written by another engineer; until its binding is in gradcore._C the
Python wrappers cannot run. Once every family has landed, no test skips for this reason.
"""

import pytest

import gradcore


def needs(*names: str):
    missing = [n for n in names if not hasattr(gradcore._C, n)]
    return pytest.mark.skipif(
        bool(missing), reason=f"native kernel(s) not built yet: {', '.join(missing)}"
    )


def skip_without(*names: str) -> None:
    """Inside a test: skip when a kernel is missing from this build."""
    missing = [n for n in names if not hasattr(gradcore._C, n)]
    if missing:
        pytest.skip(f"native kernel(s) not built yet: {', '.join(missing)}")
