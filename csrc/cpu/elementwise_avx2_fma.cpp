// sum_rows' accumulation loop compiled for AVX2 (the body of elementwise_bodies.h). An ISA
// file: compiled with -mavx2 -mfma, called by elementwise.cpp only when
// at_least(CpuCapability::kAvx2Fma) (rules: CMakeLists.txt, "ISA files").
#if !defined(__AVX2__) || !defined(__FMA__)
#error "elementwise_avx2_fma.cpp must be compiled with -mavx2 -mfma (CMakeLists.txt, ISA files)"
#endif
#include "cpu/elementwise_bodies.h"

namespace gradcore::avx2_fma {

void add_rows(const float* x, int64_t C, int64_t r0, int64_t r1, double* p) {
  add_rows_body(x, C, r0, r1, p);
}
void add_rows(const double* x, int64_t C, int64_t r0, int64_t r1, double* p) {
  add_rows_body(x, C, r0, r1, p);
}

}  // namespace gradcore::avx2_fma
