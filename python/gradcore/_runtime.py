"""Build information, threads and numeric modes of the native core (gradcore._C)."""

from __future__ import annotations

import os
import platform
import warnings
from typing import Any

from gradcore import _C, _wait_policy


def info() -> dict[str, Any]:
    """Return what this build of gradcore is and how it runs here.

    Keys: version, compiler, openmp, num_threads, cpu_capability (the kernel path in use:
    generic, avx2_fma, ...; GRADCORE_CPU_CAPABILITY selects another, avx512 included),
    cpu_default_capability (the path used when GRADCORE_CPU_CAPABILITY is unset: the best
    one this CPU and build can run), cpu_capabilities (the paths this CPU and build
    can run), cpu_detected_capability (the CPU's own level, even one this build has no
    kernels for), cpu_has_avx2_fma, cuda_compiled (gradcore._C_cuda is built), cuda_available (and
    cuda_device when a GPU is visible), flush_denormal,
    bf16_gemm (how bfloat16 products run: "avx512_bf16" or "float32"), conv_winograd (whether
    float32 3x3 convolutions may run as Winograd on this path: "off", "disabled" by
    gradcore.backends.cpu, or "from N channels"), malloc_tuned (large
    freed blocks stay in the process: GRADCORE_MALLOC_TUNING=0 turns this
    off), omp_wait_policy (how idle OpenMP threads wait, and who chose it),
    threads_disabled_by_fork (True in a process forked after OpenMP threads had started:
    kernels use one thread), python, machine.
    """
    d = dict(_C.build_info())
    d["num_threads"] = _C.get_num_threads()
    d["cpu_capability"] = _C.cpu_capability()
    d["cpu_default_capability"] = _C.cpu_default_capability()
    d["cpu_capabilities"] = list(_C.supported_cpu_capabilities())
    d["cpu_detected_capability"] = _C.cpu_detected_capability()
    d["flush_denormal"] = _C.flush_denormal_enabled()
    d["omp_wait_policy"] = _wait_policy.describe_wait_policy(_wait_policy.APPLIED)
    d["threads_disabled_by_fork"] = _C.threads_disabled_by_fork()
    d["bf16_gemm"] = _C.gemm_bf16_route()
    min_channels = _C.cpu_path_tuning()["winograd_min_channels"]
    if not min_channels:
        d["conv_winograd"] = "off"
    elif not _C.conv_winograd_enabled():
        d["conv_winograd"] = "disabled"
    else:
        d["conv_winograd"] = f"from {min_channels} channels"
    from gradcore import cuda  # imports gradcore._C_cuda when it is built

    d["cuda_compiled"] = cuda.is_built()
    d["cuda_available"] = cuda.is_available()
    if d["cuda_available"]:
        d["cuda_device"] = (
            f"{cuda.get_device_name(0)} (sm_{''.join(map(str, cuda.get_device_capability(0)))})"
        )
    d["python"] = platform.python_version()
    d["machine"] = platform.machine()
    d["omp_num_threads_env"] = os.environ.get("OMP_NUM_THREADS")
    return d


def format_info(d: dict[str, Any] | None = None) -> str:
    """`info()` as aligned 'key: value' lines, for the command line."""
    d = info() if d is None else d
    width = max(len(k) for k in d)
    return "\n".join(f"{k.ljust(width)} : {v}" for k, v in d.items())


def get_num_threads() -> int:
    """Number of threads the native kernels use."""
    return _C.get_num_threads()


def set_num_threads(n: int) -> None:
    """Set the number of threads the native kernels use (n >= 1).

    Without OpenMP the build is single-threaded and this has no effect. In a process forked
    after gradcore's threads had started (os.fork, multiprocessing's "fork" start method)
    the kernels stay on one thread and this warns (README: "Fork safety").
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    _C.set_num_threads(n)
    if n > 1 and _C.threads_disabled_by_fork():
        warnings.warn(
            f"set_num_threads({n}): this process was forked after gradcore's OpenMP threads "
            "had started, and OpenMP cannot start them again in a forked child; kernels stay "
            "on one thread (use the 'spawn' or 'forkserver' start method for more)",
            RuntimeWarning,
            stacklevel=2,
        )


def set_flush_denormal(on: bool) -> None:
    """Flush denormal floats to zero inside native kernels (on by default)."""
    _C.set_flush_denormal(bool(on))
