// The implicit convolution's AVX2 column packers (16-wide panels for the 6x16 float GEMM
// tile). An ISA file: compiled with -mavx2 -mfma, run only when the selected path's tuning
// names them (rules: CMakeLists.txt, "ISA files").
#if !defined(__AVX2__) || !defined(__FMA__)
#error "conv_avx2_fma.cpp must be compiled with -mavx2 -mfma (CMakeLists.txt, ISA files)"
#endif
#include <immintrin.h>

#include <algorithm>

#include "cpu/conv_panels.h"
#include "cpu/conv_tap_columns.h"
#include "cpu/simd_transpose_avx2.h"

namespace gradcore::avx2_fma {

namespace {

// Lanes j of [0, 8) with lo <= j < hi: all ones, else zeros.
inline __m256i range_lanes8(int64_t lo, int64_t hi, __m256i iota) {
  const __m256i l = _mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(lo, -1, 16)) - 1);
  const __m256i h = _mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(hi, -1, 16)));
  return _mm256_and_si256(_mm256_cmpgt_epi32(iota, l), _mm256_cmpgt_epi32(h, iota));
}

// Lanes j of [0, 16) with lo <= j < hi as two 8-lane masks.
inline void range_lanes16(int64_t lo, int64_t hi, __m256i* m0, __m256i* m1) {
  const __m256i iota0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  *m0 = range_lanes8(lo, hi, iota0);
  *m1 = range_lanes8(lo - 8, hi - 8, iota0);
}

}  // namespace

// Two masked loads per row (vmaskmovps: lanes outside the mask are never read, so rows that
// reach past the input tensor's ends need no scalar copy; they load as exact zeros, whatever
// the memory there holds). The mask: the column lane masks AND the kernel row's pixel-range
// lanes, computed when the kernel row changes.
void pack_cols_panel16(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t, int,
                       float* out) {
  const ImplicitCols<float>& ic = *static_cast<const ImplicitCols<float>*>(ctx);
  const int64_t RS = ic.R * ic.S, rs0 = p0 % RS, wm = ic.W + kColMaskPad, q0 = j0 % ic.W;
  int64_t c = p0 / RS, r = rs0 / ic.S, s = rs0 % ic.S;
  const float* xc = ic.x + c * ic.HW + j0;  // row (c, r, s) reads xc[j + off]
  int64_t roff = 0;                         // kernel row r's shift
  __m256i rm0, rm1;                         // lanes of [j0, j0+16) in its pixel range
  auto enter_row = [&] {
    roff = ic.row_off[r];
    range_lanes16(ic.p_lo[r] - j0, ic.p_hi[r] - j0, &rm0, &rm1);
  };
  enter_row();
  for (int64_t k = 0; k < kc; ++k, out += 16) {
    const float* src = xc + roff + ic.col_off[s];
    const __m256i* m = reinterpret_cast<const __m256i*>(ic.col_ok + s * wm + q0);
    const __m256i m0 = _mm256_and_si256(rm0, _mm256_loadu_si256(m));
    const __m256i m1 = _mm256_and_si256(rm1, _mm256_loadu_si256(m + 1));
    _mm256_storeu_ps(out, _mm256_maskload_ps(src, m0));
    _mm256_storeu_ps(out + 8, _mm256_maskload_ps(src + 8, m1));
    if (++s == ic.S) {
      s = 0;
      if (++r == ic.R) r = 0, xc += ic.HW;
      enter_row();
    }
  }
}

namespace {

// Rows [k, k+8) of the panel, transposed into out (8 rows of 16). kPlain: unmasked loads
// (stretches inside the tensor); kAllIn: every row inside every column's pixel range.
template <bool kPlain, bool kAllIn>
void pack_t_block(const TapColumns<16>& t, int64_t k, int64_t q, float* out) {
  const __m256i rows = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                        _mm256_set1_epi32(static_cast<int>(k)));
  for (int h = 0; h < 2; ++h) {
    __m256 v[8];
    for (int i = 0; i < 8; ++i) {
      const int j = h * 8 + i;
      __m256i m = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.col_ok[j] + q));
      if constexpr (!kAllIn)
        m = _mm256_and_si256(m, _mm256_and_si256(_mm256_cmpgt_epi32(rows, t.a_minus_1[j]),
                                                 _mm256_cmpgt_epi32(t.b[j], rows)));
      if constexpr (kPlain)
        v[i] = _mm256_and_ps(_mm256_loadu_ps(t.src[j] + k), _mm256_castsi256_ps(m));
      else
        v[i] = _mm256_maskload_ps(t.src[j] + k, m);
    }
    transpose8(v);
    for (int i = 0; i < 8; ++i) _mm256_storeu_ps(out + i * 16 + h * 8, v[i]);
  }
}

}  // namespace

// 8 x 8 blocks of AND-masked loads, transposed. Blocks of rows inside every column's pixel
// range use the column lane masks alone; the others AND in each column's row range. Where
// a stretch reaches past the tensor's ends, and for the k tail (its rows past kc are
// outside every range), masked loads instead (vmaskmovps: nothing outside the mask is read).
void pack_cols_t_panel16(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr,
                         float* out) {
  const ImplicitCols<float>& ic = *static_cast<const ImplicitCols<float>*>(ctx);
  TapColumns<16> t;
  tap_columns(ic, p0, kc, j0, nc, &t);
  int64_t k = 0, q = p0 % ic.W;  // q: the output column of pixel p0 + k
  for (; k + 8 <= kc; k += 8) {
    float* o = out + k * 16;
    const bool all_in = k >= t.all_a && k + 8 <= t.all_b;
    if (t.inside && all_in)
      pack_t_block<true, true>(t, k, q, o);
    else if (t.inside)
      pack_t_block<true, false>(t, k, q, o);
    else if (all_in)
      pack_t_block<false, true>(t, k, q, o);
    else
      pack_t_block<false, false>(t, k, q, o);
    for (q += 8; q >= ic.W;) q -= ic.W;  // (q + 8) % W without a division
  }
  if (k < kc) {
    alignas(32) float tail[8 * 16];
    pack_t_block<false, false>(t, k, q, tail);
    std::copy(tail, tail + (kc - k) * 16, out + k * 16);
  }
}

}  // namespace gradcore::avx2_fma
