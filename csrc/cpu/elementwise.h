// The bias gradient of linear layers (sum_rows), plus the deterministic summation utilities
// the loss and norm kernels share.
//
// Determinism: every sum here uses a partition that depends only on the sizes (fixed chunks
// of kReduceChunk elements, fixed lane order inside a chunk) and adds the partial sums in
// chunk order, so results are bitwise identical for any thread count. Accumulation is in
// double for both float and double inputs.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/parallel.h"

namespace gradcore {

// Elements a thread should get at least, for streaming elementwise loops.
constexpr int64_t kElementwiseGrain = int64_t{1} << 15;
// Size of the fixed chunks deterministic reductions are split into.
constexpr int64_t kReduceChunk = int64_t{1} << 15;

// Sum of f(i) for i in [b, e), in double, with 8 interleaved accumulators combined in a
// fixed order (vectorisable without -ffast-math, and independent of threads).
template <class F>
inline double lane_sum(int64_t b, int64_t e, const F& f) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = b;
  for (; i + 8 <= e; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += f(i + j);
  double tail = 0;
  for (; i < e; ++i) tail += f(i);
  return (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))) + tail;
}

// Deterministic sum of f(i) over [0, n): fixed chunks of kReduceChunk, summed in chunk order.
template <class F>
double fixed_sum(int64_t n, const F& f) {
  const int64_t nc = fixed_chunks(n, kReduceChunk);
  if (nc <= 1) return lane_sum(0, n, f);
  std::vector<double> part(static_cast<size_t>(nc));
  parallel_for(nc, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c)
      part[c] = lane_sum(c * kReduceChunk, std::min(n, (c + 1) * kReduceChunk), f);
  });
  double s = 0;
  for (double p : part) s += p;
  return s;
}

// out (C) = column sums of x (R, C): out[c] = sum_r x[r, c] (double accumulation,
// deterministic). Bias gradients of linear layers. Overwrites out.
template <typename T>
void sum_rows(const T* x, T* out, int64_t R, int64_t C);

}  // namespace gradcore
