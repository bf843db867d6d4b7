"""gradcore: a CNN training core with C++17/OpenMP kernels and a PyTorch-like API."""

import os as _os

# First: sets the OpenMP wait policy before gradcore._C loads libgomp (README: Sharing a machine).
from gradcore import _wait_policy  # noqa: F401

# isort: split
from gradcore import _C, amp, autograd, backends, cuda, nn, onnx, optim, profiler, random, utils
from gradcore._runtime import (
    format_info,
    get_num_threads,
    info,
    set_flush_denormal,
    set_num_threads,
)
from gradcore.amp import autocast
from gradcore.autograd import (
    Function,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from gradcore.devices import device
from gradcore.nn import utils as _nn_utils  # noqa: F401  (gradcore.nn.utils.clip_grad_norm_ ...)
from gradcore.random import get_rng_state, manual_seed, set_rng_state
from gradcore.safetensors_io import load_safetensors, save_safetensors
from gradcore.serialization import load, save
from gradcore.tensor import (
    Tensor,
    arange,
    as_tensor,
    cat,
    double,
    empty,
    empty_like,
    float32,
    float64,
    from_numpy,
    full,
    int64,
    long,
    matmul,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    stack,
    tensor,
    zeros,
    zeros_like,
)

__version__ = _C.build_info()["version"]

if _os.environ.get("GRADCORE_PROFILE"):
    profiler._profile_whole_run(_os.environ["GRADCORE_PROFILE"])

__all__ = [
    "amp",
    "autocast",
    "__version__",
    "Function",
    "Tensor",
    "arange",
    "as_tensor",
    "cat",
    "autograd",
    "backends",
    "cuda",
    "device",
    "double",
    "empty",
    "empty_like",
    "enable_grad",
    "float32",
    "float64",
    "format_info",
    "from_numpy",
    "full",
    "get_num_threads",
    "get_rng_state",
    "info",
    "int64",
    "is_grad_enabled",
    "load",
    "load_safetensors",
    "long",
    "manual_seed",
    "matmul",
    "nn",
    "onnx",
    "optim",
    "no_grad",
    "ones",
    "ones_like",
    "profiler",
    "rand",
    "randint",
    "randn",
    "random",
    "save",
    "save_safetensors",
    "set_detect_anomaly",
    "set_flush_denormal",
    "set_grad_enabled",
    "set_num_threads",
    "set_rng_state",
    "stack",
    "tensor",
    "utils",
    "zeros",
    "zeros_like",
]


def __getattr__(name: str):
    """`gradcore.bfloat16`, resolved on first use (it needs the optional ml_dtypes)."""
    if name == "bfloat16":
        from gradcore.bf16 import bfloat16_dtype

        return bfloat16_dtype()
    raise AttributeError(f"module 'gradcore' has no attribute {name!r}")
