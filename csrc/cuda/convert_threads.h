// Per-element bodies of the CUDA conversion kernels (thread t handles element t), shared by
// convert.cu and the CPU test driver. Integer arithmetic on the bit patterns only, so both
// sides give the same bits whatever the floating-point mode (flush-to-zero does not apply):
//
// - bfloat16: bf16_bits is csrc/cpu/convert_bodies.h's (round to nearest even; a NaN becomes
//   the quiet NaN 0x7FC0 with its sign), so round_to_bf16 equals
//   _C.bfloat16_to_float(_C.float_to_bfloat16(x)) bitwise.
// - float16 (IEEE binary16): round to nearest even, values from 65520 up overflow to inf,
//   float16 subnormals (multiples of 2^-24) kept, |x| <= 2^-25 to a signed zero; a NaN keeps
//   its sign and top payload bits with the quiet bit set (what F16C's vcvtps2ph gives), so
//   round_to_f16 equals numpy's x.astype(np.float16).astype(np.float32) for every non-NaN x
//   (and gives a NaN for a NaN).
#pragma once
#include <stdint.h>
#include <string.h>

#include "cuda/host_device.h"

namespace gradcore::cuda {

GC_HD uint32_t float_bits(float v) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(v);
#else
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  return u;
#endif
}
GC_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float v;
  memcpy(&v, &u, sizeof v);
  return v;
#endif
}

// bfloat16 bits of the float32 with bits u: RNE, u + 0x7FFF + (bit 16 of u), top half; a NaN
// becomes 0x7FC0 with u's sign (as csrc/cpu/convert_bodies.h).
GC_HD uint16_t bf16_bits_of(uint32_t u) {
  const bool nan = (u & 0x7FFFFFFFu) > 0x7F800000u;
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  const uint32_t quiet = ((u >> 16) & 0x8000u) | 0x7FC0u;
  return static_cast<uint16_t>(nan ? quiet : rounded);
}

// IEEE float16 bits of the float32 with bits u, rounded to nearest even.
GC_HD uint16_t f16_bits_of(uint32_t u) {
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
  if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520 (and inf)
  if (a >= 0x38800000u) {  // a float16 normal (>= 2^-14): rebias the exponent by 127 - 15
    const uint32_t r = a - 0x38000000u;
    return static_cast<uint16_t>(sign | ((r + 0x0FFFu + ((r >> 13) & 1u)) >> 13));
  }
  if (a <= 0x33000000u) return static_cast<uint16_t>(sign);  // <= 2^-25: ties to even zero
  // float16 subnormal: the value in units of 2^-24 is m * 2^-(126 - e), shift in [14, 24]
  const uint32_t e = a >> 23;
  const uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126u - e;
  const uint32_t q = (m + (1u << (shift - 1)) - 1u + ((m >> shift) & 1u)) >> shift;
  return static_cast<uint16_t>(sign | q);  // q == 0x400 is the smallest normal, as it should
}

// float32 bits of float16 bits h (exact).
GC_HD uint32_t f16_to_float_bits(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1Fu;
  uint32_t m = h & 0x3FFu;
  if (e == 0x1Fu) return sign | 0x7F800000u | (m << 13);
  if (e != 0) return sign | ((e + 112u) << 23) | (m << 13);
  if (m == 0) return sign;
  uint32_t e32 = 113u;  // normalise the subnormal: value m * 2^-24
  while (!(m & 0x400u)) {
    m <<= 1;
    --e32;
  }
  return sign | (e32 << 23) | ((m & 0x3FFu) << 13);
}

// y = x rounded to bfloat16 (kept as float32)
GC_HD void round_to_bf16_at(int64_t t, const float* x, float* y) {
  y[t] = bits_float(static_cast<uint32_t>(bf16_bits_of(float_bits(x[t]))) << 16);
}
// y = x rounded to float16 (kept as float32)
GC_HD void round_to_f16_at(int64_t t, const float* x, float* y) {
  y[t] = bits_float(f16_to_float_bits(f16_bits_of(float_bits(x[t]))));
}
// y = bfloat16 storage (bits) of x
GC_HD void float_to_bfloat16_at(int64_t t, const float* x, uint16_t* y) {
  y[t] = bf16_bits_of(float_bits(x[t]));
}
// y = float16 storage (bits) of x
GC_HD void float_to_float16_at(int64_t t, const float* x, uint16_t* y) {
  y[t] = f16_bits_of(float_bits(x[t]));
}
// y = float32 of bfloat16 bits x (exact)
GC_HD void bfloat16_to_float_at(int64_t t, const uint16_t* x, float* y) {
  y[t] = bits_float(static_cast<uint32_t>(x[t]) << 16);
}
// y = float32 of float16 bits x (exact)
GC_HD void float16_to_float_at(int64_t t, const uint16_t* x, float* y) {
  y[t] = bits_float(f16_to_float_bits(x[t]));
}

}  // namespace gradcore::cuda
