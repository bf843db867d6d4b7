#include "cpu/elementwise.h"

#include <algorithm>
#include <vector>

#include "cpu/vmath.h"
#include "profiler/profiler.h"

namespace gradcore {

// a += b, elementwise.
template <typename T>
void add_inplace(T* a, const T* b, int64_t n) {
  GC_PROFILE_SCOPE("add_", n, 3.0 * n * sizeof(T), {n});
  parallel_for(n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) a[i] += b[i];
  });
}

// y += alpha * x, elementwise.
template <typename T>
void axpy_inplace(T* y, T alpha, const T* x, int64_t n) {
  GC_PROFILE_SCOPE("axpy_", 2.0 * n, 3.0 * n * sizeof(T), {n});
  parallel_for(n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) y[i] += alpha * x[i];
  });
}

// out[c] = sum_r x[r, c]. Rows are split into fixed chunks of about kReduceChunk elements;
// each chunk accumulates its rows in order into a double partial row; partial rows are
// then added in chunk order.
template <typename T>
void sum_rows(const T* x, T* out, int64_t R, int64_t C) {
  GC_PROFILE_SCOPE("sum_rows", 1.0 * R * C, (1.0 * R * C + C) * sizeof(T), {R, C});
  if (C <= 0) return;
  const int64_t rpc = std::max<int64_t>(1, kReduceChunk / C);
  const int64_t nc = fixed_chunks(R, rpc);
  if (nc == 0) {
    std::fill(out, out + C, T(0));
    return;
  }
  std::vector<double> part(static_cast<size_t>(nc * C), 0.0);
  const bool avx2 = use_avx2();  // double adds: both builds give identical sums
  parallel_for(nc, 1, [&](int64_t kb, int64_t ke) {
    for (int64_t k = kb; k < ke; ++k) {
      double* p = part.data() + k * C;
      const int64_t r1 = std::min(R, (k + 1) * rpc);
      for (int64_t r = k * rpc; r < r1; ++r) {
        const T* xr = x + r * C;
        simd_loop(avx2, 0, C, [=](int64_t c) { p[c] += static_cast<double>(xr[c]); });
      }
    }
  });
  parallel_for(C, std::max<int64_t>(1, kElementwiseGrain / nc), [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      double s = 0;
      for (int64_t k = 0; k < nc; ++k) s += part[k * C + c];
      out[c] = static_cast<T>(s);
    }
  });
}

// out[c] = sum_{n,s} x[n, c, s]. Each (n, c) plane is split into fixed chunks of
// kReduceChunk; chunk partials are added in (n, chunk) order.
template <typename T>
void sum_channels(const T* x, T* out, int64_t N, int64_t C, int64_t S) {
  GC_PROFILE_SCOPE("sum_channels", 1.0 * N * C * S, (1.0 * N * C * S + C) * sizeof(T), {N, C, S});
  if (S == 1) {  // (N, C): column sums
    sum_rows(x, out, N, C);
    return;
  }
  if (N * C * S == 0) {
    std::fill(out, out + C, T(0));
    return;
  }
  const int64_t kc = fixed_chunks(S, kReduceChunk);
  const int64_t tasks = N * C * kc;
  std::vector<double> part(static_cast<size_t>(tasks));
  const int64_t grain = std::max<int64_t>(1, kReduceChunk / std::min(S, kReduceChunk));
  parallel_for(tasks, grain, [&](int64_t tb, int64_t te) {
    for (int64_t t = tb; t < te; ++t) {
      const int64_t plane = t / kc, k = t % kc;
      const T* p = x + plane * S;
      part[t] = lane_sum(k * kReduceChunk, std::min(S, (k + 1) * kReduceChunk),
                         [p](int64_t i) { return static_cast<double>(p[i]); });
    }
  });
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n) {
      const double* p = part.data() + (n * C + c) * kc;
      for (int64_t k = 0; k < kc; ++k) s += p[k];
    }
    out[c] = static_cast<T>(s);
  }
}

#define GC_INSTANTIATE(T)                                    \
  template void add_inplace<T>(T*, const T*, int64_t);       \
  template void axpy_inplace<T>(T*, T, const T*, int64_t);   \
  template void sum_rows<T>(const T*, T*, int64_t, int64_t); \
  template void sum_channels<T>(const T*, T*, int64_t, int64_t, int64_t);
GC_INSTANTIATE(float)
GC_INSTANTIATE(double)
#undef GC_INSTANTIATE

}  // namespace gradcore
