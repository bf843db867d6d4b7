"""Matrix products through the native GEMM: 2-d, batched (broadcast batch dims), and the
1-d cases of numpy/PyTorch's matmul.

For out = a @ b: da = g @ b^T and db = a^T @ g, with transposes done by the GEMM's
packing (flags), never by copies.
"""

from __future__ import annotations

import numpy as np

from gradcore import amp
from gradcore import autograd as ag
from gradcore.autograd import Function, apply2
from gradcore.devices import KERNELS
from gradcore.ops.arrays import const_like, unbroadcast

__all__ = ["matmul", "rmatmul", "mm"]

wrap = ag.wrap


def _gemm_operand(a):
    """(matrix, transposed) for gemm without copies where the layout allows."""
    if a.flags.c_contiguous:
        return a, False
    if a.ndim == 2 and a.flags.f_contiguous:
        return a.T, True
    return np.ascontiguousarray(a), False


def mm(kern, a, b, ta: bool = False, tb: bool = False):
    """op(a) @ op(b) of 2-d arrays by the kernel table `kern`'s gemm (op: transpose when
    ta/tb), as a new array. The binding takes any row-major layout with unit inner stride;
    when it rejects a layout, `mm_relaid` makes the call once more."""
    try:
        return kern.gemm(a, b, None, ta, tb)
    except ValueError as err:
        return mm_relaid(kern, a, b, ta, tb, err)


def mm_relaid(kern, a, b, ta: bool, tb: bool, err: ValueError):
    """mm after gemm rejected (a, b) with `err`: operands are passed as transposes
    (F-contiguous) or copied and gemm is called once more, but only for operands that are
    otherwise valid (2-d, one float dtype, inner sizes that agree), so invalid input reaches
    the binding once (`err` is raised again)."""
    if not _only_layout_is_wrong(a, b, ta, tb):
        raise err
    a2, t1 = _gemm_operand(a)
    b2, t2 = _gemm_operand(b)
    return kern.gemm(a2, b2, None, ta ^ t1, tb ^ t2)


def _only_layout_is_wrong(a, b, ta: bool, tb: bool) -> bool:
    """True when gemm(a, b) is valid but for the operands' strides."""
    return (
        a.ndim == 2
        and b.ndim == 2
        and a.dtype == b.dtype
        and a.dtype.kind == "f"
        and a.shape[0 if ta else 1] == b.shape[1 if tb else 0]
        and not (a.flags.c_contiguous and b.flags.c_contiguous)
    )


class MatMul2d(Function):
    """(n, k) @ (k, m) -> (n, m); da = g @ b^T, db = a^T @ g."""

    __slots__ = ()

    @staticmethod
    def forward_no_grad(a, b):
        kern = KERNELS[a.__class__]
        try:  # mm, inlined: a frame less per product
            return kern.gemm(a, b, None, False, False)
        except ValueError as err:
            return mm_relaid(kern, a, b, False, False, err)

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved_tensors = (a, b)
        kern = ctx.kernels = KERNELS[a.__class__]
        return mm(kern, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        kern = ctx.kernels
        n = ctx.needs_input_grad
        return (
            mm(kern, g, b, False, True) if n[0] else None,
            mm(kern, a, g, True, False) if n[1] else None,
        )


def bf16_bits(kern, x: np.ndarray) -> np.ndarray:
    """The bfloat16 bit patterns (uint16) of float32 `x`; exact for bfloat16-valued x."""
    return kern.float_to_bfloat16(np.ascontiguousarray(x))


def mm_bf16(kern, a: np.ndarray, b: np.ndarray, trans_a=False, trans_b=False) -> np.ndarray:
    """float32 op(a) @ op(b) of bfloat16 bit arrays by the bfloat16 GEMM (float32 sums)."""
    if trans_a:
        a = np.ascontiguousarray(a.T)
    return kern.gemm_bf16(a, b, trans_b)


class MatMul2dBf16(Function):
    """MatMul2d under bfloat16 autocast (gradcore.amp): a, b hold bfloat16 values in float32,
    and g arrives bfloat16-valued (amp rounds it), so their bit patterns are exact; every
    product runs on gemm_bf16. out = a @ b; da = g @ b^T, db = a^T @ g (float32 sums)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b):
        kern = ctx.kernels = KERNELS[a.__class__]
        ab, bb = bf16_bits(kern, a), bf16_bits(kern, b)
        ctx.saved_tensors = (ab, bb)
        return mm_bf16(kern, ab, bb)

    @staticmethod
    def backward(ctx, g):
        ab, bb = ctx.saved_tensors
        kern = ctx.kernels
        gb = bf16_bits(kern, g)
        n = ctx.needs_input_grad
        return (
            mm_bf16(kern, gb, bb, False, True) if n[0] else None,
            mm_bf16(kern, ab, gb, True, False) if n[1] else None,
        )


class MatMul2dLowp(Function):
    """MatMul2d under CUDA autocast (gradcore.amp): a, b hold float16 / bfloat16 values in
    float32 (`dtype`: gemm_lowp's name) and g arrives rounded the same way; every product runs
    on tensor cores through gemm_lowp. out = a @ b; da = g @ b^T, db = a^T @ g (float32 sums)."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b, dtype):
        kern = ctx.kernels = KERNELS[a.__class__]
        ctx.saved_tensors = (a, b, dtype)
        return kern.gemm_lowp(a, b, None, False, False, 1.0, 0.0, dtype)

    @staticmethod
    def backward(ctx, g):
        a, b, dtype = ctx.saved_tensors
        kern = ctx.kernels
        n = ctx.needs_input_grad
        return (
            kern.gemm_lowp(g, b, None, False, True, 1.0, 0.0, dtype) if n[0] else None,
            kern.gemm_lowp(a, g, None, True, False, 1.0, 0.0, dtype) if n[1] else None,
            None,
        )


def matmul_bf16(a, b, lowp=None):
    """matmul under autocast (called by gradcore.amp on rounded inputs; `lowp`: the autocast
    dtype, None when the operands are not on its device type): 2-d float32 products on the
    bfloat16 GEMM on the CPU, on gemm_lowp on a device; anything else as matmul (on the
    rounded values)."""
    Tensor = ag.Tensor
    if lowp is not None and a.__class__ is Tensor and b.__class__ is Tensor:
        da, db = a._data, b._data
        if (
            da.ndim == 2
            and db.ndim == 2
            and da.shape[1] == db.shape[0]
            and da.dtype == db.dtype == np.float32
        ):
            if isinstance(da, np.ndarray):
                return apply2(MatMul2dBf16, a, b)
            return MatMul2dLowp.apply(a, b, amp.lowp_name(lowp))
    return matmul(a, b)


class BatchedMatMul(Function):
    """(..., n, k) @ (..., k, m) with broadcast batch dims: one gemm per batch entry;
    gradients per entry as for MatMul2d, summed over broadcast batch dims."""

    __slots__ = ()

    @staticmethod
    def forward(ctx, a, b):
        ctx.saved_tensors = (a, b)
        kern = ctx.kernels = KERNELS[a.__class__]
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        ab = np.broadcast_to(a, batch + a.shape[-2:])
        bb = np.broadcast_to(b, batch + b.shape[-2:])
        out = np.empty(batch + (a.shape[-2], b.shape[-1]), dtype=np.result_type(a, b))
        for i in np.ndindex(*batch):
            out[i] = mm(kern, ab[i], bb[i])
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        kern = ctx.kernels
        batch = g.shape[:-2]
        ab = np.broadcast_to(a, batch + a.shape[-2:])
        bb = np.broadcast_to(b, batch + b.shape[-2:])
        n = ctx.needs_input_grad
        ga = np.empty(batch + a.shape[-2:], dtype=g.dtype) if n[0] else None
        gb = np.empty(batch + b.shape[-2:], dtype=g.dtype) if n[1] else None
        for i in np.ndindex(*batch):
            if n[0]:
                ga[i] = mm(kern, g[i], bb[i], False, True)
            if n[1]:
                gb[i] = mm(kern, ab[i], g[i], True, False)
        return (
            unbroadcast(ga, a.shape) if n[0] else None,
            unbroadcast(gb, b.shape) if n[1] else None,
        )


def matmul(a, b):
    """Matrix product (PyTorch/numpy semantics for 1-d, 2-d and batched operands), computed
    by the native GEMM. Tensors in: a Tensor with autograd; numpy arrays in: a numpy array."""
    if amp._anywhere and amp.get_autocast_dtype() is not None:
        return amp.lower_precision(matmul_bf16, (a, b), lowp=True)
    Tensor = ag.Tensor
    if a.__class__ is Tensor and b.__class__ is Tensor:  # the common 2-d product first
        da, db = a._data, b._data
        if da.ndim == 2 and db.ndim == 2 and da.shape[1] == db.shape[0] and da.dtype == db.dtype:
            return apply2(MatMul2d, a, b)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = np.asarray(a)
        b = np.asarray(b)
        return matmul(wrap(a, False, None), wrap(b, False, None))._data
    if not isinstance(a, Tensor):
        a = const_like(a, b)
    if not isinstance(b, Tensor):
        b = const_like(b, a)
    da, db = a._data, b._data
    if da.ndim == 0 or db.ndim == 0:
        raise RuntimeError("matmul: both arguments need at least 1 dimension (use * for scalars)")
    if da.dtype != db.dtype:
        raise TypeError(
            f"matmul: expected both tensors to have the same dtype, got {da.dtype} and {db.dtype}"
        )
    ka = da.shape[-1]
    kb = db.shape[-2] if db.ndim > 1 else db.shape[0]
    if ka != kb:
        raise ValueError(
            f"matmul: shapes {tuple(da.shape)} and {tuple(db.shape)} cannot be multiplied "
            f"({ka} != {kb})"
        )
    if da.ndim == 2 and db.ndim == 2:
        return apply2(MatMul2d, a, b)
    if da.ndim == 1 and db.ndim == 1:
        return (a.reshape(1, -1) @ b.reshape(-1, 1)).reshape(())
    if da.ndim == 1:
        return (a.unsqueeze(0) @ b).squeeze(-2)
    if db.ndim == 1:
        return (a @ b.unsqueeze(-1)).squeeze(-1)
    if db.ndim == 2:  # (..., n, k) @ (k, m): one gemm on the flattened rows
        lead = da.shape[:-1]
        return (a.reshape(-1, ka) @ b).reshape(lead + (db.shape[1],))
    return apply2(BatchedMatMul, a, b)


def rmatmul(self, other):
    """other @ self (Tensor.__rmatmul__)."""
    return matmul(const_like(other, self), self)
