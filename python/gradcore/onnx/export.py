"""export(): walk a model from an example input and write an ONNX file."""

from __future__ import annotations

import os
from typing import Any, Union

import numpy as np

from gradcore.onnx.converters import GraphBuilder, convert_module

OPSET = 17
# IR version 8 is the oldest that carries opset 17: the widest set of runtimes reads the file
IR_VERSION = 8


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "ONNX export needs the onnx package, which is not installed: pip install onnx "
            "(or pip install gradcore[onnx])"
        ) from None
    return onnx


def export(
    model: Any,
    example_input: Any,
    path: Union[str, os.PathLike[str]],
    input_name: str = "input",
    output_name: str = "output",
) -> np.ndarray:
    """Write `model` as an ONNX file at `path`; returns gradcore's output on `example_input`
    (a Tensor or array of shape (N, ...), N becoming the dynamic ``batch`` dimension).

    The model is put in eval mode while it is walked (BatchNorm uses its running statistics,
    Dropout is the identity) and restored afterwards. Raises UnsupportedModuleError naming the
    first module with no converter, before anything is written.
    """
    onnx = _onnx()
    from gradcore.autograd import no_grad
    from gradcore.tensor import Tensor

    x = example_input if isinstance(example_input, Tensor) else Tensor(np.asarray(example_input))
    if x.ndim < 1:
        raise ValueError(f"onnx.export: example_input needs a batch dimension, got shape {x.shape}")
    prefixes = {id(m): name for name, m in model.named_modules()}
    builder = GraphBuilder(onnx, prefixes)
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            out_name, out = convert_module(builder, model, input_name, x)
    finally:
        model.train(was_training)
    builder.add("Identity", [out_name], [output_name])
    helper = onnx.helper
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(x.numpy().dtype))
    out_elem = helper.np_dtype_to_tensor_dtype(np.dtype(out.numpy().dtype))
    graph = helper.make_graph(
        builder.nodes,
        type(model).__name__,
        [helper.make_tensor_value_info(input_name, elem, ["batch", *x.shape[1:]])],
        [helper.make_tensor_value_info(output_name, out_elem, ["batch", *out.shape[1:]])],
        initializer=builder.initializers,
    )
    proto = helper.make_model(
        graph,
        producer_name="gradcore",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    proto.ir_version = IR_VERSION
    onnx.checker.check_model(proto)
    onnx.save(proto, os.fspath(path))
    return out.numpy()
