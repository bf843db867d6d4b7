// long-file: ISA code being moved out into *_<isa>.cpp files (issue 15)
// Pooling kernels, forward and backward side by side. Parallel over N*C planes.
#include "cpu/pool.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "core/simd_target.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

inline int64_t floor_div(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Planes per thread worth a thread: about 64K elements of work.
inline int64_t plane_grain(int64_t per_plane) {
  return std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(per_plane, 1));
}

inline int64_t adaptive_start(int64_t i, int64_t in, int64_t out) {
  return (i * in) / out;
}
inline int64_t adaptive_end(int64_t i, int64_t in, int64_t out) {
  return ((i + 1) * in + out - 1) / out;
}

// NaN-propagating "better than the current max" (PyTorch: val > max || isnan(val)).
template <typename T>
inline bool takes_max(T v, T m) {
  return v > m || v != v;
}

// 2x2 windows, stride 2, no padding or dilation, every window inside the plane. Branch-free
// (random data would mispredict every comparison): the selects compile to blends and the
// loop vectorises in the AVX2 copy.
template <typename T>
GC_ALWAYS_INLINE void max_pool_2x2_body(const T* x, int64_t W, int64_t OH, int64_t OW, T* y,
                                        int64_t* ind) {
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* r0 = x + 2 * oh * W;
    const T* r1 = r0 + W;
    T* yo = y + oh * OW;
    int64_t* io = ind + oh * OW;
    const int64_t row = 2 * oh * W;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
      T m = a;
      int64_t k = 0;
      bool t = (b > m) | (b != b);
      m = t ? b : m;
      k = t ? 1 : k;
      t = (c > m) | (c != c);
      m = t ? c : m;
      k = t ? W : k;
      t = (d > m) | (d != d);
      m = t ? d : m;
      k = t ? W + 1 : k;
      yo[ow] = m;
      io[ow] = row + 2 * ow + k;
    }
  }
}

// dx of one plane when every index lies in its own 2x2 cell: each element written once.
// Returns false (having written part of the plane) if some index lies elsewhere.
template <typename T>
GC_ALWAYS_INLINE bool max_unpool_2x2_body(const T* g, const int64_t* ind, int64_t H, int64_t W,
                                          int64_t OH, int64_t OW, T* d) {
  for (int64_t oh = 0; oh < OH; ++oh) {
    T* r0 = d + 2 * oh * W;
    T* r1 = r0 + W;
    const T* go = g + oh * OW;
    const int64_t* io = ind + oh * OW;
    const int64_t row = 2 * oh * W;
    bool ok = true;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t off = io[ow] - (row + 2 * ow);
      ok &= (off == 0) | (off == 1) | (off == W) | (off == W + 1);
      const T v = go[ow];
      r0[2 * ow] = off == 0 ? v : T(0);
      r0[2 * ow + 1] = off == 1 ? v : T(0);
      r1[2 * ow] = off == W ? v : T(0);
      r1[2 * ow + 1] = off == W + 1 ? v : T(0);
    }
    if (!ok) return false;
    if (W > 2 * OW) r0[W - 1] = r1[W - 1] = T(0);
  }
  if (H > 2 * OH) std::fill(d + (H - 1) * W, d + H * W, T(0));
  return true;
}

template <typename T>
void max_pool_2x2_generic(const T* x, int64_t W, int64_t OH, int64_t OW, T* y, int64_t* ind) {
  max_pool_2x2_body(x, W, OH, OW, y, ind);
}
template <typename T>
bool max_unpool_2x2_generic(const T* g, const int64_t* ind, int64_t H, int64_t W, int64_t OH,
                            int64_t OW, T* d) {
  return max_unpool_2x2_body(g, ind, H, W, OH, OW, d);
}
#if GC_HAVE_AVX2_TARGET
template <typename T>
__attribute__((target("avx2"))) void max_pool_2x2_avx2(const T* x, int64_t W, int64_t OH,
                                                       int64_t OW, T* y, int64_t* ind) {
  max_pool_2x2_body(x, W, OH, OW, y, ind);
}
template <typename T>
__attribute__((target("avx2"))) bool max_unpool_2x2_avx2(const T* g, const int64_t* ind, int64_t H,
                                                         int64_t W, int64_t OH, int64_t OW, T* d) {
  return max_unpool_2x2_body(g, ind, H, W, OH, OW, d);
}
#endif

#if GC_HAVE_AVX2_TARGET
// float 2x2/2 max pooling, explicit AVX2. A row pair (r0, r1) of the input gives one output
// row; outputs go 8 (or 4) at a time, and a row whose width is not a multiple of the step
// ends with a step that overlaps the previous one (it rewrites the same values), so every
// load and store is a full, unmasked vector inside the row. Rows narrower than 4 outputs
// use the scalar body. Indices are formed in 32-bit lanes: the caller checks H*W < 2^31.
// NaN wins and the first maximum wins ties, as in max_pool_2x2_body.

// y[j] = max of r0[2j], r0[2j+1], r1[2j], r1[2j+1], ind[j] = base + 2j + {0, 1, W, W+1},
// j < 8.
__attribute__((target("avx2"))) GC_ALWAYS_INLINE void max_pool_2x2_step8(const float* r0,
                                                                         const float* r1,
                                                                         int64_t base, __m256i kW,
                                                                         __m256i kW1, float* yo,
                                                                         int64_t* io) {
  const __m256 a0 = _mm256_loadu_ps(r0), a1 = _mm256_loadu_ps(r0 + 8);
  const __m256 b0 = _mm256_loadu_ps(r1), b1 = _mm256_loadu_ps(r1 + 8);
  // Even/odd columns; lanes come out in output order 0 1 4 5 2 3 6 7 (fixed at the end).
  const __m256 a = _mm256_shuffle_ps(a0, a1, 0x88), b = _mm256_shuffle_ps(a0, a1, 0xDD);
  const __m256 c = _mm256_shuffle_ps(b0, b1, 0x88), d = _mm256_shuffle_ps(b0, b1, 0xDD);
  __m256 m = a, k = _mm256_setzero_ps();
  __m256 t = _mm256_or_ps(_mm256_cmp_ps(b, m, _CMP_GT_OQ), _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
  m = _mm256_blendv_ps(m, b, t);
  k = _mm256_blendv_ps(k, _mm256_castsi256_ps(_mm256_set1_epi32(1)), t);
  t = _mm256_or_ps(_mm256_cmp_ps(c, m, _CMP_GT_OQ), _mm256_cmp_ps(c, c, _CMP_UNORD_Q));
  m = _mm256_blendv_ps(m, c, t);
  k = _mm256_blendv_ps(k, _mm256_castsi256_ps(kW), t);
  t = _mm256_or_ps(_mm256_cmp_ps(d, m, _CMP_GT_OQ), _mm256_cmp_ps(d, d, _CMP_UNORD_Q));
  m = _mm256_blendv_ps(m, d, t);
  k = _mm256_blendv_ps(k, _mm256_castsi256_ps(kW1), t);
  const __m256 yv = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), 0xD8));
  const __m256i kv = _mm256_permute4x64_epi64(_mm256_castps_si256(k), 0xD8);
  const __m256i iv =
      _mm256_add_epi32(kv, _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(base)),
                                            _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)));
  _mm256_storeu_ps(yo, yv);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(io),
                      _mm256_cvtepi32_epi64(_mm256_castsi256_si128(iv)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(io + 4),
                      _mm256_cvtepi32_epi64(_mm256_extracti128_si256(iv, 1)));
}

// The same for 4 outputs (128-bit vectors; lanes stay in order).
__attribute__((target("avx2"))) GC_ALWAYS_INLINE void max_pool_2x2_step4(const float* r0,
                                                                         const float* r1,
                                                                         int64_t base, __m128i kW,
                                                                         __m128i kW1, float* yo,
                                                                         int64_t* io) {
  const __m128 a0 = _mm_loadu_ps(r0), a1 = _mm_loadu_ps(r0 + 4);
  const __m128 b0 = _mm_loadu_ps(r1), b1 = _mm_loadu_ps(r1 + 4);
  const __m128 a = _mm_shuffle_ps(a0, a1, 0x88), b = _mm_shuffle_ps(a0, a1, 0xDD);
  const __m128 c = _mm_shuffle_ps(b0, b1, 0x88), d = _mm_shuffle_ps(b0, b1, 0xDD);
  __m128 m = a, k = _mm_setzero_ps();
  __m128 t = _mm_or_ps(_mm_cmp_ps(b, m, _CMP_GT_OQ), _mm_cmp_ps(b, b, _CMP_UNORD_Q));
  m = _mm_blendv_ps(m, b, t);
  k = _mm_blendv_ps(k, _mm_castsi128_ps(_mm_set1_epi32(1)), t);
  t = _mm_or_ps(_mm_cmp_ps(c, m, _CMP_GT_OQ), _mm_cmp_ps(c, c, _CMP_UNORD_Q));
  m = _mm_blendv_ps(m, c, t);
  k = _mm_blendv_ps(k, _mm_castsi128_ps(kW), t);
  t = _mm_or_ps(_mm_cmp_ps(d, m, _CMP_GT_OQ), _mm_cmp_ps(d, d, _CMP_UNORD_Q));
  m = _mm_blendv_ps(m, d, t);
  k = _mm_blendv_ps(k, _mm_castsi128_ps(kW1), t);
  const __m128i iv = _mm_add_epi32(
      _mm_castps_si128(k),
      _mm_add_epi32(_mm_set1_epi32(static_cast<int>(base)), _mm_setr_epi32(0, 2, 4, 6)));
  _mm_storeu_ps(yo, m);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(io), _mm256_cvtepi32_epi64(iv));
}

__attribute__((target("avx2"))) void max_pool_2x2_avx2_f32(const float* x, int64_t W, int64_t OH,
                                                           int64_t OW, float* y, int64_t* ind) {
  if (OW < 4) return max_pool_2x2_body(x, W, OH, OW, y, ind);
  const __m256i kW = _mm256_set1_epi32(static_cast<int>(W));
  const __m256i kW1 = _mm256_set1_epi32(static_cast<int>(W + 1));
  for (int64_t oh = 0; oh < OH; ++oh) {
    const float* r0 = x + 2 * oh * W;
    const float* r1 = r0 + W;
    float* yo = y + oh * OW;
    int64_t* io = ind + oh * OW;
    const int64_t row = 2 * oh * W;
    if (OW >= 8) {
      int64_t ow = 0;
      for (; ow + 8 <= OW; ow += 8)
        max_pool_2x2_step8(r0 + 2 * ow, r1 + 2 * ow, row + 2 * ow, kW, kW1, yo + ow, io + ow);
      if (ow < OW) {
        ow = OW - 8;
        max_pool_2x2_step8(r0 + 2 * ow, r1 + 2 * ow, row + 2 * ow, kW, kW1, yo + ow, io + ow);
      }
    } else {
      const __m128i kw = _mm256_castsi256_si128(kW), kw1 = _mm256_castsi256_si128(kW1);
      max_pool_2x2_step4(r0, r1, row, kw, kw1, yo, io);
      const int64_t ow = OW - 4;
      if (ow > 0)
        max_pool_2x2_step4(r0 + 2 * ow, r1 + 2 * ow, row + 2 * ow, kw, kw1, yo + ow, io + ow);
    }
  }
}
#endif

template <typename T>
void max_pool_2x2_plane(const T* x, int64_t H, int64_t W, int64_t OH, int64_t OW, T* y,
                        int64_t* ind) {
#if GC_HAVE_AVX2_TARGET
  if (simd_path() == SimdPath::kAvx2Fma) {
    if constexpr (std::is_same_v<T, float>)
      if (H * W < (int64_t{1} << 31)) return max_pool_2x2_avx2_f32(x, W, OH, OW, y, ind);
    return max_pool_2x2_avx2(x, W, OH, OW, y, ind);
  }
#endif
  max_pool_2x2_generic(x, W, OH, OW, y, ind);
}

#if GC_HAVE_AVX2_TARGET
// dx of 8 outputs of one row pair (float): the offsets of the indices from their cells'
// corners (checked to fit 32 bits) are compared with 0, 1, W, W+1, the masks select dy into
// the four cell positions, and unpacks interleave them into the two rows. Returns false,
// having written nothing, if some index lies outside its cell.
__attribute__((target("avx2"))) GC_ALWAYS_INLINE bool max_unpool_2x2_step8(const float* go,
                                                                           const int64_t* io,
                                                                           int64_t base, __m256i kW,
                                                                           __m256i kW1, float* r0,
                                                                           float* r1) {
  const __m256i b0 = _mm256_add_epi64(_mm256_set1_epi64x(base), _mm256_setr_epi64x(0, 2, 4, 6));
  const __m256i b1 = _mm256_add_epi64(b0, _mm256_set1_epi64x(8));
  const __m256i i0 = _mm256_sub_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(io)), b0);
  const __m256i i1 =
      _mm256_sub_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(io + 4)), b1);
  // every offset in [0, 2^32): then its low 32 bits are the offset
  const __m256i high = _mm256_set1_epi64x(static_cast<long long>(0xFFFFFFFF00000000ull));
  if (!_mm256_testz_si256(_mm256_or_si256(i0, i1), high)) return false;
  const __m256i off = _mm256_permutevar8x32_epi32(_mm256_or_si256(i0, _mm256_slli_epi64(i1, 32)),
                                                  _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
  const __m256i m0 = _mm256_cmpeq_epi32(off, _mm256_setzero_si256());
  const __m256i m1 = _mm256_cmpeq_epi32(off, _mm256_set1_epi32(1));
  const __m256i m2 = _mm256_cmpeq_epi32(off, kW), m3 = _mm256_cmpeq_epi32(off, kW1);
  const __m256i any = _mm256_or_si256(_mm256_or_si256(m0, m1), _mm256_or_si256(m2, m3));
  if (_mm256_movemask_ps(_mm256_castsi256_ps(any)) != 0xFF) return false;
  const __m256 v = _mm256_loadu_ps(go);
  const __m256 a = _mm256_and_ps(v, _mm256_castsi256_ps(m0));
  const __m256 b = _mm256_and_ps(v, _mm256_castsi256_ps(m1));
  const __m256 c = _mm256_and_ps(v, _mm256_castsi256_ps(m2));
  const __m256 e = _mm256_and_ps(v, _mm256_castsi256_ps(m3));
  const __m256 ablo = _mm256_unpacklo_ps(a, b), abhi = _mm256_unpackhi_ps(a, b);
  const __m256 celo = _mm256_unpacklo_ps(c, e), cehi = _mm256_unpackhi_ps(c, e);
  _mm256_storeu_ps(r0, _mm256_permute2f128_ps(ablo, abhi, 0x20));
  _mm256_storeu_ps(r0 + 8, _mm256_permute2f128_ps(ablo, abhi, 0x31));
  _mm256_storeu_ps(r1, _mm256_permute2f128_ps(celo, cehi, 0x20));
  _mm256_storeu_ps(r1 + 8, _mm256_permute2f128_ps(celo, cehi, 0x31));
  return true;
}

// 4 x 64-bit all-ones/zero masks -> 4 x 32-bit masks.
__attribute__((target("avx2"))) GC_ALWAYS_INLINE __m128 low32_mask(__m256i mk) {
  const __m256i low = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  return _mm_castsi128_ps(_mm256_castsi256_si128(_mm256_permutevar8x32_epi32(mk, low)));
}

// The same for 4 outputs (64-bit compares, 128-bit stores).
__attribute__((target("avx2"))) GC_ALWAYS_INLINE bool max_unpool_2x2_step4(const float* go,
                                                                           const int64_t* io,
                                                                           int64_t base, __m256i kW,
                                                                           __m256i kW1, float* r0,
                                                                           float* r1) {
  const __m256i off =
      _mm256_sub_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(io)),
                       _mm256_add_epi64(_mm256_set1_epi64x(base), _mm256_setr_epi64x(0, 2, 4, 6)));
  const __m256i m0 = _mm256_cmpeq_epi64(off, _mm256_setzero_si256());
  const __m256i m1 = _mm256_cmpeq_epi64(off, _mm256_set1_epi64x(1));
  const __m256i m2 = _mm256_cmpeq_epi64(off, kW), m3 = _mm256_cmpeq_epi64(off, kW1);
  const __m256i any = _mm256_or_si256(_mm256_or_si256(m0, m1), _mm256_or_si256(m2, m3));
  if (_mm256_movemask_pd(_mm256_castsi256_pd(any)) != 0xF) return false;
  const __m128 v = _mm_loadu_ps(go);
  const __m128 a = _mm_and_ps(v, low32_mask(m0)), b = _mm_and_ps(v, low32_mask(m1));
  const __m128 c = _mm_and_ps(v, low32_mask(m2)), e = _mm_and_ps(v, low32_mask(m3));
  _mm_storeu_ps(r0, _mm_unpacklo_ps(a, b));
  _mm_storeu_ps(r0 + 4, _mm_unpackhi_ps(a, b));
  _mm_storeu_ps(r1, _mm_unpacklo_ps(c, e));
  _mm_storeu_ps(r1 + 4, _mm_unpackhi_ps(c, e));
  return true;
}

// dx of one float plane when every index lies in its own 2x2 cell (each element written
// once; a row's last step may overlap the previous one and rewrite the same values).
// Returns false (having written part of the plane) otherwise.
__attribute__((target("avx2"))) bool max_unpool_2x2_avx2_f32(const float* g, const int64_t* ind,
                                                             int64_t H, int64_t W, int64_t OH,
                                                             int64_t OW, float* d) {
  if (OW < 4 || W + 1 >= (int64_t{1} << 31)) return max_unpool_2x2_body(g, ind, H, W, OH, OW, d);
  const __m256i kW32 = _mm256_set1_epi32(static_cast<int>(W));
  const __m256i kW132 = _mm256_set1_epi32(static_cast<int>(W + 1));
  const __m256i kW64 = _mm256_set1_epi64x(W), kW164 = _mm256_set1_epi64x(W + 1);
  for (int64_t oh = 0; oh < OH; ++oh) {
    float* r0 = d + 2 * oh * W;
    float* r1 = r0 + W;
    const float* go = g + oh * OW;
    const int64_t* io = ind + oh * OW;
    const int64_t row = 2 * oh * W;
    if (OW >= 8) {
      int64_t ow = 0;
      for (; ow + 8 <= OW; ow += 8)
        if (!max_unpool_2x2_step8(go + ow, io + ow, row + 2 * ow, kW32, kW132, r0 + 2 * ow,
                                  r1 + 2 * ow))
          return false;
      if (ow < OW) {
        ow = OW - 8;
        if (!max_unpool_2x2_step8(go + ow, io + ow, row + 2 * ow, kW32, kW132, r0 + 2 * ow,
                                  r1 + 2 * ow))
          return false;
      }
    } else {
      if (!max_unpool_2x2_step4(go, io, row, kW64, kW164, r0, r1)) return false;
      const int64_t ow = OW - 4;
      if (ow > 0 && !max_unpool_2x2_step4(go + ow, io + ow, row + 2 * ow, kW64, kW164, r0 + 2 * ow,
                                          r1 + 2 * ow))
        return false;
    }
    if (W > 2 * OW) r0[W - 1] = r1[W - 1] = 0.0f;
  }
  if (H > 2 * OH) std::fill(d + (H - 1) * W, d + H * W, 0.0f);
  return true;
}
#endif

template <typename T>
bool max_unpool_2x2_plane(const T* g, const int64_t* ind, int64_t H, int64_t W, int64_t OH,
                          int64_t OW, T* d) {
#if GC_HAVE_AVX2_TARGET
  if (simd_path() == SimdPath::kAvx2Fma) {
    if constexpr (std::is_same_v<T, float>)
      return max_unpool_2x2_avx2_f32(g, ind, H, W, OH, OW, d);
    else
      return max_unpool_2x2_avx2(g, ind, H, W, OH, OW, d);
  }
#endif
  return max_unpool_2x2_generic(g, ind, H, W, OH, OW, d);
}

template <typename T>
void max_pool_plane(const Pool2dParams& p, const T* x, T* y, int64_t* ind) {
  const int64_t H = p.H, W = p.W;
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    int64_t ih0 = oh * p.sh - p.ph;
    const int64_t ih1 = std::min(ih0 + (p.kh - 1) * p.dh + 1, H);
    while (ih0 < 0) ih0 += p.dh;
    for (int64_t ow = 0; ow < p.OW; ++ow) {
      int64_t iw0 = ow * p.sw - p.pw;
      const int64_t iw1 = std::min(iw0 + (p.kw - 1) * p.dw + 1, W);
      while (iw0 < 0) iw0 += p.dw;
      int64_t k = ih0 * W + iw0;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t ih = ih0; ih < ih1; ih += p.dh) {
        for (int64_t iw = iw0; iw < iw1; iw += p.dw) {
          const T v = x[ih * W + iw];
          if (takes_max(v, m)) m = v, k = ih * W + iw;
        }
      }
      y[oh * p.OW + ow] = m;
      ind[oh * p.OW + ow] = k;
    }
  }
}

// 2x2/2 average pooling with every window inside the plane: y = (0 + a + b + c + d) / div,
// the generic kernel's additions in its order (the leading 0 turns -0 sums into +0 as there),
// so both give identical bits; the AVX2 copy vectorises the loop.
template <typename T>
GC_ALWAYS_INLINE void avg_pool_2x2_body(const T* x, int64_t W, int64_t OH, int64_t OW, T div,
                                        T* y) {
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* r0 = x + 2 * oh * W;
    const T* r1 = r0 + W;
    T* yo = y + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow)
      yo[ow] = (T(0) + r0[2 * ow] + r0[2 * ow + 1] + r1[2 * ow] + r1[2 * ow + 1]) / div;
  }
}
// dx of one plane: each element of a 2x2 cell gets 0 + dy / div (the generic kernel's zero
// fill plus one addition), the rows and columns outside the cells 0: every element written once.
template <typename T>
GC_ALWAYS_INLINE void avg_unpool_2x2_body(const T* g, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                          T div, T* d) {
  for (int64_t oh = 0; oh < OH; ++oh) {
    T* r0 = d + 2 * oh * W;
    T* r1 = r0 + W;
    const T* go = g + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T v = T(0) + go[ow] / div;
      r0[2 * ow] = v;
      r0[2 * ow + 1] = v;
      r1[2 * ow] = v;
      r1[2 * ow + 1] = v;
    }
    if (W > 2 * OW) r0[W - 1] = r1[W - 1] = T(0);
  }
  if (H > 2 * OH) std::fill(d + (H - 1) * W, d + H * W, T(0));
}
template <typename T>
void avg_pool_2x2_generic(const T* x, int64_t W, int64_t OH, int64_t OW, T div, T* y) {
  avg_pool_2x2_body(x, W, OH, OW, div, y);
}
template <typename T>
void avg_unpool_2x2_generic(const T* g, int64_t H, int64_t W, int64_t OH, int64_t OW, T div, T* d) {
  avg_unpool_2x2_body(g, H, W, OH, OW, div, d);
}
#if GC_HAVE_AVX2_TARGET
template <typename T>
__attribute__((target("avx2"))) void avg_pool_2x2_avx2(const T* x, int64_t W, int64_t OH,
                                                       int64_t OW, T div, T* y) {
  avg_pool_2x2_body(x, W, OH, OW, div, y);
}
template <typename T>
__attribute__((target("avx2"))) void avg_unpool_2x2_avx2(const T* g, int64_t H, int64_t W,
                                                         int64_t OH, int64_t OW, T div, T* d) {
  avg_unpool_2x2_body(g, H, W, OH, OW, div, d);
}
#endif
template <typename T>
void avg_pool_2x2_plane(const T* x, int64_t W, int64_t OH, int64_t OW, T div, T* y) {
#if GC_HAVE_AVX2_TARGET
  if (simd_path() == SimdPath::kAvx2Fma) return avg_pool_2x2_avx2(x, W, OH, OW, div, y);
#endif
  avg_pool_2x2_generic(x, W, OH, OW, div, y);
}
template <typename T>
void avg_unpool_2x2_plane(const T* g, int64_t H, int64_t W, int64_t OH, int64_t OW, T div, T* d) {
#if GC_HAVE_AVX2_TARGET
  if (simd_path() == SimdPath::kAvx2Fma) return avg_unpool_2x2_avx2(g, H, W, OH, OW, div, d);
#endif
  avg_unpool_2x2_generic(g, H, W, OH, OW, div, d);
}

// 2x2 windows, stride 2, no padding or dilation, every window inside the plane.
inline bool is_2x2_cells(const Pool2dParams& p) {
  return p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2 && p.ph == 0 && p.pw == 0 && p.dh == 1 &&
         p.dw == 1 && p.OH == p.H / 2 && p.OW == p.W / 2;
}

// PyTorch's average-pool window: [h0, h1) x [w0, w1) clipped to the input, and its divisor.
struct AvgWindow {
  int64_t h0, h1, w0, w1, divisor;
};

inline AvgWindow avg_window(const Pool2dParams& p, bool count_include_pad, int64_t divisor_override,
                            int64_t oh, int64_t ow) {
  int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
  int64_t h1 = std::min(h0 + p.kh, p.H + p.ph), w1 = std::min(w0 + p.kw, p.W + p.pw);
  const int64_t pool_size = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, p.H);
  w1 = std::min(w1, p.W);
  int64_t div = divisor_override > 0 ? divisor_override
                : count_include_pad  ? pool_size
                                     : (h1 - h0) * (w1 - w0);
  return AvgWindow{h0, h1, w0, w1, div};
}

}  // namespace

int64_t pool_out_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil,
                      bool ceil_mode) {
  if (stride <= 0) return 0;
  const int64_t num = in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  int64_t out = floor_div(num, stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

void pool2d_output_shape(Pool2dParams& p) {
  p.OH = pool_out_size(p.H, p.kh, p.ph, p.sh, p.dh, p.ceil_mode);
  p.OW = pool_out_size(p.W, p.kw, p.pw, p.sw, p.dw, p.ceil_mode);
}

template <typename T>
void max_pool2d_forward(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {
  GC_PROFILE_SCOPE("max_pool2d_forward", p.N * p.C * p.OH * p.OW * p.kh * p.kw,
                   p.N * p.C * (sizeof(T) * (p.H * p.W + p.OH * p.OW) + 8 * p.OH * p.OW),
                   {p.N, p.C, p.H, p.W}, {p.kh, p.kw}, {p.N, p.C, p.OH, p.OW});
  const int64_t HW = p.H * p.W, P = p.OH * p.OW;
  const bool fast = is_2x2_cells(p);
  parallel_for(p.N * p.C, plane_grain(HW + P * p.kh * p.kw), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      if (fast)
        max_pool_2x2_plane(x + c * HW, p.H, p.W, p.OH, p.OW, y + c * P, idx + c * P);
      else
        max_pool_plane(p, x + c * HW, y + c * P, idx + c * P);
    }
  });
}

template <typename T>
int64_t max_pool2d_backward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                            const T* dy, const int64_t* idx, T* dx) {
  GC_PROFILE_SCOPE("max_pool2d_backward", planes * OH * OW,
                   planes * (sizeof(T) * (H * W + OH * OW) + 8 * OH * OW), {planes, H, W},
                   {planes, OH, OW});
  const int64_t HW = H * W, P = OH * OW;
  // When the outputs tile the plane in 2x2 cells, each index usually lies in its own cell:
  // then every dx element is written exactly once, with no zeroing pass.
  const bool cells = OH == H / 2 && OW == W / 2 && OH > 0 && OW > 0;
  std::atomic<int64_t> bad{0};
  parallel_for(planes, plane_grain(HW + P), [&](int64_t c0, int64_t c1) {
    int64_t nbad = 0;
    for (int64_t c = c0; c < c1; ++c) {
      const T* g = dy + c * P;
      const int64_t* ind = idx + c * P;
      T* d = dx + c * HW;
      const bool done = cells && max_unpool_2x2_plane(g, ind, H, W, OH, OW, d);
      if (!done) {
        std::fill(d, d + HW, T(0));
        for (int64_t o = 0; o < P; ++o) {
          const int64_t k = ind[o];
          if (k >= 0 && k < HW)
            d[k] += g[o];
          else
            ++nbad;
        }
      }
    }
    if (nbad) bad.fetch_add(nbad, std::memory_order_relaxed);
  });
  return bad.load();
}

template <typename T>
void avg_pool2d_forward(const Pool2dParams& p, bool count_include_pad, int64_t divisor_override,
                        const T* x, T* y) {
  GC_PROFILE_SCOPE("avg_pool2d_forward", p.N * p.C * p.OH * p.OW * p.kh * p.kw,
                   sizeof(T) * p.N * p.C * (p.H * p.W + p.OH * p.OW), {p.N, p.C, p.H, p.W},
                   {p.kh, p.kw}, {p.N, p.C, p.OH, p.OW});
  const int64_t HW = p.H * p.W, P = p.OH * p.OW;
  if (is_2x2_cells(p)) {
    const T div = static_cast<T>(divisor_override > 0 ? divisor_override : 4);
    parallel_for(p.N * p.C, plane_grain(HW + P), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        avg_pool_2x2_plane(x + c * HW, p.W, p.OH, p.OW, div, y + c * P);
    });
    return;
  }
  parallel_for(p.N * p.C, plane_grain(HW + P * p.kh * p.kw), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* xp = x + c * HW;
      T* yp = y + c * P;
      for (int64_t oh = 0; oh < p.OH; ++oh) {
        for (int64_t ow = 0; ow < p.OW; ++ow) {
          const AvgWindow w = avg_window(p, count_include_pad, divisor_override, oh, ow);
          if (w.h0 >= w.h1 || w.w0 >= w.w1) {
            yp[oh * p.OW + ow] = T(0);
            continue;
          }
          T sum = T(0);
          for (int64_t ih = w.h0; ih < w.h1; ++ih)
            for (int64_t iw = w.w0; iw < w.w1; ++iw) sum += xp[ih * p.W + iw];
          yp[oh * p.OW + ow] = sum / static_cast<T>(w.divisor);
        }
      }
    }
  });
}

template <typename T>
void avg_pool2d_backward(const Pool2dParams& p, bool count_include_pad, int64_t divisor_override,
                         const T* dy, T* dx) {
  GC_PROFILE_SCOPE("avg_pool2d_backward", p.N * p.C * p.OH * p.OW * p.kh * p.kw,
                   sizeof(T) * p.N * p.C * (p.H * p.W + p.OH * p.OW), {p.N, p.C, p.OH, p.OW},
                   {p.kh, p.kw}, {p.N, p.C, p.H, p.W});
  const int64_t HW = p.H * p.W, P = p.OH * p.OW;
  if (is_2x2_cells(p)) {
    const T div = static_cast<T>(divisor_override > 0 ? divisor_override : 4);
    parallel_for(p.N * p.C, plane_grain(HW + P), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        avg_unpool_2x2_plane(dy + c * P, p.H, p.W, p.OH, p.OW, div, dx + c * HW);
    });
    return;
  }
  parallel_for(p.N * p.C, plane_grain(HW + P * p.kh * p.kw), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* gp = dy + c * P;
      T* d = dx + c * HW;
      std::fill(d, d + HW, T(0));
      for (int64_t oh = 0; oh < p.OH; ++oh) {
        for (int64_t ow = 0; ow < p.OW; ++ow) {
          const AvgWindow w = avg_window(p, count_include_pad, divisor_override, oh, ow);
          if (w.h0 >= w.h1 || w.w0 >= w.w1) continue;
          const T v = gp[oh * p.OW + ow] / static_cast<T>(w.divisor);
          for (int64_t ih = w.h0; ih < w.h1; ++ih)
            for (int64_t iw = w.w0; iw < w.w1; ++iw) d[ih * p.W + iw] += v;
        }
      }
    }
  });
}

template <typename T>
void adaptive_avg_pool2d_forward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                 const T* x, T* y) {
  GC_PROFILE_SCOPE("adaptive_avg_pool2d_forward", planes * H * W,
                   sizeof(T) * planes * (H * W + OH * OW), {planes, H, W}, {planes, OH, OW});
  const int64_t HW = H * W, P = OH * OW;
  parallel_for(planes, plane_grain(HW + P), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* xp = x + c * HW;
      T* yp = y + c * P;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
          T sum = T(0);
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) sum += xp[ih * W + iw];
          yp[oh * OW + ow] = sum / static_cast<T>((h1 - h0) * (w1 - w0));
        }
      }
    }
  });
}

template <typename T>
void adaptive_avg_pool2d_backward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                  const T* dy, T* dx) {
  GC_PROFILE_SCOPE("adaptive_avg_pool2d_backward", planes * H * W,
                   sizeof(T) * planes * (H * W + OH * OW), {planes, OH, OW}, {planes, H, W});
  const int64_t HW = H * W, P = OH * OW;
  parallel_for(planes, plane_grain(HW + P), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* gp = dy + c * P;
      T* d = dx + c * HW;
      std::fill(d, d + HW, T(0));
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
          const T v = gp[oh * OW + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) d[ih * W + iw] += v;
        }
      }
    }
  });
}

#define GRADCORE_INSTANTIATE_POOL(T)                                                             \
  template void max_pool2d_forward<T>(const Pool2dParams&, const T*, T*, int64_t*);              \
  template int64_t max_pool2d_backward<T>(int64_t, int64_t, int64_t, int64_t, int64_t, const T*, \
                                          const int64_t*, T*);                                   \
  template void avg_pool2d_forward<T>(const Pool2dParams&, bool, int64_t, const T*, T*);         \
  template void avg_pool2d_backward<T>(const Pool2dParams&, bool, int64_t, const T*, T*);        \
  template void adaptive_avg_pool2d_forward<T>(int64_t, int64_t, int64_t, int64_t, int64_t,      \
                                               const T*, T*);                                    \
  template void adaptive_avg_pool2d_backward<T>(int64_t, int64_t, int64_t, int64_t, int64_t,     \
                                                const T*, T*);
GRADCORE_INSTANTIATE_POOL(float)
GRADCORE_INSTANTIATE_POOL(double)
#undef GRADCORE_INSTANTIATE_POOL

}  // namespace gradcore
