"""gradcore: a CNN training core with C++17/OpenMP kernels and a PyTorch-like API."""

import os as _os

from gradcore import _C, profiler
from gradcore._runtime import (
    format_info,
    get_num_threads,
    info,
    set_flush_denormal,
    set_num_threads,
)
from gradcore.serialization import load, save

__version__ = _C.build_info()["version"]

if _os.environ.get("GRADCORE_PROFILE"):
    profiler._profile_whole_run(_os.environ["GRADCORE_PROFILE"])

__all__ = [
    "__version__",
    "format_info",
    "get_num_threads",
    "info",
    "load",
    "profiler",
    "save",
    "set_flush_denormal",
    "set_num_threads",
]
