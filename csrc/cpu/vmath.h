// Branch-free float32 exp and tanh that g++ -O3 auto-vectorises (libm's expf/tanhf are
// opaque calls, which keep elementwise loops scalar), and simd_loop(), which runs a loop body
// compiled for AVX2+FMA when at_least(CpuCapability::kAvx2Fma) (8 lanes instead of SSE2's 4).
//
// The one place left with a function-level target attribute (GC_TARGET_AVX2_FMA below): the
// loop bodies are lambdas in activation.cpp, softmax.cpp, loss.cpp and elementwise.cpp, and a
// lambda can only be compiled for AVX2 in its own file this way. It is safe from linker
// merging: loop_avx2<F> is instantiated for one lambda type only, and everything it calls
// here is always_inline. Moving these bodies to *_avx2_fma.cpp files (as pool, im2col, conv,
// GEMM and the optimizers are) is the next step of the ISA dispatch (CMakeLists.txt).
// float64 uses libm for full accuracy.
//
// IEEE behaviour at the edges is kept: NaN -> NaN, exp(+inf) = +inf, exp(-inf) = 0,
// tanh(+-inf) = +-1, tanh(-0) = -0. exp_f32 is within 1-2 ulp of the exact result for normal
// outputs and returns 0 where the exact result is below FLT_MIN (the flush-to-zero value);
// tanh_f32 is within 1-2 ulp.
//
// Callers compile without -ftrapping-math (#pragma GCC optimize("no-trapping-math") at the top
// of the .cpp) so that g++ may if-convert the remaining selects; values are unaffected.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/cpu_features.h"

namespace gradcore {

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
  const float t = xc * 1.44269504088896341f + std::copysign(0.5f, xc);
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
  const float ax = std::fabs(x);
  const float z = ax * ax;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * ax + ax;
  const float big = 1.0f - 2.0f / (exp_f32(2.0f * ax) + 1.0f);
  return std::copysign(select_f32(ax < 0.625f, small, big), x);  // NaN: big is NaN
}

__attribute__((always_inline)) inline float erfc_f32(float x) {
  // Chebyshev fit of erfc (Numerical Recipes' erfcc, relative error < 1.2e-7 in exact
  // arithmetic): erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), z = |x|; erfc(-z) = 2 - erfc(z).
  // Relative accuracy in the tail is what GELU needs for negative inputs.
  const float z = std::fabs(x);
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

template <class F>
inline void loop_generic(int64_t lo, int64_t hi, const F& f) {
  for (int64_t i = lo; i < hi; ++i) f(i);
}

#if GRADCORE_ISA_AVX2_FMA
#define GC_TARGET_AVX2_FMA __attribute__((target("avx2,fma"), flatten))

// The same loop compiled for AVX2+FMA; flatten inlines f (and what it calls) into it.
template <class F>
GC_TARGET_AVX2_FMA void loop_avx2(int64_t lo, int64_t hi, const F& f) {
  for (int64_t i = lo; i < hi; ++i) f(i);
}

// f() compiled for AVX2+FMA, with everything it calls inlined (whole row bodies).
template <class F>
GC_TARGET_AVX2_FMA void call_avx2(const F& f) {
  f();
}
#endif

// True when loops should take the AVX2+FMA build (read once per kernel call).
inline bool use_avx2() {
  return at_least(CpuCapability::kAvx2Fma);
}

// f(i) for i in [lo, hi): the AVX2+FMA build when `avx2`, else the portable one. Results may
// differ in the last bit between the two (FMA contraction), never between thread counts.
template <class F>
inline void simd_loop(bool avx2, int64_t lo, int64_t hi, const F& f) {
#if GRADCORE_ISA_AVX2_FMA
  if (avx2) {
    loop_avx2(lo, hi, f);
    return;
  }
#endif
  loop_generic(lo, hi, f);
}

// f(): the AVX2+FMA build when `avx2`, else the portable one (for bodies with several loops).
template <class F>
inline void simd_call(bool avx2, const F& f) {
#if GRADCORE_ISA_AVX2_FMA
  if (avx2) {
    call_avx2(f);
    return;
  }
#endif
  f();
}

}  // namespace gradcore
