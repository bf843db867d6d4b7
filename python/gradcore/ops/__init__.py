"""Differentiable ops, one module per op family (the C++ stems of csrc/cpu/):

    elementwise  + - * / ** abs         reduce      sum mean var std max min argmax
    shape        reshape permute cat ...  matmul      matmul (2-d, batched, 1-d)
    linear       linear                  conv        conv2d
    conv_transpose  conv_transpose2d
    pool         max/avg/adaptive pool   activation  relu leaky_relu sigmoid silu tanh gelu
    softmax      softmax log_softmax     dropout     dropout
    inplace      += -= *= /= add_ mul_ zero_ fill_ copy_ relu_ (recorded, version-checked)
    norm         batch_norm              loss        cross_entropy nll mse l1 bce

Each module holds its Function subclasses (forward and backward side by side, shapes and
formulas in the docstrings) and their functional wrappers. `gradcore.nn.functional` is the
public facade with PyTorch's names; Tensor methods are one-line calls into these modules.

How ops create Tensors without importing gradcore.tensor (which imports the ops): the
Tensor class registers itself with `gradcore.autograd.register_tensor_type` when
gradcore.tensor is imported; ops build results with `Function.apply` or
`gradcore.autograd.wrap`, and test for Tensors with `isinstance(x, autograd.Tensor)`.
The dependency order is autograd -> ops -> tensor -> nn.
"""

from gradcore.ops import (
    activation,
    arrays,
    conv,
    conv_transpose,
    dropout,
    elementwise,
    inplace,
    linear,
    loss,
    matmul,
    norm,
    pool,
    reduce,
    shape,
    softmax,
    window,
)

__all__ = [
    "activation",
    "arrays",
    "conv",
    "conv_transpose",
    "dropout",
    "elementwise",
    "inplace",
    "linear",
    "loss",
    "matmul",
    "norm",
    "pool",
    "reduce",
    "shape",
    "softmax",
    "window",
]
