// Per-thread bodies of the softmax kernels (softmax.cu), shared with the CPU test driver.
// Formulas as in csrc/cpu/softmax.h; x, y, dy, dx are (rows, cols), one block per row for the
// row reductions (thread t of row r takes columns t, t + kBlock, ...), then one thread per
// element. Per-row values live in scratch arrays of `rows` floats (m, s, dot).
//
// Also here, because loss.cu uses it too: the NaN-propagating max of the row maxima (reduced
// with cuda::for_each_row_reduce_with, launch.cuh; host: for_each_row_reduce_with_host).
#pragma once
#include <math.h>

#include "cuda/host_device.h"

namespace gradcore::cuda {

// max(a, b), NaN when either is NaN (cpu/vmath.h row_max: a row holding NaN has maximum NaN).
GC_HD float max_step(float a, float b) {
  return a != a ? a : (b != b ? b : (a > b ? a : b));
}
struct MaxStep {
  GC_HD float operator()(float a, float b) const { return max_step(a, b); }
};

// ---- row reductions (partial of thread t in row r; identity when t has no column) ----

// max over the columns c = t (mod kBlock) of row r (-inf for none).
GC_HD float row_max_partial(const float* x, int64_t cols, int64_t r, int t) {
  const float* xr = x + r * cols;
  float m = -INFINITY;
  for (int64_t c = t; c < cols; c += kBlock) m = max_step(m, xr[c]);
  return m;
}
// sum of exp(x[r, c] - m[r]) over the thread's columns.
GC_HD float row_sum_exp_partial(const float* x, const float* m, int64_t cols, int64_t r, int t) {
  const float* xr = x + r * cols;
  const float mr = m[r];
  float s = 0.f;
  for (int64_t c = t; c < cols; c += kBlock) s += expf(xr[c] - mr);
  return s;
}
// sum of a[r, c] * b[r, c] over the thread's columns.
GC_HD float row_dot_partial(const float* a, const float* b, int64_t cols, int64_t r, int t) {
  const float* ar = a + r * cols;
  const float* br = b + r * cols;
  float s = 0.f;
  for (int64_t c = t; c < cols; c += kBlock) s = fmaf(ar[c], br[c], s);
  return s;
}
// sum of a[r, c] over the thread's columns.
GC_HD float row_sum_partial(const float* a, int64_t cols, int64_t r, int t) {
  const float* ar = a + r * cols;
  float s = 0.f;
  for (int64_t c = t; c < cols; c += kBlock) s += ar[c];
  return s;
}

// ---- finishes (thread 0 of row r, with the row's total) ----
GC_HD void store_row_value(float* out, int64_t r, float total) {
  out[r] = total;
}
// softmax: out[r] = 1 / sum (the forward multiplies by it, as the CPU kernel)
GC_HD void store_row_inverse(float* out, int64_t r, float total) {
  out[r] = 1.f / total;
}
// log-softmax: out[r] = log(sum)
GC_HD void store_row_log(float* out, int64_t r, float total) {
  out[r] = logf(total);
}

// ---- elementwise passes, thread t = element r * cols + c ----

// y = exp(x - m[r]) * inv[r]
GC_HD void softmax_forward_at(int64_t t, const float* x, const float* m, const float* inv, float* y,
                              int64_t cols) {
  const int64_t r = t / cols;
  y[t] = expf(x[t] - m[r]) * inv[r];
}
// y = (x - m[r]) - logs[r]
GC_HD void log_softmax_forward_at(int64_t t, const float* x, const float* m, const float* logs,
                                  float* y, int64_t cols) {
  const int64_t r = t / cols;
  y[t] = (x[t] - m[r]) - logs[r];
}
// dx = y * (dy - dot[r]), dot[r] = sum_c dy y
GC_HD void softmax_backward_at(int64_t t, const float* dy, const float* y, const float* dot,
                               float* dx, int64_t cols) {
  dx[t] = y[t] * (dy[t] - dot[t / cols]);
}
// dx = dy - exp(y) * s[r], s[r] = sum_c dy
GC_HD void log_softmax_backward_at(int64_t t, const float* dy, const float* y, const float* s,
                                   float* dx, int64_t cols) {
  dx[t] = dy[t] - expf(y[t]) * s[t / cols];
}

}  // namespace gradcore::cuda
