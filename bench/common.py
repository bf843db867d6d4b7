"""Shared benchmark helpers: robust timing, JSON output, machine peak, thread control."""

from __future__ import annotations

import ctypes
import glob
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable, Optional


def timeit(fn: Callable[[], object], repeat: int = 5, min_time: float = 0.05) -> float:
    """Median seconds per call of fn over `repeat` samples, after one warm-up call.

    Each sample runs fn enough times to last at least min_time seconds.
    """
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-9)
    inner = max(1, int(min_time / once))
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def interleaved_samples(
    fns: dict, repeat: int = 5, min_time: float = 0.05, settle: Optional[float] = None
) -> dict:
    """Seconds per call for each named fn in each of `repeat` rounds, timed round-robin (the
    order reversed every other round) so that load from other processes on a shared machine
    hits all of them alike: {name: [round 0, round 1, ...]}.

    `settle` seconds of sleep precede each timed block (default: 0.12 s when the native
    kernels use more than one thread). Thread pools spin for a while after their work
    (OpenBLAS's idle threads for ~0.1 s, OpenMP's for less); on a 2-core machine a block
    timed right after another library's call competes with its spinning threads, which
    halved the measured 2-thread GEMM speed. A user running one library never pays that.
    """
    if settle is None:
        import gradcore

        settle = 0.12 if gradcore.get_num_threads() > 1 and len(fns) > 1 else 0.0
    inner = {}
    for name, fn in fns.items():
        fn()
        t0 = time.perf_counter()
        fn()
        inner[name] = max(1, int(min_time / max(time.perf_counter() - t0, 1e-9)))
    samples = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeat):
        for name in names if r % 2 == 0 else names[::-1]:
            fn = fns[name]
            if settle:
                time.sleep(settle)
            t0 = time.perf_counter()
            for _ in range(inner[name]):
                fn()
            samples[name].append((time.perf_counter() - t0) / inner[name])
    return samples


def medians(samples: dict) -> dict:
    """{name: median of its per-round seconds} for samples from interleaved_samples."""
    return {name: statistics.median(s) for name, s in samples.items()}


def interleaved(
    fns: dict, repeat: int = 5, min_time: float = 0.05, settle: Optional[float] = None
) -> dict:
    """Median seconds per call for each named fn over the rounds of interleaved_samples."""
    return medians(interleaved_samples(fns, repeat, min_time, settle))


def paired_ratio(samples: dict, reference: str, candidate: str) -> float:
    """Median over the rounds of samples[reference] / samples[candidate]: the speed of
    `candidate` relative to `reference` (> 1: candidate is faster), each round's two times
    taken seconds apart under the same load, so a burst of load from other processes that hits
    one round does not skew the ratio as it can the ratio of the two medians."""
    return statistics.median(x / y for x, y in zip(samples[reference], samples[candidate]))


def write_json(path, payload) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def machine_peak_gflops() -> float:
    """cores x fp32 FLOP/cycle of gradcore's CPU path in use (its tuning: AVX2+FMA 2 FMA units
    x 8 lanes x 2 = 32) x clock (GHz): gradcore.profiler.peak_gflops, whose clock is measured
    (a VM's /proc/cpuinfo gives the nominal clock: 2.6 GHz on a Zen 4 running at 3.66 GHz,
    which put measured convolutions at 120-135% of "peak")."""
    from gradcore import _C

    cores = os.cpu_count() or 1
    try:
        from gradcore import profiler

        return profiler.peak_gflops(cores)
    except (ImportError, AttributeError):  # a build from before the profiler's peak (bench_ab)
        pass
    if hasattr(_C, "cpu_path_tuning"):
        per_cycle = _C.cpu_path_tuning()["flops_per_cycle_f32"]
    else:  # a build from before the per-path tuning (bench_ab.py runs these scripts on one)
        per_cycle = 32 if _C.simd_path() == "avx2_fma" else 8
    mhz = []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("cpu mhz"):
                mhz.append(float(line.split(":")[1]))
    except OSError:
        pass
    ghz = (max(mhz) if mhz else 2500.0) / 1000.0
    return cores * per_cycle * ghz


def machine_info() -> dict:
    """The machine, and gradcore's CPU path and peak where this interpreter can import it
    (bench_ab.py's own interpreter need not: its two builds run under other ones)."""
    info = {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
    }
    try:
        info["peak_gflops_fp32"] = round(machine_peak_gflops(), 1)
        info["cpu_capability"] = _cpu_capability()
    except ImportError:
        pass
    return info


def _cpu_capability() -> str:
    """gradcore's CPU path in use (GRADCORE_CPU_CAPABILITY selects a lower one)."""
    from gradcore import _C

    if hasattr(_C, "cpu_capability"):
        return _C.cpu_capability()
    return _C.simd_path()  # a build from before the ordered capability (bench_ab.py)


_blas_setter = None


def set_numpy_threads(n: int) -> bool:
    """Best effort: set the thread count of numpy's bundled OpenBLAS. False if not found."""
    global _blas_setter
    if _blas_setter is None:
        import numpy as np

        libs = glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*"))
        for lib in libs:
            try:
                dll = ctypes.CDLL(lib)
            except OSError:
                continue
            for sym in (
                "scipy_openblas_set_num_threads64_",
                "openblas_set_num_threads64_",
                "openblas_set_num_threads",
            ):
                if hasattr(dll, sym):
                    _blas_setter = getattr(dll, sym)
                    break
            if _blas_setter:
                break
        if _blas_setter is None:
            _blas_setter = False
    if not _blas_setter:
        return False
    _blas_setter(ctypes.c_int(n))
    return True
