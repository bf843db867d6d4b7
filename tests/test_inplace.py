"""In-place ops with autograd (issue 16 items 2 and 3): recorded in the graph with PyTorch's
history rebase, refused on leaves that require grad and on views, and storage version
counters that make backward raise when a saved value was changed in place."""

import numpy as np
import pytest
from conftest import assert_allclose

import gradcore as gc
import gradcore.nn.functional as F
from gradcore import nn

MODIFIED = "modified by an inplace operation"


def _x():
    return gc.tensor([1.0, 2.0], requires_grad=True)


# ------------------------------------------------------- recorded in-place ops (item 2)
@pytest.mark.parametrize(
    "op, expected",
    [
        (lambda h: h.__imul__(3.0), [3.0, 3.0]),
        (lambda h: h.__itruediv__(4.0), [0.25, 0.25]),
        (lambda h: h.__iadd__(5.0), [1.0, 1.0]),
        (lambda h: h.__isub__(5.0), [1.0, 1.0]),
        (lambda h: h.mul_(gc.tensor([2.0, 3.0])), [2.0, 3.0]),
        (lambda h: h.div_(gc.tensor([2.0, 4.0])), [0.5, 0.25]),
        (lambda h: h.add_(gc.tensor([2.0, 4.0]), alpha=2), [1.0, 1.0]),
        (lambda h: h.sub_(gc.tensor([2.0, 4.0])), [1.0, 1.0]),
        (lambda h: h.zero_(), [0.0, 0.0]),
        (lambda h: h.fill_(7.0), [0.0, 0.0]),
        (lambda h: h.copy_(gc.tensor([9.0, 9.0])), [0.0, 0.0]),
        (lambda h: h.relu_(), [1.0, 1.0]),
    ],
)
def test_inplace_on_nonleaf_is_recorded(op, expected):
    # the case: h = x * 1; h *= 3 gave x.grad == [1, 1] (torch: [3, 3])
    x = _x()
    h = x * 1.0
    out = op(h)
    assert out is h and h.requires_grad and h.grad_fn is not None
    (h * gc.tensor([1.0, 1.0])).sum().backward()
    assert_allclose(x.grad.numpy(), expected)


def test_inplace_values_equal_the_unrecorded_op(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32) + 3
    for op in ("__iadd__", "__isub__", "__imul__", "__itruediv__"):
        for other in (gc.tensor(b), 0.3):
            x = gc.tensor(a.copy(), requires_grad=True)
            h = x * 1.0
            getattr(h, op)(other)
            ref = a.copy()
            getattr(ref, op)(other.numpy() if isinstance(other, gc.Tensor) else other)
            np.testing.assert_array_equal(h.numpy(), ref)


def test_inplace_with_operand_that_requires_grad_matches_torch(torch):
    a = np.array([1.0, -2.0, 3.0], np.float32)
    w0 = np.array([2.0, 3.0, -4.0], np.float32)
    for op in ("mul_", "div_", "add_", "sub_", "copy_"):
        x, w = gc.tensor(a, requires_grad=True), gc.tensor(w0, requires_grad=True)
        h = x * 2.0
        getattr(h, op)(w)
        (h * h).sum().backward()
        tx, tw = torch.tensor(a, requires_grad=True), torch.tensor(w0, requires_grad=True)
        th = tx * 2.0
        getattr(th, op)(tw)
        (th * th).sum().backward()
        assert_allclose(h.numpy(), th.detach().numpy())
        assert_allclose(x.grad.numpy(), tx.grad.numpy())
        assert_allclose(w.grad.numpy(), tw.grad.numpy())


def test_inplace_makes_a_plain_tensor_part_of_the_graph():
    w = _x()
    buf = gc.zeros(2)
    buf += w * 3.0
    assert buf.requires_grad
    buf.sum().backward()
    assert_allclose(w.grad.numpy(), [3.0, 3.0])


def test_functional_relu_inplace_writes_the_input():
    x = gc.tensor([-1.0, 2.0], requires_grad=True)
    h = x * 1.0
    y = F.relu(h, inplace=True)
    assert y is h
    assert_allclose(h.numpy(), [0.0, 2.0])
    h.sum().backward()
    assert_allclose(x.grad.numpy(), [0.0, 1.0])


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 3)
        self.shortcut = nn.Linear(3, 3)

    def forward(self, x):
        out = self.body(x)
        out += self.shortcut(x)
        return out


def test_residual_block_with_iadd_trains_the_shortcut(torch):
    gc.manual_seed(0)
    m = _Residual()
    x = gc.randn(4, 3)
    m(x).sum().backward()
    assert m.shortcut.weight.grad is not None
    tm = torch.nn.Linear(3, 3)
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(m.shortcut.weight.numpy()))
        tm.bias.copy_(torch.tensor(m.shortcut.bias.numpy()))
    tm(torch.tensor(x.numpy())).sum().backward()
    assert_allclose(m.shortcut.weight.grad.numpy(), tm.weight.grad.numpy())


def test_retain_grad_follows_the_inplace_rebase():
    x = _x()
    h = x * 1.0
    h.retain_grad()
    h *= 2.0
    (h * 3.0).sum().backward()
    assert_allclose(h.grad.numpy(), [3.0, 3.0])
    assert_allclose(x.grad.numpy(), [6.0, 6.0])


# --------------------------------------------------------------- refused in-place ops
@pytest.mark.parametrize(
    "op",
    [
        lambda t: t.__iadd__(1.0),
        lambda t: t.__imul__(2.0),
        lambda t: t.add_(1.0),
        lambda t: t.mul_(2.0),
        lambda t: t.div_(2.0),
        lambda t: t.sub_(1.0),
        lambda t: t.zero_(),
        lambda t: t.fill_(5.0),
        lambda t: t.copy_(gc.tensor([0.0, 0.0])),
        lambda t: t.relu_(),
    ],
)
def test_inplace_on_leaf_that_requires_grad_raises(op):
    x = _x()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used"):
        op(x)
    assert_allclose(x.numpy(), [1.0, 2.0])
    with gc.no_grad():  # parameter updates: allowed, and they bump the version
        op(x)
    assert x._version == 1


def test_setitem_while_recording_raises():
    x = _x()
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[0] = 5.0
    buf = gc.zeros(2)
    with pytest.raises(RuntimeError, match="item assignment"):
        buf[0] = x[0]
    with gc.no_grad():
        x[0] = 5.0
    assert_allclose(x.numpy(), [5.0, 2.0])


def test_inplace_on_a_view_of_a_tensor_that_requires_grad_raises():
    # gradcore refuses PyTorch's view rebase instead of giving a wrong gradient
    x = _x()
    h = x * 1.0
    for view in (lambda t: t.view(2), lambda t: t[0:1], lambda t: t.unsqueeze(0), lambda t: t.T):
        with pytest.raises(RuntimeError, match="in-place operation on a view"):
            view(h).mul_(3.0)
    assert_allclose(h.numpy(), [1.0, 2.0])


def test_write_to_the_base_after_a_view_was_taken_raises_in_backward():
    x = _x()
    h = x * 1.0
    v = h.view(2)
    h *= 2.0
    loss = (v * v).sum()
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


# ------------------------------------------------------------ version counters (item 3)
def test_version_counter_is_shared_by_views_and_bumped_by_every_write():
    a = gc.zeros(2, 3)
    v = a.view(6)
    d = a.detach()
    assert a._version == v._version == 0
    a.add_(1.0)
    a.mul_(2.0)
    v.fill_(3.0)
    d.zero_()
    a.copy_(gc.ones(2, 3))
    a[0] = 4.0
    assert a._version == v._version == d._version == 6


def test_optimizer_step_init_and_load_state_dict_bump_versions():
    lin = nn.Linear(2, 2)
    v0 = lin.weight._version
    nn.init.zeros_(lin.weight)
    assert lin.weight._version == v0 + 1
    opt = gc.optim.SGD(lin.parameters(), lr=0.1)
    lin(gc.ones(1, 2)).sum().backward()
    opt.step()
    assert lin.weight._version == v0 + 2
    lin.load_state_dict(lin.state_dict())
    assert lin.weight._version == v0 + 3


def test_saved_weight_modified_under_no_grad_raises():
    # the case: the gradient used the new w; torch raises
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    w = gc.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    with gc.no_grad():
        w.mul_(10)
    with pytest.raises(RuntimeError, match=MODIFIED + r".*is at version 1; expected version 0"):
        y.backward()


def test_optimizer_step_between_forward_and_backward_raises():
    lin = nn.Linear(2, 2)
    opt = gc.optim.SGD(lin.parameters(), lr=0.1)
    lin(gc.ones(1, 2)).sum().backward()
    y = lin(gc.ones(1, 2)).sum()
    opt.step()
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_iadd_after_square_raises():
    x = _x()
    h = x * 1.0
    y = h * h
    h += 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()


def test_zeroing_a_relu_output_raises():
    x = gc.tensor([-1.0, 2.0], requires_grad=True)
    y = F.relu(x * 1.0)
    with gc.no_grad():
        y.zero_()
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()
    # ... also when the relu was in place: its node saved the tensor's own storage
    h = x * 1.0
    h.relu_()
    out = h.sum()
    with gc.no_grad():
        h.fill_(1.0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        out.backward()


def test_fill_after_conv2d_raises(rng):
    x = gc.tensor(rng.standard_normal((1, 1, 4, 4)).astype(np.float32))
    w = gc.tensor(rng.standard_normal((1, 1, 3, 3)).astype(np.float32), requires_grad=True)
    y = F.conv2d(x, w).sum()
    x.fill_(5)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_square_inplace_raises_like_torch():
    x = _x()
    h = x * 1.0
    h.mul_(h)
    with pytest.raises(RuntimeError, match=MODIFIED):
        h.sum().backward()


def test_writes_that_no_saved_value_depends_on_do_not_raise():
    x = _x()
    h = x * 1.0
    y = h + 1.0  # Add saves no values
    h.mul_(5.0)
    h /= 2.0
    (y.sum() + h.sum()).backward()
    assert_allclose(x.grad.numpy(), [3.5, 3.5])
    # a clone before the write keeps the saved value intact
    x2 = _x()
    c = (x2 * 1.0).clone()
    z = (c * c).sum()
    c2 = c.clone()
    c2 += 1
    z.backward()
    assert_allclose(x2.grad.numpy(), [2.0, 4.0])


def test_versions_of_fresh_storages_are_zero_and_entries_are_dropped():
    a = np.zeros(3)
    t = gc.from_numpy(a)
    t.add_(1.0)
    from gradcore.versions import COUNTERS, version

    assert version(a) == 1 and version(a[1:]) == 1

    key = id(a)
    assert key in COUNTERS
    del t, a
    assert key not in COUNTERS


def test_expected_version_counts_the_writes_before_the_save():
    w = gc.tensor([3.0, 4.0], requires_grad=True)
    with gc.no_grad():
        w.add_(1.0)
    y = (gc.tensor([1.0, 2.0], requires_grad=True) * w).sum()
    with gc.no_grad():
        w.mul_(2.0)
        w.mul_(2.0)
    with pytest.raises(RuntimeError, match="is at version 3; expected version 1 instead"):
        y.backward()


def test_training_with_batch_norm_and_an_optimizer_raises_nothing():
    # running statistics and optimizer steps write in place between recordings
    gc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    opt = gc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = gc.randn(4, 1, 5, 5)
    for _ in range(3):
        opt.zero_grad()
        out = model(x)
        out += 1.0  # the batch norm output: saved by no node
        (F.relu(out) ** 2).mean().backward()
        opt.step()
    assert model[1].running_mean._version == 3
