// CUDA conversions: each kernel runs one body of convert_threads.h per element.
#include "cuda/convert.h"
#include "cuda/convert_threads.h"
#include "cuda/launch.cuh"

namespace gradcore::cuda {

void round_to_bf16(const float* x, float* y, int64_t n) {
  for_each_index("round_to_bf16", n, [=] __device__(int64_t t) { round_to_bf16_at(t, x, y); });
}
void round_to_f16(const float* x, float* y, int64_t n) {
  for_each_index("round_to_f16", n, [=] __device__(int64_t t) { round_to_f16_at(t, x, y); });
}
void float_to_bfloat16(const float* x, uint16_t* y, int64_t n) {
  for_each_index("float_to_bfloat16", n,
                 [=] __device__(int64_t t) { float_to_bfloat16_at(t, x, y); });
}
void float_to_float16(const float* x, uint16_t* y, int64_t n) {
  for_each_index("float_to_float16", n,
                 [=] __device__(int64_t t) { float_to_float16_at(t, x, y); });
}
void bfloat16_to_float(const uint16_t* x, float* y, int64_t n) {
  for_each_index("bfloat16_to_float", n,
                 [=] __device__(int64_t t) { bfloat16_to_float_at(t, x, y); });
}
void float16_to_float(const uint16_t* x, float* y, int64_t n) {
  for_each_index("float16_to_float", n,
                 [=] __device__(int64_t t) { float16_to_float_at(t, x, y); });
}

}  // namespace gradcore::cuda
