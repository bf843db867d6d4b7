# long-file: Function.apply (the one recording path), the backward engine, grad/anomaly modes and gradcheck share the graph node layout and the mode switches
"""Define-by-run autograd: Function (forward/backward with ctx), the backward engine,
grad modes (no_grad / enable_grad), anomaly detection and gradcheck.

A `Function` subclass defines two static methods that work on **numpy arrays**:

    class Square(Function):
        @staticmethod
        def forward(ctx, x):            # x: the Tensor argument's numpy storage
            ctx.save_for_backward(x)
            return x * x                # an array (or a tuple: the first element is the
                                        # differentiable output, the rest are returned as
                                        # non-differentiable Tensors)
        @staticmethod
        def backward(ctx, grad):        # grad: numpy array shaped like the output
            (x,) = ctx.saved_tensors
            return 2 * x * grad         # one gradient (array or None) per forward argument

    y = Square.apply(t)                 # Tensor in, Tensor out, graph recorded

The ctx *is* the graph node (as in PyTorch): it keeps the parents (`next_functions`), what
was saved, and `needs_input_grad`. Working on arrays keeps the per-op overhead small: ops
with one to three Tensor arguments enter through `apply1` / `apply2` / `apply3`, the same
steps in C (csrc/bindings/bind_autograd.cpp), and anything unusual comes back here.

Grad mode and anomaly mode are per thread, as in PyTorch: `no_grad()` in one thread does
not change another thread's mode, every new thread starts with grad on and anomaly off,
and backward turns recording off only in the thread that runs it (restoring it after).
Both are C++ thread-locals in gradcore._C (csrc/bindings/grad_mode.h), read there by the
hot path of apply and here through `_C.grad_mode()` / `_C.anomaly_mode()`.

Saved arrays are checked against in-place writes (gradcore.versions): while recording,
and only once some storage has been written in place, a node notes the write clock; before
its backward runs, if writes happened since, the arrays it saved must not be among the
written storages, else a RuntimeError names the array (PyTorch's "modified by an inplace
operation" error).
"""

from __future__ import annotations

import functools
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from gradcore import _C
from gradcore import profiler as _profiler
from gradcore import versions as _versions
from gradcore.devices import device_of, full_like
from gradcore.versions import COUNTERS as _counters
from gradcore.versions import EPOCH as _epoch
from gradcore.versions import written_since

__all__ = [
    "Function",
    "apply1",
    "apply2",
    "apply3",
    "backward",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "gradcheck",
    "GradcheckError",
    "register_tensor_type",
    "register_post_accumulate_grad_hook",
    "wrap",
]


# This thread's modes: set_*(mode) returns the previous mode (C thread-locals, see above).
_set_grad_mode = _C.set_grad_mode
_set_anomaly_mode = _C.set_anomaly_mode
_grad_mode = _C.grad_mode
_anomaly_mode = _C.anomaly_mode


# The Tensor type, registered by gradcore.tensor on import (see register_tensor_type).
Tensor: Any = None
_new = object.__new__


def register_tensor_type(cls: type) -> None:
    """Register the Tensor class that Function.apply and `wrap` create.

    Why a registration: the dependency order is autograd -> ops -> tensor, so neither this
    module nor gradcore.ops may import gradcore.tensor (tensor.py imports the ops for its
    methods). gradcore.tensor defines the class and calls this once at import; from then on
    `autograd.Tensor` is that class and `wrap` builds its instances. Code below tensor.py
    (the ops) creates Tensors only through `wrap` / Function.apply and tests for them with
    `isinstance(x, autograd.Tensor)`.
    """
    global Tensor
    Tensor = cls
    _C.apply_configure(
        tensor=cls,
        function=Function,
        ndarray=np.ndarray,
        profiler_dict=vars(_profiler),
        counters=_counters,
        epoch=_epoch,
        general=_apply_any,
        output=_output,
        check_device=_check_same_device,
    )


def wrap(arr, requires_grad: bool = False, grad_fn=None):
    """A Tensor around the array `arr` as is (no copy, no dtype conversion): the internal
    constructor that ops and modules use. `grad_fn` is the graph node that made it (or None
    for a leaf); `requires_grad` must be True whenever `grad_fn` is set."""
    t = _new(Tensor)
    t._data = arr
    t.requires_grad = requires_grad
    t.grad = None
    t.grad_fn = grad_fn
    return t


_wrap = wrap

_FREED_MSG = (
    "Trying to backward through the graph a second time (or to use saved values after they "
    "have been freed). The graph is freed by the first backward(); call "
    "backward(retain_graph=True) the first time if you need to backward through it again."
)


class Function:
    """Base class of differentiable operations; instances are the graph nodes (ctx)."""

    __slots__ = (
        "next_functions",
        "saved_tensors",
        "needs_input_grad",
        "kernels",
        "_g",
        "_retained",
        "__dict__",
    )

    # Tensors have `_is_node = False`; this tells the engine a parent is a node, not a leaf.
    _is_node = True
    # The write clock (gradcore.versions.EPOCH) when the node was recorded; -1: before any
    # write (the registry of written storages was empty). Backward checks the saved arrays
    # of a node whose clock is behind.
    _saved_epoch = -1
    # True for ops whose output is a view of their input's storage (reshape, permute,
    # slicing): an in-place op on such an output is refused (see gradcore.ops.inplace).
    _makes_view = False
    # An op may define `forward_no_grad(*arrays)`: the output alone, for calls that record
    # no node (no input requires grad, or grad mode is off). apply then calls it with no
    # ctx at all, which saves allocating one and whatever forward saves for backward.
    # It must return exactly what forward returns (tests/test_autograd.py checks every op).
    forward_no_grad = None

    # ----------------------------------------------------------------- ctx API
    def save_for_backward(self, *arrays) -> None:
        self.saved_tensors = arrays

    def mark_non_differentiable(self, *args) -> None:  # for PyTorch compatibility
        pass

    @staticmethod
    def forward(ctx, *args):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object>"

    # ---------------------------------------------------------------- apply
    @classmethod
    def apply(cls, *args):
        """Run forward on the arguments' arrays, record a node when a gradient is needed.

        The one recording path of every op: Tensors in `args` are replaced by their arrays,
        a node (the ctx) is linked to the parents that require grad (when grad mode is on),
        the anomaly check runs on the output, and while profiling the call is a span
        "<Op>.forward" around its kernels. When no node is recorded and the op defines
        `forward_no_grad`, that runs instead of forward, with no ctx. Calls with one or two
        Tensor arguments go to `apply1` / `apply2`, which ops on the hot path call directly
        (same results, less Python per call)."""
        n = len(args)
        if n == 2:
            return apply2(cls, args[0], args[1])
        if n == 1:
            return apply1(cls, args[0])
        return _apply_any(cls, args)


# The hot path of apply, in C (csrc/bindings/bind_autograd.cpp): calls with one or two
# Tensor arguments, and with two Tensors, a Tensor or None, and constants (conv2d, linear).
# They do what `_apply_general` below does, without its interpreter overhead, and hand back
# to `_apply_any` whatever they do not handle (a profiler session, a Tensor subclass that
# overrides Tensor's attributes, a non-Tensor argument, a Tensor among the constants);
# `register_tensor_type` configures them.
#   apply1(cls, a)                  cls.apply(a)
#   apply2(cls, a, b)               cls.apply(a, b)
#   apply3(cls, a, b, c, *consts)   cls.apply(a, b, c, *consts); c a Tensor or None
apply1 = _C.apply1
apply2 = _C.apply2
apply3 = _C.apply3

_ndarray = np.ndarray
_now_ns = _C.profiler_now_ns
_NO_GRADS = [(False,) * n for n in range(8)]


def _unrecorded(cls, raw) -> Any:
    """The output of op cls on the arrays and constants raw when no node is recorded:
    forward_no_grad where the op has one, else forward on a ctx that needs no gradient."""
    value = cls.forward_no_grad
    if value is None:
        ctx = _new(cls)
        n = len(raw)
        ctx.needs_input_grad = _NO_GRADS[n] if n < 8 else (False,) * n
        out = cls.forward(ctx, *raw)
    else:
        ctx = None
        out = value(*raw)
    if out.__class__ is not _ndarray or _anomaly_mode():
        return _output(cls, ctx, out, False)
    t = _new(Tensor)  # wrap(out, False, None), inlined
    t._data = out
    t.requires_grad = False
    t.grad = None
    t.grad_fn = None
    return t


def _apply_any(cls, args: tuple):
    """Function.apply for any arguments: the general path, inside a span while profiling."""
    if _profiler._active is not None:
        return _apply_profiled(cls, args)
    return _apply_general(cls, args)


def _apply_profiled(cls, args: tuple):
    """Function.apply while profiling: the general path inside a span "<Op>.forward"."""
    prof = _profiler._active
    start = _now_ns()
    try:
        return _apply_general(cls, args)
    finally:
        prof._add_python_span(_span_name(cls, "forward"), start, _now_ns())


def _apply_general(cls, args: tuple):
    """Function.apply for any arguments: one pass replaces Tensors by their arrays (and
    checks their devices); the parents are collected only when a node is recorded."""
    raw = list(args)
    record = False
    storage = None
    i = 0
    for a in args:
        if isinstance(a, Tensor):
            d = a._data
            raw[i] = d
            if storage is None:
                storage = d.__class__
            elif d.__class__ is not storage:
                _check_same_device(cls, args)
            if a.requires_grad:
                record = True
        i += 1
    if not (record and _grad_mode()):
        return _unrecorded(cls, raw)
    ctx = _new(cls)
    nxt = [
        (a if a.grad_fn is None else a.grad_fn)
        if isinstance(a, Tensor) and a.requires_grad
        else None
        for a in args
    ]
    ctx.needs_input_grad = tuple([p is not None for p in nxt])
    ctx._g = None
    ctx._retained = None
    ctx.next_functions = nxt
    out = cls.forward(ctx, *raw)
    if _counters:
        ctx._saved_epoch = _epoch[0]
    if out.__class__ is not _ndarray or _anomaly_mode():
        return _output(cls, ctx, out, True)
    t = _new(Tensor)  # wrap(out, True, ctx), inlined
    t._data = out
    t.requires_grad = True
    t.grad = None
    t.grad_fn = ctx
    return t


def _saved_items(ctx) -> tuple:
    """What `ctx` saved, as a tuple (ops save a tuple, one array, or nothing)."""
    try:
        saved = ctx.saved_tensors
    except AttributeError:  # the op saved nothing
        return ()
    return saved if type(saved) is tuple else (saved,)


def _check_versions(node) -> None:
    """Raise PyTorch's error when an array `node` saved was written in place after the node
    was recorded (see gradcore.versions)."""
    tick = node._saved_epoch
    i = 0
    for x in _saved_items(node):
        if x.__class__ is _ndarray or isinstance(x, _ndarray):
            changed = written_since(x, tick)
            if changed is not None:
                now, then = changed
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: [{x.dtype} {list(x.shape)}], which is saved "
                    f"tensor {i} of {_span_name(type(node), 'backward').split('.')[0]}, is at "
                    f"version {now}; expected version {then} instead. Hint: clone() the "
                    "tensor before changing it in place, or use the out-of-place op."
                )
        i += 1


def _check_same_device(cls, args: tuple) -> None:
    """Raise when the Tensor arguments of op `cls` live on different devices (storages of
    different types may still share one: an np.memmap is on the cpu like an ndarray)."""
    devs = []
    for a in args:
        if isinstance(a, Tensor):
            d = device_of(a._data)
            if d not in devs:
                devs.append(d)
    if len(devs) > 1:
        raise RuntimeError(
            f"{_span_name(cls, 'forward').split('.')[0]}: expected all tensors on the same "
            f"device, got tensors on {' and '.join(repr(str(d)) for d in devs)}"
        )


def _output(cls, ctx, out, record: bool):
    """Wrap forward's result: an array (or a Tensor) becomes the op's output Tensor, with
    `ctx` as its grad_fn when recording; a tuple's first element is the differentiable
    output and the rest come back as non-differentiable Tensors."""
    if out.__class__ is not _ndarray:
        if isinstance(out, Tensor):  # a forward written PyTorch-style
            out = out._data
        elif isinstance(out, np.generic):  # numpy's scalar result of a 0-d operation
            out = np.asarray(out)
        elif type(out) is tuple:
            out = tuple(o._data if isinstance(o, Tensor) else o for o in out)
            first = out[0]
            if _anomaly_mode():
                _check_finite(first, cls.__name__, "forward output")
            res = wrap(first, record, ctx if record else None)
            return (res,) + tuple(wrap(o, False, None) for o in out[1:])
    if _anomaly_mode():
        _check_finite(out, cls.__name__, "forward output")
    if record:
        return wrap(out, True, ctx)
    return wrap(out, False, None)


def _span_name(cls: type, phase: str) -> str:
    """Profiler span name of a Function class: "Conv2d.forward" for class _Conv2d."""
    return f"{cls.__name__.lstrip('_')}.{phase}"


def _check_finite(a, name: str, where: str) -> None:
    if isinstance(a, np.ndarray) and a.dtype.kind == "f" and not np.isfinite(a).all():
        bad = int(np.size(a) - np.isfinite(a).sum())
        raise RuntimeError(
            f"anomaly detected: Function '{name.lstrip('_')}' produced {bad} NaN/Inf value(s) "
            f"in its {where} (shape {a.shape})"
        )


# ---------------------------------------------------------------------- engine
_ONES: dict = {}


def backward(tensor, gradient=None, retain_graph: bool = False) -> None:
    """Backpropagate from `tensor`, accumulating into the .grad of leaves that require grad."""
    if not tensor.requires_grad:
        raise RuntimeError(
            "element 0 of tensors does not require grad and does not have a grad_fn "
            "(backward() needs a tensor computed from tensors with requires_grad=True)"
        )
    data = tensor._data
    if gradient is None:
        if data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs: backward() on a tensor "
                f"of shape {tuple(data.shape)} needs an explicit gradient argument"
            )
        if data.ndim == 0:  # a shared read-only seed: backward formulas never write to grads
            g = _ONES.get(data.dtype)
            if g is None:
                g = _ONES[data.dtype] = np.ones((), dtype=data.dtype)
                g.flags.writeable = False
        else:
            g = np.ones(data.shape, dtype=data.dtype)
        if not isinstance(data, _ndarray) and isinstance(data, _versions.STORAGE_TYPES):
            g = full_like(data, 1)  # the seed on the output's device
    else:
        g = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient)
        if g.shape != data.shape:
            raise RuntimeError(
                f"backward: gradient has shape {tuple(g.shape)} but the tensor has shape "
                f"{tuple(data.shape)}"
            )
        if g.dtype != data.dtype:
            g = g.astype(data.dtype)
    root = tensor.grad_fn
    if root is None:  # a leaf: its gradient is the seed
        _accumulate_leaf(tensor, g)
        return
    if root.next_functions is None:
        raise RuntimeError(_FREED_MSG)

    # Count, for every node reachable from the root, how many edges lead into it.
    deps = {}
    stack = [root]
    while stack:
        node = stack.pop()
        for p in node.next_functions:
            if p is not None and p._is_node:
                c = deps.get(p)
                if c is None:
                    if p.next_functions is None:
                        raise RuntimeError(_FREED_MSG)
                    deps[p] = 1
                    stack.append(p)
                else:
                    deps[p] = c + 1

    prof = _profiler._active
    if prof is None:
        _run_backward(root, g, deps, retain_graph, None)
        return
    start = _C.profiler_now_ns()
    try:
        _run_backward(root, g, deps, retain_graph, prof)
    finally:
        prof._add_python_span("autograd.backward", start, _C.profiler_now_ns())


def _run_backward(root, g, deps: dict, retain_graph: bool, prof) -> None:
    """Run the nodes from `root` in reverse topological order (`deps`: count of edges into
    each node still to be seen). With a profile `prof`, each node is a span "<Op>.backward"."""
    anomaly = _anomaly_mode()
    root._g = g
    ready = [root]
    prev_mode = _set_grad_mode(False)  # backward formulas record nothing (in this thread)
    try:
        while ready:
            node = ready.pop()
            g = node._g
            node._g = None
            if node._retained is not None:
                t = node._retained()
                if t is not None:
                    _accumulate_leaf(t, g)
            if _counters and node._saved_epoch != _epoch[0]:  # writes since it was recorded
                _check_versions(node)
            if prof is None:
                grads = node.backward(node, g)
            else:
                t0 = _C.profiler_now_ns()
                grads = node.backward(node, g)
                prof._add_python_span(_span_name(type(node), "backward"), t0, _C.profiler_now_ns())
            nxt = node.next_functions
            if type(grads) is not tuple:
                grads = (grads,)
            if len(grads) < len(nxt):
                raise RuntimeError(
                    f"Function {type(node).__name__}.backward returned {len(grads)} gradient(s) "
                    f"but forward had {len(nxt)} argument(s)"
                )
            if not retain_graph:
                node.next_functions = None
                node.saved_tensors = None
            for p, gi in zip(nxt, grads):
                if p is None or gi is None:
                    continue
                if gi.__class__ is not _ndarray:
                    if isinstance(gi, Tensor):
                        gi = gi._data
                    elif not isinstance(gi, _versions.STORAGE_TYPES):  # device storage stays
                        gi = np.asarray(gi)
                if anomaly:
                    _check_finite(gi, type(node).__name__, "backward gradient")
                if p._is_node:
                    old = p._g
                    p._g = gi if old is None else old + gi
                    c = deps[p] - 1
                    deps[p] = c
                    if c == 0:
                        ready.append(p)
                else:
                    _accumulate_leaf(p, gi)
    finally:
        _set_grad_mode(prev_mode)


def _accumulate_leaf(t, g) -> None:
    data = t._data
    if g.shape != data.shape:
        g = _fit_leaf_grad(g, data.shape)
    old = t.grad
    if old is None:
        if isinstance(g, _ndarray):
            g = np.array(g, dtype=data.dtype, copy=True)
        else:  # device storage: its own copy / cast
            g = g.copy() if g.dtype == data.dtype else g.astype(data.dtype)
        t.grad = _wrap(g, False, None)
    else:
        old._data += g
    if _post_acc_hooks_used:  # one global check per accumulation until a hook is registered
        hooks = getattr(t, "_post_acc_hooks", None)
        if hooks:
            for fn in tuple(hooks):
                fn(t)


_post_acc_hooks_used = False  # True once any leaf got a post-accumulate-grad hook


class RemovableHandle:
    """Returned by hook registration: `remove()` unregisters the hook (idempotent)."""

    __slots__ = ("_ref", "_fn")

    def __init__(self, tensor, fn):
        self._ref = weakref.ref(tensor)
        self._fn = fn

    def remove(self) -> None:
        t = self._ref()
        hooks = None if t is None else getattr(t, "_post_acc_hooks", None)
        if hooks and self._fn in hooks:
            hooks.remove(self._fn)


def register_post_accumulate_grad_hook(tensor, fn) -> RemovableHandle:
    """Call `fn(tensor)` after each accumulation of a gradient into the leaf `tensor`'s .grad
    during backward (PyTorch's `Tensor.register_post_accumulate_grad_hook`). A leaf that
    reaches the loss along k paths gets k accumulations, hence k calls. Hooks run in
    registration order, in the thread running backward; `fn`'s return value is ignored.
    The hooks live on the tensor (a hook that refers to its tensor is collected with it).
    Returns a handle whose `remove()` unregisters `fn`."""
    global _post_acc_hooks_used
    if tensor.grad_fn is not None or not tensor.requires_grad:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: only leaf tensors that require grad accumulate "
            "gradients (this tensor is "
            + ("not a leaf)" if tensor.grad_fn is not None else "a leaf without requires_grad)")
        )
    if not callable(fn):
        raise TypeError(f"register_post_accumulate_grad_hook: fn must be callable, got {fn!r}")
    hooks = getattr(tensor, "_post_acc_hooks", None)
    if hooks is None:
        hooks = tensor._post_acc_hooks = []
    hooks.append(fn)
    _post_acc_hooks_used = True
    return RemovableHandle(tensor, fn)


def _fit_leaf_grad(g, shape: tuple):
    """A gradient `g` of another shape than its leaf's `shape`, as PyTorch accepts it: summed
    down when the leaf's shape broadcasts to g's, reshaped when the shapes differ only by
    size-1 dims; any other shape (e.g. (3, 2) for a (2, 3) leaf) raises."""
    if [d for d in g.shape if d != 1] == [d for d in shape if d != 1]:
        return g.reshape(shape)
    try:
        if np.broadcast_shapes(shape, g.shape) == g.shape:
            lead = g.ndim - len(shape)
            axes = tuple(range(lead)) + tuple(
                lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1
            )
            return np.asarray(g.sum(axis=axes)).reshape(shape)
    except ValueError:
        pass
    raise RuntimeError(
        f"invalid gradient: got shape {list(g.shape)} but expected a shape compatible with "
        f"{list(shape)} (the shape of the tensor it is the gradient of)"
    )


# ------------------------------------------------------------------ grad modes
class _GradMode:
    """Sets this thread's grad mode inside a `with` block (or a decorated function)."""

    __slots__ = ("_mode", "_prev")

    def __init__(self, mode: bool):
        self._mode = mode
        self._prev = True

    def __enter__(self):
        self._prev = _set_grad_mode(self._mode)
        return self

    def __exit__(self, *exc):
        _set_grad_mode(self._prev)
        return False

    def __call__(self, fn: Callable) -> Callable:
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _GradMode(mode):
                return fn(*args, **kwargs)

        return wrapper


def no_grad() -> _GradMode:
    """Context manager / decorator: operations inside record no graph (in this thread)."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Context manager / decorator: re-enable graph recording (e.g. inside no_grad)."""
    return _GradMode(True)


class set_grad_enabled(_GradMode):  # noqa: N801 - PyTorch's name
    """Set this thread's grad mode now; also usable as a context manager that restores the
    previous mode."""

    __slots__ = ()

    def __init__(self, mode: bool):
        super().__init__(bool(mode))
        self._prev = _set_grad_mode(bool(mode))

    def __enter__(self):
        return self


def is_grad_enabled() -> bool:
    """Whether ops record a graph in the calling thread."""
    return _grad_mode()


# --------------------------------------------------------------------- anomaly
def set_detect_anomaly(mode: bool) -> None:
    """Check every op's forward output and backward gradients for NaN/Inf in the calling
    thread (slow; debugging)."""
    _set_anomaly_mode(bool(mode))


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on in the calling thread."""
    return _anomaly_mode()


class detect_anomaly:  # noqa: N801 - PyTorch's name
    """Context manager: anomaly detection on inside the block (in this thread). The first op
    whose forward output or backward gradient holds NaN/Inf raises a RuntimeError naming it."""

    def __init__(self, mode: bool = True):
        self._mode = bool(mode)
        self._prev = False

    def __enter__(self):
        self._prev = _set_anomaly_mode(self._mode)
        return self

    def __exit__(self, *exc):
        _set_anomaly_mode(self._prev)
        return False


# ------------------------------------------------------------------- gradcheck
class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytic and numeric gradients disagree."""


def gradcheck(
    fn: Callable,
    inputs: Sequence,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Compare analytic gradients of `fn(*inputs)` with central finite differences (float64).

    The (possibly non-scalar) output is projected on a fixed random vector v, so one backward
    gives the analytic vector-Jacobian product v^T J, compared with the numeric
    (f(x + eps e_i) - f(x - eps e_i)) . v / (2 eps) for every element of every input that
    requires grad. On failure raises GradcheckError (or returns False) naming the worst
    element: input index, element index, analytic and numeric values.
    """
    if not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    inputs = tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad")
    for i in diff:
        if inputs[i].dtype != np.float64:
            raise ValueError(
                f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64 inputs "
                "(finite differences in float32 are too inaccurate)"
            )

    def outputs(res):
        if isinstance(res, (tuple, list)):
            return [r for r in res if isinstance(r, Tensor) and r.dtype.kind == "f"]
        return [res]

    rng = np.random.default_rng(seed)
    with enable_grad():
        outs = outputs(fn(*inputs))
    vs = [rng.standard_normal(o.shape) for o in outs]
    for i in diff:
        inputs[i].grad = None
    live = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
    if not live:
        raise GradcheckError("gradcheck: the output does not require grad (no graph recorded)")
    total = None
    for o, v in live:
        term = (o * Tensor(v.astype(o.dtype))).sum()
        total = term if total is None else total + term
    total.backward()
    analytic = [
        np.zeros(inputs[i].shape) if inputs[i].grad is None else inputs[i].grad._data.copy()
        for i in diff
    ]

    def projected() -> float:
        with no_grad():
            res = outputs(fn(*inputs))
        return float(sum(float(np.sum(r._data * v)) for r, v in zip(res, vs)))

    worst = None  # (excess, input, index, analytic, numeric)
    for k, i in enumerate(diff):
        arr = inputs[i]._data
        flat = arr.reshape(-1)
        if not np.shares_memory(flat, arr):
            raise ValueError(f"gradcheck: input {i} must be contiguous")
        num = np.empty(arr.size)
        for j in range(arr.size):
            orig = flat[j]
            flat[j] = orig + eps
            fp = projected()
            flat[j] = orig - eps
            fm = projected()
            flat[j] = orig
            num[j] = (fp - fm) / (2 * eps)
        ana = analytic[k].reshape(-1)
        err = np.abs(ana - num) - (atol + rtol * np.abs(num))
        if err.size:
            j = int(np.argmax(err))
            if err[j] > 0 and (worst is None or err[j] > worst[0]):
                idx = np.unravel_index(j, arr.shape) if arr.ndim else ()
                worst = (float(err[j]), i, tuple(int(t) for t in idx), float(ana[j]), float(num[j]))
    if worst is not None:
        _, i, idx, a, n = worst
        msg = (
            f"gradcheck failed: input {i}, element {idx}: analytic {a:.8g} vs numeric {n:.8g} "
            f"(|diff| {abs(a - n):.3g} > atol {atol} + rtol {rtol} * |numeric|)"
        )
        if raise_exception:
            raise GradcheckError(msg)
        return False
    return True
