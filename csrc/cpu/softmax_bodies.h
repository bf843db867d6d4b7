// The softmax and log-softmax row loops, shared by softmax.cpp (portable) and
// softmax_avx2_fma.cpp (the same loops compiled for AVX2+FMA), and the AVX2+FMA entry points.
// Each body computes rows [rb, re) of a (rows, cols) array and overwrites its output there.
//
// Everything here has internal linkage (anonymous namespace) and uses no STL, so the -mavx2
// copies are never merged with the portable ones (ISA rule: CMakeLists.txt, "ISA files"). The
// two builds may differ in the last bit (FMA contraction), never between thread counts.
#pragma once
#include <cmath>
#include <cstdint>

#include "cpu/vmath.h"

namespace gradcore {
namespace {

// e[c] = exp(x[c] - m) for c in [0, cols): the numerators of a softmax row with maximum m.
// Overwrites e. Also cross_entropy_forward's (loss.cpp).
template <typename T>
inline void exp_shifted_body(const T* x, T m, T* e, int64_t cols) {
  for (int64_t c = 0; c < cols; ++c) e[c] = vexp(x[c] - m);
}

// y[r, :] = exp(x[r, :] - m) / s, m = max_c x[r, c], s = sum_c exp(x[r, c] - m) (in double).
template <typename T>
inline void softmax_forward_rows_body(const T* x, T* y, int64_t cols, int64_t rb, int64_t re) {
  for (int64_t r = rb; r < re; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    const T m = row_max(xr, cols);
    exp_shifted_body(xr, m, yr, cols);
    const double s = lane_sum(0, cols, [=](int64_t c) { return double(yr[c]); });
    const T inv = static_cast<T>(1.0 / s);
    for (int64_t c = 0; c < cols; ++c) yr[c] *= inv;
  }
}

// dx[r, :] = y[r, :] * (dy[r, :] - sum_c dy[r, c] y[r, c]) (the sum in double).
template <typename T>
inline void softmax_backward_rows_body(const T* dy, const T* y, T* dx, int64_t cols, int64_t rb,
                                       int64_t re) {
  for (int64_t r = rb; r < re; ++r) {
    const T* dyr = dy + r * cols;
    const T* yr = y + r * cols;
    T* dxr = dx + r * cols;
    const T dot = static_cast<T>(
        lane_sum(0, cols, [=](int64_t c) { return double(dyr[c]) * double(yr[c]); }));
    for (int64_t c = 0; c < cols; ++c) dxr[c] = yr[c] * (dyr[c] - dot);
  }
}

// y[r, :] = (x[r, :] - m) - log(s), m and s as in softmax_forward_rows_body.
template <typename T>
inline void log_softmax_forward_rows_body(const T* x, T* y, int64_t cols, int64_t rb, int64_t re) {
  for (int64_t r = rb; r < re; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    const T m = row_max(xr, cols);
    exp_shifted_body(xr, m, yr, cols);
    const double s = lane_sum(0, cols, [=](int64_t c) { return double(yr[c]); });
    const T logs = static_cast<T>(std::log(s));
    for (int64_t c = 0; c < cols; ++c) yr[c] = (xr[c] - m) - logs;
  }
}

// dx[r, :] = dy[r, :] - exp(y[r, :]) * sum_c dy[r, c] (the sum in double).
template <typename T>
inline void log_softmax_backward_rows_body(const T* dy, const T* y, T* dx, int64_t cols, int64_t rb,
                                           int64_t re) {
  for (int64_t r = rb; r < re; ++r) {
    const T* dyr = dy + r * cols;
    const T* yr = y + r * cols;
    T* dxr = dx + r * cols;
    const T s = static_cast<T>(lane_sum(0, cols, [=](int64_t c) { return double(dyr[c]); }));
    for (int64_t c = 0; c < cols; ++c) dxr[c] = dyr[c] - vexp(yr[c]) * s;
  }
}

}  // namespace

namespace avx2_fma {
// The bodies above compiled for AVX2+FMA (exp_shifted_body ... log_softmax_backward_rows_body).
void exp_shifted(const float* x, float m, float* e, int64_t cols);
void exp_shifted(const double* x, double m, double* e, int64_t cols);
void softmax_forward_rows(const float* x, float* y, int64_t cols, int64_t rb, int64_t re);
void softmax_forward_rows(const double* x, double* y, int64_t cols, int64_t rb, int64_t re);
void softmax_backward_rows(const float* dy, const float* y, float* dx, int64_t cols, int64_t rb,
                           int64_t re);
void softmax_backward_rows(const double* dy, const double* y, double* dx, int64_t cols, int64_t rb,
                           int64_t re);
void log_softmax_forward_rows(const float* x, float* y, int64_t cols, int64_t rb, int64_t re);
void log_softmax_forward_rows(const double* x, double* y, int64_t cols, int64_t rb, int64_t re);
void log_softmax_backward_rows(const float* dy, const float* y, float* dx, int64_t cols, int64_t rb,
                               int64_t re);
void log_softmax_backward_rows(const double* dy, const double* y, double* dx, int64_t cols,
                               int64_t rb, int64_t re);
}  // namespace avx2_fma

}  // namespace gradcore
