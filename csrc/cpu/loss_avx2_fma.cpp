// The loss loops compiled for AVX2+FMA (the bodies of loss_bodies.h). An ISA file: compiled
// with -mavx2 -mfma, called by loss.cpp only when at_least(CpuCapability::kAvx2Fma) (rules:
// CMakeLists.txt, "ISA files").
#if !defined(__AVX2__) || !defined(__FMA__)
#error "loss_avx2_fma.cpp must be compiled with -mavx2 -mfma (CMakeLists.txt, ISA files)"
#endif
// As in loss.cpp: without -ftrapping-math g++ may if-convert the loops' selects and vectorise
// them (values and NaN/Inf behaviour unchanged). Before any include.
#pragma GCC optimize("no-trapping-math")
#include "cpu/loss_bodies.h"

namespace gradcore::avx2_fma {

void cross_entropy_grad_row(const float* x, float l, float a, float b, const float* w, float* dx,
                            int64_t C) {
  cross_entropy_grad_row_body(x, l, a, b, w, dx, C);
}
void cross_entropy_grad_row(const double* x, double l, double a, double b, const double* w,
                            double* dx, int64_t C) {
  cross_entropy_grad_row_body(x, l, a, b, w, dx, C);
}

}  // namespace gradcore::avx2_fma
