"""Neural-network layers, losses, containers and initialisers (PyTorch's names)."""

from importlib.util import find_spec as _find_spec

from gradcore.nn import functional, init
from gradcore.nn.conv_transpose import ConvTranspose2d
from gradcore.nn.layers import (
    GELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BasicBlock,
    BatchNorm1d,
    BatchNorm2d,
    BCEWithLogitsLoss,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Identity,
    L1Loss,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MaxPool2d,
    MSELoss,
    NLLLoss,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from gradcore.nn.module import Module, ModuleList, Parameter, Sequential

if _find_spec("gradcore.nn.utils") is not None:  # clip_grad_norm_ etc. (helper "train")
    from gradcore.nn import utils  # noqa: F401

__all__ = [
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BasicBlock",
    "BatchNorm1d",
    "BatchNorm2d",
    "BCEWithLogitsLoss",
    "Conv2d",
    "ConvTranspose2d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "GELU",
    "Identity",
    "L1Loss",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "MSELoss",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
    "init",
]
