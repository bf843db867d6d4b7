"""gradcore: a CNN training core with C++17/OpenMP kernels and a PyTorch-like API."""

from gradcore import _C
from gradcore._runtime import (
    format_info,
    get_num_threads,
    info,
    set_flush_denormal,
    set_num_threads,
)
from gradcore.serialization import load, save

__version__ = _C.build_info()["version"]

__all__ = [
    "__version__",
    "format_info",
    "get_num_threads",
    "info",
    "load",
    "save",
    "set_flush_denormal",
    "set_num_threads",
]
