// How the convolution kernels (conv.cpp, conv_bf16.cpp) spread independent units of work over
// the threads, and how they add up per-group partial sums in a fixed order.
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/parallel.h"

namespace gradcore {

// Least FLOPs worth giving a thread.
constexpr double kMinFlopsPerThread = 4e6;

// Runs f(begin, end) over n independent units: spread over the threads (one unit at a time
// per thread, GEMM inside serial) when there are enough units to keep them balanced,
// otherwise in order on the calling thread, where the GEMM inside uses the threads.
template <class F>
void for_units(int64_t n, double flops_per_unit, const F& f) {
  const int64_t grain = std::max<int64_t>(
      1, static_cast<int64_t>(kMinFlopsPerThread / std::max(flops_per_unit, 1.0)));
  const int use = threads_for(n, grain);
  if (use > 1 && (n % use == 0 || n >= 4 * use)) {
    parallel_for(n, grain, f);
  } else {
    f(int64_t{0}, n);
  }
}

// How many work groups a weight gradient over `units` (image chunks) is split into: at most
// 16, fewer when the partial sums (groups - 1, each `bytes`) would pass 64 MiB. Depends on the
// shapes only, never on the thread count.
inline int64_t work_groups(int64_t units, int64_t bytes) {
  constexpr int64_t kMaxWorkGroups = 16, kPartialBudget = int64_t{64} << 20;
  int64_t G = std::min(units, kMaxWorkGroups);
  while (G > 1 && (G - 1) * bytes > kPartialBudget) --G;
  return G;
}

// out[e] += partials[j][e] for j = 0 .. groups-2 in order (partials: (groups-1) x n): the
// reduction of a weight gradient computed over a fixed partition of the batch, so its result
// does not depend on the thread count.
template <typename T>
void add_partials(T* out, const T* partials, int64_t groups, int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t e0, int64_t e1) {
    for (int64_t j = 0; j + 1 < groups; ++j) {
      const T* src = partials + j * n;
      for (int64_t e = e0; e < e1; ++e) out[e] += src[e];
    }
  });
}

}  // namespace gradcore
