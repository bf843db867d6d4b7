"""In-place ops (`+=`, `-=`, `*=`, `/=`, add_, sub_, mul_, div_, zero_, fill_, copy_,
relu_, item assignment) with PyTorch's autograd semantics.

Outside recording (grad mode off, or no operand requires grad) the op writes the storage
directly. While recording:

- on a leaf that requires grad it raises ("a leaf Variable that requires grad is being
  used in an in-place operation."); wrap parameter updates in `gradcore.no_grad()`;
- on any other tensor it records the op's node and rebases the tensor's history: the
  values are computed by the out-of-place op (same numbers), written into the storage, and
  the tensor's grad_fn becomes that node, whose input is the tensor's previous node. So
  `out += shortcut(x)` trains the shortcut;
- on a view of another tensor's storage (the output of view/reshape/permute/slicing of a
  tensor that requires grad, or any numpy view when an operand requires grad) it raises a
  RuntimeError: gradcore does not implement PyTorch's rebase of the view's base. Take a
  clone() first, or write the out-of-place op.

Every write bumps the storage's version (gradcore.versions), so a value that a node saved
for backward and that is changed in place afterwards raises in backward instead of giving
a wrong gradient. The node of an in-place op saves the tensor's own storage where it
needs its result (relu_), so a later write to the tensor is caught too.
"""

from __future__ import annotations

import numpy as np

from gradcore import autograd as ag
from gradcore.autograd import Function
from gradcore.ops import activation, elementwise
from gradcore.ops.arrays import const_like, unbroadcast
from gradcore.versions import EPOCH, bump, storage_root

__all__ = ["iadd", "isub", "imul", "itruediv", "fill_", "zero_", "copy_", "relu_", "setitem"]

LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."


class Fill(Function):
    """out = `value` everywhere in a's shape and dtype; da = 0 (the old values are gone)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, value):
        return np.full(a.shape, value, dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        return np.zeros_like(g), None


class CopyFrom(Function):
    """out = src broadcast to a's shape and cast to a's dtype (Tensor.copy_);
    da = 0, dsrc = g summed down to src's shape, in src's dtype."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, src):
        ctx.saved_tensors = (src.shape, src.dtype)
        out = np.empty(a.shape, dtype=a.dtype)
        np.copyto(out, src, casting="same_kind")
        return out

    @staticmethod
    def backward(ctx, g):
        shape, dtype = ctx.saved_tensors
        return np.zeros_like(g), unbroadcast(g, shape).astype(dtype, copy=False)


def _operand(other):
    return other._data if isinstance(other, ag.Tensor) else other


def _recording(self, other=None) -> bool:
    """Whether an in-place op on `self` (with operand `other`) is recorded; raises for the
    in-place ops gradcore refuses (see the module docstring)."""
    other_rg = isinstance(other, ag.Tensor) and other.requires_grad
    if not (self.requires_grad or other_rg) or not ag.is_grad_enabled():
        return False
    fn = self.grad_fn
    if fn is None and self.requires_grad:
        raise RuntimeError(LEAF_MSG)
    if (fn is not None and fn._makes_view) or (fn is None and self._data.base is not None):
        raise RuntimeError(
            "in-place operation on a view of another tensor while recording a graph: "
            "gradcore does not rebase a view's base (PyTorch does); call clone() on the view "
            "first or use the out-of-place op"
        )
    return True


def _source(self, copy: bool):
    """`self` as the op's input: the same storage under a new array object (so the node's
    saved reference to it is recognised after the write), or a copy of the old values when
    the node needs them after they are overwritten."""
    arr = self._data.copy() if copy else self._data.view()
    return ag.wrap(arr, self.requires_grad, self.grad_fn)


def _rebase(self, src, result, keep_output: bool = False):
    """Write `result` (the out-of-place op on `src`) into self's storage and make its node
    self's grad_fn. The node's saved references to the overwritten storage (`src`, when it
    is not a copy) are replaced by a stand-in of the same shape and dtype; with
    `keep_output` the node's saved output becomes self's storage (so later writes to self
    are caught). The node counts as recorded after the write."""
    data = self._data
    out = result._data
    if out.shape != data.shape:
        raise RuntimeError(
            f"output with shape {list(data.shape)} doesn't match the broadcast shape "
            f"{list(out.shape)}"
        )
    np.copyto(data, out, casting="same_kind")
    bump(data)
    node = result.grad_fn
    shared = src._data.base is not None  # src views self's storage (not a copy)
    old = self.grad_fn
    if old is not None and old._retained is not None and old._retained() is self:
        node._retained, old._retained = old._retained, None
    try:
        saved = node.saved_tensors
    except AttributeError:
        saved = None
    if saved is not None:
        items = saved if type(saved) is tuple else (saved,)
        root = storage_root(data)
        fixed = []
        stale = False
        for x in items:
            if x is src._data and shared:
                # the node keeps only the shape and dtype of the overwritten values (it never
                # reads them: when it would, src is a copy), so later writes do not matter
                x = np.broadcast_to(np.zeros((), dtype=x.dtype), x.shape)
            elif keep_output and x is out:
                x = data
            elif isinstance(x, np.ndarray) and storage_root(x) is root:
                stale = True  # the other operand is self's storage (h.mul_(h)), as in torch
            fixed.append(x)
        node.saved_tensors = tuple(fixed) if type(saved) is tuple else fixed[0]
        if stale:  # the node keeps its recording time: backward raises
            return _set_history(self, node)
    node._saved_epoch = EPOCH[0]  # recorded just now: only this write came after it
    return _set_history(self, node)


def _set_history(self, node):
    """Make `node` the grad_fn of `self` (the tensor an in-place op wrote)."""
    self.grad_fn = node
    self.requires_grad = True
    return self


# ------------------------------------------------------------------ the ops
def iadd(self, other, alpha=1):
    """self += alpha * other (Tensor.__iadd__, add_)."""
    o = (
        other
        if alpha == 1
        else elementwise.mul(other, alpha)
        if isinstance(other, ag.Tensor)
        else other * alpha
    )
    if _recording(self, o):
        src = _source(self, False)
        return _rebase(self, src, elementwise.add(src, o))
    self._data += _operand(o)
    bump(self._data)
    return self


def isub(self, other, alpha=1):
    """self -= alpha * other (Tensor.__isub__, sub_)."""
    o = (
        other
        if alpha == 1
        else elementwise.mul(other, alpha)
        if isinstance(other, ag.Tensor)
        else other * alpha
    )
    if _recording(self, o):
        src = _source(self, False)
        return _rebase(self, src, elementwise.sub(src, o))
    self._data -= _operand(o)
    bump(self._data)
    return self


def imul(self, other):
    """self *= other (Tensor.__imul__, mul_)."""
    if _recording(self, other):
        # other's gradient needs self's old values: keep a copy of them
        src = _source(self, isinstance(other, ag.Tensor) and other.requires_grad)
        if isinstance(other, ag.Tensor):
            return _rebase(self, src, elementwise.Mul.apply(src, other))
        return _rebase(self, src, elementwise.mul(src, other))
    self._data *= _operand(other)
    bump(self._data)
    return self


def itruediv(self, other):
    """self /= other (Tensor.__itruediv__, div_)."""
    if _recording(self, other):
        src = _source(self, isinstance(other, ag.Tensor) and other.requires_grad)
        # Div (not a multiplication by 1/other): the same numbers as the unrecorded /=
        return _rebase(self, src, elementwise.Div.apply(src, const_like(other, self)))
    self._data /= _operand(other)
    bump(self._data)
    return self


def fill_(self, value):
    """Every element := value (Tensor.fill_)."""
    if isinstance(value, ag.Tensor):
        value = value.item()
    if _recording(self):
        src = _source(self, False)
        return _rebase(self, src, Fill.apply(src, value))
    self._data[...] = value
    bump(self._data)
    return self


def zero_(self):
    """Every element := 0 (Tensor.zero_)."""
    return fill_(self, 0)


def copy_(self, src):
    """self := src, broadcast to self's shape and cast to its dtype (Tensor.copy_)."""
    if not isinstance(src, ag.Tensor):
        src = ag.wrap(np.asarray(src), False, None)
    if _recording(self, src):
        s = _source(self, False)
        return _rebase(self, s, CopyFrom.apply(s, src))
    np.copyto(self._data, src._data, casting="same_kind")
    bump(self._data)
    return self


def relu_(self):
    """self := max(self, 0) (Tensor.relu_, F.relu(inplace=True)); the node saves self's
    storage as its output."""
    if _recording(self):
        src = _source(self, False)
        return _rebase(self, src, activation.ReLU.apply(src), keep_output=True)
    res = activation.ReLU.apply(self)._data
    np.copyto(self._data, res)
    bump(self._data)
    return self


def setitem(self, idx, value):
    """self[idx] = value (Tensor.__setitem__); not recorded: raises while recording when self
    or value requires grad."""
    if _recording(self, value):
        raise RuntimeError(
            "item assignment on a tensor while recording a graph is not supported by gradcore "
            "(it would not be differentiated); use gradcore.no_grad() for updates, or build "
            "the tensor out of place (cat, stack, masks)"
        )
    self._data[idx] = value._data if isinstance(value, ag.Tensor) else value
    bump(self._data)
