// im2col / col2im loops. They are compiled twice, portable (SSE2) and with AVX2 enabled
// (function-level target attribute), and the AVX2 copy is used when simd_path() allows.
#include "cpu/im2col.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/cpu_features.h"
#include "core/simd_target.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

// floor(a / b) for b > 0.
inline int64_t floor_div(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Output columns ow in [lo, hi) read an input column iw = ow*sw - pw + s*dw inside [0, W).
inline void valid_ow(const ConvGeom& g, int64_t s, int64_t* lo, int64_t* hi) {
  const int64_t off = s * g.dw - g.pw;  // iw = ow*sw + off
  // ow*sw + off >= 0  <=>  ow >= ceil(-off / sw)
  int64_t l = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
  // ow*sw + off <= W - 1  <=>  ow <= floor((W - 1 - off) / sw)
  int64_t h = floor_div(g.W - 1 - off, g.sw) + 1;
  l = std::min(std::max<int64_t>(l, 0), g.OW);
  h = std::min(std::max<int64_t>(h, l), g.OW);
  *lo = l;
  *hi = h;
}

// Stride 1 with OW == W ("same" width): for a fixed (c, r, s) the valid output rows read one
// contiguous stretch of the input plane, so the copy (or the accumulation) is one long
// vectorised loop; the columns that wrap around a row edge are masked out (written as zeros by
// im2col, added as nothing by col2im) with per-column lane masks (column_masks).
inline bool contiguous_rows(const ConvGeom& g) {
  return g.sh == 1 && g.sw == 1 && g.OW == g.W;
}

// Lane masks as wide as T (so the masked loops vectorise): all ones selects.
template <typename T>
using Mask = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;

// For the contiguous case: mask[s*OWp + t] (t < OWp = (oh1-oh0)*OW) is all ones where column
// t % OW reads inside the plane for kernel column s, zero where it reads the padding. Kept
// per thread and rebuilt only when the geometry changes.
template <typename T>
const Mask<T>* column_masks(const ConvGeom& g, int64_t oh0, int64_t oh1) {
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

template <typename T>
GC_ALWAYS_INLINE void im2col_body(const ConvGeom& g, int64_t C, const T* x, int64_t oh0,
                                  int64_t oh1, T* col, int64_t ldcol) {
  const int64_t OW = g.OW, H = g.H, W = g.W, sw = g.sw;
  const bool contiguous = contiguous_rows(g);
  const int64_t OWp = (oh1 - oh0) * OW;
  const Mask<T>* mask = contiguous ? column_masks<T>(g, oh0, oh1) : nullptr;
  for (int64_t c = 0; c < C; ++c) {
    const T* xc = x + c * H * W;
    for (int64_t r = 0; r < g.R; ++r) {
      const int64_t rofs = r * g.dh - g.ph;  // ih = oh*sh + rofs
      for (int64_t s = 0; s < g.S; ++s) {
        T* dst = col + ((c * g.R + r) * g.S + s) * ldcol;
        int64_t lo, hi;
        valid_ow(g, s, &lo, &hi);
        const int64_t off = s * g.dw - g.pw;
        if (contiguous) {
          // valid output rows [a, b): 0 <= oh + rofs < H; within them one masked copy
          const int64_t a = std::clamp<int64_t>(-rofs, oh0, oh1);
          const int64_t b = std::clamp<int64_t>(H - rofs, a, oh1);
          const int64_t t0 = (a - oh0) * OW, t1 = std::max(t0, (b - oh0) * OW);
          for (int64_t t = 0; t < t0; ++t) dst[t] = T(0);
          if (b > a && hi > lo) {
            // dst[t] = src[t] for the columns lo <= ow < hi, else 0; src[t] stays in the plane
            // for t in [t0 + lo, t1 - OW + hi), the only range read.
            const int64_t u0 = t0 + lo, u1 = t1 - OW + hi;
            const T* src = xc + rofs * W + off;  // dst[t] = src[t] (t counted from row oh0)
            const Mask<T>* m = mask + s * OWp;
            for (int64_t t = t0; t < u0; ++t) dst[t] = T(0);
            for (int64_t t = u0; t < u1; ++t) dst[t] = m[t] ? src[t + oh0 * OW] : T(0);
            for (int64_t t = std::max(u0, u1); t < t1; ++t) dst[t] = T(0);
          } else {
            for (int64_t t = t0; t < t1; ++t) dst[t] = T(0);
          }
          for (int64_t t = t1; t < (oh1 - oh0) * OW; ++t) dst[t] = T(0);
          continue;
        }
        for (int64_t oh = oh0; oh < oh1; ++oh, dst += OW) {
          const int64_t ih = oh * g.sh + rofs;
          if (ih < 0 || ih >= H) {
            for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = T(0);
            continue;
          }
          const T* src = xc + ih * W;  // dst[ow] = src[ow*sw + off]
          for (int64_t ow = 0; ow < lo; ++ow) dst[ow] = T(0);
          if (sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow + off];
          } else if (sw == 2) {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[2 * ow + off];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * sw + off];
          }
          for (int64_t ow = hi; ow < OW; ++ow) dst[ow] = T(0);
        }
      }
    }
  }
}

template <typename T>
GC_ALWAYS_INLINE void col2im_body(const ConvGeom& g, int64_t C, T* col, int64_t ldcol, int64_t oh0,
                                  int64_t oh1, T* x) {
  const int64_t OW = g.OW, H = g.H, W = g.W, sw = g.sw;
  const bool contiguous = contiguous_rows(g);
  const int64_t OWp = (oh1 - oh0) * OW;
  const Mask<T>* mask = contiguous ? column_masks<T>(g, oh0, oh1) : nullptr;
  for (int64_t c = 0; c < C; ++c) {
    T* xc = x + c * H * W;
    for (int64_t r = 0; r < g.R; ++r) {
      const int64_t rofs = r * g.dh - g.ph;
      for (int64_t s = 0; s < g.S; ++s) {
        T* src = col + ((c * g.R + r) * g.S + s) * ldcol;
        int64_t lo, hi;
        valid_ow(g, s, &lo, &hi);
        const int64_t off = s * g.dw - g.pw;
        if (contiguous) {
          const int64_t a = std::clamp<int64_t>(-rofs, oh0, oh1);
          const int64_t b = std::clamp<int64_t>(H - rofs, a, oh1);
          if (b <= a || hi <= lo) continue;
          // x[t + off'] += src[t] for the columns lo <= ow < hi of rows [a, b) (masked: the
          // columns that read padding add nothing), one pass over the whole stretch.
          const int64_t u0 = (a - oh0) * OW + lo, u1 = (b - 1 - oh0) * OW + hi;
          T* dst = xc + rofs * W + off + oh0 * OW;  // dst[t] += src[t]
          const Mask<T>* m = mask + s * OWp;
          for (int64_t t = u0; t < u1; ++t) dst[t] += m[t] ? src[t] : T(0);
          continue;
        }
        for (int64_t oh = oh0; oh < oh1; ++oh, src += OW) {
          const int64_t ih = oh * g.sh + rofs;
          if (ih < 0 || ih >= H) continue;
          T* dst = xc + ih * W;  // dst[ow*sw + off] += src[ow]
          if (sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow + off] += src[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow * sw + off] += src[ow];
          }
        }
      }
    }
  }
}

template <typename T>
void im2col_generic(const ConvGeom& g, int64_t C, const T* x, int64_t oh0, int64_t oh1, T* col,
                    int64_t ldcol) {
  im2col_body(g, C, x, oh0, oh1, col, ldcol);
}
template <typename T>
void col2im_generic(const ConvGeom& g, int64_t C, T* col, int64_t ldcol, int64_t oh0, int64_t oh1,
                    T* x) {
  col2im_body(g, C, col, ldcol, oh0, oh1, x);
}
#if GC_HAVE_AVX2_TARGET
template <typename T>
__attribute__((target("avx2"))) void im2col_avx2(const ConvGeom& g, int64_t C, const T* x,
                                                 int64_t oh0, int64_t oh1, T* col, int64_t ldcol) {
  im2col_body(g, C, x, oh0, oh1, col, ldcol);
}
template <typename T>
__attribute__((target("avx2"))) void col2im_avx2(const ConvGeom& g, int64_t C, T* col,
                                                 int64_t ldcol, int64_t oh0, int64_t oh1, T* x) {
  col2im_body(g, C, col, ldcol, oh0, oh1, x);
}
#endif

}  // namespace

template <typename T>
void im2col(const ConvGeom& g, int64_t C, const T* x, int64_t oh0, int64_t oh1, T* col,
            int64_t ldcol) {
  GC_PROFILE_SCOPE("im2col", 0, sizeof(T) * C * g.R * g.S * (oh1 - oh0) * g.OW * 2, {C, g.H, g.W},
                   {g.R, g.S, oh1 - oh0, g.OW});
#if GC_HAVE_AVX2_TARGET
  if (at_least(CpuCapability::kAvx2Fma)) return im2col_avx2(g, C, x, oh0, oh1, col, ldcol);
#endif
  im2col_generic(g, C, x, oh0, oh1, col, ldcol);
}

template <typename T>
void col2im_add(const ConvGeom& g, int64_t C, T* col, int64_t ldcol, int64_t oh0, int64_t oh1,
                T* x) {
  GC_PROFILE_SCOPE("col2im", C * g.R * g.S * (oh1 - oh0) * g.OW,
                   sizeof(T) * C * g.R * g.S * (oh1 - oh0) * g.OW * 3, {C, g.H, g.W},
                   {g.R, g.S, oh1 - oh0, g.OW});
#if GC_HAVE_AVX2_TARGET
  if (at_least(CpuCapability::kAvx2Fma)) return col2im_avx2(g, C, col, ldcol, oh0, oh1, x);
#endif
  col2im_generic(g, C, col, ldcol, oh0, oh1, x);
}

template void im2col<float>(const ConvGeom&, int64_t, const float*, int64_t, int64_t, float*,
                            int64_t);
template void im2col<double>(const ConvGeom&, int64_t, const double*, int64_t, int64_t, double*,
                             int64_t);
template void col2im_add<float>(const ConvGeom&, int64_t, float*, int64_t, int64_t, int64_t,
                                float*);
template void col2im_add<double>(const ConvGeom&, int64_t, double*, int64_t, int64_t, int64_t,
                                 double*);

}  // namespace gradcore
