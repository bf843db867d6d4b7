// What the convolution kernels (conv.cpp, conv_bf16.cpp, conv_direct.cpp) share: how they cut
// their work into bands of output rows, start an output at the bias, spread independent units
// of work over the threads, and sum a weight gradient over a fixed partition of the batch.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>

#include "core/parallel.h"
#include "core/shapes.h"

namespace gradcore {

// Least FLOPs worth giving a thread.
constexpr double kMinFlopsPerThread = 4e6;
// Blocking of the columns matrix, measured on the 2-core AVX2 target with the packed GEMM.
constexpr int64_t kMinBandCols = 256;           // output columns worth one GEMM call
constexpr int64_t kBandColsBytes = 512 * 1024;  // bytes of a band's columns (L2)

// Output rows per band of geometry p whose columns matrix (crs rows, elem bytes each) stays
// within kBandColsBytes, with at least kMinBandCols output pixels.
inline int64_t band_rows(const Window2d& p, int64_t crs, int64_t elem) {
  if (p.OH <= 0 || p.OW <= 0) return 1;
  const int64_t cols = std::max(kMinBandCols, kBandColsBytes / (elem * crs));
  return std::clamp<int64_t>((cols + p.OW - 1) / p.OW, 1, p.OH);
}

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

// 1x1, stride 1, no padding: the input planes are the columns matrix itself.
inline bool input_is_columns(const Window2d& p) {
  return p.R == 1 && p.S == 1 && p.sh == 1 && p.sw == 1 && p.ph == 0 && p.pw == 0;
}

// out[k][0, cols) = bias[k] for rows k < rows of out (row stride ld): the start a GEMM adds a
// convolution's product onto (beta = 1), so the bias costs no second pass over the output.
template <typename T>
void fill_bias_rows(T* out, int64_t ld, int64_t rows, int64_t cols, const T* bias) {
  for (int64_t k = 0; k < rows; ++k) std::fill(out + k * ld, out + k * ld + cols, bias[k]);
}

// out (n values) = the sum over `units` (images or image chunks) of their contributions, taken
// over a fixed partition of the units into work_groups(units, n * sizeof(T)) groups that run
// as parallel units (total_flops: of all units): add_group(u0, u1, part) writes the sum of
// units [u0, u1) into part (overwriting it; group 0's part is out), and the partials are then
// added in group order, so the result does not depend on the thread count.
template <typename T, class F>
void sum_over_work_groups(int64_t units, int64_t n, double total_flops, T* out,
                          const F& add_group) {
  const int64_t G = work_groups(units, n * static_cast<int64_t>(sizeof(T)));
  std::unique_ptr<T[]> partials(G > 1 ? new T[static_cast<size_t>((G - 1) * n)] : nullptr);
  for_units(G, total_flops / G, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j)
      add_group(j * units / G, (j + 1) * units / G, j == 0 ? out : partials.get() + (j - 1) * n);
  });
  if (G > 1) add_partials(out, partials.get(), G, n);
}

}  // namespace gradcore
