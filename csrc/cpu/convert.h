// float32 <-> bfloat16 conversion (storage of gradcore.bfloat16 tensors: the top 16 bits of an
// IEEE float32, as uint16).
//
// float -> bfloat16 rounds to nearest, ties to even (RNE) on the bit pattern: exact for every
// input, whatever the floating-point environment (flush-to-zero does not apply to integer
// arithmetic): denormals round to bfloat16 denormals or zero, values past the largest
// bfloat16 round to infinity, a NaN becomes the quiet NaN 0x7FC0 with its sign (0xFFC0), as
// ml_dtypes and Eigen do. bfloat16 -> float is exact (a shift). Both split across threads in
// fixed chunks; results do not depend on the thread count.
#pragma once
#include <cstdint>

namespace gradcore {

// out[i] = bfloat16 bits of x[i] (RNE). Overwrites out (n).
void float_to_bfloat16(const float* x, uint16_t* out, int64_t n);
// out[i] = the float32 whose top 16 bits are x[i]. Overwrites out (n).
void bfloat16_to_float(const uint16_t* x, float* out, int64_t n);
// out[i] = x[i] rounded to bfloat16 as float32 values (float_to_bfloat16 then bfloat16_to_float
// in one pass). out may be x.
void round_to_bfloat16(const float* x, float* out, int64_t n);

}  // namespace gradcore
