// The activation loops compiled for AVX2+FMA (the bodies of activation_bodies.h). An ISA file:
// compiled with -mavx2 -mfma, called by activation.cpp only when
// at_least(CpuCapability::kAvx2Fma) (rules: CMakeLists.txt, "ISA files").
#if !defined(__AVX2__) || !defined(__FMA__)
#error "activation_avx2_fma.cpp must be compiled with -mavx2 -mfma (CMakeLists.txt, ISA files)"
#endif
// As in activation.cpp: without -ftrapping-math g++ may if-convert the loops' selects and
// vectorise them (values and NaN/Inf behaviour unchanged). Before any include.
#pragma GCC optimize("no-trapping-math")
#include "cpu/activation_bodies.h"

namespace gradcore::avx2_fma {

void activation_loop(ActivationLoop k, const ActivationArgs<float>& a, int64_t lo, int64_t hi) {
  activation_loop_body(k, a, lo, hi);
}
void activation_loop(ActivationLoop k, const ActivationArgs<double>& a, int64_t lo, int64_t hi) {
  activation_loop_body(k, a, lo, hi);
}

}  // namespace gradcore::avx2_fma
