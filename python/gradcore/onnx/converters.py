"""Module -> ONNX node converters, one per supported module class.

A converter is ``fn(builder, module, input_name, x) -> (output_name, y)``: it appends the
module's nodes to `builder` reading the value `input_name` (whose gradcore value is `x`) and
returns the name of its output with gradcore's own output `y = module(x)` (used for shapes
and checked by the tests against onnxruntime).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

from gradcore import nn
from gradcore.nn.blocks import BasicBlock

Converter = Callable[[Any, Any, str, Any], Tuple[str, Any]]
_CONVERTERS: Dict[type, Converter] = {}


class UnsupportedModuleError(TypeError):
    """A module (or a setting of it) that the ONNX exporter cannot express."""


def register_converter(cls: type) -> Callable[[Converter], Converter]:
    """Decorator: use the decorated function to export modules of class `cls` (exactly)."""

    def deco(fn: Converter) -> Converter:
        _CONVERTERS[cls] = fn
        return fn

    return deco


class GraphBuilder:
    """Accumulates nodes and initializers; names values uniquely."""

    def __init__(self, onnx: Any, prefixes: Dict[int, str]) -> None:
        self.onnx = onnx
        self.prefixes = prefixes  # id(module) -> its state-dict prefix ("layer1.0.conv1")
        self.nodes: List[Any] = []
        self.initializers: List[Any] = []
        self._count = 0

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def add(self, op: str, inputs: List[str], outputs: List[str], **attrs: Any) -> str:
        self.nodes.append(self.onnx.helper.make_node(op, inputs, outputs, **attrs))
        return outputs[0]

    def op(self, op: str, inputs: List[str], hint: str, **attrs: Any) -> str:
        return self.add(op, inputs, [self.fresh(hint)], **attrs)

    def const(self, module: Any, key: str, value: np.ndarray) -> str:
        """An initializer named `<module prefix>.<key>` (the state-dict name when `key` is
        a parameter or buffer)."""
        prefix = self.prefixes.get(id(module), "")
        name = f"{prefix}.{key}" if prefix else key
        if any(t.name == name for t in self.initializers):
            name = self.fresh(name)
        arr = np.ascontiguousarray(value)
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def where(self, module: Any) -> str:
        prefix = self.prefixes.get(id(module), "")
        return f"{type(module).__name__} at {prefix!r}" if prefix else type(module).__name__


def convert_module(builder: GraphBuilder, module: Any, name: str, x: Any) -> Tuple[str, Any]:
    fn = _CONVERTERS.get(type(module))
    if fn is None:
        supported = ", ".join(sorted(c.__name__ for c in _CONVERTERS))
        raise UnsupportedModuleError(
            f"onnx.export: no converter for module {builder.where(module)} "
            f"({type(module).__module__}.{type(module).__qualname__}); supported: {supported} "
            "(gradcore.onnx.register_converter adds one)"
        )
    return fn(builder, module, name, x)


def _unsupported(builder: GraphBuilder, module: Any, what: str) -> UnsupportedModuleError:
    return UnsupportedModuleError(f"onnx.export: {builder.where(module)}: {what}")


def _pair(v: Any) -> Tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


# ------------------------------------------------------------------------ containers
@register_converter(nn.Sequential)
def _sequential(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    for child in m._modules.values():
        if child is not None:
            name, x = convert_module(b, child, name, x)
    return name, x


@register_converter(BasicBlock)
def _basic_block(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)): the residual Add."""
    if m.downsample is None:
        short = name
    else:
        short, _ = convert_module(b, m.downsample, name, x)
    h, y = convert_module(b, m.conv1, name, x)
    h, y = convert_module(b, m.bn1, h, y)
    h, y = convert_module(b, m.relu, h, y)
    h, y = convert_module(b, m.conv2, h, y)
    h, y = convert_module(b, m.bn2, h, y)
    s = b.op("Add", [h, short], "residual_add")
    return b.op("Relu", [s], "relu"), m(x)


def _resnet(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    """The zoo's ResNet (and ResNetSmall): stem, stages, average pool, flatten, fc."""
    y = x
    for child in (m.conv1, m.bn1, m.relu, *m.stages(), m.avgpool, m.flatten):
        name, y = convert_module(b, child, name, y)
    return convert_module(b, m.fc, name, y)


def _register_zoo() -> None:
    from gradcore.models import ResNet, ResNetSmall

    register_converter(ResNet)(_resnet)
    register_converter(ResNetSmall)(_resnet)


# ------------------------------------------------------------------------------ layers
def _conv_pads(b: GraphBuilder, m: Any) -> List[int]:
    if getattr(m, "padding_mode", "zeros") != "zeros":
        raise _unsupported(b, m, f"padding_mode={m.padding_mode!r} (only 'zeros')")
    kh, kw = _pair(m.kernel_size)
    dh, dw = _pair(m.dilation)
    if m.padding == "valid":
        return [0, 0, 0, 0]
    if m.padding == "same":  # PyTorch: total d*(k-1), the extra one on the bottom/right
        th, tw = dh * (kh - 1), dw * (kw - 1)
        return [th // 2, tw // 2, th - th // 2, tw - tw // 2]
    ph, pw = _pair(m.padding)
    return [ph, pw, ph, pw]


@register_converter(nn.Conv2d)
def _conv2d(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    inputs = [name, b.const(m, "weight", m.weight.numpy())]
    if m.bias is not None:
        inputs.append(b.const(m, "bias", m.bias.numpy()))
    out = b.op(
        "Conv",
        inputs,
        "conv",
        kernel_shape=list(_pair(m.kernel_size)),
        strides=list(_pair(m.stride)),
        dilations=list(_pair(m.dilation)),
        pads=_conv_pads(b, m),
        group=int(m.groups),
    )
    return out, m(x)


@register_converter(nn.ConvTranspose2d)
def _conv_transpose2d(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    """ONNX ConvTranspose's weight layout (C_in, C_out / groups, kH, kW) is PyTorch's."""
    if m.padding_mode != "zeros":
        raise _unsupported(b, m, f"padding_mode={m.padding_mode!r} (only 'zeros')")
    inputs = [name, b.const(m, "weight", m.weight.numpy())]
    if m.bias is not None:
        inputs.append(b.const(m, "bias", m.bias.numpy()))
    ph, pw = _pair(m.padding)
    out = b.op(
        "ConvTranspose",
        inputs,
        "conv_transpose",
        kernel_shape=list(_pair(m.kernel_size)),
        strides=list(_pair(m.stride)),
        dilations=list(_pair(m.dilation)),
        pads=[ph, pw, ph, pw],
        output_padding=list(_pair(m.output_padding)),
        group=int(m.groups),
    )
    return out, m(x)


def _batch_norm(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    """Eval mode: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias."""
    if m.running_mean is None or m.running_var is None:
        raise _unsupported(
            b, m, "track_running_stats=False normalises with batch statistics in eval mode"
        )
    c = m.num_features
    dt = m.running_mean.numpy().dtype
    scale = m.weight.numpy() if m.weight is not None else np.ones(c, dt)
    bias = m.bias.numpy() if m.bias is not None else np.zeros(c, dt)
    inputs = [
        name,
        b.const(m, "weight" if m.weight is not None else "scale", scale),
        b.const(m, "bias" if m.bias is not None else "shift", bias),
        b.const(m, "running_mean", m.running_mean.numpy()),
        b.const(m, "running_var", m.running_var.numpy()),
    ]
    return b.op("BatchNormalization", inputs, "batch_norm", epsilon=float(m.eps)), m(x)


register_converter(nn.BatchNorm2d)(_batch_norm)
register_converter(nn.BatchNorm1d)(_batch_norm)


@register_converter(nn.Linear)
def _linear(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    """y = x W^T + b: Gemm(transB=1) on (N, in); MatMul + Add on more dimensions."""
    w = b.const(m, "weight", m.weight.numpy())
    if x.ndim == 2:
        inputs = [name, w] + ([b.const(m, "bias", m.bias.numpy())] if m.bias is not None else [])
        return b.op("Gemm", inputs, "linear", transB=1), m(x)
    wt = b.op("Transpose", [w], "weight_t", perm=[1, 0])
    out = b.op("MatMul", [name, wt], "linear")
    if m.bias is not None:
        out = b.op("Add", [out, b.const(m, "bias", m.bias.numpy())], "linear_bias")
    return out, m(x)


@register_converter(nn.Flatten)
def _flatten(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    if m.start_dim != 1 or m.end_dim not in (-1, x.ndim - 1):
        raise _unsupported(b, m, f"start_dim={m.start_dim}, end_dim={m.end_dim} (only 1, -1)")
    return b.op("Flatten", [name], "flatten", axis=1), m(x)


def _identity(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    return b.op("Identity", [name], "identity"), m(x)


register_converter(nn.Identity)(_identity)
register_converter(nn.Dropout)(_identity)  # export is inference: dropout is the identity


# -------------------------------------------------------------------------- activations
def _unary(op: str) -> Converter:
    def fn(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
        return b.op(op, [name], op.lower()), m(x)

    return fn


register_converter(nn.ReLU)(_unary("Relu"))
register_converter(nn.Sigmoid)(_unary("Sigmoid"))
register_converter(nn.Tanh)(_unary("Tanh"))


@register_converter(nn.LeakyReLU)
def _leaky_relu(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    return b.op("LeakyRelu", [name], "leaky_relu", alpha=float(m.negative_slope)), m(x)


@register_converter(nn.SiLU)
def _silu(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    """x * sigmoid(x)."""
    return b.op("Mul", [name, b.op("Sigmoid", [name], "sigmoid")], "silu"), m(x)


@register_converter(nn.GELU)
def _gelu(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    """'none': x/2 (1 + erf(x / sqrt 2)); 'tanh': x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    (opset 17 has no Gelu op)."""
    dt = x.numpy().dtype

    def c(v: float) -> str:
        return b.const(m, b.fresh("gelu_const"), np.array(v, dtype=dt))

    if m.approximate == "tanh":
        x3 = b.op("Mul", [name, b.op("Mul", [name, name], "x2")], "x3")
        inner = b.op("Add", [name, b.op("Mul", [x3, c(0.044715)], "cx3")], "inner")
        t = b.op("Tanh", [b.op("Mul", [inner, c(math.sqrt(2.0 / math.pi))], "scaled")], "tanh")
    elif m.approximate == "none":
        t = b.op("Erf", [b.op("Mul", [name, c(1.0 / math.sqrt(2.0))], "scaled")], "erf")
    else:
        raise _unsupported(b, m, f"approximate={m.approximate!r}")
    half_x = b.op("Mul", [name, c(0.5)], "half_x")
    return b.op("Mul", [half_x, b.op("Add", [t, c(1.0)], "one_plus")], "gelu"), m(x)


def _softmax_like(op: str) -> Converter:
    def fn(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
        if m.dim is None:
            raise _unsupported(b, m, "dim=None (implicit dim); give dim explicitly")
        return b.op(op, [name], op.lower(), axis=int(m.dim)), m(x)

    return fn


register_converter(nn.Softmax)(_softmax_like("Softmax"))
register_converter(nn.LogSoftmax)(_softmax_like("LogSoftmax"))


# -------------------------------------------------------------------------------- pools
@register_converter(nn.MaxPool2d)
def _max_pool(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    if m.return_indices:
        raise _unsupported(b, m, "return_indices=True")
    ph, pw = _pair(m.padding)
    out = b.op(
        "MaxPool",
        [name],
        "max_pool",
        kernel_shape=list(_pair(m.kernel_size)),
        strides=list(_pair(m.stride)),
        pads=[ph, pw, ph, pw],
        dilations=list(_pair(m.dilation)),
        ceil_mode=int(bool(m.ceil_mode)),
    )
    return out, m(x)


@register_converter(nn.AvgPool2d)
def _avg_pool(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    if m.divisor_override is not None:
        raise _unsupported(b, m, "divisor_override")
    ph, pw = _pair(m.padding)
    out = b.op(
        "AveragePool",
        [name],
        "avg_pool",
        kernel_shape=list(_pair(m.kernel_size)),
        strides=list(_pair(m.stride)),
        pads=[ph, pw, ph, pw],
        ceil_mode=int(bool(m.ceil_mode)),
        count_include_pad=int(bool(m.count_include_pad)),
    )
    return out, m(x)


@register_converter(nn.AdaptiveAvgPool2d)
def _adaptive_avg_pool(b: GraphBuilder, m: Any, name: str, x: Any) -> Tuple[str, Any]:
    """(1, 1) output: GlobalAveragePool; an output size dividing the input: AveragePool with
    kernel = stride = input / output (the same windows)."""
    oh, ow = _pair(m.output_size)
    h, w = int(x.shape[-2]), int(x.shape[-1])
    if (oh, ow) == (1, 1):
        return b.op("GlobalAveragePool", [name], "global_avg_pool"), m(x)
    if h % oh or w % ow:
        raise _unsupported(b, m, f"output size {(oh, ow)} does not divide the input {(h, w)}")
    k = [h // oh, w // ow]
    return b.op("AveragePool", [name], "avg_pool", kernel_shape=k, strides=k), m(x)


_register_zoo()
