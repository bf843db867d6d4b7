"""Residual blocks: torchvision's ResNet BasicBlock and its conv3x3/conv1x1 helpers."""

from __future__ import annotations

from collections import OrderedDict

from gradcore.nn.activation import ReLU
from gradcore.nn.containers import Sequential
from gradcore.nn.conv import Conv2d
from gradcore.nn.module import Module
from gradcore.nn.norm import BatchNorm2d

__all__ = ["BasicBlock", "conv3x3", "conv1x1"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, dtype=None) -> Conv2d:
    return Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False, dtype=dtype)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1, dtype=None) -> Conv2d:
    return Conv2d(in_planes, out_planes, 1, stride=stride, bias=False, dtype=dtype)


class BasicBlock(Module):
    """torchvision's ResNet basic block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).

    The shortcut is `downsample` (conv1x1 + BatchNorm2d, created automatically when the
    stride or channel count changes, or passed in), else the identity. state_dict keys match
    torchvision's (conv1.weight, bn1.running_mean, downsample.0.weight, downsample.1.bias...).
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None, dtype=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride, dtype)
        self.bn1 = BatchNorm2d(planes, dtype=dtype)
        self.relu = ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, 1, dtype)
        self.bn2 = BatchNorm2d(planes, dtype=dtype)
        if downsample is None and (stride != 1 or inplanes != planes):
            downsample = Sequential(
                OrderedDict(
                    [
                        ("0", conv1x1(inplanes, planes, stride, dtype)),
                        ("1", BatchNorm2d(planes, dtype=dtype)),
                    ]
                )
            )
        self.downsample = downsample
        if downsample is None:
            self.add_module("downsample", None)
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)
