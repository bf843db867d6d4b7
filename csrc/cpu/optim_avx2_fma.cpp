// The fused optimizer updates compiled for AVX2+FMA (the bodies of optim_bodies.h). An ISA
// file: compiled with -mavx2 -mfma, called by optim.cpp only when
// at_least(CpuCapability::kAvx2Fma) (rules: CMakeLists.txt, "ISA files").
#if !defined(__AVX2__) || !defined(__FMA__)
#error "optim_avx2_fma.cpp must be compiled with -mavx2 -mfma (CMakeLists.txt, ISA files)"
#endif
// Fused multiply-adds exactly where the bodies say fmadd (as in optim.cpp), before any include.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "cpu/optim_bodies.h"

namespace gradcore::avx2_fma {
namespace {

template <typename T>
void sgd(const SgdArgs<T>& a, bool momentum, int64_t b, int64_t e) {
  if (momentum)
    SgdBody<T, true>{a}(b, e);
  else
    SgdBody<T, false>{a}(b, e);
}

template <typename T>
void adam(const AdamArgs<T>& a, bool amsgrad, bool decoupled, int64_t b, int64_t e) {
  if (amsgrad) {
    if (decoupled)
      AdamBody<T, true, true>{a}(b, e);
    else
      AdamBody<T, true, false>{a}(b, e);
  } else {
    if (decoupled)
      AdamBody<T, false, true>{a}(b, e);
    else
      AdamBody<T, false, false>{a}(b, e);
  }
}

template <typename T>
void rmsprop(const RmspropArgs<T>& a, bool centered, bool momentum, int64_t b, int64_t e) {
  if (centered) {
    if (momentum)
      RmspropBody<T, true, true>{a}(b, e);
    else
      RmspropBody<T, true, false>{a}(b, e);
  } else {
    if (momentum)
      RmspropBody<T, false, true>{a}(b, e);
    else
      RmspropBody<T, false, false>{a}(b, e);
  }
}

}  // namespace

void sgd_range(const SgdArgs<float>& a, bool momentum, int64_t b, int64_t e) {
  sgd(a, momentum, b, e);
}
void sgd_range(const SgdArgs<double>& a, bool momentum, int64_t b, int64_t e) {
  sgd(a, momentum, b, e);
}
void adam_range(const AdamArgs<float>& a, bool amsgrad, bool decoupled, int64_t b, int64_t e) {
  adam(a, amsgrad, decoupled, b, e);
}
void adam_range(const AdamArgs<double>& a, bool amsgrad, bool decoupled, int64_t b, int64_t e) {
  adam(a, amsgrad, decoupled, b, e);
}
void rmsprop_range(const RmspropArgs<float>& a, bool centered, bool momentum, int64_t b,
                   int64_t e) {
  rmsprop(a, centered, momentum, b, e);
}
void rmsprop_range(const RmspropArgs<double>& a, bool centered, bool momentum, int64_t b,
                   int64_t e) {
  rmsprop(a, centered, momentum, b, e);
}
void adagrad_range(const AdagradArgs<float>& a, int64_t b, int64_t e) {
  AdagradBody<float>{a}(b, e);
}
void adagrad_range(const AdagradArgs<double>& a, int64_t b, int64_t e) {
  AdagradBody<double>{a}(b, e);
}

}  // namespace gradcore::avx2_fma
