"""ONNX export: ``gradcore.onnx.export(model, example_input, path)``.

    gradcore.onnx.export(model, gradcore.randn(1, 1, 28, 28), "model.onnx")

The model is walked module by module (in eval mode, without gradients) from the example
input, each module becoming ONNX nodes of opset 17 and its parameters initializers named by
their state-dict keys; the batch dimension is dynamic (``batch``). Supported: Sequential,
Conv2d, ConvTranspose2d, BatchNorm1d/2d (eval: running statistics), ReLU, LeakyReLU, GELU,
Sigmoid, Tanh, SiLU, Softmax, LogSoftmax, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Linear,
Flatten, Identity, Dropout (identity), and the zoo's residual blocks (nn.BasicBlock:
the residual add; models.ResNet and ResNetSmall). Anything else raises UnsupportedModuleError naming the
module's path and class; `register_converter` adds a converter for a custom module.
Needs the ``onnx`` package (``pip install gradcore[onnx]``; onnxruntime runs the file).
"""

from gradcore.onnx.converters import UnsupportedModuleError, register_converter
from gradcore.onnx.export import OPSET, export

__all__ = ["OPSET", "UnsupportedModuleError", "export", "register_converter"]
