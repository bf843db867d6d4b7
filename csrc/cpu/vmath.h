// The building blocks of the elementwise and row loops of activation, softmax and loss:
// branch-free float32 exp, tanh and erfc that g++ -O3 auto-vectorises (libm's expf/tanhf are
// opaque calls, which keep elementwise loops scalar), the row maximum, and the fixed-order
// double sum lane_sum. float64 uses libm for full accuracy.
//
// Everything here has internal linkage (anonymous namespace) and uses no STL: the ISA files
// (activation_avx2_fma.cpp, softmax_avx2_fma.cpp, loss_avx2_fma.cpp) compile their own -mavx2
// -mfma copies, which the linker never merges with the portable ones (ISA rule: CMakeLists.txt,
// "ISA files"). The loops that call these live in <stem>_bodies.h, shared by each stem's
// portable file and its ISA file.
//
// IEEE behaviour at the edges is kept: NaN -> NaN, exp(+inf) = +inf, exp(-inf) = 0,
// tanh(+-inf) = +-1, tanh(-0) = -0. exp_f32 is within 1-2 ulp of the exact result for normal
// outputs and returns 0 where the exact result is below FLT_MIN (the flush-to-zero value);
// tanh_f32 is within 1-2 ulp.
//
// Files whose loops call exp/tanh/erfc compile without -ftrapping-math (#pragma GCC optimize
// ("no-trapping-math") at the top of the .cpp) so that g++ may if-convert the remaining
// selects; values are unaffected.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace gradcore {
namespace {

// |x| and copysign(mag, sgn) as compiler builtins: std::fabs(float) and std::copysign(float,
// float) are library inline functions, of which an ISA file would emit its own weak copies.
__attribute__((always_inline)) inline float vabs(float x) {
  return __builtin_fabsf(x);
}
__attribute__((always_inline)) inline double vabs(double x) {
  return __builtin_fabs(x);
}
__attribute__((always_inline)) inline float copysign_f32(float mag, float sgn) {
  return __builtin_copysignf(mag, sgn);
}

// c ? a : b on the bit patterns (a select g++ vectorises for every target).
__attribute__((always_inline)) inline float select_f32(bool c, float a, float b) {
  const int32_t m = -static_cast<int32_t>(c);
  int32_t ia, ib;
  std::memcpy(&ia, &a, sizeof(ia));
  std::memcpy(&ib, &b, sizeof(ib));
  const int32_t r = (ia & m) | (ib & ~m);
  float out;
  std::memcpy(&out, &r, sizeof(out));
  return out;
}

__attribute__((always_inline)) inline float exp_f32(float x) {
  // exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2] (Cody-Waite),
  // exp(r) by a degree-6 polynomial (Cephes expf coefficients). Inputs are clamped to
  // [ln FLT_MIN, 88.8]: above ln FLT_MAX = 88.72 the product overflows to +inf by itself.
  const float lo = -87.33654475f, hi = 88.8f;
  float xc = x < lo ? lo : x;  // NaN compares false and passes through
  xc = xc > hi ? hi : xc;
  const float t = xc * 1.44269504088896341f + copysign_f32(0.5f, xc);
  // round half away from zero; n in [-126, 128]. A NaN x gives a NaN p below, which the
  // result keeps; n = 0 for it keeps the float -> int conversion defined.
  const int32_t n = static_cast<int32_t>(t == t ? t : 0.0f);
  const float fn = static_cast<float>(n);
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  const float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  // 2^n as 2^(n-m) * 2^m with m = (n > 0) so that n = 128 fits the exponent field.
  const int32_t m = n > 0 ? 1 : 0;
  const int32_t bits = static_cast<int32_t>(static_cast<uint32_t>(n - m + 127) << 23);
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  const float y = p * scale * static_cast<float>(1 + m);
  return select_f32(x < lo, 0.0f, y);
}

__attribute__((always_inline)) inline float tanh_f32(float x) {
  // |x| < 0.625: odd polynomial (Cephes tanhf); else 1 - 2 / (exp(2|x|) + 1); sign of x.
  const float ax = vabs(x);
  const float z = ax * ax;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * ax + ax;
  const float big = 1.0f - 2.0f / (exp_f32(2.0f * ax) + 1.0f);
  return copysign_f32(select_f32(ax < 0.625f, small, big), x);  // NaN: big is NaN
}

__attribute__((always_inline)) inline float erfc_f32(float x) {
  // Chebyshev fit of erfc (Numerical Recipes' erfcc, relative error < 1.2e-7 in exact
  // arithmetic): erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), z = |x|; erfc(-z) = 2 - erfc(z).
  // Relative accuracy in the tail is what GELU needs for negative inputs.
  const float z = vabs(x);
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  const float r = t * exp_f32(-z * z - 1.26551223f + t * p);
  return select_f32(x >= 0.0f, r, 2.0f - r);  // NaN: 2 - NaN
}

// The standard normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2 given u = x / sqrt 2:
// float32 as erfc(-u) / 2 (no cancellation for negative x), float64 as PyTorch writes it.
__attribute__((always_inline)) inline float normal_cdf_of_scaled(float u) {
  return 0.5f * erfc_f32(-u);
}
inline double normal_cdf_of_scaled(double u) {
  return 0.5 * (1.0 + std::erf(u));
}

// Type-dispatched helpers for the kernels' templates.
__attribute__((always_inline)) inline float vexp(float x) {
  return exp_f32(x);
}
inline double vexp(double x) {
  return std::exp(x);
}
__attribute__((always_inline)) inline float vtanh(float x) {
  return tanh_f32(x);
}
inline double vtanh(double x) {
  return std::tanh(x);
}

// Row maximum that propagates NaN (a NaN anywhere gives NaN); -inf for cols == 0.
template <typename T>
inline T row_max(const T* x, int64_t cols) {
  T m = -std::numeric_limits<T>::infinity();
  bool nan = false;
  for (int64_t c = 0; c < cols; ++c) {
    m = x[c] > m ? x[c] : m;
    nan |= x[c] != x[c];
  }
  return nan ? std::numeric_limits<T>::quiet_NaN() : m;
}

// Sum of f(i) for i in [b, e), in double, with 8 interleaved accumulators combined in a
// fixed order (vectorisable without -ffast-math, and independent of threads).
template <class F>
inline double lane_sum(int64_t b, int64_t e, const F& f) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = b;
  for (; i + 8 <= e; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += f(i + j);
  double tail = 0;
  for (; i < e; ++i) tail += f(i);
  return (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))) + tail;
}

}  // namespace
}  // namespace gradcore
