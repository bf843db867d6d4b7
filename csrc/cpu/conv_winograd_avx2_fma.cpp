// The Winograd tile transforms (conv_winograd_body.h) compiled for avx2_fma. An ISA file: compiled
// with -mavx2 -mfma, called by conv_winograd.cpp only when at_least(CpuCapability::kAvx2Fma)
// (rules: CMakeLists.txt, "ISA files").
#if !defined(__AVX2__) || !defined(__FMA__)
#error "conv_winograd_avx2_fma.cpp must be compiled with its ISA flags (CMakeLists.txt, ISA files)"
#endif
#include "cpu/conv_winograd.h"
#include "cpu/conv_winograd_body.h"

namespace gradcore::avx2_fma {

void winograd_input_plane(const float* x, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t TH,
                          int64_t TW, float* v, int64_t ldxi, float* rows) {
  winograd_input_plane_body(x, H, W, ph, pw, TH, TW, v, ldxi, rows);
}

void winograd_output_plane(const float* m, int64_t ldxi, int64_t TH, int64_t TW, float bias,
                           float* y, int64_t OH, int64_t OW, float* rows) {
  winograd_output_plane_body(m, ldxi, TH, TW, bias, y, OH, OW, rows);
}

void winograd_output_grad_plane(const float* dy, int64_t OH, int64_t OW, int64_t TH, int64_t TW,
                                float* dm, int64_t ldxi, float* rows) {
  winograd_output_grad_plane_body(dy, OH, OW, TH, TW, dm, ldxi, rows);
}

}  // namespace gradcore::avx2_fma
