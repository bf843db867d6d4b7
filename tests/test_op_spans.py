"""Every public op records its "<Op>.forward" and "<Op>.backward" spans while profiling.

All ops go through the one recording path (Function.apply), so this walks the functional
facade (gradcore.nn.functional) and the Tensor's differentiable methods: a new op that is
not listed in CASES fails test_every_public_op_has_a_case.
"""

import numpy as np
import pytest

import gradcore
import gradcore.nn.functional as F
from gradcore.profiler import profile

# facade names that are not ops (no Function behind them)
NOT_OPS = {"pad_size_out"}


def _t(rng, *shape, grad=True):
    return gradcore.tensor(rng.standard_normal(shape).astype(np.float64), requires_grad=grad)


def _cls_target(n=4, c=3):
    return gradcore.tensor(np.arange(n) % c)


# name -> (Function span name, call(rng) -> output Tensor that requires grad)
CASES = {
    "conv2d": ("Conv2d", lambda r: F.conv2d(_t(r, 1, 2, 5, 5), _t(r, 3, 2, 3, 3), _t(r, 3))),
    "conv_transpose2d": (
        "ConvTranspose2d",
        lambda r: F.conv_transpose2d(_t(r, 1, 2, 4, 4), _t(r, 2, 3, 3, 3), _t(r, 3), stride=2),
    ),
    "max_pool2d": ("MaxPool2d", lambda r: F.max_pool2d(_t(r, 1, 2, 4, 4), 2)),
    "avg_pool2d": ("AvgPool2d", lambda r: F.avg_pool2d(_t(r, 1, 2, 4, 4), 2)),
    "adaptive_avg_pool2d": (
        "AdaptiveAvgPool2d",
        lambda r: F.adaptive_avg_pool2d(_t(r, 1, 2, 4, 4), 1),
    ),
    "linear": ("Linear", lambda r: F.linear(_t(r, 4, 5), _t(r, 3, 5), _t(r, 3))),
    "relu": ("ReLU", lambda r: F.relu(_t(r, 4, 5))),
    "leaky_relu": ("LeakyReLU", lambda r: F.leaky_relu(_t(r, 4, 5))),
    "sigmoid": ("Sigmoid", lambda r: F.sigmoid(_t(r, 4, 5))),
    "silu": ("SiLU", lambda r: F.silu(_t(r, 4, 5))),
    "tanh": ("Tanh", lambda r: F.tanh(_t(r, 4, 5))),
    "gelu": ("GELU", lambda r: F.gelu(_t(r, 4, 5))),
    "softmax": ("Softmax", lambda r: F.softmax(_t(r, 4, 5), 1)),
    "log_softmax": ("Softmax", lambda r: F.log_softmax(_t(r, 4, 5), 1)),
    "dropout": ("Dropout", lambda r: F.dropout(_t(r, 4, 5), 0.5)),
    "batch_norm": (
        "BatchNorm",
        lambda r: F.batch_norm(_t(r, 4, 3), None, None, _t(r, 3), _t(r, 3), training=True),
    ),
    "cross_entropy": ("CrossEntropy", lambda r: F.cross_entropy(_t(r, 4, 3), _cls_target())),
    "nll_loss": ("NLLLoss", lambda r: F.nll_loss(_t(r, 4, 3), _cls_target())),
    "mse_loss": ("PointwiseLoss", lambda r: F.mse_loss(_t(r, 4, 3), _t(r, 4, 3, grad=False))),
    "l1_loss": ("PointwiseLoss", lambda r: F.l1_loss(_t(r, 4, 3), _t(r, 4, 3, grad=False))),
    "binary_cross_entropy_with_logits": (
        "BCEWithLogits",
        lambda r: F.binary_cross_entropy_with_logits(_t(r, 4, 3), _t(r, 4, 3, grad=False)),
    ),
    "flatten": ("Reshape", lambda r: F.flatten(_t(r, 2, 3, 4), 1)),
    "matmul": ("MatMul2d", lambda r: F.matmul(_t(r, 4, 5), _t(r, 5, 3))),
}

# Tensor methods and operators that are ops of their own (not facade functions)
TENSOR_CASES = {
    "add": ("Add", lambda r: _t(r, 4, 5) + _t(r, 5)),
    "add_scalar": ("AddScalar", lambda r: _t(r, 4, 5) + 2.0),
    "sub": ("Sub", lambda r: _t(r, 4, 5) - _t(r, 4, 5)),
    "mul": ("Mul", lambda r: _t(r, 4, 5) * _t(r, 4, 5)),
    "mul_scalar": ("MulScalar", lambda r: _t(r, 4, 5) * 3.0),
    "div": ("Div", lambda r: _t(r, 4, 5) / (_t(r, 4, 5, grad=False) + 10.0)),
    "pow": ("PowScalar", lambda r: _t(r, 4, 5) ** 2),
    "abs": ("Abs", lambda r: _t(r, 4, 5).abs()),
    "sum_all": ("SumAll", lambda r: _t(r, 4, 5).sum()),
    "sum_dim": ("Sum", lambda r: _t(r, 4, 5).sum(1)),
    "mean": ("Mean", lambda r: _t(r, 4, 5).mean(0)),
    "max_all": ("MaxAll", lambda r: _t(r, 4, 5).max()),
    "max_dim": ("TakeAlong", lambda r: _t(r, 4, 5).max(1).values),
    "clone": ("Clone", lambda r: _t(r, 4, 5).clone()),
    "cast": ("Cast", lambda r: _t(r, 4, 5).float()),
    "reshape": ("Reshape", lambda r: _t(r, 4, 5).reshape(5, 4)),
    "expand": ("Expand", lambda r: _t(r, 1, 5).expand(4, 5)),
    "permute": ("Permute", lambda r: _t(r, 4, 5).t()),
    "getitem": ("GetItem", lambda r: _t(r, 4, 5)[1:3]),
    "cat": ("Cat", lambda r: gradcore.cat([_t(r, 2, 5), _t(r, 3, 5)])),
    "batched_matmul": ("BatchedMatMul", lambda r: _t(r, 2, 4, 5) @ _t(r, 2, 5, 3)),
}


def test_every_public_op_has_a_case():
    assert set(F.__all__) - NOT_OPS == set(CASES)


def _spans(fn, rng):
    with profile() as prof:
        out = fn(rng)
        out.sum().backward()
    return {e.name for e in prof.events if e.kind == "python"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_facade_op_records_forward_and_backward_spans(name, rng):
    op, fn = CASES[name]
    names = _spans(fn, rng)
    assert f"{op}.forward" in names and f"{op}.backward" in names, (name, sorted(names))


@pytest.mark.parametrize("name", sorted(TENSOR_CASES))
def test_tensor_op_records_forward_and_backward_spans(name, rng):
    op, fn = TENSOR_CASES[name]
    names = _spans(fn, rng)
    assert f"{op}.forward" in names and f"{op}.backward" in names, (name, sorted(names))


def test_conv2d_inference_records_its_forward_span(rng):
    """Inputs that need no grad (inference) still emit "Conv2d.forward" around the kernel."""
    x, w = _t(rng, 1, 2, 5, 5, grad=False), _t(rng, 3, 2, 3, 3, grad=False)
    with profile() as prof, gradcore.no_grad():
        F.conv2d(x, w)
    spans = [e for e in prof.events if e.name == "Conv2d.forward"]
    kernels = [e for e in prof.events if e.kind == "kernel"]
    assert len(spans) == 1 and kernels
    s = spans[0]
    assert all(
        s.start_ns <= k.start_ns and k.start_ns + k.dur_ns <= s.start_ns + s.dur_ns for k in kernels
    )
