// The conversion loops of convert.cpp, shared by the portable file and the ISA files (the
// same loops compiled with wider vectors), and the ISA entry points. Integer arithmetic only:
// every build gives the same bits.
//
// Everything here has internal linkage (anonymous namespace) and uses no STL, so the ISA
// copies are never merged with the portable ones (ISA rule: CMakeLists.txt, "ISA files").
#pragma once
#include <cstdint>
#include <cstring>

namespace gradcore {
namespace {

// bfloat16 bits of the float32 with bits u: RNE, u + 0x7FFF + (bit 16 of u), top half. A NaN
// (exponent all ones, mantissa != 0) becomes 0x7FC0 with u's sign.
inline uint16_t bf16_bits(uint32_t u) {
  const bool nan = (u & 0x7FFFFFFFu) > 0x7F800000u;
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  const uint32_t quiet = ((u >> 16) & 0x8000u) | 0x7FC0u;
  return static_cast<uint16_t>(nan ? quiet : rounded);
}

// out[i] = bf16_bits(bits of x[i]) for i in [i0, i1).
inline void float_to_bfloat16_body(const float* x, uint16_t* out, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, sizeof u);
    out[i] = bf16_bits(u);
  }
}

// out[i] = the float with top half x[i], bottom half 0, for i in [i0, i1).
inline void bfloat16_to_float_body(const uint16_t* x, float* out, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) {
    const uint32_t u = static_cast<uint32_t>(x[i]) << 16;
    std::memcpy(out + i, &u, sizeof u);
  }
}

// out[i] = x[i] rounded to bfloat16 (bf16_bits), as a float, for i in [i0, i1); out may be x.
inline void round_to_bfloat16_body(const float* x, float* out, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, sizeof u);
    u = static_cast<uint32_t>(bf16_bits(u)) << 16;
    std::memcpy(out + i, &u, sizeof u);
  }
}

}  // namespace

namespace avx2_fma {
void float_to_bfloat16(const float* x, uint16_t* out, int64_t i0, int64_t i1);
void bfloat16_to_float(const uint16_t* x, float* out, int64_t i0, int64_t i1);
void round_to_bfloat16(const float* x, float* out, int64_t i0, int64_t i1);
}  // namespace avx2_fma

namespace avx512 {
void float_to_bfloat16(const float* x, uint16_t* out, int64_t i0, int64_t i1);
void bfloat16_to_float(const uint16_t* x, float* out, int64_t i0, int64_t i1);
void round_to_bfloat16(const float* x, float* out, int64_t i0, int64_t i1);
}  // namespace avx512

}  // namespace gradcore
