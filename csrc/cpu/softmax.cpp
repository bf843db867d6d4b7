// Softmax kernels: the row loops are in softmax_bodies.h (portable here, AVX2+FMA in
// softmax_avx2_fma.cpp). They call the branch-free exp of cpu/vmath.h; without
// -ftrapping-math g++ may if-convert their selects and vectorise the loops. Values and
// NaN/Inf behaviour are unchanged (this only stops FP exceptions from pinning branches).
#pragma GCC optimize("no-trapping-math")
#include "cpu/softmax.h"

#include <algorithm>

#include "core/cpu_features.h"
#include "cpu/elementwise.h"
#include "cpu/softmax_bodies.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {
// Rows per thread: at least kElementwiseGrain elements each.
inline int64_t row_grain(int64_t cols) {
  return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(cols, 1));
}

// Runs the rows [0, rows) in parallel, rows [rb, re) by avx2(rb, re) (a row loop of
// softmax_avx2_fma.cpp) when at_least(kAvx2Fma), else by portable(rb, re) (softmax_bodies.h).
template <class Avx2, class Portable>
void run_rows(int64_t rows, int64_t cols, const Avx2& avx2, const Portable& portable) {
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma)) {
    parallel_for(rows, row_grain(cols), avx2);
    return;
  }
#endif
  parallel_for(rows, row_grain(cols), portable);
}
}  // namespace

template <typename T>
void softmax_forward(const T* x, T* y, int64_t rows, int64_t cols) {
  GC_PROFILE_SCOPE("softmax_forward", 5.0 * rows * cols, 2.0 * rows * cols * sizeof(T),
                   {rows, cols});
  run_rows(
      rows, cols,
      [=](int64_t rb, int64_t re) { avx2_fma::softmax_forward_rows(x, y, cols, rb, re); },
      [=](int64_t rb, int64_t re) { softmax_forward_rows_body(x, y, cols, rb, re); });
}

template <typename T>
void softmax_backward(const T* dy, const T* y, T* dx, int64_t rows, int64_t cols) {
  GC_PROFILE_SCOPE("softmax_backward", 4.0 * rows * cols, 3.0 * rows * cols * sizeof(T),
                   {rows, cols});
  run_rows(
      rows, cols,
      [=](int64_t rb, int64_t re) { avx2_fma::softmax_backward_rows(dy, y, dx, cols, rb, re); },
      [=](int64_t rb, int64_t re) { softmax_backward_rows_body(dy, y, dx, cols, rb, re); });
}

template <typename T>
void log_softmax_forward(const T* x, T* y, int64_t rows, int64_t cols) {
  GC_PROFILE_SCOPE("log_softmax_forward", 5.0 * rows * cols, 2.0 * rows * cols * sizeof(T),
                   {rows, cols});
  run_rows(
      rows, cols,
      [=](int64_t rb, int64_t re) { avx2_fma::log_softmax_forward_rows(x, y, cols, rb, re); },
      [=](int64_t rb, int64_t re) { log_softmax_forward_rows_body(x, y, cols, rb, re); });
}

template <typename T>
void log_softmax_backward(const T* dy, const T* y, T* dx, int64_t rows, int64_t cols) {
  GC_PROFILE_SCOPE("log_softmax_backward", 4.0 * rows * cols, 3.0 * rows * cols * sizeof(T),
                   {rows, cols});
  run_rows(
      rows, cols,
      [=](int64_t rb, int64_t re) { avx2_fma::log_softmax_backward_rows(dy, y, dx, cols, rb, re); },
      [=](int64_t rb, int64_t re) { log_softmax_backward_rows_body(dy, y, dx, cols, rb, re); });
}

#define GC_INSTANTIATE(T)                                                      \
  template void softmax_forward<T>(const T*, T*, int64_t, int64_t);            \
  template void softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t); \
  template void log_softmax_forward<T>(const T*, T*, int64_t, int64_t);        \
  template void log_softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t);
GC_INSTANTIATE(float)
GC_INSTANTIATE(double)
#undef GC_INSTANTIATE

}  // namespace gradcore
