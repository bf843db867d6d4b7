"""Shared fixtures: seeded random generators, thread-count control, optional PyTorch, and
the CPU path (capability) every native-kernel test runs on."""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import pytest

import gradcore
from gradcore import _C

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


# The modules whose tests call native kernels: each of their tests runs once per CPU path
# this machine and build support (generic, avx2_fma, ...), the path in the test id
# ("cpu=avx2_fma"). A test that compares paths itself is marked `across_cpu_capabilities`
# and runs once, switching with `cpu_capability_selected`.
KERNEL_TEST_MODULES = frozenset(
    {
        "test_activation",
        "test_conv",
        "test_conv_bf16",
        "test_conv_relu_pool",
        "test_conv_winograd",
        "test_convert",
        "test_dropout",
        "test_elementwise",
        "test_gemm",
        "test_gemm_bf16",
        "test_linear",
        "test_loss",
        "test_norm",
        "test_optim_kernels",
        "test_pool",
        "test_softmax",
    }
)
CPU_CAPABILITIES = tuple(_C.supported_cpu_capabilities())


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "across_cpu_capabilities: compares CPU paths itself; not run once per path"
    )


def pytest_generate_tests(metafunc) -> None:
    stem = metafunc.module.__name__.rpartition(".")[2]
    if stem not in KERNEL_TEST_MODULES:
        return
    if metafunc.definition.get_closest_marker("across_cpu_capabilities") is not None:
        return
    metafunc.parametrize(
        "cpu_capability",
        CPU_CAPABILITIES,
        indirect=True,
        ids=[f"cpu={c}" for c in CPU_CAPABILITIES],
    )


@contextlib.contextmanager
def cpu_capability_selected(name: str) -> Iterator[str]:
    """Run a block on CPU path `name` (ValueError if unavailable), restoring the previous one."""
    before = _C.cpu_capability()
    got = _C.set_cpu_capability(name)
    try:
        yield got
    finally:
        _C.set_cpu_capability(before)


@pytest.fixture(autouse=True)
def cpu_capability(request) -> Iterator[str]:
    """The CPU path the test runs on: the parametrised one in kernel modules, else the default."""
    name = getattr(request, "param", None)
    if name is None:
        yield _C.cpu_capability()
        return
    with cpu_capability_selected(name) as got:
        assert got == name
        yield got


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
