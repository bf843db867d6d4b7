// The loss loops that have an AVX2+FMA build, shared by loss.cpp (portable) and
// loss_avx2_fma.cpp (the same loops compiled for AVX2+FMA), and the AVX2+FMA entry points.
// cross_entropy_forward's exponentials are softmax_bodies.h's exp_shifted.
//
// Everything here has internal linkage (anonymous namespace) and uses no STL, so the -mavx2
// copies are never merged with the portable ones (ISA rule: CMakeLists.txt, "ISA files"). The
// two builds may differ in the last bit (FMA contraction), never between thread counts.
#pragma once
#include <cstdint>

#include "cpu/vmath.h"

namespace gradcore {
namespace {

// One row of cross_entropy_backward before its target correction, c in [0, C):
// dx[c] = a exp(x[c] - l) - b w[c] with the class weights w, or a exp(x[c] - l) - b when w is
// null (l = log-sum-exp of the row). Overwrites dx.
template <typename T>
inline void cross_entropy_grad_row_body(const T* x, T l, T a, T b, const T* w, T* dx, int64_t C) {
  if (w) {
    for (int64_t c = 0; c < C; ++c) dx[c] = a * vexp(x[c] - l) - b * w[c];
  } else {
    for (int64_t c = 0; c < C; ++c) dx[c] = a * vexp(x[c] - l) - b;
  }
}

}  // namespace

namespace avx2_fma {
// cross_entropy_grad_row_body compiled for AVX2+FMA.
void cross_entropy_grad_row(const float* x, float l, float a, float b, const float* w, float* dx,
                            int64_t C);
void cross_entropy_grad_row(const double* x, double l, double a, double b, const double* w,
                            double* dx, int64_t C);
}  // namespace avx2_fma

}  // namespace gradcore
