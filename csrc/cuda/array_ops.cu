// CUDA numpy-like array ops: one body of array_ops_threads.h per output element (reductions of
// float32: one block per output element, the fixed tree of host_device.h). Dtype dispatch runs
// on the host (array_plan.h) into named templates, which hold the device lambdas.
#include "cuda/array_ops.h"
#include "cuda/array_ops_threads.h"
#include "cuda/array_plan.h"
#include "cuda/launch.cuh"

namespace gradcore::cuda {
namespace {

template <class T>
void binary_typed(BinOp op, const T* a, const Indexer& ia, const T* b, const Indexer& ib, void* out,
                  int64_t n) {
  if (is_compare(op) || std::is_same_v<T, bool>) {
    bool* o = static_cast<bool*>(out);
    for_each_index(
        "binary_op", n, [=] __device__(int64_t t) { binary_at<T, bool>(t, op, a, ia, b, ib, o); },
        n, n * (2.0 * sizeof(T) + sizeof(bool)));
  } else {
    T* o = static_cast<T*>(out);
    for_each_index(
        "binary_op", n, [=] __device__(int64_t t) { binary_at<T, T>(t, op, a, ia, b, ib, o); }, n,
        3.0 * n * sizeof(T));
  }
}

template <class T>
void binary_scalar_typed(BinOp op, const T* a, T s, bool left, void* out, int64_t n) {
  if (is_compare(op) || std::is_same_v<T, bool>) {
    bool* o = static_cast<bool*>(out);
    for_each_index(
        "binary_op", n,
        [=] __device__(int64_t t) { binary_scalar_at<T, bool>(t, op, a, s, left, o); }, n,
        n * (1.0 * sizeof(T) + sizeof(bool)));
  } else {
    T* o = static_cast<T*>(out);
    for_each_index(
        "binary_op", n, [=] __device__(int64_t t) { binary_scalar_at<T, T>(t, op, a, s, left, o); },
        n, 2.0 * n * sizeof(T));
  }
}

template <class Dst, class Src>
void astype_typed(const Src* a, Dst* out, int64_t n) {
  for_each_index("astype", n, [=] __device__(int64_t t) { astype_at<Dst, Src>(t, a, out); });
}

template <class T>
void fill_typed(T* a, T v, int64_t n) {
  for_each_index("fill_", n, [=] __device__(int64_t t) { fill_at<T>(t, a, v); });
}

template <class E>
void strided_copy_typed(const E* a, const Indexer& ia, E* out, int64_t n) {
  for_each_index("strided_copy", n,
                 [=] __device__(int64_t t) { strided_copy_at<E>(t, a, ia, out); });
}

template <class E>
void where_typed(const bool* c, const Indexer& ic, const E* a, const Indexer& ia, const E* b,
                 const Indexer& ib, E* out, int64_t n) {
  for_each_index("where", n,
                 [=] __device__(int64_t t) { where_at<E>(t, c, ic, a, ia, b, ib, out); });
}

void reduce_float(const plan::ReducePlan& p, const float* x, float* out) {
  const RedOp op = p.op;
  const Indexer rows = p.rows, red = p.red;
  const int64_t len = p.len;
  for_each_row_reduce_with(
      "reduce", p.nrows, ReduceStep{op},
      [=] __device__(int64_t r, int t) { return reduce_partial(op, x, rows, red, len, r, t); },
      [=] __device__(int64_t r, float v) { reduce_finish(op, out, len, r, v); });
}

void reduce_int64(const plan::ReducePlan& p, const int64_t* x, int64_t* out) {
  const RedOp op = p.op;
  const Indexer rows = p.rows, red = p.red;
  const int64_t len = p.len;
  for_each_index("reduce", p.nrows,
                 [=] __device__(int64_t r) { reduce_int_row_at(r, op, x, rows, red, len, out); });
}

}  // namespace

void binary_op(BinOp op, DType dt, const void* a, const Indexer& ia, const void* b,
               const Indexer& ib, void* out, int64_t n) {
  plan::dispatch_cast_dtype(dt, "binary_op", "a", [&](auto tag) {
    using T = decltype(tag);
    binary_typed<T>(op, static_cast<const T*>(a), ia, static_cast<const T*>(b), ib, out, n);
  });
}

void binary_op_scalar(BinOp op, DType dt, const void* a, const plan::Scalar& s, bool scalar_left,
                      void* out, int64_t n) {
  plan::dispatch_cast_dtype(dt, "binary_op", "a", [&](auto tag) {
    using T = decltype(tag);
    binary_scalar_typed<T>(op, static_cast<const T*>(a), plan::scalar_as<T>(s), scalar_left, out,
                           n);
  });
}

void unary_op(UnOp op, const float* a, float* out, int64_t n) {
  for_each_index(
      "unary_op", n, [=] __device__(int64_t t) { unary_at(t, op, a, out); }, n,
      2.0 * n * sizeof(float));
}

void reduce(const plan::ReducePlan& p, DType dt, const void* x, void* out) {
  if (p.nrows == 0) return;
  if (dt == DType::kInt64)
    reduce_int64(p, static_cast<const int64_t*>(x), static_cast<int64_t*>(out));
  else
    reduce_float(p, static_cast<const float*>(x), static_cast<float*>(out));
}

void astype(DType from, DType to, const void* a, void* out, int64_t n) {
  plan::dispatch_cast_dtype(from, "astype", "a", [&](auto src_tag) {
    using Src = decltype(src_tag);
    plan::dispatch_cast_dtype(to, "astype", "dtype", [&](auto dst_tag) {
      using Dst = decltype(dst_tag);
      astype_typed<Dst, Src>(static_cast<const Src*>(a), static_cast<Dst*>(out), n);
    });
  });
}

void fill(DType dt, void* a, const plan::Scalar& s, int64_t n) {
  plan::dispatch_cast_dtype(dt, "fill_", "a", [&](auto tag) {
    using T = decltype(tag);
    fill_typed<T>(static_cast<T*>(a), plan::fill_value<T>(s), n);
  });
}

void strided_copy(std::size_t itemsize, const void* a, const Indexer& ia, void* out, int64_t n) {
  plan::dispatch_bytes(itemsize, [&](auto tag) {
    using E = decltype(tag);
    strided_copy_typed<E>(static_cast<const E*>(a), ia, static_cast<E*>(out), n);
  });
}

void where(const bool* c, const Indexer& ic, std::size_t itemsize, const void* a, const Indexer& ia,
           const void* b, const Indexer& ib, void* out, int64_t n) {
  plan::dispatch_bytes(itemsize, [&](auto tag) {
    using E = decltype(tag);
    where_typed<E>(c, ic, static_cast<const E*>(a), ia, static_cast<const E*>(b), ib,
                   static_cast<E*>(out), n);
  });
}

}  // namespace gradcore::cuda
