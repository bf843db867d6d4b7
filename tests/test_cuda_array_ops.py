"""CUDA numpy-like array ops (binary_op, unary_op, reduce, astype, fill_, strided_copy, where):
the per-thread bodies through the CPU test driver (everywhere) against numpy, and the CUDA
kernels on a GPU (skipped without one) against the driver."""

import warnings

import numpy as np
import pytest
from cuda_helpers import cuda_module, requires_gpu, to_cpu, to_gpu

from gradcore import _C

H = _C.cuda_host

NP_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "pow": np.power,
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}
COMPARE = ("eq", "ne", "lt", "le", "gt", "ge")
NP_UNARY = {
    "neg": np.negative,
    "abs": np.abs,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "square": np.square,
    "sign": np.sign,
    "reciprocal": np.reciprocal,
}
INEXACT = ("pow", "exp", "log")  # libm / libdevice differ from numpy by an ulp or so

SHAPE_PAIRS = [
    ((3, 1, 5), (4, 1)),
    ((4, 1), (3, 1, 5)),
    ((), (2, 3)),
    ((7,), ()),
    ((), ()),
    ((0, 3), (1, 3)),
    ((2, 0), (2, 1)),
    ((2, 3, 4), (2, 3, 4)),
    ((1,), (5, 1, 1)),
    ((2, 1, 3, 1, 2), (4, 1, 1, 1)),
    ((1, 1, 1, 1, 1, 1, 1, 3), (2, 1, 1, 1, 1, 1, 1, 1)),
]


def _floats(shape, rng, special=True):
    x = np.asarray(rng.standard_normal(shape) * 3, np.float32)
    if special and x.size >= 6:
        x.flat[:6] = [0.0, -0.0, np.nan, np.inf, -np.inf, 2.0]
    return x


def _ints(shape, rng):
    return rng.integers(-5, 6, size=shape).astype(np.int64)


def _check(got, ref, inexact=False):
    assert got.shape == ref.shape and got.dtype == ref.dtype
    if inexact:
        np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-30)
    else:
        np.testing.assert_array_equal(got, ref)


# ---- binary ----


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("op", list(NP_BINARY))
def test_binary_float32_broadcasts_as_numpy(op, shapes, rng):
    a = _floats(shapes[0], rng)
    b = _floats(shapes[1], rng, special=False)
    if b.size >= 3:
        b.flat[:3] = [np.nan, 0.0, 2.0]  # NaN meets everything, and x / 0
    with np.errstate(all="ignore"):
        ref = NP_BINARY[op](a, b)
        got = H.binary_op(op, a, b)
    _check(got, ref, op in INEXACT)


@pytest.mark.parametrize("op", list(NP_BINARY))
@pytest.mark.parametrize("scalar", [2.5, 3, -0.5])
def test_binary_float32_scalars(op, scalar, rng):
    a = _floats((3, 7), rng)
    s = np.float32(scalar)
    with np.errstate(all="ignore"):
        _check(H.binary_op(op, a, scalar), NP_BINARY[op](a, s), op in INEXACT)
        _check(H.binary_op_scalar_left(op, scalar, a), NP_BINARY[op](s, a), op in INEXACT)
        # 0-d and size-0 arrays, numpy scalars
        z = np.array(1.5, np.float32)
        _check(H.binary_op(op, z, np.float32(scalar)), NP_BINARY[op](z, s), op in INEXACT)
        e = np.zeros((0, 4), np.float32)
        _check(H.binary_op_scalar_left(op, scalar, e), NP_BINARY[op](s, e))


def test_binary_rsub_rdiv():
    a = np.array([1.0, 2.0, 4.0], np.float32)
    np.testing.assert_array_equal(H.binary_op_scalar_left("sub", 1.0, a), [0.0, -1.0, -3.0])
    np.testing.assert_array_equal(H.binary_op_scalar_left("div", 2.0, a), [2.0, 1.0, 0.5])


INT_OPS = ["add", "sub", "mul", "maximum", "minimum", *COMPARE]


@pytest.mark.parametrize("shapes", SHAPE_PAIRS[:8], ids=str)
@pytest.mark.parametrize("op", INT_OPS)
def test_binary_int64(op, shapes, rng):
    a, b = _ints(shapes[0], rng), _ints(shapes[1], rng)
    _check(H.binary_op(op, a, b), NP_BINARY[op](a, b))
    _check(H.binary_op(op, a, 3), NP_BINARY[op](a, np.int64(3)))
    _check(H.binary_op_scalar_left(op, -2, a), NP_BINARY[op](np.int64(-2), a))


def test_binary_int64_wraps_as_numpy():
    big = np.array([2**62, -(2**63), 2**63 - 1], np.int64)
    with np.errstate(all="ignore"):
        for op in ("add", "sub", "mul"):
            _check(H.binary_op(op, big, big), NP_BINARY[op](big, big))


@pytest.mark.parametrize("op", ["add", "mul", "maximum", "minimum", *COMPARE])
def test_binary_bool(op):
    a = np.array([[True], [False]])
    b = np.array([True, False, True])
    _check(H.binary_op(op, a, b), NP_BINARY[op](a, b))
    _check(H.binary_op(op, b, True), NP_BINARY[op](b, np.True_))
    _check(H.binary_op_scalar_left(op, False, b), NP_BINARY[op](np.False_, b))


def test_binary_errors():
    f = np.ones((2, 3), np.float32)
    i = np.ones(3, np.int64)
    with pytest.raises(TypeError, match="binary_op: div is not supported for int64"):
        H.binary_op("div", i, i)
    with pytest.raises(TypeError, match="pow is not supported for int64"):
        H.binary_op("pow", i, 2)
    with pytest.raises(TypeError, match="sub is not supported for bool"):
        H.binary_op("sub", np.ones(2, bool), np.ones(2, bool))
    with pytest.raises(TypeError, match="add is not supported for float64"):
        H.binary_op("add", np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="mul: a \\(float32\\) and b \\(int64\\)"):
        H.binary_op("mul", f, i)
    with pytest.raises(TypeError, match="float scalar b"):
        H.binary_op("add", i, 1.5)
    with pytest.raises(TypeError, match="binary_op_scalar_left: add: the int scalar a"):
        H.binary_op_scalar_left("add", 1, np.ones(2, bool))
    with pytest.raises(TypeError, match="b must be a number"):
        H.binary_op("add", f, "2")
    with pytest.raises(ValueError, match="unknown op 'mod'"):
        H.binary_op("mod", f, f)
    with pytest.raises(ValueError, match=r"could not be broadcast together: a \(2, 3\), b \(2,\)"):
        H.binary_op("add", f, np.ones(2, np.float32))
    with pytest.raises(ValueError, match="at most 8"):
        H.binary_op("add", np.ones((1,) * 9, np.float32), f)


# ---- unary ----


@pytest.mark.parametrize("shape", [(), (1,), (0,), (7,), (3, 5), (2, 3, 4, 5), (1023,)])
@pytest.mark.parametrize("op", list(NP_UNARY))
def test_unary(op, shape, rng):
    a = _floats(shape, rng)
    with np.errstate(all="ignore"):
        _check(H.unary_op(op, a), NP_UNARY[op](a), op in INEXACT)


def test_unary_errors():
    with pytest.raises(TypeError, match="unary_op: exp: a must be float32"):
        H.unary_op("exp", np.ones(2))
    with pytest.raises(ValueError, match="unknown op 'tanh'"):
        H.unary_op("tanh", np.ones(2, np.float32))


# ---- reduce ----

REDUCE_CASES = [
    ((3, 4, 5), None),
    ((3, 4, 5), (0, 2)),
    ((3, 4, 5), (2, 0)),
    ((3, 4, 5), 1),
    ((3, 4, 5), -1),
    ((3, 4, 5), ()),
    ((3, 4, 5), (0, 1, 2)),
    ((2, 3, 4, 5), (1, 3)),
    ((), None),
    ((), ()),
    ((1000,), None),
    ((3, 700), 1),
    ((700, 3), 0),
    ((5, 1, 300), (0, 2)),
    ((0, 3), 1),
    ((3, 0), 0),
    ((0, 3), 0),
]


def _axis(axes):
    return axes if axes is None or isinstance(axes, int) else tuple(axes)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("case", REDUCE_CASES, ids=str)
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min"])
def test_reduce_float32(op, case, keepdims, rng):
    shape, axes = case
    x = np.asarray(rng.standard_normal(shape), np.float32)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's mean of nothing
        try:
            ref = getattr(x, op)(axis=_axis(axes), keepdims=keepdims)
        except ValueError:
            with pytest.raises(ValueError, match="zero-size reduction"):
                H.reduce(op, x, axes, keepdims)
            return
        got = H.reduce(op, x, axes, keepdims)
    ref = np.asarray(ref, np.float32)
    assert got.shape == ref.shape and got.dtype == np.float32
    if op in ("max", "min"):
        np.testing.assert_array_equal(got, ref)
    else:
        np.testing.assert_allclose(got, ref, rtol=2e-5, atol=2e-5)


def test_reduce_sum_is_the_block_tree():
    """A row of 1000: thread t sums j = t, t + 256, ... in order; then the fixed tree."""
    x = np.asarray(np.random.default_rng(3).standard_normal(1000), np.float32)
    parts = np.zeros(256, np.float32)
    for t in range(256):
        for j in range(t, 1000, 256):
            parts[t] = np.float32(parts[t] + x[j])
    s = 128
    while s:
        parts[:s] = parts[:s] + parts[s : 2 * s]
        s //= 2
    assert H.reduce("sum", x)[()] == parts[0]
    assert H.reduce("mean", x)[()] == np.float32(parts[0] / np.float32(1000))


def test_reduce_max_min_propagate_nan():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x[1, 2, 3] = np.nan
    for op in ("max", "min"):
        for axes in (None, 2, (0, 1), (1,)):
            _check(H.reduce(op, x, axes), np.asarray(getattr(x, op)(axis=axes), np.float32))


@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_reduce_int64(op, rng):
    x = rng.integers(-1000, 1000, size=(4, 3, 5)).astype(np.int64)
    for axes in (None, (0, 2), 1, ()):
        for keepdims in (False, True):
            ref = np.asarray(getattr(x, op)(axis=axes, keepdims=keepdims))
            _check(H.reduce(op, x, axes, keepdims), ref)


def test_reduce_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        H.reduce("sum", x, 2)
    with pytest.raises(ValueError, match="axis -1 is repeated"):
        H.reduce("sum", x, (1, -1))
    with pytest.raises(ValueError, match="unknown op 'prod'"):
        H.reduce("prod", x)
    with pytest.raises(TypeError, match="mean is not supported for int64"):
        H.reduce("mean", np.ones(3, np.int64))
    with pytest.raises(TypeError, match="sum is not supported for float64"):
        H.reduce("sum", np.ones(3))
    with pytest.raises(TypeError, match="axes must be an int or a sequence of ints"):
        H.reduce("sum", x, 1.0)
    with pytest.raises(ValueError, match="zero-size reduction"):
        H.reduce("max", np.ones((0, 3), np.float32), 0)


# ---- astype / fill_ ----

CAST = ["float32", "float64", "int64", "int32", "uint8", "bool"]
SOURCE = {
    "float32": [0.0, -0.0, 1.5, -1.7, 2.9, 100.2, -100.2, 255.9],
    "float64": [0.0, -0.0, 1.5, -1.7, 2.9, 100.2, -100.2, 1e9],
    "int64": [-3, 0, 5, 300, -129, 2**40 + 7, 255, 1],
    "int32": [-3, 0, 5, 300, -129, 2**30, 255, 1],
    "uint8": [0, 1, 2, 127, 128, 255, 7, 9],
    "bool": [True, False, True, True, False, False, True, False],
}


@pytest.mark.parametrize("dst", CAST)
@pytest.mark.parametrize("src", CAST)
def test_astype_matches_numpy(src, dst):
    a = np.array(SOURCE[src], dtype=src).reshape(2, 4)
    with np.errstate(all="ignore"):
        _check(H.astype(a, dst), a.astype(dst))
        _check(H.astype(a[:0], np.dtype(dst)), a[:0].astype(dst))
        z = np.array(a[0, 1])
        _check(H.astype(z, getattr(np, dst)), z.astype(dst))


def test_astype_float_edges_are_defined():
    """NaN -> 0 and saturation at int64's range (numpy's result is platform-defined)."""
    a = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30], np.float32)
    np.testing.assert_array_equal(
        H.astype(a, "int64"), [0, 2**63 - 1, -(2**63), 2**63 - 1, -(2**63)]
    )
    np.testing.assert_array_equal(H.astype(a, "bool"), [True] * 5)


def test_astype_errors():
    with pytest.raises(TypeError, match="astype: dtype has dtype float16"):
        H.astype(np.ones(2, np.float32), "float16")
    with pytest.raises(TypeError, match="astype: a has dtype float16"):
        H.astype(np.ones(2, np.float16), "float32")
    with pytest.raises(TypeError, match="complex64"):
        H.astype(np.ones(2, np.complex64), "float32")


@pytest.mark.parametrize("dtype", CAST)
@pytest.mark.parametrize("value", [0, 7, 2.75, -1.25, True])
@pytest.mark.parametrize("shape", [(), (0,), (3, 5)])
def test_fill(dtype, value, shape):
    if np.dtype(dtype).kind == "u" and value in (-1.25,):
        return  # numpy's float -> uint8 of a negative is platform-defined
    a = np.zeros(shape, dtype)
    ref = np.zeros(shape, dtype)
    ref.fill(value)
    assert H.fill_(a, value) is None
    _check(a, ref)


def test_fill_errors():
    a = np.zeros(4, np.float32)
    with pytest.raises(TypeError, match="fill_: value must be a number"):
        H.fill_(a, "1")
    with pytest.raises(ValueError, match="writable C-contiguous"):
        H.fill_(np.zeros((4, 4), np.float32)[:, 1], 1.0)
    a.flags.writeable = False
    with pytest.raises(ValueError, match="writable C-contiguous"):
        H.fill_(a, 1.0)


# ---- strided_copy ----


def _view_args(base, view):
    """(shape, element strides, element offset) of `view` over C-contiguous `base`."""
    item = base.itemsize
    off = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return view.shape, tuple(s // item for s in view.strides), off // item


VIEWS = {
    "transpose": lambda a: a.T,
    "permute": lambda a: a.transpose(2, 0, 1),
    "slice": lambda a: a[1:, ::2, 3],
    "reverse": lambda a: a[::-1, :, ::-2],
    "expand": lambda a: np.broadcast_to(a[:, :1, :], (3, 6, 5)),
    "new_axis": lambda a: a[None, :, 2, None],
    "element": lambda a: a[2, 1, 3],
    "empty": lambda a: a[:, 4:, :],
    "same": lambda a: a,
}


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "uint8", "float16", "float64"])
def test_strided_copy_views(dtype, view):
    a = (np.arange(60) % 7).astype(dtype).reshape(3, 4, 5)
    v = np.asarray(VIEWS[view](a))
    if v.base is None and v.ndim == 0:
        v = a[2, 1, 3, ...]
    shape, strides, offset = _view_args(a, v)
    got = H.strided_copy(a, shape, strides, offset)
    _check(got, v.copy(order="C"))
    assert got.flags.c_contiguous


def test_strided_copy_errors():
    a = np.zeros(12, np.float32)
    with pytest.raises(ValueError, match="read outside a's storage of 12 elements"):
        H.strided_copy(a, (3, 5), (4, 1), 0)
    with pytest.raises(ValueError, match="read outside"):
        H.strided_copy(a, (3,), (-1,), 1)
    with pytest.raises(ValueError, match="read outside"):
        H.strided_copy(a, (2,), (2**62,), 0)
    with pytest.raises(ValueError, match="strides has 1 entries"):
        H.strided_copy(a, (3, 4), (1,), 0)
    with pytest.raises(ValueError, match="negative dimension"):
        H.strided_copy(a, (-1,), (1,), 0)
    # an empty result reads nothing
    assert H.strided_copy(a, (0, 5), (100, 100), 50).shape == (0, 5)


# ---- where ----


@pytest.mark.parametrize(
    "shapes", [((3, 1), (1, 4), ()), ((), (2, 3), (3,)), ((5,), (5,), (5,)), ((0, 2), (1,), (2,))]
)
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "float16"])
def test_where(dtype, shapes, rng):
    c = np.asarray(rng.random(shapes[0]) < 0.5)
    a = np.asarray(rng.integers(0, 9, size=shapes[1])).astype(dtype)
    b = np.asarray(rng.integers(0, 9, size=shapes[2])).astype(dtype)
    _check(H.where(c, a, b), np.where(c, a, b))


def test_where_errors():
    f = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="where: cond must be bool, got float32"):
        H.where(f, f, f)
    with pytest.raises(TypeError, match="must have the same dtype"):
        H.where(f > 0, f, np.ones(3, np.int64))
    with pytest.raises(ValueError, match="where: operands could not be broadcast"):
        H.where(f > 0, f, np.ones(2, np.float32))


# ---- the CUDA kernels (GPU) against the driver ----


def _same(d, host, inexact=False):
    got = to_cpu(d)
    assert got.shape == host.shape and got.dtype == host.dtype
    if inexact:
        np.testing.assert_allclose(got, host, rtol=4e-6, atol=1e-30)
    else:
        np.testing.assert_array_equal(got, host)


@requires_gpu
@pytest.mark.parametrize("op", list(NP_BINARY))
def test_gpu_binary(op, rng):
    C = cuda_module()
    for sa, sb in SHAPE_PAIRS:
        a, b = _floats(sa, rng), _floats(sb, rng, special=False)
        with np.errstate(all="ignore"):
            _same(C.binary_op(op, to_gpu(a), to_gpu(b)), H.binary_op(op, a, b), op in INEXACT)
            _same(C.binary_op(op, to_gpu(a), 2.5), H.binary_op(op, a, 2.5), op in INEXACT)
            _same(
                C.binary_op_scalar_left(op, 2.5, to_gpu(a)),
                H.binary_op_scalar_left(op, 2.5, a),
                op in INEXACT,
            )
    if op in INT_OPS:
        a, b = _ints((3, 1, 5), rng), _ints((4, 1), rng)
        _same(C.binary_op(op, to_gpu(a), to_gpu(b)), H.binary_op(op, a, b))
        _same(C.binary_op(op, to_gpu(a), 3), H.binary_op(op, a, 3))
    if op not in ("sub", "div", "pow"):
        a, b = np.array([[True], [False]]), np.array([True, False, True])
        _same(C.binary_op(op, to_gpu(a), to_gpu(b)), H.binary_op(op, a, b))


@requires_gpu
def test_gpu_binary_errors():
    C = cuda_module()
    i = to_gpu(np.ones(3, np.int64))
    with pytest.raises(TypeError, match="binary_op: div is not supported for int64"):
        C.binary_op("div", i, i)
    with pytest.raises(ValueError, match="could not be broadcast"):
        C.binary_op("add", i, to_gpu(np.ones(2, np.int64)))


@requires_gpu
@pytest.mark.parametrize("op", list(NP_UNARY))
def test_gpu_unary(op, rng):
    C = cuda_module()
    for shape in [(), (0,), (7,), (3, 5), (1023,), (300, 257)]:
        a = _floats(shape, rng)
        with np.errstate(all="ignore"):
            _same(C.unary_op(op, to_gpu(a)), H.unary_op(op, a), op in INEXACT)


@requires_gpu
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min"])
def test_gpu_reduce_is_bitwise_the_driver(op, rng):
    C = cuda_module()
    for shape, axes in REDUCE_CASES + [((64, 3000), 1), ((3000, 64), 0), ((70000, 2), 1)]:
        x = np.asarray(rng.standard_normal(shape), np.float32)
        if x.size > 10:
            x.flat[7] = np.nan
        for keepdims in (False, True):
            try:
                host = H.reduce(op, x, axes, keepdims)
            except ValueError:
                with pytest.raises(ValueError, match="zero-size"):
                    C.reduce(op, to_gpu(x), axes, keepdims)
                continue
            _same(C.reduce(op, to_gpu(x), axes, keepdims), host)
    if op != "mean":
        x = rng.integers(-1000, 1000, size=(4, 3, 5)).astype(np.int64)
        _same(C.reduce(op, to_gpu(x), (0, 2), True), H.reduce(op, x, (0, 2), True))


@requires_gpu
def test_gpu_astype_fill():
    C = cuda_module()
    for src in CAST:
        a = np.array(SOURCE[src], dtype=src).reshape(2, 4)
        for dst in CAST:
            _same(C.astype(to_gpu(a), dst), H.astype(a, dst))
    e = np.array([np.nan, np.inf, -np.inf, 1e30], np.float32)
    _same(C.astype(to_gpu(e), "int64"), H.astype(e, "int64"))
    for dtype in CAST:
        for value in (7, 2.75, True):
            d = C.DeviceArray.zeros((3, 5), dtype)
            assert C.fill_(d, value) is None
            ref = np.zeros((3, 5), dtype)
            H.fill_(ref, value)
            _same(d, ref)


@requires_gpu
@pytest.mark.parametrize("view", list(VIEWS))
def test_gpu_strided_copy(view):
    C = cuda_module()
    for dtype in ("float32", "int64", "bool", "float16"):
        a = (np.arange(60) % 7).astype(dtype).reshape(3, 4, 5)
        v = np.asarray(VIEWS[view](a))
        if v.base is None and v.ndim == 0:
            v = a[2, 1, 3, ...]
        shape, strides, offset = _view_args(a, v)
        _same(C.strided_copy(to_gpu(a), shape, strides, offset), v.copy(order="C"))
    with pytest.raises(ValueError, match="read outside"):
        C.strided_copy(to_gpu(np.zeros(12, np.float32)), (3, 5), (4, 1), 0)


@requires_gpu
def test_gpu_where(rng):
    C = cuda_module()
    c = rng.random((3, 1)) < 0.5
    for dtype in ("float32", "int64", "bool"):
        a = rng.integers(0, 9, size=(1, 4)).astype(dtype)
        b = np.asarray(5).astype(dtype)
        _same(C.where(to_gpu(c), to_gpu(a), to_gpu(b)), np.where(c, a, b))
