"""gradcore.bfloat16: the dtype (from ml_dtypes, the package JAX and TensorFlow use for it)
and the float32 <-> bfloat16 casts through the native kernels (csrc/cpu/convert.h: round to
nearest even on the bit pattern, NaN kept as a quiet NaN with its sign).

ml_dtypes is an optional dependency (`pip install 'gradcore[bf16]'`), imported on first use of
`gradcore.bfloat16`.
"""

from __future__ import annotations

import numpy as np

_dtype = None


def bfloat16_dtype() -> np.dtype:
    """numpy's dtype for bfloat16 (ml_dtypes.bfloat16); ImportError saying what to install."""
    global _dtype
    if _dtype is None:
        try:
            import ml_dtypes
        except ImportError as e:
            raise ImportError(
                "gradcore.bfloat16 needs the ml_dtypes package: pip install 'gradcore[bf16]' "
                f"(or pip install ml_dtypes) ({e})"
            ) from e
        _dtype = np.dtype(ml_dtypes.bfloat16)
    return _dtype


def is_bfloat16(dtype: np.dtype) -> bool:
    """True for ml_dtypes' bfloat16 (checked by name: no import needed)."""
    return dtype.name == "bfloat16"


def cast_array(kern, a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """`a` as `dtype`: float32 <-> bfloat16 through the kernels of table `kern`, anything else
    through numpy (ml_dtypes also rounds to nearest even)."""
    if is_bfloat16(dtype) and a.dtype == np.float32:
        return kern.float_to_bfloat16(a).view(dtype)
    if is_bfloat16(a.dtype) and dtype == np.float32:
        return kern.bfloat16_to_float(a.view(np.uint16))
    return a.astype(dtype)
