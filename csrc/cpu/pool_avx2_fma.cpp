// The 2x2/2 pooling planes for AVX2: the portable bodies of pool_2x2.h compiled for AVX2, and
// explicit AVX2 float kernels. An ISA file: compiled with -mavx2 -mfma, called by pool.cpp only
// when at_least(CpuCapability::kAvx2Fma) (rules: CMakeLists.txt, "ISA files").
#if !defined(__AVX2__) || !defined(__FMA__)
#error "pool_avx2_fma.cpp must be compiled with -mavx2 -mfma (CMakeLists.txt, ISA files)"
#endif
#include <immintrin.h>

#include "cpu/pool_2x2.h"

namespace gradcore::avx2_fma {
namespace {

// float 2x2/2 max pooling, explicit AVX2. A row pair (r0, r1) of the input gives one output
// row; outputs go 8 (or 4) at a time, and a row whose width is not a multiple of the step
// ends with a step that overlaps the previous one (it rewrites the same values), so every
// load and store is a full, unmasked vector inside the row. Rows narrower than 4 outputs
// use the scalar body. Indices are formed in 32-bit lanes: the caller checks H*W < 2^31.
// NaN wins and the first maximum wins ties, as in max_pool_2x2_body.

// The maximum m of each of 8 cells (r0[2j], r0[2j+1], r1[2j], r1[2j+1]; NaN wins, the first
// maximum wins ties) and its place k, given as the code of the cell's second, third and fourth
// element (k = 0 for the first). Lanes come out in output order 0 1 4 5 2 3 6 7.
inline __attribute__((always_inline)) void cell_max8(const float* r0, const float* r1, __m256i k1,
                                                     __m256i k2, __m256i k3, __m256* m_out,
                                                     __m256i* k_out) {
  const __m256 a0 = _mm256_loadu_ps(r0), a1 = _mm256_loadu_ps(r0 + 8);
  const __m256 b0 = _mm256_loadu_ps(r1), b1 = _mm256_loadu_ps(r1 + 8);
  // Even/odd columns, in the lane order above.
  const __m256 a = _mm256_shuffle_ps(a0, a1, 0x88), b = _mm256_shuffle_ps(a0, a1, 0xDD);
  const __m256 c = _mm256_shuffle_ps(b0, b1, 0x88), d = _mm256_shuffle_ps(b0, b1, 0xDD);
  __m256 m = a, k = _mm256_setzero_ps();
  __m256 t = _mm256_or_ps(_mm256_cmp_ps(b, m, _CMP_GT_OQ), _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
  m = _mm256_blendv_ps(m, b, t);
  k = _mm256_blendv_ps(k, _mm256_castsi256_ps(k1), t);
  t = _mm256_or_ps(_mm256_cmp_ps(c, m, _CMP_GT_OQ), _mm256_cmp_ps(c, c, _CMP_UNORD_Q));
  m = _mm256_blendv_ps(m, c, t);
  k = _mm256_blendv_ps(k, _mm256_castsi256_ps(k2), t);
  t = _mm256_or_ps(_mm256_cmp_ps(d, m, _CMP_GT_OQ), _mm256_cmp_ps(d, d, _CMP_UNORD_Q));
  m = _mm256_blendv_ps(m, d, t);
  k = _mm256_blendv_ps(k, _mm256_castsi256_ps(k3), t);
  *m_out = m;
  *k_out = _mm256_castps_si256(k);
}

// The same for 4 cells (128-bit vectors; lanes stay in order).
inline __attribute__((always_inline)) void cell_max4(const float* r0, const float* r1, __m128i k1,
                                                     __m128i k2, __m128i k3, __m128* m_out,
                                                     __m128i* k_out) {
  const __m128 a0 = _mm_loadu_ps(r0), a1 = _mm_loadu_ps(r0 + 4);
  const __m128 b0 = _mm_loadu_ps(r1), b1 = _mm_loadu_ps(r1 + 4);
  const __m128 a = _mm_shuffle_ps(a0, a1, 0x88), b = _mm_shuffle_ps(a0, a1, 0xDD);
  const __m128 c = _mm_shuffle_ps(b0, b1, 0x88), d = _mm_shuffle_ps(b0, b1, 0xDD);
  __m128 m = a, k = _mm_setzero_ps();
  __m128 t = _mm_or_ps(_mm_cmp_ps(b, m, _CMP_GT_OQ), _mm_cmp_ps(b, b, _CMP_UNORD_Q));
  m = _mm_blendv_ps(m, b, t);
  k = _mm_blendv_ps(k, _mm_castsi128_ps(k1), t);
  t = _mm_or_ps(_mm_cmp_ps(c, m, _CMP_GT_OQ), _mm_cmp_ps(c, c, _CMP_UNORD_Q));
  m = _mm_blendv_ps(m, c, t);
  k = _mm_blendv_ps(k, _mm_castsi128_ps(k2), t);
  t = _mm_or_ps(_mm_cmp_ps(d, m, _CMP_GT_OQ), _mm_cmp_ps(d, d, _CMP_UNORD_Q));
  m = _mm_blendv_ps(m, d, t);
  k = _mm_blendv_ps(k, _mm_castsi128_ps(k3), t);
  *m_out = m;
  *k_out = _mm_castps_si128(k);
}

// Steps along a row of OW >= 4 outputs: step8(ow) 8 outputs at a time, or step4(ow) when
// OW < 8; a row whose width is not a multiple of the step ends with a step moved back to end
// at OW (it overlaps the previous one and rewrites the same values). Stops at the first step
// that returns false and returns false then.
template <class Step8, class Step4>
inline __attribute__((always_inline)) bool sweep_row(int64_t OW, const Step8& step8,
                                                     const Step4& step4) {
  if (OW >= 8) {
    int64_t ow = 0;
    for (; ow + 8 <= OW; ow += 8)
      if (!step8(ow)) return false;
    return ow == OW || step8(OW - 8);
  }
  if (!step4(0)) return false;
  return OW == 4 || step4(OW - 4);
}

// y[j] = max of r0[2j], r0[2j+1], r1[2j], r1[2j+1], ind[j] = base + 2j + {0, 1, W, W+1},
// j < 8.
inline __attribute__((always_inline)) void max_pool_2x2_step8(const float* r0, const float* r1,
                                                              int64_t base, __m256i kW, __m256i kW1,
                                                              float* yo, int64_t* io) {
  __m256 m;
  __m256i k;
  cell_max8(r0, r1, _mm256_set1_epi32(1), kW, kW1, &m, &k);
  const __m256 yv = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(m), 0xD8));
  const __m256i kv = _mm256_permute4x64_epi64(k, 0xD8);
  const __m256i iv =
      _mm256_add_epi32(kv, _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(base)),
                                            _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)));
  _mm256_storeu_ps(yo, yv);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(io),
                      _mm256_cvtepi32_epi64(_mm256_castsi256_si128(iv)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(io + 4),
                      _mm256_cvtepi32_epi64(_mm256_extracti128_si256(iv, 1)));
}

// The same for 4 outputs.
inline __attribute__((always_inline)) void max_pool_2x2_step4(const float* r0, const float* r1,
                                                              int64_t base, __m128i kW, __m128i kW1,
                                                              float* yo, int64_t* io) {
  __m128 m;
  __m128i k;
  cell_max4(r0, r1, _mm_set1_epi32(1), kW, kW1, &m, &k);
  const __m128i iv = _mm_add_epi32(
      k, _mm_add_epi32(_mm_set1_epi32(static_cast<int>(base)), _mm_setr_epi32(0, 2, 4, 6)));
  _mm_storeu_ps(yo, m);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(io), _mm256_cvtepi32_epi64(iv));
}

void max_pool_2x2_i32_impl(const float* x, int64_t W, int64_t OH, int64_t OW, float* y,
                           int64_t* ind) {
  if (OW < 4) return max_pool_2x2_body(x, W, OH, OW, y, ind);
  const __m256i kW = _mm256_set1_epi32(static_cast<int>(W));
  const __m256i kW1 = _mm256_set1_epi32(static_cast<int>(W + 1));
  const __m128i kw = _mm256_castsi256_si128(kW), kw1 = _mm256_castsi256_si128(kW1);
  for (int64_t oh = 0; oh < OH; ++oh) {
    const float* r0 = x + 2 * oh * W;
    const float* r1 = r0 + W;
    float* yo = y + oh * OW;
    int64_t* io = ind + oh * OW;
    const int64_t row = 2 * oh * W;
    sweep_row(
        OW,
        [&](int64_t ow) __attribute__((always_inline)) {
          max_pool_2x2_step8(r0 + 2 * ow, r1 + 2 * ow, row + 2 * ow, kW, kW1, yo + ow, io + ow);
          return true;
        },
        [&](int64_t ow) __attribute__((always_inline)) {
          max_pool_2x2_step4(r0 + 2 * ow, r1 + 2 * ow, row + 2 * ow, kw, kw1, yo + ow, io + ow);
          return true;
        });
  }
}

// dy of 8 outputs scattered into their cells: the masks m0..m3 (per output, all ones at its
// maximum's place: first, second, third, fourth element) select dy, and unpacks interleave the
// four into the two rows (16 values each of r0 and r1).
inline __attribute__((always_inline)) void scatter_cells8(__m256 v, __m256 m0, __m256 m1, __m256 m2,
                                                          __m256 m3, float* r0, float* r1) {
  const __m256 a = _mm256_and_ps(v, m0), b = _mm256_and_ps(v, m1);
  const __m256 c = _mm256_and_ps(v, m2), e = _mm256_and_ps(v, m3);
  const __m256 ablo = _mm256_unpacklo_ps(a, b), abhi = _mm256_unpackhi_ps(a, b);
  const __m256 celo = _mm256_unpacklo_ps(c, e), cehi = _mm256_unpackhi_ps(c, e);
  _mm256_storeu_ps(r0, _mm256_permute2f128_ps(ablo, abhi, 0x20));
  _mm256_storeu_ps(r0 + 8, _mm256_permute2f128_ps(ablo, abhi, 0x31));
  _mm256_storeu_ps(r1, _mm256_permute2f128_ps(celo, cehi, 0x20));
  _mm256_storeu_ps(r1 + 8, _mm256_permute2f128_ps(celo, cehi, 0x31));
}

// The same for 4 outputs (8 values each of r0 and r1).
inline __attribute__((always_inline)) void scatter_cells4(__m128 v, __m128 m0, __m128 m1, __m128 m2,
                                                          __m128 m3, float* r0, float* r1) {
  const __m128 a = _mm_and_ps(v, m0), b = _mm_and_ps(v, m1);
  const __m128 c = _mm_and_ps(v, m2), e = _mm_and_ps(v, m3);
  _mm_storeu_ps(r0, _mm_unpacklo_ps(a, b));
  _mm_storeu_ps(r0 + 4, _mm_unpackhi_ps(a, b));
  _mm_storeu_ps(r1, _mm_unpacklo_ps(c, e));
  _mm_storeu_ps(r1 + 4, _mm_unpackhi_ps(c, e));
}

// dx of 8 outputs of one row pair (float): the offsets of the indices from their cells'
// corners (checked to fit 32 bits) are compared with 0, 1, W, W+1, the masks select dy into
// the four cell positions, and unpacks interleave them into the two rows. Returns false,
// having written nothing, if some index lies outside its cell.
inline __attribute__((always_inline)) bool max_unpool_2x2_step8(const float* go, const int64_t* io,
                                                                int64_t base, __m256i kW,
                                                                __m256i kW1, float* r0, float* r1) {
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
  scatter_cells8(_mm256_loadu_ps(go), _mm256_castsi256_ps(m0), _mm256_castsi256_ps(m1),
                 _mm256_castsi256_ps(m2), _mm256_castsi256_ps(m3), r0, r1);
  return true;
}

// 4 x 64-bit all-ones/zero masks -> 4 x 32-bit masks.
inline __attribute__((always_inline)) __m128 low32_mask(__m256i mk) {
  const __m256i low = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  return _mm_castsi128_ps(_mm256_castsi256_si128(_mm256_permutevar8x32_epi32(mk, low)));
}

// The same for 4 outputs (64-bit compares, 128-bit stores).
inline __attribute__((always_inline)) bool max_unpool_2x2_step4(const float* go, const int64_t* io,
                                                                int64_t base, __m256i kW,
                                                                __m256i kW1, float* r0, float* r1) {
  const __m256i off =
      _mm256_sub_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(io)),
                       _mm256_add_epi64(_mm256_set1_epi64x(base), _mm256_setr_epi64x(0, 2, 4, 6)));
  const __m256i m0 = _mm256_cmpeq_epi64(off, _mm256_setzero_si256());
  const __m256i m1 = _mm256_cmpeq_epi64(off, _mm256_set1_epi64x(1));
  const __m256i m2 = _mm256_cmpeq_epi64(off, kW), m3 = _mm256_cmpeq_epi64(off, kW1);
  const __m256i any = _mm256_or_si256(_mm256_or_si256(m0, m1), _mm256_or_si256(m2, m3));
  if (_mm256_movemask_pd(_mm256_castsi256_pd(any)) != 0xF) return false;
  scatter_cells4(_mm_loadu_ps(go), low32_mask(m0), low32_mask(m1), low32_mask(m2), low32_mask(m3),
                 r0, r1);
  return true;
}

// dx of one float plane when every index lies in its own 2x2 cell (each element written
// once; a row's last step may overlap the previous one and rewrite the same values).
// Returns false (having written part of the plane) otherwise.
bool max_unpool_2x2_i32_impl(const float* g, const int64_t* ind, int64_t H, int64_t W, int64_t OH,
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
    const bool in_cells = sweep_row(
        OW,
        [&](int64_t ow) __attribute__((always_inline)) {
          return max_unpool_2x2_step8(go + ow, io + ow, row + 2 * ow, kW32, kW132, r0 + 2 * ow,
                                      r1 + 2 * ow);
        },
        [&](int64_t ow) __attribute__((always_inline)) {
          return max_unpool_2x2_step4(go + ow, io + ow, row + 2 * ow, kW64, kW164, r0 + 2 * ow,
                                      r1 + 2 * ow);
        });
    if (!in_cells) return false;
    if (W > 2 * OW) r0[W - 1] = r1[W - 1] = 0.0f;
  }
  if (H > 2 * OH) fill_zero(d + (H - 1) * W, d + H * W);
  return true;
}

// Fused ReLU + 2x2/2 max pool, float, explicit AVX2 (the bodies in pool_2x2.h written with
// vectors): the same maximum and place as max_pool_2x2_step8/4, then relu on the bit pattern
// (activation_bodies.h) and the cell byte: the place 0..3, or kNoGrad where the output is +-0
// (relu passes no gradient). Rows of fewer than 4 outputs use the scalar body; a row's last
// step may overlap the previous one and rewrite the same values.

// relu(m) on the bits and the cell bytes' int32 lanes: k where the output passes a gradient,
// kNoGrad elsewhere (8 lanes).
inline __attribute__((always_inline)) __m256i relu_cells8(__m256 m, __m256i k, __m256* y) {
  const __m256i b = _mm256_castps_si256(m);
  const __m256i neg_inf_1 = _mm256_set1_epi32(static_cast<int>(0xFF800000u) + 1);
  const __m256i negative = _mm256_and_si256(_mm256_cmpgt_epi32(b, _mm256_set1_epi32(INT32_MIN)),
                                            _mm256_cmpgt_epi32(neg_inf_1, b));
  const __m256i r = _mm256_andnot_si256(negative, b);
  const __m256i no_grad = _mm256_or_si256(_mm256_cmpeq_epi32(r, _mm256_setzero_si256()),
                                          _mm256_cmpgt_epi32(neg_inf_1, r));
  *y = _mm256_castsi256_ps(r);
  return _mm256_blendv_epi8(k, _mm256_set1_epi32(kNoGrad), no_grad);
}
inline __attribute__((always_inline)) __m128i relu_cells4(__m128 m, __m128i k, __m128* y) {
  const __m128i b = _mm_castps_si128(m);
  const __m128i neg_inf_1 = _mm_set1_epi32(static_cast<int>(0xFF800000u) + 1);
  const __m128i negative =
      _mm_and_si128(_mm_cmpgt_epi32(b, _mm_set1_epi32(INT32_MIN)), _mm_cmpgt_epi32(neg_inf_1, b));
  const __m128i r = _mm_andnot_si128(negative, b);
  const __m128i no_grad =
      _mm_or_si128(_mm_cmpeq_epi32(r, _mm_setzero_si128()), _mm_cmpgt_epi32(neg_inf_1, r));
  *y = _mm_castsi128_ps(r);
  return _mm_blendv_epi8(k, _mm_set1_epi32(kNoGrad), no_grad);
}

// 8 outputs: y[j] = relu(max of the cell), cell[j] = its place or kNoGrad.
inline __attribute__((always_inline)) void max_pool_relu_2x2_step8(const float* r0, const float* r1,
                                                                   float* yo, uint8_t* co) {
  __m256 m, y;
  __m256i k;
  cell_max8(r0, r1, _mm256_set1_epi32(1), _mm256_set1_epi32(2), _mm256_set1_epi32(3), &m, &k);
  const __m256i cells = relu_cells8(m, k, &y);
  _mm256_storeu_ps(yo, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(y), 0xD8)));
  const __m256i cv = _mm256_permute4x64_epi64(cells, 0xD8);
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(cv), _mm256_extracti128_si256(cv, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(co), _mm_packus_epi16(w, w));
}

// The same for 4 outputs.
inline __attribute__((always_inline)) void max_pool_relu_2x2_step4(const float* r0, const float* r1,
                                                                   float* yo, uint8_t* co) {
  __m128 m, y;
  __m128i k;
  cell_max4(r0, r1, _mm_set1_epi32(1), _mm_set1_epi32(2), _mm_set1_epi32(3), &m, &k);
  const __m128i cells = relu_cells4(m, k, &y);
  _mm_storeu_ps(yo, y);
  const __m128i w = _mm_packs_epi32(cells, cells);
  const int32_t four = _mm_cvtsi128_si32(_mm_packus_epi16(w, w));
  __builtin_memcpy(co, &four, sizeof four);
}

void max_pool_relu_2x2_impl(const float* x, int64_t W, int64_t OH, int64_t OW, float* y,
                            uint8_t* cell) {
  if (OW < 4) return max_pool_relu_2x2_body(x, W, OH, OW, y, cell);
  for (int64_t oh = 0; oh < OH; ++oh) {
    const float* r0 = x + 2 * oh * W;
    const float* r1 = r0 + W;
    float* yo = y + oh * OW;
    uint8_t* co = cell + oh * OW;
    sweep_row(
        OW,
        [&](int64_t ow) __attribute__((always_inline)) {
          max_pool_relu_2x2_step8(r0 + 2 * ow, r1 + 2 * ow, yo + ow, co + ow);
          return true;
        },
        [&](int64_t ow) __attribute__((always_inline)) {
          max_pool_relu_2x2_step4(r0 + 2 * ow, r1 + 2 * ow, yo + ow, co + ow);
          return true;
        });
  }
}

// dx of 8 outputs of one row pair from their cell bytes: masks of cell == 0..3 select dy into
// the four cell positions (none for kNoGrad).
inline __attribute__((always_inline)) void max_unpool_relu_2x2_step8(const float* go,
                                                                     const uint8_t* co, float* r0,
                                                                     float* r1) {
  const __m256i k = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(co)));
  auto is = [&](int place) {
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(k, _mm256_set1_epi32(place)));
  };
  scatter_cells8(_mm256_loadu_ps(go), is(0), is(1), is(2), is(3), r0, r1);
}

// The same for 4 outputs.
inline __attribute__((always_inline)) void max_unpool_relu_2x2_step4(const float* go,
                                                                     const uint8_t* co, float* r0,
                                                                     float* r1) {
  int32_t four;
  __builtin_memcpy(&four, co, sizeof four);
  const __m128i k = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(four));
  auto is = [&](int place) { return _mm_castsi128_ps(_mm_cmpeq_epi32(k, _mm_set1_epi32(place))); };
  scatter_cells4(_mm_loadu_ps(go), is(0), is(1), is(2), is(3), r0, r1);
}

void max_unpool_relu_2x2_impl(const float* g, const uint8_t* cell, int64_t H, int64_t W, int64_t OH,
                              int64_t OW, float* d) {
  if (OW < 4) return max_unpool_relu_2x2_body(g, cell, H, W, OH, OW, d);
  for (int64_t oh = 0; oh < OH; ++oh) {
    float* r0 = d + 2 * oh * W;
    float* r1 = r0 + W;
    const float* go = g + oh * OW;
    const uint8_t* co = cell + oh * OW;
    sweep_row(
        OW,
        [&](int64_t ow) __attribute__((always_inline)) {
          max_unpool_relu_2x2_step8(go + ow, co + ow, r0 + 2 * ow, r1 + 2 * ow);
          return true;
        },
        [&](int64_t ow) __attribute__((always_inline)) {
          max_unpool_relu_2x2_step4(go + ow, co + ow, r0 + 2 * ow, r1 + 2 * ow);
          return true;
        });
    if (W > 2 * OW) r0[W - 1] = r1[W - 1] = 0.0f;
  }
  if (H > 2 * OH) fill_zero(d + (H - 1) * W, d + H * W);
}

}  // namespace

void max_pool_2x2(const float* x, int64_t W, int64_t OH, int64_t OW, float* y, int64_t* ind) {
  max_pool_2x2_body(x, W, OH, OW, y, ind);
}
void max_pool_2x2(const double* x, int64_t W, int64_t OH, int64_t OW, double* y, int64_t* ind) {
  max_pool_2x2_body(x, W, OH, OW, y, ind);
}
bool max_unpool_2x2(const float* g, const int64_t* ind, int64_t H, int64_t W, int64_t OH,
                    int64_t OW, float* d) {
  return max_unpool_2x2_body(g, ind, H, W, OH, OW, d);
}
bool max_unpool_2x2(const double* g, const int64_t* ind, int64_t H, int64_t W, int64_t OH,
                    int64_t OW, double* d) {
  return max_unpool_2x2_body(g, ind, H, W, OH, OW, d);
}
void avg_pool_2x2(const float* x, int64_t W, int64_t OH, int64_t OW, float div, float* y) {
  avg_pool_2x2_body(x, W, OH, OW, div, y);
}
void avg_pool_2x2(const double* x, int64_t W, int64_t OH, int64_t OW, double div, double* y) {
  avg_pool_2x2_body(x, W, OH, OW, div, y);
}
void avg_unpool_2x2(const float* g, int64_t H, int64_t W, int64_t OH, int64_t OW, float div,
                    float* d) {
  avg_unpool_2x2_body(g, H, W, OH, OW, div, d);
}
void avg_unpool_2x2(const double* g, int64_t H, int64_t W, int64_t OH, int64_t OW, double div,
                    double* d) {
  avg_unpool_2x2_body(g, H, W, OH, OW, div, d);
}
void max_pool_relu_2x2(const float* x, int64_t W, int64_t OH, int64_t OW, float* y, uint8_t* cell) {
  max_pool_relu_2x2_impl(x, W, OH, OW, y, cell);
}
void max_pool_relu_2x2(const double* x, int64_t W, int64_t OH, int64_t OW, double* y,
                       uint8_t* cell) {
  max_pool_relu_2x2_body(x, W, OH, OW, y, cell);
}
void max_unpool_relu_2x2(const float* g, const uint8_t* cell, int64_t H, int64_t W, int64_t OH,
                         int64_t OW, float* d) {
  max_unpool_relu_2x2_impl(g, cell, H, W, OH, OW, d);
}
void max_unpool_relu_2x2(const double* g, const uint8_t* cell, int64_t H, int64_t W, int64_t OH,
                         int64_t OW, double* d) {
  max_unpool_relu_2x2_body(g, cell, H, W, OH, OW, d);
}
void max_pool_2x2_i32(const float* x, int64_t W, int64_t OH, int64_t OW, float* y, int64_t* ind) {
  max_pool_2x2_i32_impl(x, W, OH, OW, y, ind);
}
bool max_unpool_2x2_i32(const float* g, const int64_t* ind, int64_t H, int64_t W, int64_t OH,
                        int64_t OW, float* d) {
  return max_unpool_2x2_i32_impl(g, ind, H, W, OH, OW, d);
}

}  // namespace gradcore::avx2_fma
