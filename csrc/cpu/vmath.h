// Branch-free float32 exp and tanh that g++ -O3 auto-vectorises (libm's expf/tanhf are
// opaque calls, which keep elementwise loops scalar). float64 uses libm for full accuracy.
// Both keep IEEE behaviour at the edges: NaN -> NaN, exp(+inf) = +inf, exp(-inf) = 0,
// tanh(+-inf) = +-1. exp_f32 is within 2 ulp of the exact result for normal outputs and
// returns 0 where the exact result is below FLT_MIN (the flush-to-zero value).
// Callers' loops vectorise when compiled without -ftrapping-math (see activation.cpp).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace gradcore {

__attribute__((always_inline)) inline float exp_f32(float x) {
  // exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2] (Cody-Waite),
  // exp(r) by a degree-6 polynomial (Cephes expf coefficients).
  const float lo = -87.33654475f, hi = 88.72283905f;  // ln(FLT_MIN), ln(FLT_MAX)
  float xc = x < lo ? lo : x;                         // NaN compares false and passes through
  xc = xc > hi ? hi : xc;
  const float t = xc * 1.44269504088896341f + (xc >= 0.0f ? 0.5f : -0.5f);
  const int32_t n = static_cast<int32_t>(t);  // round half away from zero
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
  // n is in [-126, 128]; 2^n as 2^(n-m) * 2^m with m = (n > 0) so that n = 128 (x near
  // ln FLT_MAX) fits the exponent field.
  const int32_t m = n > 0 ? 1 : 0;
  const int32_t bits = (n - m + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  float y = p * scale * static_cast<float>(1 + m);
  y = x > hi ? HUGE_VALF : y;
  y = x < lo ? 0.0f : y;
  return y;
}

__attribute__((always_inline)) inline float tanh_f32(float x) {
  const float ax = std::fabs(x);
  // |x| < 0.625: odd polynomial (Cephes tanhf); else 1 - 2 / (exp(2|x|) + 1) with the sign.
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  const float e = exp_f32(2.0f * ax);
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = x < 0.0f ? -big : big;
  return ax < 0.625f ? small : big;  // NaN: ax < 0.625 is false, big is NaN
}

// Type-dispatched helpers for the kernels' templates.
inline float vexp(float x) {
  return exp_f32(x);
}
inline double vexp(double x) {
  return std::exp(x);
}
inline float vtanh(float x) {
  return tanh_f32(x);
}
inline double vtanh(double x) {
  return std::tanh(x);
}

}  // namespace gradcore
