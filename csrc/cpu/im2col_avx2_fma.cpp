// im2col / col2im compiled for AVX2 (the loops of im2col_body.h). An ISA file: compiled with
// -mavx2 -mfma, called by im2col.cpp only when at_least(CpuCapability::kAvx2Fma) (rules:
// CMakeLists.txt, "ISA files").
#if !defined(__AVX2__) || !defined(__FMA__)
#error "im2col_avx2_fma.cpp must be compiled with -mavx2 -mfma (CMakeLists.txt, ISA files)"
#endif
#include "cpu/im2col_body.h"

namespace gradcore::avx2_fma {

void im2col(const Window2d& g, int64_t C, const float* x, int64_t oh0, int64_t oh1, float* col,
            int64_t ldcol, const int32_t* mask) {
  im2col_body(g, C, x, oh0, oh1, col, ldcol, mask);
}
void im2col(const Window2d& g, int64_t C, const double* x, int64_t oh0, int64_t oh1, double* col,
            int64_t ldcol, const int64_t* mask) {
  im2col_body(g, C, x, oh0, oh1, col, ldcol, mask);
}
void im2col(const Window2d& g, int64_t C, const uint16_t* x, int64_t oh0, int64_t oh1,
            uint16_t* col, int64_t ldcol, const int16_t* mask) {
  im2col_body(g, C, x, oh0, oh1, col, ldcol, mask);
}
void col2im_add(const Window2d& g, int64_t C, float* col, int64_t ldcol, int64_t oh0, int64_t oh1,
                float* x, const int32_t* mask) {
  col2im_body(g, C, col, ldcol, oh0, oh1, x, mask);
}
void col2im_add(const Window2d& g, int64_t C, double* col, int64_t ldcol, int64_t oh0, int64_t oh1,
                double* x, const int64_t* mask) {
  col2im_body(g, C, col, ldcol, oh0, oh1, x, mask);
}

}  // namespace gradcore::avx2_fma
