"""Neural-network layers, losses, containers and initialisers (PyTorch's names)."""

from importlib.util import find_spec as _find_spec

from gradcore.nn import functional, init, parallel
from gradcore.nn.activation import (
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from gradcore.nn.blocks import BasicBlock
from gradcore.nn.containers import ModuleList, Sequential
from gradcore.nn.conv import Conv2d
from gradcore.nn.conv_transpose import ConvTranspose2d
from gradcore.nn.dropout import Dropout
from gradcore.nn.linear import Linear
from gradcore.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from gradcore.nn.module import Module, Parameter
from gradcore.nn.norm import BatchNorm1d, BatchNorm2d
from gradcore.nn.pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from gradcore.nn.shape import Flatten, Identity
from gradcore.nn.sync_batchnorm import SyncBatchNorm

if _find_spec("gradcore.nn.utils") is not None:  # clip_grad_norm_ etc. (helper "train")
    from gradcore.nn import utils  # noqa: F401

__all__ = [
    "SyncBatchNorm",
    "parallel",
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
    "SiLU",
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
