// The activation loops, shared by activation.cpp (portable) and activation_avx2_fma.cpp (the
// same loops compiled for AVX2+FMA), and the AVX2+FMA entry point.
//
// ActivationLoop and ActivationArgs are plain data; the loops have internal linkage (anonymous
// namespace) and use no STL, so the -mavx2 copies are never merged with the portable ones (ISA
// rule: CMakeLists.txt, "ISA files"). The two builds may differ in the last bit (FMA
// contraction), never between thread counts. Formulas: activation.h.
#pragma once
#include <cstdint>  // int32_t, int64_t, INT32_MIN, INT64_MIN

#include "cpu/vmath.h"

namespace gradcore {

// Which activation loop to run (the kernel of activation.h it implements).
enum class ActivationLoop : int {
  kReluForward,
  kReluBackward,
  kLeakyReluForward,
  kLeakyReluBackward,
  kSigmoidForward,
  kSigmoidBackward,
  kTanhForward,
  kTanhBackward,
  kGeluErfForward,  // gelu_forward(approximate = false)
  kGeluErfBackward,
  kGeluTanhForward,  // gelu_forward(approximate = true)
  kGeluTanhBackward,
  kSiluForward,
  kSiluBackward,
};

// The arrays (n elements each, elements [lo, hi) touched) and scalar of one activation call.
// A loop reads only the fields its kernel has; the others may be null.
template <typename T>
struct ActivationArgs {
  const T* x;   // the input (forward; leaky_relu and gelu backward)
  const T* y;   // the forward output (relu, sigmoid and tanh backward)
  const T* dy;  // the output's gradient (backward)
  T* out;       // y (forward) or dx (backward); overwritten
  T slope;      // leaky_relu's negative slope
};

namespace {

constexpr double kSqrt1_2 = 0.70710678118654752440;   // 1/sqrt(2)
constexpr double kGeluPdf = 0.39894228040143267794;   // 1/sqrt(2*pi)
constexpr double kGeluBeta = 0.79788456080286535588;  // sqrt(2/pi)
constexpr double kGeluKappa = 0.044715;

// relu works on the bit patterns, read as a signed integer of the value's width: the
// integer's sign is the sign bit, and every negative non-NaN value (and -0) has bits <= those
// of -inf. Integer compares are not changed by DAZ (flush-to-zero on, core/fpmode.h), under
// which float compares see denormals as 0 (relu(-1e-40) would stay -1e-40, and the gradient
// at +1e-40 would be 0); the results are IEEE's with and without it, branch-free.
template <typename T>
struct ReluBits;
template <>
struct ReluBits<float> {
  using Int = int32_t;
  static constexpr Int kMin = INT32_MIN;
  static constexpr Int kNegInf = static_cast<Int>(0xFF800000u);
};
template <>
struct ReluBits<double> {
  using Int = int64_t;
  static constexpr Int kMin = INT64_MIN;
  static constexpr Int kNegInf = static_cast<Int>(0xFFF0000000000000ull);
};

template <typename T>
inline typename ReluBits<T>::Int bits_of(T v) {
  typename ReluBits<T>::Int i;
  __builtin_memcpy(&i, &v, sizeof i);
  return i;
}

template <typename T>
inline T from_bits(typename ReluBits<T>::Int i) {
  T v;
  __builtin_memcpy(&v, &i, sizeof v);
  return v;
}

// out = max(x, 0): x < 0 (negative, not -0, not NaN) gives +0, anything else x (NaN
// propagates).
template <typename T>
inline void relu_forward_loop(const ActivationArgs<T>& a, int64_t lo, int64_t hi) {
  using B = ReluBits<T>;
  const T* x = a.x;
  T* y = a.out;
  for (int64_t i = lo; i < hi; ++i) {
    const typename B::Int b = bits_of(x[i]);
    const bool negative = (b > B::kMin) & (b <= B::kNegInf);
    y[i] = from_bits<T>(b & ~(-static_cast<typename B::Int>(negative)));
  }
}

// out = y <= 0 (+-0 or negative, not NaN) ? 0 : dy.
template <typename T>
inline void relu_backward_loop(const ActivationArgs<T>& a, int64_t lo, int64_t hi) {
  using B = ReluBits<T>;
  const T *dy = a.dy, *y = a.y;
  T* dx = a.out;
  for (int64_t i = lo; i < hi; ++i) {
    const typename B::Int b = bits_of(y[i]);
    const bool at_or_below_zero = (b == 0) | (b <= B::kNegInf);
    dx[i] = from_bits<T>(bits_of(dy[i]) & ~(-static_cast<typename B::Int>(at_or_below_zero)));
  }
}

// out = x > 0 ? x : slope x.
template <typename T>
inline void leaky_relu_forward_loop(const ActivationArgs<T>& a, int64_t lo, int64_t hi) {
  const T* x = a.x;
  T* y = a.out;
  const T slope = a.slope;
  for (int64_t i = lo; i < hi; ++i) {
    const T v = x[i];
    const T scaled = v * slope;  // computed unconditionally so the select vectorises
    y[i] = v > T(0) ? v : scaled;
  }
}

// out = x > 0 ? dy : slope dy.
template <typename T>
inline void leaky_relu_backward_loop(const ActivationArgs<T>& a, int64_t lo, int64_t hi) {
  const T *dy = a.dy, *x = a.x;
  T* dx = a.out;
  const T slope = a.slope;
  for (int64_t i = lo; i < hi; ++i) {
    const T g = dy[i], scaled = g * slope;
    dx[i] = x[i] > T(0) ? g : scaled;
  }
}

// 1 / (1 + exp(-v)) from e = exp(-|v|): v >= 0 ? 1 / (1 + e) : e / (1 + e).
template <typename T>
inline T stable_sigmoid(T v) {
  const T e = vexp(-vabs(v));  // in (0, 1]: never overflows
  const T s = T(1) / (T(1) + e);
  return v >= T(0) ? s : e * s;  // NaN: e is NaN, so both branches give NaN
}

// out = sigmoid(x) (stable_sigmoid).
template <typename T>
inline void sigmoid_forward_loop(const ActivationArgs<T>& a, int64_t lo, int64_t hi) {
  const T* x = a.x;
  T* y = a.out;
  for (int64_t i = lo; i < hi; ++i) y[i] = stable_sigmoid(x[i]);
}

// out = dy (1 - y) y.
template <typename T>
inline void sigmoid_backward_loop(const ActivationArgs<T>& a, int64_t lo, int64_t hi) {
  const T *dy = a.dy, *y = a.y;
  T* dx = a.out;
  for (int64_t i = lo; i < hi; ++i) dx[i] = dy[i] * (T(1) - y[i]) * y[i];
}

// out = tanh(x).
template <typename T>
inline void tanh_forward_loop(const ActivationArgs<T>& a, int64_t lo, int64_t hi) {
  const T* x = a.x;
  T* y = a.out;
  for (int64_t i = lo; i < hi; ++i) y[i] = vtanh(x[i]);
}

// out = dy (1 - y^2).
template <typename T>
inline void tanh_backward_loop(const ActivationArgs<T>& a, int64_t lo, int64_t hi) {
  const T *dy = a.dy, *y = a.y;
  T* dx = a.out;
  for (int64_t i = lo; i < hi; ++i) dx[i] = dy[i] * (T(1) - y[i] * y[i]);
}

// out = x Phi(x), Phi the standard normal CDF (normal_cdf_of_scaled(x / sqrt 2)).
template <typename T>
inline void gelu_erf_forward_loop(const ActivationArgs<T>& a, int64_t lo, int64_t hi) {
  const T* x = a.x;
  T* y = a.out;
  const T s = T(kSqrt1_2);
  for (int64_t i = lo; i < hi; ++i) {
    const T v = x[i];
    y[i] = v * normal_cdf_of_scaled(v * s);
  }
}

// out = dy (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
template <typename T>
inline void gelu_erf_backward_loop(const ActivationArgs<T>& a, int64_t lo, int64_t hi) {
  const T *dy = a.dy, *x = a.x;
  T* dx = a.out;
  const T s = T(kSqrt1_2), pdf_scale = T(kGeluPdf);
  for (int64_t i = lo; i < hi; ++i) {
    const T v = x[i];
    const T cdf = normal_cdf_of_scaled(v * s);
    const T pdf = pdf_scale * vexp(v * v * T(-0.5));
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}

// out = x / 2 (1 + tanh(u)), u = beta (x + kappa x^3), beta = sqrt(2 / pi), kappa = 0.044715.
template <typename T>
inline void gelu_tanh_forward_loop(const ActivationArgs<T>& a, int64_t lo, int64_t hi) {
  const T* x = a.x;
  T* y = a.out;
  const T beta = T(kGeluBeta), kappa = T(kGeluKappa);
  for (int64_t i = lo; i < hi; ++i) {
    const T v = x[i];
    const T inner = beta * (v + kappa * (v * v * v));
    y[i] = T(0.5) * v * (T(1) + vtanh(inner));
  }
}

// out = dy ((1 + tanh(u)) / 2 + x / 2 (1 - tanh(u)^2) beta (1 + 3 kappa x^2)), u as above.
template <typename T>
inline void gelu_tanh_backward_loop(const ActivationArgs<T>& a, int64_t lo, int64_t hi) {
  const T *dy = a.dy, *x = a.x;
  T* dx = a.out;
  const T beta = T(kGeluBeta), kappa = T(kGeluKappa);
  for (int64_t i = lo; i < hi; ++i) {
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
  }
}

// out = x sigmoid(x) (NaN and -inf give NaN, as PyTorch).
template <typename T>
inline void silu_forward_loop(const ActivationArgs<T>& a, int64_t lo, int64_t hi) {
  const T* x = a.x;
  T* y = a.out;
  for (int64_t i = lo; i < hi; ++i) y[i] = x[i] * stable_sigmoid(x[i]);
}

// out = dy sigma(x) (1 + x (1 - sigma(x))) (PyTorch's silu_backward).
template <typename T>
inline void silu_backward_loop(const ActivationArgs<T>& a, int64_t lo, int64_t hi) {
  const T *dy = a.dy, *x = a.x;
  T* dx = a.out;
  for (int64_t i = lo; i < hi; ++i) {
    const T v = x[i];
    const T s = stable_sigmoid(v);
    dx[i] = dy[i] * s * (T(1) + v * (T(1) - s));
  }
}

// Runs loop k over elements [lo, hi).
template <typename T>
inline void activation_loop_body(ActivationLoop k, const ActivationArgs<T>& a, int64_t lo,
                                 int64_t hi) {
  switch (k) {
    case ActivationLoop::kReluForward:
      return relu_forward_loop(a, lo, hi);
    case ActivationLoop::kReluBackward:
      return relu_backward_loop(a, lo, hi);
    case ActivationLoop::kLeakyReluForward:
      return leaky_relu_forward_loop(a, lo, hi);
    case ActivationLoop::kLeakyReluBackward:
      return leaky_relu_backward_loop(a, lo, hi);
    case ActivationLoop::kSigmoidForward:
      return sigmoid_forward_loop(a, lo, hi);
    case ActivationLoop::kSigmoidBackward:
      return sigmoid_backward_loop(a, lo, hi);
    case ActivationLoop::kTanhForward:
      return tanh_forward_loop(a, lo, hi);
    case ActivationLoop::kTanhBackward:
      return tanh_backward_loop(a, lo, hi);
    case ActivationLoop::kGeluErfForward:
      return gelu_erf_forward_loop(a, lo, hi);
    case ActivationLoop::kGeluErfBackward:
      return gelu_erf_backward_loop(a, lo, hi);
    case ActivationLoop::kGeluTanhForward:
      return gelu_tanh_forward_loop(a, lo, hi);
    case ActivationLoop::kGeluTanhBackward:
      return gelu_tanh_backward_loop(a, lo, hi);
    case ActivationLoop::kSiluForward:
      return silu_forward_loop(a, lo, hi);
    case ActivationLoop::kSiluBackward:
      return silu_backward_loop(a, lo, hi);
  }
}

}  // namespace

namespace avx2_fma {
// activation_loop_body(k, a, lo, hi) compiled for AVX2+FMA.
void activation_loop(ActivationLoop k, const ActivationArgs<float>& a, int64_t lo, int64_t hi);
void activation_loop(ActivationLoop k, const ActivationArgs<double>& a, int64_t lo, int64_t hi);
}  // namespace avx2_fma

}  // namespace gradcore
