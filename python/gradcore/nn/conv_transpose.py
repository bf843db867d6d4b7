"""nn.ConvTranspose2d: PyTorch's constructor, initialisation, state_dict layout and
forward(input, output_size=None)."""

from __future__ import annotations

import math

import numpy as np

from gradcore.nn import init
from gradcore.nn.module import Module, Parameter
from gradcore.ops.conv_transpose import conv_transpose2d, conv_transpose2d_output_hw
from gradcore.ops.window import pair
from gradcore.tensor import Tensor

__all__ = ["ConvTranspose2d"]


class ConvTranspose2d(Module):
    """2-d transposed convolution; weight (in_channels, out_channels/groups, kH, kW), bias
    (out_channels,).

    Output size H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1)
    + output_padding + 1; `forward(input, output_size)` picks the output_padding that gives
    `output_size` (which must lie within stride - 1 of the smallest size).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ):
        super().__init__()
        if padding_mode != "zeros":
            raise ValueError(
                f"ConvTranspose2d: only padding_mode='zeros' is supported, got {padding_mode!r}"
            )
        if groups < 1:
            raise ValueError(f"ConvTranspose2d: groups must be > 0, got {groups}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"ConvTranspose2d: in_channels ({in_channels}) and out_channels ({out_channels}) "
                f"must be divisible by groups ({groups})"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = pair(kernel_size, "kernel_size", "ConvTranspose2d")
        self.stride = pair(stride, "stride", "ConvTranspose2d")
        self.padding = pair(padding, "padding", "ConvTranspose2d")
        self.output_padding = pair(output_padding, "output_padding", "ConvTranspose2d")
        self.dilation = pair(dilation, "dilation", "ConvTranspose2d")
        self.groups = groups
        self.padding_mode = padding_mode
        dt = np.dtype(np.float32 if dtype is None else dtype)
        self.weight = Parameter(
            np.empty((in_channels, out_channels // groups) + self.kernel_size, dtype=dt)
        )
        if bias:
            self.bias = Parameter(np.empty((out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-uniform weight (a = sqrt(5)) and bias in +-1/sqrt(fan_in), as PyTorch; for
        this weight layout fan_in = weight.shape[1] * kH * kW = out_channels/groups * kH * kW."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _output_padding(self, input: Tensor, output_size) -> tuple[int, int]:
        """output_padding for the requested output_size ((H, W) or a full shape ending in
        (H, W)): size - smallest size, which must be in [0, stride - 1] per dimension."""
        if output_size is None:
            return self.output_padding
        size = tuple(int(s) for s in output_size)
        non_spatial = input.ndim - 2  # (N, C) or, unbatched, (C,)
        if len(size) == non_spatial + 2:
            size = size[non_spatial:]
        if len(size) != 2:
            raise ValueError(
                f"ConvTranspose2d: for {input.ndim}-d input, output_size must have 2 or "
                f"{non_spatial + 2} elements, got {tuple(output_size)}"
            )
        smallest = conv_transpose2d_output_hw(
            input.shape[-2:], self.kernel_size, self.stride, self.padding, (0, 0), self.dilation
        )
        pad = []
        for want, lo, s in zip(size, smallest, self.stride):
            if not lo <= want <= lo + s - 1:
                raise ValueError(
                    f"ConvTranspose2d: requested output_size {size} is not possible: for input "
                    f"{tuple(input.shape[-2:])} each size must lie between {smallest} and "
                    f"{tuple(lo + s - 1 for lo, s in zip(smallest, self.stride))}"
                )
            pad.append(want - lo)
        return tuple(pad)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        """y (N, out_channels, H_out, W_out) from input (N, in_channels, H, W) or (C, H, W)."""
        output_padding = self._output_padding(input, output_size)
        return conv_transpose2d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
        )

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        s += f", stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
