// Elementwise loops below call the branch-free exp/tanh of cpu/vmath.h; without
// -ftrapping-math g++ may if-convert their selects and vectorise the loops. Values and
// NaN/Inf behaviour are unchanged (this only stops FP exceptions from pinning branches).
#pragma GCC optimize("no-trapping-math")
#include "cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/elementwise.h"
#include "cpu/vmath.h"
#include "profiler/profiler.h"

namespace gradcore {

template <typename T>
T row_max(const T* x, int64_t cols) {
  T m = -std::numeric_limits<T>::infinity();
  bool nan = false;
  for (int64_t c = 0; c < cols; ++c) {
    m = x[c] > m ? x[c] : m;
    nan |= x[c] != x[c];
  }
  return nan ? std::numeric_limits<T>::quiet_NaN() : m;
}

namespace {
// Rows per thread: at least kElementwiseGrain elements each.
inline int64_t row_grain(int64_t cols) {
  return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(cols, 1));
}
}  // namespace

template <typename T>
void softmax_forward(const T* x, T* y, int64_t rows, int64_t cols) {
  GC_PROFILE_SCOPE("softmax_forward", 5.0 * rows * cols, 2.0 * rows * cols * sizeof(T),
                   {rows, cols});
  parallel_for(rows, row_grain(cols), [=](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const T* xr = x + r * cols;
      T* yr = y + r * cols;
      const T m = row_max(xr, cols);
      for (int64_t c = 0; c < cols; ++c) yr[c] = vexp(xr[c] - m);
      const double s = lane_sum(0, cols, [=](int64_t c) { return double(yr[c]); });
      const T inv = static_cast<T>(1.0 / s);
      for (int64_t c = 0; c < cols; ++c) yr[c] *= inv;
    }
  });
}

template <typename T>
void softmax_backward(const T* dy, const T* y, T* dx, int64_t rows, int64_t cols) {
  GC_PROFILE_SCOPE("softmax_backward", 4.0 * rows * cols, 3.0 * rows * cols * sizeof(T),
                   {rows, cols});
  parallel_for(rows, row_grain(cols), [=](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const T* dyr = dy + r * cols;
      const T* yr = y + r * cols;
      T* dxr = dx + r * cols;
      const T dot = static_cast<T>(
          lane_sum(0, cols, [=](int64_t c) { return double(dyr[c]) * double(yr[c]); }));
      for (int64_t c = 0; c < cols; ++c) dxr[c] = yr[c] * (dyr[c] - dot);
    }
  });
}

template <typename T>
void log_softmax_forward(const T* x, T* y, int64_t rows, int64_t cols) {
  GC_PROFILE_SCOPE("log_softmax_forward", 5.0 * rows * cols, 2.0 * rows * cols * sizeof(T),
                   {rows, cols});
  parallel_for(rows, row_grain(cols), [=](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const T* xr = x + r * cols;
      T* yr = y + r * cols;
      const T m = row_max(xr, cols);
      for (int64_t c = 0; c < cols; ++c) yr[c] = vexp(xr[c] - m);
      const double s = lane_sum(0, cols, [=](int64_t c) { return double(yr[c]); });
      const T logs = static_cast<T>(std::log(s));
      for (int64_t c = 0; c < cols; ++c) yr[c] = (xr[c] - m) - logs;
    }
  });
}

template <typename T>
void log_softmax_backward(const T* dy, const T* y, T* dx, int64_t rows, int64_t cols) {
  GC_PROFILE_SCOPE("log_softmax_backward", 4.0 * rows * cols, 3.0 * rows * cols * sizeof(T),
                   {rows, cols});
  parallel_for(rows, row_grain(cols), [=](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      const T* dyr = dy + r * cols;
      const T* yr = y + r * cols;
      T* dxr = dx + r * cols;
      const T s = static_cast<T>(lane_sum(0, cols, [=](int64_t c) { return double(dyr[c]); }));
      for (int64_t c = 0; c < cols; ++c) dxr[c] = dyr[c] - vexp(yr[c]) * s;
    }
  });
}

#define GC_INSTANTIATE(T)                                                      \
  template T row_max<T>(const T*, int64_t);                                    \
  template void softmax_forward<T>(const T*, T*, int64_t, int64_t);            \
  template void softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t); \
  template void log_softmax_forward<T>(const T*, T*, int64_t, int64_t);        \
  template void log_softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t);
GC_INSTANTIATE(float)
GC_INSTANTIATE(double)
#undef GC_INSTANTIATE

}  // namespace gradcore
