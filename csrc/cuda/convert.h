// CUDA conversions between float32 and the 16-bit floats of mixed precision (n contiguous
// elements, on the current stream). Bodies and rounding rules: convert_threads.h.
#pragma once
#include <cstdint>

namespace gradcore::cuda {

// y = x rounded to bfloat16 / float16 (RNE), as float32.
void round_to_bf16(const float* x, float* y, int64_t n);
void round_to_f16(const float* x, float* y, int64_t n);
// 16-bit storage (bit patterns) of float32 x, rounded to nearest even.
void float_to_bfloat16(const float* x, uint16_t* y, int64_t n);
void float_to_float16(const float* x, uint16_t* y, int64_t n);
// float32 of 16-bit storage (exact).
void bfloat16_to_float(const uint16_t* x, float* y, int64_t n);
void float16_to_float(const uint16_t* x, float* y, int64_t n);

}  // namespace gradcore::cuda
