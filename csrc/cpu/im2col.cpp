// im2col / col2im: the column masks and the dispatch. The loops (im2col_body.h) are compiled
// twice, portable (SSE2) here and for AVX2 in im2col_avx2_fma.cpp, which runs when
// at_least(CpuCapability::kAvx2Fma).
#include "cpu/im2col.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/cpu_features.h"
#include "cpu/im2col_body.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

// For the contiguous case: mask[s*OWp + t] (t < OWp = (oh1-oh0)*OW) is all ones where column
// t % OW reads inside the plane for kernel column s, zero where it reads the padding. Kept
// per thread and rebuilt only when the geometry changes.
template <typename T>
const Mask<T>* column_masks(const Window2d& g, int64_t oh0, int64_t oh1) {
  struct Cache {
    std::vector<Mask<T>> m;
    int64_t key[6] = {-1, -1, -1, -1, -1, -1};
  };
  thread_local Cache cache;
  const int64_t n = (oh1 - oh0) * g.OW;
  const int64_t key[6] = {g.W, g.S, g.pw, g.dw, g.OW, n};
  if (!std::equal(key, key + 6, cache.key)) {
    cache.m.assign(static_cast<size_t>(g.S * n), Mask<T>(0));
    for (int64_t s = 0; s < g.S; ++s) {
      int64_t lo, hi;
      valid_ow(g, s, &lo, &hi);
      for (int64_t t = 0; t < n; ++t)
        if (t % g.OW >= lo && t % g.OW < hi) cache.m[static_cast<size_t>(s * n + t)] = Mask<T>(-1);
    }
    std::copy(key, key + 6, cache.key);
  }
  return cache.m.data();
}

}  // namespace

template <typename T>
void im2col(const Window2d& g, int64_t C, const T* x, int64_t oh0, int64_t oh1, T* col,
            int64_t ldcol) {
  GC_PROFILE_SCOPE("im2col", 0, sizeof(T) * C * g.R * g.S * (oh1 - oh0) * g.OW * 2, {C, g.H, g.W},
                   {g.R, g.S, oh1 - oh0, g.OW});
  const Mask<T>* mask = contiguous_rows(g) ? column_masks<T>(g, oh0, oh1) : nullptr;
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma))
    return avx2_fma::im2col(g, C, x, oh0, oh1, col, ldcol, mask);
#endif
  im2col_body(g, C, x, oh0, oh1, col, ldcol, mask);
}

template <typename T>
void col2im_add(const Window2d& g, int64_t C, T* col, int64_t ldcol, int64_t oh0, int64_t oh1,
                T* x) {
  GC_PROFILE_SCOPE("col2im", C * g.R * g.S * (oh1 - oh0) * g.OW,
                   sizeof(T) * C * g.R * g.S * (oh1 - oh0) * g.OW * 3, {C, g.H, g.W},
                   {g.R, g.S, oh1 - oh0, g.OW});
  const Mask<T>* mask = contiguous_rows(g) ? column_masks<T>(g, oh0, oh1) : nullptr;
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma))
    return avx2_fma::col2im_add(g, C, col, ldcol, oh0, oh1, x, mask);
#endif
  col2im_body(g, C, col, ldcol, oh0, oh1, x, mask);
}

template void im2col<float>(const Window2d&, int64_t, const float*, int64_t, int64_t, float*,
                            int64_t);
template void im2col<double>(const Window2d&, int64_t, const double*, int64_t, int64_t, double*,
                             int64_t);
template void im2col<uint16_t>(const Window2d&, int64_t, const uint16_t*, int64_t, int64_t,
                               uint16_t*, int64_t);
template void col2im_add<float>(const Window2d&, int64_t, float*, int64_t, int64_t, int64_t,
                                float*);
template void col2im_add<double>(const Window2d&, int64_t, double*, int64_t, int64_t, int64_t,
                                 double*);

}  // namespace gradcore
