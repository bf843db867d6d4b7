// CUDA numpy-like array ops on C-contiguous device storage, launched on the current stream:
// what the op layer does with numpy on the CPU (broadcast binary ops, unary ops, reductions
// over axes, astype, fill, strided gathers, where). Planned on the host by array_plan.h
// (dtype rules, broadcast Indexers, reduction plans); bodies: array_ops_threads.h. Pointers
// are device pointers of the dtype named; the caller has checked every (op, dtype) pair.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda/array_ops_threads.h"
#include "cuda/array_plan.h"
#include "cuda/device_array.h"

namespace gradcore::cuda {

// out[t] = a[ia(t)] op b[ib(t)] for t in [0, n); a and b of dtype dt, out of
// plan::binary_result's dtype.
void binary_op(BinOp op, DType dt, const void* a, const Indexer& ia, const void* b,
               const Indexer& ib, void* out, int64_t n);
// out[t] = a[t] op s (scalar_left: s op a[t]).
void binary_op_scalar(BinOp op, DType dt, const void* a, const plan::Scalar& s, bool scalar_left,
                      void* out, int64_t n);
// float32 out[t] = op(a[t]).
void unary_op(UnOp op, const float* a, float* out, int64_t n);
// out[r] = reduction of row r of the plan (float32: one block per row, the fixed tree;
// int64: one thread per row, exact).
void reduce(const plan::ReducePlan& p, DType dt, const void* x, void* out);
// out[t] = cast_value<to>(a[t]).
void astype(DType from, DType to, const void* a, void* out, int64_t n);
// a[t] = s as dtype dt (an int scalar exactly for integer dtypes).
void fill(DType dt, void* a, const plan::Scalar& s, int64_t n);
// out[t] = a[ia(t)], elements of `itemsize` bytes.
void strided_copy(std::size_t itemsize, const void* a, const Indexer& ia, void* out, int64_t n);
// out[t] = c[ic(t)] ? a[ia(t)] : b[ib(t)], elements of `itemsize` bytes.
void where(const bool* c, const Indexer& ic, std::size_t itemsize, const void* a, const Indexer& ia,
           const void* b, const Indexer& ib, void* out, int64_t n);

}  // namespace gradcore::cuda
