// The float32 <-> bfloat16 loops of convert_bodies.h compiled for avx512. An ISA file:
// compiled with -mavx512f -mavx512bw ..., called by convert.cpp only when at_least() that level
// (rules: CMakeLists.txt, "ISA files").
#if !defined(__AVX512F__) || !defined(__AVX512BW__)
#error "convert_avx512.cpp must be compiled with its ISA flags (CMakeLists.txt, ISA files)"
#endif
#include "cpu/convert_bodies.h"

namespace gradcore::avx512 {

void float_to_bfloat16(const float* x, uint16_t* out, int64_t i0, int64_t i1) {
  float_to_bfloat16_body(x, out, i0, i1);
}
void bfloat16_to_float(const uint16_t* x, float* out, int64_t i0, int64_t i1) {
  bfloat16_to_float_body(x, out, i0, i1);
}
void round_to_bfloat16(const float* x, float* out, int64_t i0, int64_t i1) {
  round_to_bfloat16_body(x, out, i0, i1);
}

}  // namespace gradcore::avx512
