// The softmax and log-softmax row loops compiled for AVX2+FMA (the bodies of softmax_bodies.h).
// An ISA file: compiled with -mavx2 -mfma, called by softmax.cpp and loss.cpp only when
// at_least(CpuCapability::kAvx2Fma) (rules: CMakeLists.txt, "ISA files").
#if !defined(__AVX2__) || !defined(__FMA__)
#error "softmax_avx2_fma.cpp must be compiled with -mavx2 -mfma (CMakeLists.txt, ISA files)"
#endif
// As in softmax.cpp: without -ftrapping-math g++ may if-convert the loops' selects and
// vectorise them (values and NaN/Inf behaviour unchanged). Before any include.
#pragma GCC optimize("no-trapping-math")
#include "cpu/softmax_bodies.h"

namespace gradcore::avx2_fma {

void exp_shifted(const float* x, float m, float* e, int64_t cols) {
  exp_shifted_body(x, m, e, cols);
}
void exp_shifted(const double* x, double m, double* e, int64_t cols) {
  exp_shifted_body(x, m, e, cols);
}
void softmax_forward_rows(const float* x, float* y, int64_t cols, int64_t rb, int64_t re) {
  softmax_forward_rows_body(x, y, cols, rb, re);
}
void softmax_forward_rows(const double* x, double* y, int64_t cols, int64_t rb, int64_t re) {
  softmax_forward_rows_body(x, y, cols, rb, re);
}
void softmax_backward_rows(const float* dy, const float* y, float* dx, int64_t cols, int64_t rb,
                           int64_t re) {
  softmax_backward_rows_body(dy, y, dx, cols, rb, re);
}
void softmax_backward_rows(const double* dy, const double* y, double* dx, int64_t cols, int64_t rb,
                           int64_t re) {
  softmax_backward_rows_body(dy, y, dx, cols, rb, re);
}
void log_softmax_forward_rows(const float* x, float* y, int64_t cols, int64_t rb, int64_t re) {
  log_softmax_forward_rows_body(x, y, cols, rb, re);
}
void log_softmax_forward_rows(const double* x, double* y, int64_t cols, int64_t rb, int64_t re) {
  log_softmax_forward_rows_body(x, y, cols, rb, re);
}
void log_softmax_backward_rows(const float* dy, const float* y, float* dx, int64_t cols, int64_t rb,
                               int64_t re) {
  log_softmax_backward_rows_body(dy, y, dx, cols, rb, re);
}
void log_softmax_backward_rows(const double* dy, const double* y, double* dx, int64_t cols,
                               int64_t rb, int64_t re) {
  log_softmax_backward_rows_body(dy, y, dx, cols, rb, re);
}

}  // namespace gradcore::avx2_fma
