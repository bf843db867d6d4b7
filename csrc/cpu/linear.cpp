#include "cpu/linear.h"

#include <algorithm>

#include "core/parallel.h"
#include "cpu/elementwise.h"
#include "cpu/gemm/gemm.h"
#include "profiler/profiler.h"

namespace gradcore {

// y = x @ W^T + b: the bias is broadcast into y's rows first, then the GEMM adds onto it
// (beta = 1); without a bias the GEMM overwrites y (beta = 0).
template <typename T>
void linear_forward(const T* x, const T* weight, const T* bias, T* y, int64_t N, int64_t in,
                    int64_t out) {
  GC_PROFILE_SCOPE("linear_forward", 2.0 * N * in * out,
                   (1.0 * N * in + 1.0 * out * in + 1.0 * N * out) * sizeof(T), {N, in}, {out, in});
  if (N == 0 || out == 0) return;
  if (bias || in == 0) {
    parallel_for(N, std::max<int64_t>(1, kElementwiseGrain / out), [=](int64_t rb, int64_t re) {
      for (int64_t r = rb; r < re; ++r) {
        T* yr = y + r * out;
        if (bias)
          std::copy(bias, bias + out, yr);
        else
          std::fill(yr, yr + out, T(0));
      }
    });
  }
  if (in == 0) return;
  gemm<T>(false, true, N, out, in, T(1), x, in, weight, in, bias ? T(1) : T(0), y, out);
}

template <typename T>
void linear_backward_input(const T* dy, const T* weight, T* dx, int64_t N, int64_t in,
                           int64_t out) {
  GC_PROFILE_SCOPE("linear_backward_input", 2.0 * N * in * out,
                   (1.0 * N * out + 1.0 * out * in + 1.0 * N * in) * sizeof(T), {N, out},
                   {out, in});
  if (N == 0 || in == 0) return;
  if (out == 0) {
    std::fill(dx, dx + N * in, T(0));
    return;
  }
  gemm<T>(false, false, N, in, out, T(1), dy, out, weight, in, T(0), dx, in);
}

template <typename T>
void linear_backward_weight(const T* dy, const T* x, T* dw, int64_t N, int64_t in, int64_t out) {
  GC_PROFILE_SCOPE("linear_backward_weight", 2.0 * N * in * out,
                   (1.0 * N * out + 1.0 * N * in + 1.0 * out * in) * sizeof(T), {N, out}, {N, in});
  if (out == 0 || in == 0) return;
  if (N == 0) {
    std::fill(dw, dw + out * in, T(0));
    return;
  }
  gemm<T>(true, false, out, in, N, T(1), dy, out, x, in, T(0), dw, in);
}

#define GC_INSTANTIATE(T)                                                                       \
  template void linear_forward<T>(const T*, const T*, const T*, T*, int64_t, int64_t, int64_t); \
  template void linear_backward_input<T>(const T*, const T*, T*, int64_t, int64_t, int64_t);    \
  template void linear_backward_weight<T>(const T*, const T*, T*, int64_t, int64_t, int64_t);
GC_INSTANTIATE(float)
GC_INSTANTIATE(double)
#undef GC_INSTANTIATE

}  // namespace gradcore
