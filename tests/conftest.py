"""Shared fixtures: seeded random generators, thread-count control, optional PyTorch."""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import pytest

import gradcore

try:  # PyTorch is an optional reference: tests that compare with it skip without it.
    import torch as _torch
except ImportError:  # pragma: no cover - depends on the environment
    _torch = None


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so failures reproduce."""
    return np.random.default_rng(1234)


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Run a block with `n` native threads, restoring the previous setting."""
    before = gradcore.get_num_threads()
    gradcore.set_num_threads(n)
    try:
        yield
    finally:
        gradcore.set_num_threads(before)


@pytest.fixture
def torch():
    """The torch module, or skip this (comparison-only) test when it is not installed."""
    if _torch is None:
        pytest.skip("PyTorch not installed: comparison with PyTorch skipped")
    _torch.set_num_threads(1)
    return _torch


def assert_allclose(actual, desired, rtol: float = 1e-5, atol: float = 1e-6, what: str = ""):
    """np.testing.assert_allclose with a float64 comparison and a named context."""
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64),
        np.asarray(desired, dtype=np.float64),
        rtol=rtol,
        atol=atol,
        err_msg=what,
    )
