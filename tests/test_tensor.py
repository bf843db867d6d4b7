"""Tensor: storage sharing, factories, dtypes, shapes, indexing, arithmetic, reductions."""

import functools

import numpy as np
import pytest
from conftest import assert_allclose

import gradcore as gc


def test_factories_and_dtypes():
    assert gc.tensor([1.0, 2.0]).dtype == gc.float32
    assert gc.tensor([1, 2]).dtype == gc.int64
    assert gc.tensor([1, 2], dtype=gc.float64).dtype == np.float64
    assert gc.zeros(2, 3).shape == (2, 3) and gc.zeros((2, 3)).dtype == gc.float32
    assert gc.ones(4, dtype=gc.float64).numpy().sum() == 4
    assert gc.arange(5).dtype == gc.int64 and gc.arange(0.0, 1.0, 0.5).dtype == gc.float32
    assert gc.empty(3).shape == (3,)
    a = gc.randn(3, 4)
    assert gc.zeros_like(a).shape == (3, 4) and gc.ones_like(a).numpy().sum() == 12
    assert gc.rand(100).numpy().min() >= 0
    t = gc.tensor(3.5)
    assert t.ndim == 0 and t.item() == 3.5 and t.device == "cpu"


def test_numpy_shares_memory():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = gc.from_numpy(a)
    t.numpy()[0, 0] = 42
    assert a[0, 0] == 42
    t2 = gc.tensor(a)
    assert np.shares_memory(t2.numpy(), a)
    d = t.detach()
    assert np.shares_memory(d.numpy(), a) and not d.requires_grad
    with pytest.raises(TypeError, match="from_numpy"):
        gc.from_numpy([1, 2])


def test_seeded_rng_reproducible():
    gc.manual_seed(7)
    a = gc.randn(5).numpy().copy()
    state = gc.get_rng_state()
    b = gc.randn(5).numpy().copy()
    gc.manual_seed(7)
    assert np.array_equal(gc.randn(5).numpy(), a)
    gc.set_rng_state(state)
    assert np.array_equal(gc.randn(5).numpy(), b)
    with pytest.raises(ValueError, match="set_rng_state"):
        gc.set_rng_state({"bit_generator": "MT19937"})


def test_device():
    t = gc.ones(2)
    assert t.to("cpu") is t and t.cpu() is t
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        t.to("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        t.to("tpu")
    assert t.to(gc.float64).dtype == np.float64


def test_repr_like_torch(torch):
    t = gc.tensor([[1.0, 2.0], [3.0, 4.5]])
    assert repr(t) == repr(torch.tensor([[1.0, 2.0], [3.0, 4.5]]))
    r = repr(gc.tensor([1.0], requires_grad=True))
    assert r == "tensor([1.], requires_grad=True)"
    y = gc.tensor([1.0], requires_grad=True) * 2
    assert "grad_fn=<MulScalarBackward>" in repr(y)
    assert "dtype=gradcore.float64" in repr(gc.zeros(2, dtype=gc.float64))


def test_shapes_and_views(rng):
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    t = gc.tensor(a)
    assert t.reshape(6, 4).shape == (6, 4)
    assert t.view(-1).shape == (24,)
    assert t.flatten(1).shape == (2, 12)
    assert t.transpose(0, 2).shape == (4, 3, 2)
    assert np.array_equal(t.permute(2, 0, 1).numpy(), a.transpose(2, 0, 1))
    assert t.unsqueeze(1).shape == (2, 1, 3, 4) and t.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert gc.zeros(1, 3, 1).squeeze().shape == (3,) and gc.zeros(1, 3, 1).squeeze(0).shape == (
        3,
        1,
    )
    with pytest.raises(RuntimeError, match="invalid for input of size 24"):
        t.reshape(5, 5)
    with pytest.raises(RuntimeError, match="view"):
        t.transpose(0, 1).view(-1)


def test_indexing_values_and_grads(rng):
    a = rng.standard_normal((4, 5))
    x = gc.tensor(a, requires_grad=True)
    y = x[1:3, ::2].sum() + x[[0, 0, 3]].sum() * 2 + x[x.detach() > 0].sum()
    y.backward()
    g = np.zeros_like(a)
    g[1:3, ::2] += 1
    np.add.at(g, [0, 0, 3], 2)
    g += a > 0
    assert_allclose(x.grad.numpy(), g)
    assert x[2, 3].item() == a[2, 3]


def test_arithmetic_broadcasting_grads(rng, torch):
    a = rng.standard_normal((3, 1, 4))
    b = rng.standard_normal((5, 1))
    x, y = gc.tensor(a, requires_grad=True), gc.tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out = ((x + y) * (x - y) / (y * y + 1.0) - 2.0 * x + 3.0 / (x * x + 1.0) - (-y) ** 2).sum()
    tout = (
        (tx + ty) * (tx - ty) / (ty * ty + 1.0) - 2.0 * tx + 3.0 / (tx * tx + 1.0) - (-ty) ** 2
    ).sum()
    out.backward()
    tout.backward()
    assert_allclose(out.item(), tout.item())
    assert_allclose(x.grad.numpy(), tx.grad.numpy())
    assert_allclose(y.grad.numpy(), ty.grad.numpy())
    with pytest.raises(ValueError):
        gc.ones(2, 3) + gc.ones(4, 3)


def test_reductions(rng, torch):
    a = rng.standard_normal((3, 4, 5))
    x = gc.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    outs = [
        x.sum(),
        x.sum(1).sum(),
        x.mean((0, 2), keepdim=True).sum(),
        x.max(),
        x.max(dim=1).values.sum(),
        x.min(2, keepdim=True)[0].sum(),
        x.var(1).sum(),
    ]
    touts = [
        tx.sum(),
        tx.sum(1).sum(),
        tx.mean((0, 2), keepdim=True).sum(),
        tx.max(),
        tx.max(dim=1).values.sum(),
        tx.min(2, keepdim=True)[0].sum(),
        tx.var(1).sum(),
    ]
    total = outs[0]
    ttotal = touts[0]
    for o, to in zip(outs[1:], touts[1:]):
        assert_allclose(o.item(), to.item())
        total = total + o
        ttotal = ttotal + to
    total.backward()
    ttotal.backward()
    assert_allclose(x.grad.numpy(), tx.grad.numpy())
    assert np.array_equal(x.argmax(1).numpy(), tx.argmax(1).numpy())
    assert x.argmax().item() == tx.argmax().item()
    assert x.max(1).indices.dtype == np.int64


def test_comparisons_are_not_differentiable():
    x = gc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert not m.requires_grad and m.grad_fn is None
    assert m.numpy().tolist() == [False, True, True]
    assert (x == 2.0).numpy().tolist() == [False, True, False]
    assert len({x, gc.tensor(1.0)}) == 2  # hashable by identity


def test_matmul_shapes_and_errors(rng, torch):
    for sa, sb in [
        ((3, 4), (4, 5)),
        ((4,), (4, 2)),
        ((3, 4), (4,)),
        ((4,), (4,)),
        ((2, 3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)),
        ((1, 3, 4), (2, 4, 2)),
    ]:
        a, b = rng.standard_normal(sa), rng.standard_normal(sb)
        x, y = gc.tensor(a, requires_grad=True), gc.tensor(b, requires_grad=True)
        tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        (x @ y).sum().backward()
        (tx @ ty).sum().backward()
        assert_allclose((x @ y).numpy(), (tx @ ty).detach().numpy(), what=f"{sa}@{sb}")
        assert_allclose(x.grad.numpy(), tx.grad.numpy())
        assert_allclose(y.grad.numpy(), ty.grad.numpy())
    assert_allclose(gc.matmul(a, b), a @ b)  # numpy in, numpy out
    assert isinstance(gc.matmul(np.ones((2, 2)), np.ones((2, 2))), np.ndarray)
    with pytest.raises(ValueError, match="matmul"):
        gc.ones(2, 3) @ gc.ones(2, 3)
    with pytest.raises(TypeError, match="dtype"):
        gc.ones(2, 3) @ gc.ones(3, 2, dtype=gc.float64)
    # transposed (Fortran-ordered) operands go to gemm as trans flags, without copies
    p, q = rng.standard_normal((4, 3)), rng.standard_normal((5, 4))
    xp = gc.tensor(p, requires_grad=True)
    xq = gc.tensor(q, requires_grad=True)
    out = xp.t() @ xq.t()
    out.sum().backward()
    assert_allclose(out.numpy(), p.T @ q.T)
    assert_allclose(xp.grad.numpy(), (np.ones((3, 5)) @ q).T)
    assert_allclose(xq.grad.numpy(), (p @ np.ones((3, 5))).T)


def test_item_and_errors():
    with pytest.raises(ValueError, match="one-element"):
        gc.ones(2).item()
    with pytest.raises(RuntimeError, match="floating point"):
        gc.tensor([1, 2]).requires_grad_()
    x = gc.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x += 1
    with gc.no_grad():
        x += 1
    assert x.numpy().tolist() == [2.0, 2.0]


def test_cat_stack_grads(rng, torch):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    x, y = gc.tensor(a, requires_grad=True), gc.tensor(b, requires_grad=True)
    assert gc.autograd.gradcheck(lambda p, q: gc.cat([p, q], 0) * 2.0, (x, y))
    assert gc.autograd.gradcheck(lambda p, q: gc.stack([p, q[:2]], -1), (x, y))
    assert gc.stack([x, x], 1).shape == tuple(torch.stack([torch.tensor(a)] * 2, 1).shape)
    assert (gc.ones(2) == None) is False  # noqa: E711


# ----------------------------------------------- small silent-wrong cases (issue 16 item 9)
def test_object_and_string_arrays_raise():
    for data in (
        np.array([object(), 1], dtype=object),
        [object(), 1],
        np.array(["a", "b"]),
    ):
        with pytest.raises(TypeError, match="can't convert an array of dtype"):
            gc.tensor(data)
    with pytest.raises(TypeError, match="can't convert"):
        gc.from_numpy(np.array([None]))


def test_numpy_scalars_act_like_python_numbers():
    x = gc.tensor([1.0, 2.0])
    xg = gc.tensor([1.0, 2.0], requires_grad=True)
    ops = (
        lambda t, s: t * s,
        lambda t, s: t + s,
        lambda t, s: t - s,
        lambda t, s: t / s,
        lambda t, s: s * t,
        lambda t, s: s + t,
        lambda t, s: s - t,
        lambda t, s: t**s,
    )
    for s in (np.float64(0.5), np.float32(0.5), np.int64(2)):
        for f in ops:
            op = functools.partial(f, s=s)
            plain, grad = op(x), op(xg)
            with gc.no_grad():
                nograd = op(xg)
            assert plain.dtype == grad.dtype == nograd.dtype == gc.float32
            np.testing.assert_array_equal(plain.numpy(), nograd.numpy())


def test_zero_and_fill_on_a_leaf_that_requires_grad_raise():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    for op in (x.zero_, lambda: x.fill_(3.0)):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            op()
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])
