"""Autograd engine: graph recording, accumulation, freeing, grad modes, anomaly, gradcheck."""

import numpy as np
import pytest
from conftest import assert_allclose

import gradcore as gc
from gradcore.autograd import Function, GradcheckError, gradcheck


def test_shared_subgraph_accumulates(rng):
    a = rng.standard_normal((3, 3))
    x = gc.tensor(a, requires_grad=True)
    h = x * 2.0  # used three times below
    y = (h * h + h @ h + h).sum()
    y.backward()
    # d/dx of sum(4x^2 + 4 x@x + 2x)
    ones = np.ones((3, 3))
    expected = 8 * a + 4 * (ones @ a.T + a.T @ ones) + 2
    assert_allclose(x.grad.numpy(), expected)


def test_grad_accumulates_across_backward_calls():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_leaf_vs_nonleaf_and_retain_grad():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    k = h * 3.0
    k.retain_grad()
    (k * k).sum().backward()
    assert x.is_leaf and not h.is_leaf
    assert h.grad is None
    assert_allclose(k.grad.numpy(), 2 * k.numpy())
    assert_allclose(x.grad.numpy(), 2 * 36 * x.numpy())
    c = gc.tensor([1.0])  # does not require grad
    z = (c * x).sum()
    z.backward()
    assert c.grad is None


def test_backward_twice_raises_and_retain_graph_allows():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_allclose(x.grad.numpy(), 4 * x.numpy())
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    h = x * 2.0
    h.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 1.0).sum().backward()


def test_backward_errors():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar outputs"):
        (x * 2.0).backward()
    (x * 2.0).backward(gc.tensor([1.0, 0.5]))
    assert_allclose(x.grad.numpy(), [2.0, 1.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        gc.tensor([1.0]).sum().backward()
    with pytest.raises(RuntimeError, match="gradient has shape"):
        (x * 2.0).backward(gc.ones(3))


def test_no_grad_records_nothing():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    with gc.no_grad():
        y = (x * 2.0 + x) @ x
        assert not gc.is_grad_enabled()
        with gc.enable_grad():
            z = x * 2.0
    assert y.grad_fn is None and not y.requires_grad
    assert z.requires_grad and gc.is_grad_enabled()

    @gc.no_grad()
    def f(t):
        return t * 3.0

    assert not f(x).requires_grad
    gc.set_grad_enabled(False)
    assert not (x * 1.0).requires_grad
    gc.set_grad_enabled(True)
    assert (x * 1.0).requires_grad


def test_detach_cuts_graph():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2.0).detach() * x
    y.sum().backward()
    assert_allclose(x.grad.numpy(), [2.0, 4.0])


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x * g


class BadCube(Cube):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * x * g


def test_custom_function_and_gradcheck(rng):
    x = gc.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn is not None and y.grad_fn.needs_input_grad == (True,)
    assert gradcheck(Cube.apply, (x,))
    with pytest.raises(GradcheckError, match=r"input 0, element \(\d, \d\): analytic"):
        gradcheck(BadCube.apply, (x,))
    assert gradcheck(BadCube.apply, (x,), raise_exception=False) is False
    with pytest.raises(ValueError, match="float64"):
        gradcheck(Cube.apply, (gc.ones(2, requires_grad=True),))


def test_gradcheck_tensor_ops(rng):
    a = gc.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = gc.tensor(rng.standard_normal((4,)) + 3.0, requires_grad=True)
    w = gc.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    assert gradcheck(lambda x, y: x * y + x / y - y, (a, b))
    assert gradcheck(lambda x, y: (x @ y).sum(1), (a, w))
    assert gradcheck(lambda x: (x**2).mean(0, keepdim=True) + x.abs().sum(1, keepdim=True), (a,))
    assert gradcheck(lambda x: x.max(1).values + x.permute(1, 0)[1:3].reshape(-1)[:3].sum(), (a,))
    assert gradcheck(lambda x: x.unsqueeze(0).expand(2, 3, 4).flatten(), (a,))
    assert gradcheck(lambda x: x.var(0) + x.std(), (a,))


# The test makes NaN and inf on purpose; numpy's warnings about them are expected.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning")
def test_anomaly_names_the_op():
    x = gc.tensor([1.0, -1.0], requires_grad=True)
    with gc.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="PowScalar.*forward output"):
            _ = x**0.5
    with pytest.raises(RuntimeError, match="Div"):
        with gc.autograd.detect_anomaly():
            (x * 0.0 / gc.tensor([0.0, 1.0])).sum()
    gc.set_detect_anomaly(True)
    try:
        z = gc.tensor([0.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="backward gradient"):
            (z**0.5).sum().backward()  # forward finite (0), backward inf
    finally:
        gc.set_detect_anomaly(False)


class TensorStyle(Function):
    """forward/backward returning Tensors (PyTorch habit) are accepted too."""

    @staticmethod
    def forward(ctx, x):
        return gc.tensor(x * 2.0)

    @staticmethod
    def backward(ctx, g):
        return gc.tensor(g * 2.0)


def test_function_returning_tensors():
    x = gc.tensor([1.0, 3.0], requires_grad=True)
    y = TensorStyle.apply(x)
    assert isinstance(y.numpy(), np.ndarray) and y.numpy().tolist() == [2.0, 6.0]
    y.sum().backward()
    assert x.grad.numpy().tolist() == [2.0, 2.0]


def test_kernel_dtype_errors_surface():
    with pytest.raises(TypeError):
        gc.nn.functional.relu(gc.tensor([1, 2]))
    with pytest.raises(TypeError, match="dtype"):
        gc.nn.functional.linear(gc.ones(2, 3), gc.ones(4, 3, dtype=gc.float64))


# ----------------------------------------------- small silent-wrong cases (issue 16 item 9)
def test_max_with_nan_sends_the_gradient_to_the_nan_only(torch):
    for vals in ([1.0, float("nan"), 3.0], [1.0, float("nan"), float("nan")]):
        x = gc.tensor(vals, requires_grad=True)
        x.max().backward()
        tx = torch.tensor(vals, requires_grad=True)
        tx.max().backward()
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
        y = gc.tensor(vals, requires_grad=True)
        y.min().backward()
        np.testing.assert_array_equal(y.grad.numpy(), x.grad.numpy())


def test_std_of_a_constant_input_has_gradient_zero(torch):
    x = gc.tensor([2.0, 2.0, 2.0], requires_grad=True)
    x.std().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])
    m = gc.tensor([[1.0, 1.0], [1.0, 3.0]], requires_grad=True)
    m.std(dim=1).sum().backward()
    tm = torch.tensor([[1.0, 1.0], [1.0, 3.0]], requires_grad=True)
    tm.std(dim=1).sum().backward()
    assert_allclose(m.grad.numpy(), tm.grad.numpy())


def test_unbiased_var_of_one_element_is_nan():
    x = gc.tensor([2.0], requires_grad=True)
    v = x.var()
    assert np.isnan(v.item())
    assert np.isnan(x.std().item())
    assert x.var(unbiased=False).item() == 0.0
    assert np.isnan(gc.tensor([[1.0], [2.0]]).var(dim=1).numpy()).all()


def test_custom_function_gradient_of_a_wrong_shape_raises():
    class Bad(Function):
        @staticmethod
        def forward(ctx, a):
            return a.sum()

        @staticmethod
        def backward(ctx, g):
            return np.ones((3, 2))  # for a (2, 3) input

    x = gc.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"invalid gradient: got shape \[3, 2\]"):
        Bad.apply(x).backward()

    class Expandable(Function):  # torch sums such a gradient down to the input's shape
        @staticmethod
        def forward(ctx, a):
            return a.sum()

        @staticmethod
        def backward(ctx, g):
            return np.ones((4, 1, 3))

    y = gc.tensor(np.ones((1, 3)), requires_grad=True)
    Expandable.apply(y).backward()
    assert_allclose(y.grad.numpy(), [[4.0, 4.0, 4.0]])


def test_requires_grad_on_an_integer_tensor_raises():
    for make in (
        lambda: gc.tensor([1, 2], requires_grad=True),
        lambda: gc.zeros(2, dtype=gc.int64, requires_grad=True),
        lambda: gc.tensor([1, 2]).requires_grad_(),
    ):
        with pytest.raises(RuntimeError, match="only Tensors of floating point dtype"):
            make()


def _function_classes() -> list:
    """Every Function subclass defined so far (ops, and any test's custom ones)."""
    seen, todo = [], [Function]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.append(sub)
                todo.append(sub)
    return seen


def _no_grad_cases(rng) -> dict:
    """{op name: [argument tuples]} for each op with a forward_no_grad, odd sizes, both float
    dtypes, 0-d operands, strided views (the layouts a kernel retries) and special values."""

    def r(*shape, dtype=np.float32):
        return rng.standard_normal(shape).astype(dtype)

    special = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, 1e-40, -1.5], np.float32)
    zero_d = (np.array(1.5, np.float32), np.array(-2.25, np.float32))
    binary = [(r(3, 5), r(1, 5)), (r(7, dtype=np.float64), r(7, dtype=np.float64)), zero_d]
    binary.append((special, special[::-1].copy()))
    geom = ((1, 1), (1, 1), (1, 1), 1)
    return {
        "Add": binary,
        "Sub": binary,
        "Mul": binary,
        "SumAll": [(r(3, 5, 7),), (r(9, dtype=np.float64),), (zero_d[0],)],
        "MatMul2d": [(r(5, 7), r(7, 3)), (r(4, 6, dtype=np.float64), r(6, 9, dtype=np.float64))]
        + [(r(7, 5).T, r(7, 3))],  # a transposed operand
        "ReLU": [(r(3, 5),), (r(5, 3).T,), (special,), (r(11, dtype=np.float64),)],
        "Conv2dReLUMaxPool2d": [
            (r(2, 1, 9, 8), r(4, 1, 3, 3), r(4), geom),
            (r(2, 6, 7, 9, dtype=np.float64), r(3, 6, 3, 3, dtype=np.float64), None, geom),
            (r(2, 3, 6, 7).transpose(0, 1, 3, 2), r(5, 3, 3, 3), r(5), geom),  # strided x
        ],
        "Conv2d": [
            (r(2, 3, 7, 5), r(4, 3, 3, 3), r(4), geom),
            (r(1, 4, 6, 6), r(2, 2, 3, 3), None, ((2, 1), (0, 1), (1, 2), 2)),
            (r(2, 3, 5, 7).transpose(0, 1, 3, 2), r(3, 3, 1, 1), None, geom),  # strided x
        ],
    }


def test_forward_no_grad_returns_exactly_what_forward_returns(rng):
    """An op's no-grad shortcut (apply runs it with no ctx when nothing is recorded) gives the
    same bits, dtype and shape as its forward; every op that has one is checked here."""
    hooked = {
        c.__name__: c
        for c in _function_classes()
        if c.forward_no_grad is not None and c.__module__.startswith("gradcore.")
    }
    cases = _no_grad_cases(rng)
    assert set(hooked) == set(cases), "an op with forward_no_grad needs its case above"
    for name, arg_tuples in cases.items():
        cls = hooked[name]
        for args in arg_tuples:
            ctx = object.__new__(cls)
            ctx.needs_input_grad = (False,) * len(args)
            with np.errstate(all="ignore"):  # inf - inf, 1e-40 * 1e-40 among the specials
                want = np.asarray(cls.forward(ctx, *args))
                got = np.asarray(cls.forward_no_grad(*args))
            assert (got.dtype, got.shape) == (want.dtype, want.shape), name
            assert got.tobytes() == want.tobytes(), name


def test_no_grad_calls_match_recorded_calls_bitwise(rng):
    """Through the public ops: the same inputs with and without requires_grad give the same
    output bits (the shortcut against forward); a 0-d result stays a 0-d array."""
    import gradcore.nn.functional as F

    a, b = rng.standard_normal((2, 5, 7)).astype(np.float32)
    w = rng.standard_normal((7, 3)).astype(np.float32)
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    k = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    kb = rng.standard_normal(4).astype(np.float32)
    ops = {
        "add": lambda t: t[0] + t[1],
        "sub": lambda t: t[0] - t[1],
        "mul": lambda t: t[0] * t[1],
        "sum": lambda t: t[0].sum(),
        "matmul": lambda t: t[0] @ t[2],
        "relu": lambda t: F.relu(t[1]),
        "conv2d": lambda t: F.conv2d(t[3], t[4], t[5], 1, 1),
        "linear": lambda t: F.linear(t[0], t[6], t[7]),
    }
    lw = rng.standard_normal((4, 7)).astype(np.float32)
    lb = rng.standard_normal(4).astype(np.float32)
    arrays = (a, b, w, x, k, kb, lw, lb)
    for name, op in ops.items():
        plain = op([gc.tensor(v) for v in arrays])
        recorded = op([gc.tensor(v, requires_grad=True) for v in arrays])
        assert plain.grad_fn is None and recorded.grad_fn is not None, name
        assert plain.numpy().tobytes() == recorded.detach().numpy().tobytes(), name
    s = gc.tensor(np.array(1.5, np.float32)) + gc.tensor(np.array(2.0, np.float32))
    assert type(s._data) is np.ndarray and s._data.shape == () and s.dtype == np.float32
    assert float(s) == 3.5
