#include "cpu/elementwise.h"

#include <algorithm>
#include <vector>

#include "core/cpu_features.h"
#include "cpu/elementwise_bodies.h"
#include "profiler/profiler.h"

namespace gradcore {

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
  // The AVX2 build of the accumulation loop (elementwise_avx2_fma.cpp) when at_least(kAvx2Fma),
  // else the portable one: the same double adds in the same order, identical sums.
  [[maybe_unused]] const bool avx2 = at_least(CpuCapability::kAvx2Fma);
  parallel_for(nc, 1, [&](int64_t kb, int64_t ke) {
    for (int64_t k = kb; k < ke; ++k) {
      double* p = part.data() + k * C;
      const int64_t r0 = k * rpc, r1 = std::min(R, (k + 1) * rpc);
#if GRADCORE_ISA_AVX2_FMA
      if (avx2) {
        avx2_fma::add_rows(x, C, r0, r1, p);
        continue;
      }
#endif
      add_rows_body(x, C, r0, r1, p);
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

#define GC_INSTANTIATE(T) template void sum_rows<T>(const T*, T*, int64_t, int64_t);
GC_INSTANTIATE(float)
GC_INSTANTIATE(double)
#undef GC_INSTANTIATE

}  // namespace gradcore
