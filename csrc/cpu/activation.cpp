// Elementwise loops below call the branch-free exp/tanh of cpu/vmath.h; without
// -ftrapping-math g++ may if-convert their selects and vectorise the loops. Values and
// NaN/Inf behaviour are unchanged (this only stops FP exceptions from pinning branches).
#pragma GCC optimize("no-trapping-math")
#include "cpu/activation.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "cpu/elementwise.h"
#include "cpu/vmath.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

// Runs f(i) for every i in [0, n), split over threads in chunks of >= kElementwiseGrain.
// The loop body is built twice (portable and AVX2+FMA, see cpu/vmath.h).
template <class F>
inline void for_each_index(int64_t n, const F& f) {
  const bool avx2 = use_avx2();
  parallel_for(n, kElementwiseGrain, [&](int64_t lo, int64_t hi) { simd_loop(avx2, lo, hi, f); });
}

// relu on the bit patterns, read as a signed integer of the value's width: the integer's
// sign is the sign bit and every negative non-NaN value (and -0) has bits <= those of -inf.
// Integer compares are not changed by DAZ (flush-to-zero on, see core/fpmode.h), under which
// float compares see denormals as 0 (relu(-1e-40) would stay -1e-40, and the gradient at
// +1e-40 would be 0); the results below are IEEE's with and without it, branch-free.
template <typename T>
using SignedBits = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;

template <typename T>
constexpr SignedBits<T> kNegInfBits =
    sizeof(T) == 4 ? SignedBits<T>(std::int32_t(0xFF800000u))
                   : SignedBits<T>(std::int64_t(0xFFF0000000000000ull));

template <typename T>
__attribute__((always_inline)) inline SignedBits<T> bits_of(T v) {
  SignedBits<T> i;
  std::memcpy(&i, &v, sizeof i);
  return i;
}

template <typename T>
__attribute__((always_inline)) inline T from_bits(SignedBits<T> i) {
  T v;
  std::memcpy(&v, &i, sizeof v);
  return v;
}

// relu that propagates NaN: v < 0 (negative, not -0, not NaN) gives +0, anything else v.
template <typename T>
__attribute__((always_inline)) inline T relu1(T v) {
  const SignedBits<T> i = bits_of(v);
  const bool negative = (i > std::numeric_limits<SignedBits<T>>::min()) & (i <= kNegInfBits<T>);
  return from_bits<T>(i & ~(-static_cast<SignedBits<T>>(negative)));
}

// relu's gradient: 0 where y <= 0 (+-0 or negative, not NaN), else g.
template <typename T>
__attribute__((always_inline)) inline T relu_grad1(T g, T y) {
  const SignedBits<T> i = bits_of(y);
  const bool at_or_below_zero = (i == 0) | (i <= kNegInfBits<T>);
  return from_bits<T>(bits_of(g) & ~(-static_cast<SignedBits<T>>(at_or_below_zero)));
}

}  // namespace

template <typename T>
void relu_forward(const T* x, T* y, int64_t n) {
  GC_PROFILE_SCOPE("relu_forward", n, 2.0 * n * sizeof(T), {n});
  for_each_index(n, [=](int64_t i) { y[i] = relu1(x[i]); });
}

template <typename T>
void relu_backward(const T* dy, const T* y, T* dx, int64_t n) {
  GC_PROFILE_SCOPE("relu_backward", n, 3.0 * n * sizeof(T), {n});
  for_each_index(n, [=](int64_t i) { dx[i] = relu_grad1(dy[i], y[i]); });
}

template <typename T>
void leaky_relu_forward(const T* x, T* y, int64_t n, T slope) {
  GC_PROFILE_SCOPE("leaky_relu_forward", 2.0 * n, 2.0 * n * sizeof(T), {n});
  for_each_index(n, [=](int64_t i) {
    const T v = x[i];
    const T scaled = v * slope;  // computed unconditionally so the select vectorises
    y[i] = v > T(0) ? v : scaled;
  });
}

template <typename T>
void leaky_relu_backward(const T* dy, const T* x, T* dx, int64_t n, T slope) {
  GC_PROFILE_SCOPE("leaky_relu_backward", 2.0 * n, 3.0 * n * sizeof(T), {n});
  for_each_index(n, [=](int64_t i) {
    const T g = dy[i], scaled = g * slope;
    dx[i] = x[i] > T(0) ? g : scaled;
  });
}

template <typename T>
void sigmoid_forward(const T* x, T* y, int64_t n) {
  GC_PROFILE_SCOPE("sigmoid_forward", 4.0 * n, 2.0 * n * sizeof(T), {n});
  for_each_index(n, [=](int64_t i) {
    const T v = x[i];
    const T e = vexp(-std::fabs(v));  // in (0, 1]: never overflows
    const T s = T(1) / (T(1) + e);
    y[i] = v >= T(0) ? s : e * s;  // NaN: e is NaN, so both branches give NaN
  });
}

template <typename T>
void sigmoid_backward(const T* dy, const T* y, T* dx, int64_t n) {
  GC_PROFILE_SCOPE("sigmoid_backward", 3.0 * n, 3.0 * n * sizeof(T), {n});
  for_each_index(n, [=](int64_t i) { dx[i] = dy[i] * (T(1) - y[i]) * y[i]; });
}

template <typename T>
void tanh_forward(const T* x, T* y, int64_t n) {
  GC_PROFILE_SCOPE("tanh_forward", 4.0 * n, 2.0 * n * sizeof(T), {n});
  for_each_index(n, [=](int64_t i) { y[i] = vtanh(x[i]); });
}

template <typename T>
void tanh_backward(const T* dy, const T* y, T* dx, int64_t n) {
  GC_PROFILE_SCOPE("tanh_backward", 3.0 * n, 3.0 * n * sizeof(T), {n});
  for_each_index(n, [=](int64_t i) { dx[i] = dy[i] * (T(1) - y[i] * y[i]); });
}

namespace {
constexpr double kSqrt1_2 = 0.70710678118654752440;   // 1/sqrt(2)
constexpr double kGeluPdf = 0.39894228040143267794;   // 1/sqrt(2*pi)
constexpr double kGeluBeta = 0.79788456080286535588;  // sqrt(2/pi)
constexpr double kGeluKappa = 0.044715;
}  // namespace

template <typename T>
void gelu_forward(const T* x, T* y, int64_t n, bool approximate) {
  GC_PROFILE_SCOPE("gelu_forward", 8.0 * n, 2.0 * n * sizeof(T), {n});
  if (approximate) {
    const T beta = T(kGeluBeta), kappa = T(kGeluKappa);
    for_each_index(n, [=](int64_t i) {
      const T v = x[i];
      const T inner = beta * (v + kappa * (v * v * v));
      y[i] = T(0.5) * v * (T(1) + vtanh(inner));
    });
  } else {
    const T a = T(kSqrt1_2);
    for_each_index(n, [=](int64_t i) {
      const T v = x[i];
      y[i] = v * normal_cdf_of_scaled(v * a);
    });
  }
}

template <typename T>
void gelu_backward(const T* dy, const T* x, T* dx, int64_t n, bool approximate) {
  GC_PROFILE_SCOPE("gelu_backward", 12.0 * n, 3.0 * n * sizeof(T), {n});
  if (approximate) {
    const T beta = T(kGeluBeta), kappa = T(kGeluKappa);
    for_each_index(n, [=](int64_t i) {
      const T v = x[i];
      const T v2 = v * v;
      const T inner = beta * (v + kappa * (v2 * v));
      const T th = vtanh(inner);
      const T left = T(0.5) * v;
      const T right = T(1) + th;
      const T left_d = T(0.5) * right;
      const T tanh_d = T(1) - th * th;
      const T inner_d = beta * (T(1) + T(3) * kappa * v2);
      dx[i] = dy[i] * (left_d + left * tanh_d * inner_d);
    });
  } else {
    const T a = T(kSqrt1_2), pdf_scale = T(kGeluPdf);
    for_each_index(n, [=](int64_t i) {
      const T v = x[i];
      const T cdf = normal_cdf_of_scaled(v * a);
      const T pdf = pdf_scale * vexp(v * v * T(-0.5));
      dx[i] = dy[i] * (cdf + v * pdf);
    });
  }
}

#define GC_INSTANTIATE(T)                                                   \
  template void relu_forward<T>(const T*, T*, int64_t);                     \
  template void relu_backward<T>(const T*, const T*, T*, int64_t);          \
  template void leaky_relu_forward<T>(const T*, T*, int64_t, T);            \
  template void leaky_relu_backward<T>(const T*, const T*, T*, int64_t, T); \
  template void sigmoid_forward<T>(const T*, T*, int64_t);                  \
  template void sigmoid_backward<T>(const T*, const T*, T*, int64_t);       \
  template void tanh_forward<T>(const T*, T*, int64_t);                     \
  template void tanh_backward<T>(const T*, const T*, T*, int64_t);          \
  template void gelu_forward<T>(const T*, T*, int64_t, bool);               \
  template void gelu_backward<T>(const T*, const T*, T*, int64_t, bool);
GC_INSTANTIATE(float)
GC_INSTANTIATE(double)
#undef GC_INSTANTIATE

}  // namespace gradcore
