// Host-side planning of the numpy-like array ops (array_ops.h), shared by the _C_cuda bindings
// (csrc/cuda/bindings/bind_array_ops.cpp) and the CPU test driver (csrc/bindings/
// bind_cuda_host_array_ops.cpp), so both accept and reject the same calls with the same
// messages: op names, which (op, dtype) pairs exist and their result dtypes, numpy
// broadcasting (shape checks and the broadcast strides of each operand), the (rows x reduced
// length) plan of a reduction, and the bounds of a strided gather. Plain C++ (no CUDA headers).
// Errors are plan::TypeError / plan::ValueError, which each binding turns into Python's.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda/array_ops_threads.h"
#include "cuda/device_array.h"  // the DType enum (header only)

namespace gradcore::cuda::plan {

using Shape = std::vector<int64_t>;

struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct ValueError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

[[noreturn]] inline void fail_type(const std::string& op, const std::string& msg) {
  throw TypeError(op + ": " + msg);
}
[[noreturn]] inline void fail_value(const std::string& op, const std::string& msg) {
  throw ValueError(op + ": " + msg);
}

inline std::string shape_str(const Shape& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

// ---- dtypes ----
// DeviceArray's dtypes, their sizes and numpy names.
using cuda::dtype_name;  // device_array.h (header only)
using cuda::itemsize;
// numpy's dtype name -> DType; TypeError for others.
inline DType dtype_from_str(const std::string& name, const std::string& op,
                            const std::string& arg) {
  for (DType d : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                  DType::kInt64, DType::kInt32, DType::kUInt8, DType::kBool})
    if (name == dtype_name(d)) return d;
  fail_type(op, arg + " has dtype " + name +
                    ", not one of float32, float64, float16, bfloat16, int64, int32, uint8, "
                    "bool");
}

// f(T{}) for T the C type of the cast dtypes (float32, float64, int64, int32, uint8, bool);
// TypeError naming op and arg for float16 / bfloat16.
template <class F>
decltype(auto) dispatch_cast_dtype(DType d, const std::string& op, const std::string& arg, F&& f) {
  switch (d) {
    case DType::kFloat32:
      return f(float{});
    case DType::kFloat64:
      return f(double{});
    case DType::kInt64:
      return f(int64_t{});
    case DType::kInt32:
      return f(int32_t{});
    case DType::kUInt8:
      return f(uint8_t{});
    case DType::kBool:
      return f(bool{});
    default:
      fail_type(op, arg + " has dtype " + dtype_name(d) +
                        "; supported: float32, float64, int64, int32, uint8, bool");
  }
}
// f(E{}) for E the unsigned integer of `bytes` bytes (1, 2, 4, 8): dtype-blind copies.
template <class F>
decltype(auto) dispatch_bytes(std::size_t bytes, F&& f) {
  switch (bytes) {
    case 8:
      return f(uint64_t{});
    case 4:
      return f(uint32_t{});
    case 2:
      return f(uint16_t{});
    default:
      return f(uint8_t{});
  }
}

// ---- shapes ----
inline void check_rank(const Shape& s, const std::string& op, const std::string& arg) {
  if (s.size() > static_cast<size_t>(kMaxDims))
    fail_value(op, arg + " has " + std::to_string(s.size()) + " dimensions " + shape_str(s) +
                       "; at most " + std::to_string(kMaxDims) + " on CUDA");
  for (int64_t d : s)
    if (d < 0) fail_value(op, arg + " has a negative dimension: " + shape_str(s));
}
// Product of the dimensions, ValueError on int64 overflow.
inline int64_t numel(const Shape& s, const std::string& op, const std::string& arg) {
  int64_t n = 1;
  for (int64_t d : s)
    if (__builtin_mul_overflow(n, d, &n))
      fail_value(op, arg + " " + shape_str(s) + " has too many elements");
  return n;
}
// C-contiguous element strides of `s`.
inline Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i] > 0 ? s[i] : 1;
  }
  return st;
}
inline Indexer make_indexer(const Shape& shape, const Shape& strides, int64_t offset = 0) {
  Indexer ix;
  ix.ndim = static_cast<int>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    ix.shape[i] = shape[i];
    ix.stride[i] = strides[i];
  }
  ix.offset = offset;
  return ix;
}

// Merges the axes of Indexers over one shape (a broadcast's operands) where every operand
// steps through them as through one axis, and drops the axes of size 1, so offset_of does
// fewer divisions (a contiguous operand of a same-shape op becomes 1-d). Same element order.
inline void coalesce(Indexer* ixs, std::size_t count) {
  int nd = 0;
  for (int d = 0; d < ixs[0].ndim; ++d) {
    const int64_t n = ixs[0].shape[d];
    if (n == 1) continue;
    bool merge = nd > 0;
    for (std::size_t k = 0; k < count; ++k)
      merge = merge && ixs[k].stride[nd - 1] == ixs[k].stride[d] * n;
    for (std::size_t k = 0; k < count; ++k) {
      Indexer& ix = ixs[k];
      if (merge) {
        ix.shape[nd - 1] *= n;
        ix.stride[nd - 1] = ix.stride[d];
      } else {
        ix.shape[nd] = n;
        ix.stride[nd] = ix.stride[d];
      }
    }
    if (!merge) ++nd;
  }
  for (std::size_t k = 0; k < count; ++k) ixs[k].ndim = nd;
}

// numpy's broadcast shape of the named operands; ValueError naming them otherwise.
inline Shape broadcast_shapes(const std::vector<std::pair<std::string, Shape>>& operands,
                              const std::string& op) {
  size_t nd = 0;
  for (const auto& o : operands) {
    check_rank(o.second, op, o.first);
    nd = std::max(nd, o.second.size());
  }
  Shape out(nd, 1);
  for (const auto& o : operands) {
    const Shape& s = o.second;
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& d = out[nd - s.size() + i];
      if (s[i] == d || s[i] == 1) continue;
      if (d == 1) {
        d = s[i];
        continue;
      }
      std::string msg = "operands could not be broadcast together:";
      for (size_t k = 0; k < operands.size(); ++k)
        msg += (k ? ", " : " ") + operands[k].first + " " + shape_str(operands[k].second);
      fail_value(op, msg);
    }
  }
  return out;
}
// The Indexer reading a C-contiguous array of shape `in` broadcast to `out` (stride 0 on the
// axes `in` lacks or has as 1).
inline Indexer broadcast_indexer(const Shape& in, const Shape& out) {
  const Shape cs = contiguous_strides(in);
  Shape st(out.size(), 0);
  const size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) st[lead + i] = in[i] == 1 ? 0 : cs[i];
  return make_indexer(out, st);
}

// The Indexers of C-contiguous operands of shapes `ins` broadcast to `out`, coalesced
// together.
inline std::vector<Indexer> broadcast_indexers(const std::vector<Shape>& ins, const Shape& out) {
  std::vector<Indexer> r;
  for (const Shape& s : ins) r.push_back(broadcast_indexer(s, out));
  coalesce(r.data(), r.size());
  return r;
}

// ---- binary ops ----
inline const char* binop_str(BinOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "maximum", "minimum", "pow",
                                "eq",  "ne",  "lt",  "le",  "gt",      "ge"};
  return names[static_cast<int>(op)];
}
inline BinOp binop_from_str(const std::string& name, const std::string& fn) {
  for (int i = 0; i <= static_cast<int>(BinOp::kGe); ++i)
    if (name == binop_str(static_cast<BinOp>(i))) return static_cast<BinOp>(i);
  fail_value(fn, "unknown op '" + name +
                     "' (add, sub, mul, div, maximum, minimum, pow, eq, ne, lt, le, gt, ge)");
}
// float32: every op; int64: all but div and pow; bool: add (or), mul (and), maximum, minimum
// and the comparisons. Operands of one dtype (cast first). Returns the result dtype.
inline DType binary_result(const std::string& fn, BinOp op, DType a, DType b) {
  if (a != b)
    fail_type(fn, std::string(binop_str(op)) + ": a (" + dtype_name(a) + ") and b (" +
                      dtype_name(b) + ") must have the same dtype on CUDA (cast one first)");
  const bool ok =
      a == DType::kFloat32 || (a == DType::kInt64 && op != BinOp::kDiv && op != BinOp::kPow) ||
      (a == DType::kBool && op != BinOp::kSub && op != BinOp::kDiv && op != BinOp::kPow);
  if (!ok)
    fail_type(fn, std::string(binop_str(op)) + " is not supported for " + dtype_name(a) +
                      " on CUDA (float32: all ops; int64: all but div, pow; bool: add, mul, "
                      "maximum, minimum, comparisons)");
  return is_compare(op) ? DType::kBool : a;
}

// A Python scalar operand, as numpy 2 treats one with an array of dtype `dt` (a "weak"
// scalar that takes the array's dtype): any number with float32; int (or bool) with int64;
// bool with bool. The value then in each C type the kernels read.
enum class ScalarKind { kBool, kInt, kFloat };
struct Scalar {
  ScalarKind kind = ScalarKind::kFloat;
  double f = 0;
  int64_t i = 0;
  bool b = false;
};
inline Scalar scalar_bool(bool v) {
  return {ScalarKind::kBool, v ? 1.0 : 0.0, v ? 1 : 0, v};
}
inline Scalar scalar_int(int64_t v) {
  return {ScalarKind::kInt, static_cast<double>(v), v, v != 0};
}
inline Scalar scalar_float(double v) {
  return {ScalarKind::kFloat, v, 0, v != 0};
}
inline void check_scalar(const std::string& fn, BinOp op, DType dt, const Scalar& s,
                         const std::string& arg) {
  const bool ok = dt == DType::kFloat32 || (dt == DType::kInt64 && s.kind != ScalarKind::kFloat) ||
                  (dt == DType::kBool && s.kind == ScalarKind::kBool);
  if (!ok)
    fail_type(fn,
              std::string(binop_str(op)) + ": the " +
                  (s.kind == ScalarKind::kFloat ? "float"
                                                : (s.kind == ScalarKind::kInt ? "int" : "bool")) +
                  " scalar " + arg + " would change the dtype of the " + dtype_name(dt) +
                  " array; cast the array first");
}
template <class T>
T scalar_as(const Scalar& s) {
  if constexpr (std::is_same_v<T, bool>)
    return s.b;
  else if constexpr (std::is_integral_v<T>)
    return static_cast<T>(s.i);
  else
    return static_cast<T>(s.f);
}

// The value fill_ writes into an array of C type T: a float scalar through cast_value (as
// astype), an int or bool one exactly for integer dtypes (wrapping to narrower ones).
template <class T>
T fill_value(const Scalar& s) {
  if (s.kind == ScalarKind::kFloat) return cast_value<T>(s.f);
  if constexpr (std::is_floating_point_v<T>)
    return static_cast<T>(s.i);
  else
    return cast_value<T>(s.i);
}

// ---- unary ops ----
inline const char* unop_str(UnOp op) {
  static const char* names[] = {"neg", "abs", "exp", "log", "sqrt", "square", "sign", "reciprocal"};
  return names[static_cast<int>(op)];
}
inline UnOp unop_from_str(const std::string& name, const std::string& fn) {
  for (int i = 0; i <= static_cast<int>(UnOp::kReciprocal); ++i)
    if (name == unop_str(static_cast<UnOp>(i))) return static_cast<UnOp>(i);
  fail_value(fn, "unknown op '" + name + "' (neg, abs, exp, log, sqrt, square, sign, reciprocal)");
}
inline void check_unary(const std::string& fn, UnOp op, DType dt) {
  if (dt != DType::kFloat32)
    fail_type(fn, std::string(unop_str(op)) + ": a must be float32 on CUDA, got " + dtype_name(dt));
}

// ---- reductions ----
inline const char* redop_str(RedOp op) {
  static const char* names[] = {"sum", "mean", "max", "min"};
  return names[static_cast<int>(op)];
}
inline RedOp redop_from_str(const std::string& name, const std::string& fn) {
  for (int i = 0; i <= static_cast<int>(RedOp::kMin); ++i)
    if (name == redop_str(static_cast<RedOp>(i))) return static_cast<RedOp>(i);
  fail_value(fn, "unknown op '" + name + "' (sum, mean, max, min)");
}

// x (shape `in`, C-contiguous) reduced over `axes` as numpy's x.<op>(axis=axes,
// keepdims=keepdims): axes = nullopt reduces every axis, an empty tuple none (numpy's
// axis=()); negative axes count from the end; repeats and out-of-range axes are ValueErrors.
// Output element r (C order over the kept axes) reduces the `len` elements j of its row:
// x[offset_of(rows, r) + offset_of(red, j)].
struct ReducePlan {
  RedOp op = RedOp::kSum;
  DType out_dtype = DType::kFloat32;
  Shape out_shape;
  Indexer rows, red;
  int64_t nrows = 0, len = 0;
};
inline ReducePlan plan_reduce(const std::string& fn, const std::string& op_name, DType dt,
                              const Shape& in, const std::optional<std::vector<int64_t>>& axes,
                              bool keepdims) {
  ReducePlan p;
  p.op = redop_from_str(op_name, fn);
  check_rank(in, fn, "a");
  const bool int_ok = dt == DType::kInt64 && p.op != RedOp::kMean;
  if (dt != DType::kFloat32 && !int_ok)
    fail_type(fn, std::string(redop_str(p.op)) + " is not supported for " + dtype_name(dt) +
                      " on CUDA (float32: sum, mean, max, min; int64: sum, max, min)");
  p.out_dtype = dt;
  const int nd = static_cast<int>(in.size());
  std::vector<bool> reduced(in.size(), !axes.has_value());
  if (axes) {
    for (int64_t a : *axes) {
      if (a < -nd || a >= nd)
        fail_value(fn, "axis " + std::to_string(a) + " is out of bounds for an array of " +
                           std::to_string(nd) + " dimensions");
      const int64_t k = a < 0 ? a + nd : a;
      if (reduced[k]) fail_value(fn, "axis " + std::to_string(a) + " is repeated");
      reduced[k] = true;
    }
  }
  const Shape cs = contiguous_strides(in);
  Shape kept_shape, kept_strides, red_shape, red_strides;
  for (int i = 0; i < nd; ++i) {
    if (reduced[i]) {
      red_shape.push_back(in[i]);
      red_strides.push_back(cs[i]);
      if (keepdims) p.out_shape.push_back(1);
    } else {
      kept_shape.push_back(in[i]);
      kept_strides.push_back(cs[i]);
      p.out_shape.push_back(in[i]);
    }
  }
  p.nrows = numel(kept_shape, fn, "the output");
  p.len = numel(red_shape, fn, "the reduced part of a");
  if (p.len == 0 && (p.op == RedOp::kMax || p.op == RedOp::kMin))
    fail_value(fn, std::string("zero-size reduction of a ") + shape_str(in) + " with " +
                       redop_str(p.op) + ", which has no identity");
  p.rows = make_indexer(kept_shape, kept_strides);
  p.red = make_indexer(red_shape, red_strides);
  coalesce(&p.rows, 1);
  coalesce(&p.red, 1);
  return p;
}

// ---- strided gather ----
// The Indexer of strided_copy: the output (shape `shape`, C order) reads a's storage (size
// elements) at offset + sum_d i_d * strides[d]; every element read must lie inside it.
inline Indexer plan_strided(const std::string& fn, int64_t size, const Shape& shape,
                            const Shape& strides, int64_t offset) {
  check_rank(shape, fn, "shape");
  if (strides.size() != shape.size())
    fail_value(fn, "strides has " + std::to_string(strides.size()) + " entries for the " +
                       std::to_string(shape.size()) + " dimensions of shape " + shape_str(shape));
  const int64_t n = numel(shape, fn, "shape");
  if (n > 0) {
    int64_t lo = offset, hi = offset;
    bool overflow = false;
    for (size_t i = 0; i < shape.size(); ++i) {
      int64_t span;
      overflow |= __builtin_mul_overflow(shape[i] - 1, strides[i], &span);
      overflow |= __builtin_add_overflow(span < 0 ? lo : hi, span, span < 0 ? &lo : &hi);
    }
    if (overflow || lo < 0 || hi >= size)
      fail_value(fn, "shape " + shape_str(shape) + ", strides " + shape_str(strides) +
                         " and offset " + std::to_string(offset) + " read outside a's storage of " +
                         std::to_string(size) + " elements");
  }
  Indexer ix = make_indexer(shape, strides, offset);
  coalesce(&ix, 1);
  return ix;
}

}  // namespace gradcore::cuda::plan
