"""Switches of the CPU kernels: which convolution algorithms they may use.

The settings are process-wide (every thread sees them), like ``torch.backends.mkldnn``.

Winograd: float32 3x3 convolutions with stride 1, dilation 1, one group and padding at most 2
run their forward pass and both gradients as Winograd F(2x2, 3x3) where the CPU path measured
it faster (AVX-512: from 16 input and output channels; AVX2: from 64; the portable path:
never), up to about 2000 output columns at 64 + 64 channels. It does 2.25x fewer multiplies; results differ from the im2col/GEMM algorithm by
rounding only (a few times the error of the direct sum, as cuDNN's and oneDNN's Winograd
kernels) and stay bitwise identical across runs and thread counts. A NaN or Inf in the input
reaches outputs one pixel beyond its 3x3 window. Turn it off for results that match the GEMM
algorithm bit for bit. Details: docs/conv_winograd.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from gradcore import _C

__all__ = ["flags", "set_winograd_enabled", "winograd_enabled"]


def winograd_enabled() -> bool:
    """Whether eligible float32 convolutions may use the Winograd algorithm (default True)."""
    return bool(_C.conv_winograd_enabled())


def set_winograd_enabled(enabled: bool) -> None:
    """Allow (True) or forbid (False) the Winograd convolution algorithm, process-wide."""
    if not isinstance(enabled, bool):
        raise TypeError(
            f"set_winograd_enabled: enabled must be a bool, got {type(enabled).__name__}"
        )
    _C.set_conv_winograd_enabled(enabled)


@contextlib.contextmanager
def flags(*, winograd: bool | None = None) -> Iterator[None]:
    """Set the CPU switches for a block and restore them after it (None leaves one as it is).

    Example::

        with gradcore.backends.cpu.flags(winograd=False):
            y = model(x)  # the im2col/GEMM convolution only
    """
    before = winograd_enabled()
    if winograd is not None:
        set_winograd_enabled(winograd)
    try:
        yield
    finally:
        _C.set_conv_winograd_enabled(before)
