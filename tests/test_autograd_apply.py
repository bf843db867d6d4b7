"""Function.apply's hot path in C (gradcore._C.apply1/apply2/apply3) against the general
Python path (autograd._apply_general): same outputs, same graph nodes, no leaked references,
and the cases it hands back to Python."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import gradcore as gc
from gradcore import _C, autograd, profiler
from gradcore.autograd import Function, apply1, apply2, apply3


class Affine(Function):
    """out = a * b + c (c a Tensor or None) + sum(constants); forward notes its ctx."""

    seen: list = []

    @staticmethod
    def forward(ctx, a, b, c=None, *constants):
        Affine.seen.append(ctx)
        ctx.save_for_backward(a, b)
        out = a * b + (0 if c is None else c) + sum(constants)
        return np.asarray(out, dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (g * b, g * a) + (g,) * (len(ctx.needs_input_grad) - 2)


class Square(Function):
    """out = a * a, with a no-grad shortcut that must give the same bits."""

    @staticmethod
    def forward_no_grad(a):
        return a * a

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return 2 * a * g


def _tensors(rng, n, requires):
    return [
        gc.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=r)
        for r in requires[:n]
    ]


def _node_summary(t):
    """What a graph node records: its class, parents (by identity), needs_input_grad."""
    fn = t.grad_fn
    if fn is None:
        return None
    return (
        type(fn),
        [id(p) if p is not None else None for p in fn.next_functions],
        tuple(fn.needs_input_grad),
    )


@pytest.mark.parametrize(
    "requires",
    [
        (False, False, False),
        (True, False, False),
        (False, True, False),
        (True, True, True),
        (False, False, True),
    ],
)
@pytest.mark.parametrize("grad_on", [True, False])
def test_c_path_matches_the_general_path(rng, requires, grad_on):
    a, b, c = _tensors(rng, 3, requires)
    h = a * 1.0 if requires[0] else a  # a non-leaf parent where a requires grad
    calls = {
        "apply1": (lambda: apply1(Square, h), lambda: autograd._apply_general(Square, (h,))),
        "apply2": (lambda: apply2(Affine, h, b), lambda: autograd._apply_general(Affine, (h, b))),
        "apply3": (
            lambda: apply3(Affine, h, b, c, 2.0),
            lambda: autograd._apply_general(Affine, (h, b, c, 2.0)),
        ),
        "apply3_no_c": (
            lambda: apply3(Affine, h, b, None, 1.0, 2.0),
            lambda: autograd._apply_general(Affine, (h, b, None, 1.0, 2.0)),
        ),
    }
    with gc.set_grad_enabled(grad_on):
        for name, (fast, slow) in calls.items():
            got, want = fast(), slow()
            assert type(got) is gc.Tensor, name
            assert got.numpy().tobytes() == want.numpy().tobytes(), name
            assert got.requires_grad == want.requires_grad, name
            assert got.grad is None and got.is_leaf == want.is_leaf, name
            assert _node_summary(got) == _node_summary(want), name


def test_recorded_node_backpropagates(rng):
    a, b = _tensors(rng, 2, (True, True))
    y = apply2(Affine, a, b)
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), b.numpy())
    np.testing.assert_array_equal(b.grad.numpy(), a.numpy())
    s = apply1(Square, a)
    assert s.grad_fn.needs_input_grad == (True,) and s.grad_fn.next_functions == (a,)


def test_no_grad_shortcut_runs_without_a_ctx(rng):
    (a,) = _tensors(rng, 1, (False,))
    Affine.seen.clear()
    y = apply1(Square, a)
    assert y.grad_fn is None and not y.requires_grad
    z = apply2(Affine, a, a)  # no shortcut: forward on a ctx that needs no gradient
    assert z.grad_fn is None and Affine.seen[-1].needs_input_grad == (False, False)


def test_no_references_leak(rng):
    a, b = _tensors(rng, 2, (True, False))
    Affine.seen.clear()
    before = [sys.getrefcount(x) for x in (a, b, a._data, b._data, Affine, Square)]
    for _ in range(200):
        y = apply2(Affine, a, b)
        z = apply1(Square, b)
        w = apply3(Affine, b, b, None, 3.0)
        with gc.no_grad():
            v = apply2(Affine, a, b)
    Affine.seen.clear()
    counts = [sys.getrefcount(t) for t in (y, z, w, y.grad_fn)]
    assert counts == [4, 4, 4, 4]  # one owner (a name, y.grad_fn), the tuple, t, the call
    del y, z, w, v
    after = [sys.getrefcount(x) for x in (a, b, a._data, b._data, Affine, Square)]
    assert after == before


def test_a_failing_forward_raises_and_leaks_nothing(rng):
    class Boom(Function):
        @staticmethod
        def forward(ctx, *arrays):
            raise ValueError("boom in forward")

    a, b = _tensors(rng, 2, (True, False))
    before = [sys.getrefcount(x) for x in (a, b, a._data)]
    for call in (
        lambda: apply2(Boom, a, b),
        lambda: apply1(Boom, a),
        lambda: apply3(Boom, b, b, None),
    ):
        for _ in range(50):
            with pytest.raises(ValueError, match="boom in forward"):
                call()
    assert [sys.getrefcount(x) for x in (a, b, a._data)] == before


def test_wrong_arguments_raise_type_errors(rng):
    (a,) = _tensors(rng, 1, (False,))
    with pytest.raises(TypeError, match=r"apply1\(cls, a\) takes 2 arguments \(3 given\)"):
        apply1(Square, a, a)
    with pytest.raises(TypeError, match=r"apply2\(cls, a, b\) takes 3 arguments"):
        apply2(Square, a)
    with pytest.raises(TypeError, match=r"apply3\(cls, a, b, c, \*constants\)"):
        apply3(Affine, a, a)
    with pytest.raises(AttributeError, match="forward"):
        apply2(int, a, a)  # not a Function: the general path names what is missing


@pytest.fixture
def general_calls():
    """The classes of the calls the C path hands to Python's general path (a spy configured
    in its place, the real one restored after)."""
    calls = []

    def spy(cls, args):
        calls.append(cls)
        return autograd._apply_any(cls, args)

    _C.apply_configure(
        tensor=gc.Tensor,
        function=Function,
        ndarray=np.ndarray,
        profiler_dict=vars(profiler),
        counters=autograd._counters,
        epoch=autograd._epoch,
        general=spy,
        output=autograd._output,
        check_device=autograd._check_same_device,
    )
    yield calls
    autograd.register_tensor_type(gc.Tensor)


def test_other_arguments_take_the_general_path(rng, general_calls):
    """A numpy array argument or many constants: Python's path, same result."""
    a, b = _tensors(rng, 2, (False, False))
    want = (a._data * b._data).tobytes()
    assert apply2(Affine, a, b._data).numpy().tobytes() == want  # an array, not a Tensor
    many = apply3(Affine, a, b, None, *([1.0] * 20))
    np.testing.assert_allclose(many.numpy(), a._data * b._data + 20.0, rtol=1e-6)
    assert general_calls == [Affine, Affine]


def test_parameters_and_plain_subclasses_take_the_c_path(rng, general_calls):
    class MyTensor(gc.Tensor):
        __slots__ = ()

    a, b = _tensors(rng, 2, (False, False))
    sub = object.__new__(MyTensor)
    sub._data, sub.requires_grad, sub.grad, sub.grad_fn = b._data, False, None, None
    w = gc.nn.Parameter(rng.standard_normal((3, 4)).astype(np.float32))
    for args in ((a, sub), (w, a), (a, w)):
        got = apply2(Affine, *args)
        want = autograd._apply_general(Affine, args)
        assert got.numpy().tobytes() == want.numpy().tobytes()
        assert _node_summary(got) == _node_summary(want)
    got = apply3(Affine, a, w, w, 1.0)
    assert got.grad_fn.next_functions[1] is w and got.grad_fn.next_functions[2] is w
    assert general_calls == []


def test_subclasses_that_override_tensor_attributes_take_the_general_path(rng, general_calls):
    """Python's path honours a subclass's own requires_grad; so must the C path, also for a
    class changed after its first use."""

    class Frozen(gc.Tensor):  # never requires grad, whatever is set
        __slots__ = ()
        requires_grad = property(lambda self: False, lambda self, value: None)

    class Late(gc.Tensor):
        __slots__ = ()

    (a,) = _tensors(rng, 1, (True,))
    frozen = object.__new__(Frozen)
    frozen._data, frozen.grad, frozen.grad_fn = a._data, None, None
    out = apply2(Affine, frozen, frozen)
    assert general_calls == [Affine] and not out.requires_grad
    late = object.__new__(Late)
    late._data, late.requires_grad, late.grad, late.grad_fn = a._data, True, None, None
    assert apply1(Square, late).requires_grad and general_calls == [Affine]
    Late.requires_grad = property(lambda self: False, lambda self, value: None)
    assert not apply1(Square, late).requires_grad
    assert general_calls == [Affine, Square]


def test_a_tensor_among_apply3_constants_becomes_a_parent_as_in_python(rng):
    a, b, k = _tensors(rng, 3, (False, True, True))
    got = apply3(Affine, a, b, None, k)
    want = autograd._apply_general(Affine, (a, b, None, k))
    assert got.numpy().tobytes() == want.numpy().tobytes()
    assert _node_summary(got) == _node_summary(want)
    assert got.grad_fn.next_functions[3] is k and got.grad_fn.needs_input_grad[3]


def test_tuple_and_scalar_outputs_are_wrapped_as_in_python(rng):
    class SplitSum(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a.sum(), np.int64(a.size)  # a numpy scalar, and an extra output

        @staticmethod
        def backward(ctx, g):
            return g, None

    a, b = _tensors(rng, 2, (True, False))
    first, extra = apply2(SplitSum, a, b)
    assert first.requires_grad and first.grad_fn is not None and first.shape == ()
    assert not extra.requires_grad and int(extra) == 12
    with gc.no_grad():
        first, extra = apply2(SplitSum, a, b)
    assert first.grad_fn is None


def test_anomaly_mode_checks_outputs_of_the_c_path():
    x = gc.tensor(np.array([np.inf, 1.0], np.float32))
    zero = gc.tensor(np.zeros(2, np.float32))
    with np.errstate(invalid="ignore"):
        assert np.isnan(apply2(Affine, x, zero).numpy()[0])  # inf * 0: no check by default
        with autograd.detect_anomaly():
            with pytest.raises(RuntimeError, match="Affine"):
                apply2(Affine, x, zero)


def test_profiling_sends_calls_to_the_spans_of_the_general_path(rng):
    a, b = _tensors(rng, 2, (False, False))
    with profiler.profile() as prof:
        apply2(Affine, a, b)
        apply1(Square, a)
        apply3(Affine, a, b, None)
    names = [e.name for e in prof.events if e.kind == "python"]
    assert names == ["Affine.forward", "Square.forward", "Affine.forward"]


def test_modes_are_per_thread_in_c():
    assert _C.grad_mode() is True and _C.anomaly_mode() is False
    seen = {}
    with gc.no_grad():
        t = threading.Thread(target=lambda: seen.update(grad=_C.grad_mode()))
        t.start()
        t.join()
        assert _C.grad_mode() is False
    assert seen["grad"] is True and _C.grad_mode() is True
    assert _C.set_grad_mode(False) is True and _C.set_grad_mode(True) is False
    with pytest.raises(ZeroDivisionError):

        class Bad:
            def __bool__(self):
                raise ZeroDivisionError

        _C.set_grad_mode(Bad())
    assert _C.grad_mode() is True


def test_a_half_built_tensor_raises_python_s_attribute_error():
    t = object.__new__(gc.Tensor)
    with pytest.raises(AttributeError, match="_data"):
        apply1(Square, t)  # no storage: the general path raises
    t._data = np.ones(2, np.float32)
    with pytest.raises(AttributeError, match="'Tensor' object has no attribute 'requires_grad'"):
        apply1(Square, t)
    with pytest.raises(AttributeError, match="'Tensor' object has no attribute 'requires_grad'"):
        autograd._apply_general(Square, (t,))
