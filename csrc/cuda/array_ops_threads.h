// Per-thread bodies of the numpy-like array ops (array_ops.cu), shared with the CPU test driver
// (csrc/bindings/bind_cuda_host_array_ops.cpp). Every output is C-contiguous; thread t writes
// output element t and finds its inputs through an Indexer: the output's shape and, per axis,
// the input's element stride (0 on a broadcast axis), computed on the host (array_plan.h).
// Reductions: one row per output element, read through two Indexers (the row's base offset
// over the kept axes, the element's offset over the reduced axes).
#pragma once
#include <math.h>
#include <stdint.h>

#include <type_traits>

#include "cuda/host_device.h"
#include "cuda/softmax_threads.h"  // max_step / MaxStep, the host row-reduce emulations

namespace gradcore::cuda {

// Ranks up to kMaxDims (numpy allows 64; gradcore needs a few).
constexpr int kMaxDims = 8;

// Maps a C-order index over `shape` to `offset + sum_d index_d * stride[d]` (elements).
struct Indexer {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};
  int64_t offset = 0;
};

GC_HD int64_t offset_of(const Indexer& ix, int64_t t) {
  int64_t off = ix.offset;
  for (int d = ix.ndim - 1; d >= 0; --d) {
    const int64_t n = ix.shape[d];
    off += (t % n) * ix.stride[d];
    t /= n;
  }
  return off;
}

enum class BinOp { kAdd, kSub, kMul, kDiv, kMaximum, kMinimum, kPow, kEq, kNe, kLt, kLe, kGt, kGe };
enum class UnOp { kNeg, kAbs, kExp, kLog, kSqrt, kSquare, kSign, kReciprocal };
enum class RedOp { kSum, kMean, kMax, kMin };

GC_HD bool is_compare(BinOp op) {
  return op >= BinOp::kEq;
}

// min(a, b), NaN when either is NaN (numpy.minimum / ndarray.min).
GC_HD float min_step(float a, float b) {
  return a != a ? a : (b != b ? b : (a <= b ? a : b));
}
struct MinStep {
  GC_HD float operator()(float a, float b) const { return min_step(a, b); }
};

// ---- elementwise binary ops ----
// Arithmetic of one element. float: IEEE ops, NaN-propagating maximum/minimum (numpy's);
// int64: wrapping add/sub/mul (numpy's), maximum/minimum; bool: add/maximum = or,
// mul/minimum = and. The bindings reject the other (op, dtype) pairs before a launch.
template <class T>
GC_HD T binary_arith(BinOp op, T x, T y) {
  if constexpr (std::is_same_v<T, bool>) {
    switch (op) {
      case BinOp::kAdd:
      case BinOp::kMaximum:
        return x || y;
      case BinOp::kMul:
      case BinOp::kMinimum:
        return x && y;
      default:
        return false;
    }
  } else if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    switch (op) {
      case BinOp::kAdd:
        return static_cast<T>(static_cast<U>(x) + static_cast<U>(y));
      case BinOp::kSub:
        return static_cast<T>(static_cast<U>(x) - static_cast<U>(y));
      case BinOp::kMul:
        return static_cast<T>(static_cast<U>(x) * static_cast<U>(y));
      case BinOp::kMaximum:
        return x >= y ? x : y;
      case BinOp::kMinimum:
        return x <= y ? x : y;
      default:
        return 0;
    }
  } else {
    switch (op) {
      case BinOp::kAdd:
        return x + y;
      case BinOp::kSub:
        return x - y;
      case BinOp::kMul:
        return x * y;
      case BinOp::kDiv:
        return x / y;
      case BinOp::kMaximum:
        return x != x ? x : (y != y ? y : (x >= y ? x : y));
      case BinOp::kMinimum:
        return x != x ? x : (y != y ? y : (x <= y ? x : y));
      case BinOp::kPow:
        if constexpr (std::is_same_v<T, float>)
          return powf(x, y);
        else
          return pow(x, y);
      default:
        return 0;
    }
  }
}
// Comparison of one element (C's, so NaN compares unequal to everything, as numpy).
template <class T>
GC_HD bool binary_compare(BinOp op, T x, T y) {
  switch (op) {
    case BinOp::kEq:
      return x == y;
    case BinOp::kNe:
      return x != y;
    case BinOp::kLt:
      return x < y;
    case BinOp::kLe:
      return x <= y;
    case BinOp::kGt:
      return x > y;
    default:
      return x >= y;  // kGe
  }
}

// Output element t of `a op b`, both operands broadcast through their Indexers; R is T for
// arithmetic and bool for comparisons.
template <class T, class R>
GC_HD void binary_at(int64_t t, BinOp op, const T* a, const Indexer& ia, const T* b,
                     const Indexer& ib, R* out) {
  const T x = a[offset_of(ia, t)];
  const T y = b[offset_of(ib, t)];
  if constexpr (std::is_same_v<R, bool>)
    out[t] = is_compare(op) ? binary_compare(op, x, y) : static_cast<bool>(binary_arith(op, x, y));
  else
    out[t] = binary_arith(op, x, y);
}
// Output element t of `a op s` (scalar_left: `s op a`), a contiguous, out of a's shape.
template <class T, class R>
GC_HD void binary_scalar_at(int64_t t, BinOp op, const T* a, T s, bool scalar_left, R* out) {
  const T x = scalar_left ? s : a[t];
  const T y = scalar_left ? a[t] : s;
  if constexpr (std::is_same_v<R, bool>)
    out[t] = is_compare(op) ? binary_compare(op, x, y) : static_cast<bool>(binary_arith(op, x, y));
  else
    out[t] = binary_arith(op, x, y);
}

// ---- elementwise unary ops (float32) ----
GC_HD float unary_value(UnOp op, float x) {
  switch (op) {
    case UnOp::kNeg:
      return -x;
    case UnOp::kAbs:
      return fabsf(x);
    case UnOp::kExp:
      return expf(x);
    case UnOp::kLog:
      return logf(x);
    case UnOp::kSqrt:
      return sqrtf(x);
    case UnOp::kSquare:
      return x * x;
    case UnOp::kSign:
      return x > 0.f ? 1.f : (x < 0.f ? -1.f : (x == 0.f ? 0.f : x));
    default:
      return 1.f / x;  // kReciprocal
  }
}
GC_HD void unary_at(int64_t t, UnOp op, const float* a, float* out) {
  out[t] = unary_value(op, a[t]);
}

// ---- reductions ----
// Float rows (for_each_row_reduce_with): thread t of row r combines the row's elements
// j = t, t + kBlock, ... (j over the reduced axes in C order) starting from the identity.
GC_HD float reduce_identity(RedOp op) {
  return op == RedOp::kMax ? -INFINITY : (op == RedOp::kMin ? INFINITY : 0.f);
}
GC_HD float reduce_partial(RedOp op, const float* x, const Indexer& rows, const Indexer& red,
                           int64_t len, int64_t r, int t) {
  const int64_t base = offset_of(rows, r);
  float acc = reduce_identity(op);
  for (int64_t j = t; j < len; j += kBlock) {
    const float v = x[base + offset_of(red, j)];
    if (op == RedOp::kMax)
      acc = max_step(acc, v);
    else if (op == RedOp::kMin)
      acc = min_step(acc, v);
    else
      acc += v;
  }
  return acc;
}
// The tree's combine of the op (sum and mean: tree_step).
struct ReduceStep {
  RedOp op;
  GC_HD float operator()(float a, float b) const {
    return op == RedOp::kMax ? max_step(a, b)
                             : (op == RedOp::kMin ? min_step(a, b) : tree_step(a, b));
  }
};
GC_HD void reduce_finish(RedOp op, float* out, int64_t len, int64_t r, float total) {
  out[r] = op == RedOp::kMean ? total / static_cast<float>(len) : total;
}

// Integer rows (int64 sum/max/min; exact, so one thread per row in order): output element r.
GC_HD void reduce_int_row_at(int64_t r, RedOp op, const int64_t* x, const Indexer& rows,
                             const Indexer& red, int64_t len, int64_t* out) {
  const int64_t base = offset_of(rows, r);
  uint64_t sum = 0;
  int64_t acc = op == RedOp::kMax ? INT64_MIN : INT64_MAX;
  for (int64_t j = 0; j < len; ++j) {
    const int64_t v = x[base + offset_of(red, j)];
    sum += static_cast<uint64_t>(v);
    if (op == RedOp::kMax) acc = v > acc ? v : acc;
    if (op == RedOp::kMin) acc = v < acc ? v : acc;
  }
  out[r] = op == RedOp::kSum ? static_cast<int64_t>(sum) : acc;
}

// ---- casts, fill, copies ----
// numpy's astype as defined here for both sides: to bool, x != 0 (NaN -> true); float to
// integer, truncation toward zero, saturating at int64's range with NaN -> 0 (numpy's result
// is platform-defined there), then wrapping to a narrower integer (-1.0 -> uint8 255, as numpy
// on x86-64); integer to integer wraps; to float, C's conversion.
template <class Dst, class Src>
GC_HD Dst cast_value(Src v) {
  if constexpr (std::is_same_v<Dst, bool>) {
    return v != Src(0);
  } else if constexpr (std::is_integral_v<Dst> && std::is_floating_point_v<Src>) {
    int64_t i;
    if (v != v)
      i = 0;
    else if (v >= static_cast<Src>(9.2233720368547758e18))
      i = INT64_MAX;
    else if (v <= static_cast<Src>(-9.2233720368547758e18))
      i = INT64_MIN;
    else
      i = static_cast<int64_t>(v);
    return static_cast<Dst>(static_cast<std::make_unsigned_t<Dst>>(i));
  } else if constexpr (std::is_integral_v<Dst> && std::is_integral_v<Src>) {
    return static_cast<Dst>(static_cast<std::make_unsigned_t<Dst>>(v));
  } else {
    return static_cast<Dst>(v);
  }
}
template <class Dst, class Src>
GC_HD void astype_at(int64_t t, const Src* a, Dst* out) {
  out[t] = cast_value<Dst>(a[t]);
}
template <class T>
GC_HD void fill_at(int64_t t, T* a, T v) {
  a[t] = v;
}
// Output element t of a strided gather (E: an unsigned type of the element's size).
template <class E>
GC_HD void strided_copy_at(int64_t t, const E* a, const Indexer& ia, E* out) {
  out[t] = a[offset_of(ia, t)];
}
// where(cond, a, b), all three broadcast to the output.
template <class E>
GC_HD void where_at(int64_t t, const bool* c, const Indexer& ic, const E* a, const Indexer& ia,
                    const E* b, const Indexer& ib, E* out) {
  out[t] = c[offset_of(ic, t)] ? a[offset_of(ia, t)] : b[offset_of(ib, t)];
}

}  // namespace gradcore::cuda
