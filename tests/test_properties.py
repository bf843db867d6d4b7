"""Property-based tests (hypothesis): random shapes, strides, paddings, dilations, groups,
dtypes and memory layouts for conv2d, the pools, linear and the losses, checked against
PyTorch. torch decides what is valid: where torch raises, gradcore must raise ValueError,
RuntimeError or TypeError with a message (never crash or return numbers); where torch
computes, gradcore must match it (values and the gradients of every input) within float32 /
float64 tolerances.

Layouts: every floating-point input is drawn contiguous, transposed (a permuted view of a
contiguous base) or sliced (every other element of the last dimension); the leaf whose
gradient is compared is the base, so the gradient flows back through the view.

Runs are derandomised (a fixed profile) so CI is reproducible; the whole file takes well under
a minute.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcore
from gradcore.nn import functional as F

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

PROFILE = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CLEAN_ERRORS = (ValueError, RuntimeError, TypeError)
LAYOUTS = ("contiguous", "transposed", "sliced")
# Left out of every strategy: integer inputs to conv2d / the pools / linear, which torch
# computes on CPU while gradcore's kernels take float32 and float64 only (a TypeError naming
# the dtype); and mixed float32/float64 inputs to the pointwise losses, which torch promotes
# while gradcore raises TypeError. Both are scope decisions, reported to the integrator.
FLOATS = (np.float32, np.float64)
TOL = {np.dtype(np.float32): (2e-4, 2e-4), np.dtype(np.float64): (1e-9, 1e-9)}


# ------------------------------------------------------------------------------ inputs
class Input:
    """A numpy base array plus the view (layout) applied to it on either side.

    `base` has the permuted / widened shape; `view(t)` turns a torch or gradcore tensor of
    the base into the array of the wanted shape (the same indexing on both libraries).
    """

    def __init__(self, array: np.ndarray, layout: str, grad: bool) -> None:
        self.shape = array.shape  # the shape the op sees (after the view)
        floating = np.issubdtype(array.dtype, np.floating)
        self.layout = layout if array.ndim >= 1 and floating else "contiguous"
        self.grad = grad and np.issubdtype(array.dtype, np.floating)
        nd = array.ndim
        if self.layout == "transposed" and nd >= 2:
            self.perm = tuple(range(nd - 2)) + (nd - 1, nd - 2)
            self.base = np.ascontiguousarray(array.transpose(self.perm))
        elif self.layout == "sliced":
            self.base = np.repeat(array, 2, axis=-1)  # element 2i is the value, 2i+1 a copy
            self.base[..., 1::2] = 1e3  # poison: a kernel that ignores the stride reads these
        else:
            self.layout = "contiguous"
            self.base = array

    def __repr__(self) -> str:
        return f"Input({self.base.dtype} base {self.base.shape}, {self.layout})"

    def view(self, t: Any) -> Any:
        if self.layout == "transposed":
            return t.permute(*self.perm)
        if self.layout == "sliced":
            return t[(slice(None),) * (self.base.ndim - 1) + (slice(None, None, 2),)]
        return t

    def leaves(self) -> Tuple[Any, Any]:
        """(torch leaf, gradcore leaf) of the base; requires_grad where compared."""
        tt = torch.from_numpy(self.base.copy()).requires_grad_(self.grad)
        gt = gradcore.tensor(self.base.copy(), requires_grad=self.grad)
        return tt, gt


def _array(draw: Callable, shape: Sequence[int], dtype: Any) -> np.ndarray:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-3, 4, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@st.composite
def float_input(draw, shape: Sequence[int], dtype: Any, grad: bool = True) -> Input:
    layout = draw(st.sampled_from(LAYOUTS))
    return Input(_array(draw, shape, dtype), layout, grad)


# ------------------------------------------------------------------------- the check
def check_against_torch(
    inputs: Dict[str, Optional[Input]],
    torch_fn: Callable[..., Any],
    gradcore_fn: Callable[..., Any],
    extra: Optional[Dict[str, np.ndarray]] = None,
) -> None:
    """Call both functions on views of the same bases; compare values and input gradients,
    or, when torch raises, expect a clean gradcore exception."""
    extra = extra or {}
    leaves = {k: (v.leaves() if v is not None else (None, None)) for k, v in inputs.items()}
    t_args = {k: (inputs[k].view(lv[0]) if inputs[k] else None) for k, lv in leaves.items()}
    g_args = {k: (inputs[k].view(lv[1]) if inputs[k] else None) for k, lv in leaves.items()}
    t_args.update({k: torch.from_numpy(v.copy()) for k, v in extra.items()})
    g_args.update({k: gradcore.tensor(v.copy()) for k, v in extra.items()})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a torch warning is not a torch error
            expected = torch_fn(**t_args)
    except Exception as torch_error:  # torch refuses: gradcore must too, cleanly
        with pytest.raises(CLEAN_ERRORS) as got:
            gradcore_fn(**g_args)
        assert str(got.value), f"{type(got.value).__name__} without a message ({torch_error})"
        return
    try:
        out = gradcore_fn(**g_args)
    except CLEAN_ERRORS as e:
        raise AssertionError(
            f"torch computes this, gradcore raised {type(e).__name__}: {e}"
        ) from None
    dtype = np.dtype(str(expected.dtype).replace("torch.", ""))
    rtol, atol = TOL[dtype]
    got = out.numpy()
    assert got.shape == tuple(expected.shape), (got.shape, tuple(expected.shape))
    assert got.dtype == dtype, (got.dtype, dtype)
    np.testing.assert_allclose(got, expected.detach().numpy(), rtol=rtol, atol=atol)
    if not any(v is not None and v.grad for v in inputs.values()):
        return
    upstream = np.random.default_rng(0).standard_normal(got.shape).astype(dtype)
    expected.backward(torch.from_numpy(upstream.copy()))
    out.backward(gradcore.tensor(upstream.copy()))
    for name, (tl, gl) in leaves.items():
        if inputs[name] is None or not inputs[name].grad:
            continue
        assert gl.grad is not None, f"no gradient for {name}"
        want = tl.grad.numpy() if tl.grad is not None else np.zeros_like(inputs[name].base)
        np.testing.assert_allclose(
            gl.grad.numpy(), want, rtol=rtol, atol=atol, err_msg=f"gradient of {name}"
        )


# ------------------------------------------------------------------------------ conv2d
@st.composite
def conv_case(draw):
    dtype = draw(st.sampled_from(FLOATS))
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 3))
    k_out = groups * draw(st.integers(1, 3))
    n = draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    r, s = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    w_in = c_in // groups
    if draw(st.integers(0, 9)) == 0:  # a channel count that does not fit the weight
        w_in += 1
    x_dtype = dtype
    if draw(st.integers(0, 14)) == 0:  # mixed precision: torch refuses
        x_dtype = np.float64 if dtype == np.float32 else np.float32
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = draw(
        st.one_of(
            st.integers(0, 3),
            st.tuples(st.integers(0, 3), st.integers(0, 3)),
            st.sampled_from(["same", "valid"]),
        )
    )
    dilation = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    if padding == "same":
        # Left out: padding="same" with an even dilated kernel extent, d*(k-1) odd. torch pads
        # asymmetrically (the extra row/column at the bottom/right); gradcore raises
        # "conv2d: padding='same' needs an odd (dilated) kernel size here". Reported.
        dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
        if dh * (r - 1) % 2 or dw * (s - 1) % 2:
            padding = "valid"
    has_bias = draw(st.booleans())
    inputs = {
        "x": draw(float_input((n, c_in, h, w), x_dtype)),
        "weight": draw(float_input((k_out, w_in, r, s), dtype)),
        "bias": draw(float_input((k_out,), dtype)) if has_bias else None,
    }
    return inputs, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


@PROFILE
@given(conv_case())
def test_conv2d(case):
    inputs, kw = case
    check_against_torch(
        inputs,
        lambda x, weight, bias: torch.nn.functional.conv2d(x, weight, bias, **kw),
        lambda x, weight, bias: F.conv2d(x, weight, bias, **kw),
    )


# ------------------------------------------------------------------------------- pools
@st.composite
def pool_case(draw):
    dtype = draw(st.sampled_from(FLOATS))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kernel = draw(st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    stride = draw(
        st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
    )
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2))))
    ceil_mode = draw(st.booleans())
    unbatched = draw(st.integers(0, 5)) == 0
    shape = (c, h, w) if unbatched else (n, c, h, w)
    return draw(float_input(shape, dtype)), kernel, stride, padding, ceil_mode


@PROFILE
@given(pool_case(), st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 2))))
def test_max_pool2d(case, dilation):
    x, k, s, p, ceil_mode = case
    kw = dict(kernel_size=k, stride=s, padding=p, dilation=dilation, ceil_mode=ceil_mode)
    try:
        with torch.no_grad():
            peek = torch.nn.functional.max_pool2d(x.view(torch.from_numpy(x.base)), **kw)
    except Exception:
        peek = None
    if peek is not None and torch.isinf(peek).any():
        # A window entirely in the padding (dilation/ceil_mode): torch returns -inf with an
        # index outside the input and its backward then writes out of bounds (heap corruption,
        # "double free or corruption"); gradcore's backward refuses that index with a
        # ValueError. Only the forward values are compared for these.
        x.grad = False
    check_against_torch(
        {"x": x},
        lambda x: torch.nn.functional.max_pool2d(x, **kw),
        lambda x: F.max_pool2d(x, **kw),
    )


@PROFILE
@given(pool_case(), st.booleans(), st.one_of(st.none(), st.integers(1, 4)))
def test_avg_pool2d(case, count_include_pad, divisor_override):
    x, k, s, p, ceil_mode = case
    kw = dict(
        kernel_size=k,
        stride=s,
        padding=p,
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
        divisor_override=divisor_override,
    )
    check_against_torch(
        {"x": x},
        lambda x: torch.nn.functional.avg_pool2d(x, **kw),
        lambda x: F.avg_pool2d(x, **kw),
    )


# ------------------------------------------------------------------------------ linear
@st.composite
def linear_case(draw):
    dtype = draw(st.sampled_from(FLOATS))
    x_dtype = dtype
    if draw(st.integers(0, 14)) == 0:  # mixed precision: torch refuses
        x_dtype = np.float64 if dtype == np.float32 else np.float32
    lead = draw(st.lists(st.integers(1, 4), min_size=0, max_size=2))
    n_in, n_out = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    w_in = n_in + (1 if draw(st.integers(0, 9)) == 0 else 0)  # sometimes mismatched
    has_bias = draw(st.booleans())
    return {
        "x": draw(float_input((*lead, n_in), x_dtype)),
        "weight": draw(float_input((n_out, w_in), dtype)),
        "bias": draw(float_input((n_out,), dtype)) if has_bias else None,
    }


@PROFILE
@given(linear_case())
def test_linear(inputs):
    check_against_torch(
        inputs,
        lambda x, weight, bias: torch.nn.functional.linear(x, weight, bias),
        lambda x, weight, bias: F.linear(x, weight, bias),
    )


# ------------------------------------------------------------------------------ losses
REDUCTIONS = ("mean", "sum", "none")


@st.composite
def class_loss_case(draw):
    dtype = draw(st.sampled_from(FLOATS))
    n, c = draw(st.integers(1, 6)), draw(st.integers(2, 6))
    target = _array(draw, (n,), np.int64) % c
    if draw(st.integers(0, 9)) == 0:  # a class index out of range: torch refuses
        target[draw(st.integers(0, n - 1))] = draw(st.sampled_from([c, c + 3, -1]))
    ignore_index = draw(st.sampled_from([-100, int(target[0])]))
    weight = None
    if draw(st.booleans()):
        weight = Input(np.abs(_array(draw, (c,), dtype)) + 0.1, "contiguous", grad=False)
    kw = dict(reduction=draw(st.sampled_from(REDUCTIONS)), ignore_index=ignore_index)
    x = draw(float_input((n, c), dtype))
    return x, weight, target, kw


@PROFILE
@given(class_loss_case(), st.sampled_from([0.0, 0.1]))
def test_cross_entropy(case, label_smoothing):
    x, weight, target, kw = case
    kw = dict(kw, label_smoothing=label_smoothing)
    check_against_torch(
        {"x": x, "weight": weight},
        lambda x, weight, target: torch.nn.functional.cross_entropy(x, target, weight, **kw),
        lambda x, weight, target: F.cross_entropy(x, target, weight, **kw),
        extra={"target": target},
    )


@PROFILE
@given(class_loss_case())
def test_nll_loss(case):
    x, weight, target, kw = case
    check_against_torch(
        {"x": x, "weight": weight},
        lambda x, weight, target: torch.nn.functional.nll_loss(x, target, weight, **kw),
        lambda x, weight, target: F.nll_loss(x, target, weight, **kw),
        extra={"target": target},
    )


@st.composite
def pointwise_loss_case(draw, integers: bool = True):
    dtypes = FLOATS + ((np.int64,) if integers else ())  # torch refuses int64 losses
    dtype = draw(st.sampled_from(dtypes))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    x = draw(float_input(shape, dtype))
    t = draw(float_input(shape, dtype, grad=draw(st.booleans())))
    return x, t, draw(st.sampled_from(REDUCTIONS))


def _pointwise_loss(case, name: str) -> None:
    x, t, reduction = case
    check_against_torch(
        {"x": x, "t": t},
        lambda x, t: getattr(torch.nn.functional, name)(x, t, reduction=reduction),
        lambda x, t: getattr(F, name)(x, t, reduction=reduction),
    )


@PROFILE
@given(pointwise_loss_case())
def test_mse_loss(case):
    _pointwise_loss(case, "mse_loss")


@PROFILE
@given(pointwise_loss_case(integers=False))  # torch computes l1_loss of int64 (sum, none)
def test_l1_loss(case):
    _pointwise_loss(case, "l1_loss")


@PROFILE
@given(pointwise_loss_case(integers=False), st.booleans(), st.booleans())
def test_binary_cross_entropy_with_logits(case, with_weight, with_pos_weight):
    x, t, reduction = case
    shape = x.shape
    rng = np.random.default_rng(len(shape))
    # targets in [0, 1]. No gradient for the target: gradcore's binary_cross_entropy_with_logits
    # returns none (torch: d/dt = -weight * (pos_weight * log(sigmoid(x)) - log(1 - sigmoid(x))),
    # scaled by the reduction); reported to the integrator, left out here.
    t = Input(rng.random(shape).astype(x.base.dtype), t.layout, grad=False)
    inputs: Dict[str, Optional[Input]] = {"x": x, "t": t, "weight": None, "pos_weight": None}
    if with_weight:
        inputs["weight"] = Input(rng.random(shape).astype(x.base.dtype), "contiguous", False)
    if with_pos_weight:
        inputs["pos_weight"] = Input(
            rng.random(shape[-1:]).astype(x.base.dtype) + 0.5, "contiguous", False
        )

    def torch_fn(x, t, weight, pos_weight):
        return torch.nn.functional.binary_cross_entropy_with_logits(
            x, t, weight, reduction=reduction, pos_weight=pos_weight
        )

    def gradcore_fn(x, t, weight, pos_weight):
        return F.binary_cross_entropy_with_logits(
            x, t, weight, reduction=reduction, pos_weight=pos_weight
        )

    check_against_torch(inputs, torch_fn, gradcore_fn)


def test_the_check_catches_a_wrong_result():
    """The comparison itself fails on a wrong value, a wrong gradient and a crash-free
    acceptance of what torch refuses (so the properties above cannot pass vacuously)."""
    x = Input(np.arange(6.0).reshape(2, 3), "contiguous", grad=True)
    with pytest.raises(AssertionError):
        check_against_torch({"x": x}, lambda x: x * 2, lambda x: x * 3)
    with pytest.raises(AssertionError, match="gradient of x"):  # right values, gradient 1
        check_against_torch({"x": x}, lambda x: x * 2, lambda x: x + x.detach())
    with pytest.raises(pytest.fail.Exception):
        check_against_torch({"x": x}, lambda x: x @ x, lambda x: x * 1)
