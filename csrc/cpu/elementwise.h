// The bias gradient of linear layers (sum_rows), plus the deterministic summation utilities
// the loss and norm kernels share (fixed_sum here; lane_sum, the in-chunk sum, in vmath.h).
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
#include "cpu/vmath.h"  // lane_sum

namespace gradcore {

// Elements a thread should get at least, for streaming elementwise loops.
constexpr int64_t kElementwiseGrain = int64_t{1} << 15;
// Size of the fixed chunks deterministic reductions are split into.
constexpr int64_t kReduceChunk = int64_t{1} << 15;

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
