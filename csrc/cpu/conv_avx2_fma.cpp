// The implicit convolution's AVX2 column packers (16-wide panels for the 6x16 float GEMM
// tile). An ISA file: compiled with -mavx2 -mfma, run only when the selected path's tuning
// names them (rules: CMakeLists.txt, "ISA files").
#if !defined(__AVX2__) || !defined(__FMA__)
#error "conv_avx2_fma.cpp must be compiled with -mavx2 -mfma (CMakeLists.txt, ISA files)"
#endif
#include <immintrin.h>

#include <algorithm>

#include "cpu/conv_panels.h"
#include "cpu/simd_transpose_avx2.h"

namespace gradcore::avx2_fma {

namespace {

// Lanes j of [0, 16) with lo <= j < hi as two 8-lane masks (all ones or zeros per lane).
inline void range_lanes16(int64_t lo, int64_t hi, __m256* m0, __m256* m1) {
  const __m256i iota0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i iota1 = _mm256_add_epi32(iota0, _mm256_set1_epi32(8));
  const __m256i l = _mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(lo, 0, 16)) - 1);
  const __m256i h = _mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(hi, 0, 16)));
  *m0 = _mm256_castsi256_ps(
      _mm256_and_si256(_mm256_cmpgt_epi32(iota0, l), _mm256_cmpgt_epi32(h, iota0)));
  *m1 = _mm256_castsi256_ps(
      _mm256_and_si256(_mm256_cmpgt_epi32(iota1, l), _mm256_cmpgt_epi32(h, iota1)));
}

}  // namespace

// Two unaligned loads per row, the padding lanes cleared by AND with the column lane masks
// and the kernel row's pixel-range lanes (exact zeros whatever they read, NaN too). A row
// whose 16 lanes would reach outside the input tensor takes the scalar copy.
void pack_cols_panel16(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t, int,
                       float* out) {
  const ImplicitCols<float>& ic = *static_cast<const ImplicitCols<float>*>(ctx);
  const int64_t RS = ic.R * ic.S, rs0 = p0 % RS, wm = ic.W + kColMaskPad, q0 = j0 % ic.W;
  int64_t c = p0 / RS, r = rs0 / ic.S, s = rs0 % ic.S;
  const float* xc = ic.x + c * ic.HW + j0;  // row (c, r, s) reads xc[j + off]
  int64_t plo = 0, phi = 0, roff = 0;       // kernel row r: its pixel range and shift
  __m256 rm0, rm1;                          // lanes of [j0, j0+16) in the pixel range
  auto enter_row = [&] {
    plo = ic.p_lo[r], phi = ic.p_hi[r], roff = ic.row_off[r];
    range_lanes16(plo - j0, phi - j0, &rm0, &rm1);
  };
  enter_row();
  for (int64_t k = 0; k < kc; ++k, out += 16) {
    const float* src = xc + roff + ic.col_off[s];
    const int32_t* m = ic.col_ok + s * wm + q0;
    if (src - ic.lo >= 0 && ic.hi - src >= 16) {
      const __m256 m0 = _mm256_and_ps(rm0, _mm256_loadu_ps(reinterpret_cast<const float*>(m)));
      const __m256 m1 = _mm256_and_ps(rm1, _mm256_loadu_ps(reinterpret_cast<const float*>(m + 8)));
      _mm256_storeu_ps(out, _mm256_and_ps(_mm256_loadu_ps(src), m0));
      _mm256_storeu_ps(out + 8, _mm256_and_ps(_mm256_loadu_ps(src + 8), m1));
    } else {
      for (int j = 0; j < 16; ++j) out[j] = j0 + j >= plo && j0 + j < phi && m[j] ? src[j] : 0.0f;
    }
    if (++s == ic.S) {
      s = 0;
      if (++r == ic.R) r = 0, xc += ic.HW;
      enter_row();
    }
  }
}

namespace {

// Column j of a transposed panel: its source stretch, its column lane masks (indexed by
// p % W) and the panel rows [a, b) inside its kernel row's pixel range (a == b: none).
struct TapColumn {
  const float* src;
  const int32_t* col_ok;
  int64_t a, b;
};

// Column (c, r, s) of a transposed panel whose rows are pixels [p0, p0+kc).
TapColumn tap_column(const ImplicitCols<float>& ic, int64_t p0, int64_t kc, int64_t c, int64_t r,
                     int64_t s) {
  const int64_t a = std::clamp<int64_t>(ic.p_lo[r] - p0, 0, kc);
  const int64_t b = std::clamp<int64_t>(ic.p_hi[r] - p0, a, kc);
  return {ic.x + c * ic.HW + ic.row_off[r] + ic.col_off[s] + p0,
          ic.col_ok + s * (ic.W + kColMaskPad), a, b};
}

// The lane mask of panel rows [k, k+8) of a column whose output column index is q at row k.
inline __m256 lane_mask8(const TapColumn& t, int64_t k, int64_t q) {
  if (k + 8 <= t.a || k >= t.b) return _mm256_setzero_ps();
  const __m256 m = _mm256_loadu_ps(reinterpret_cast<const float*>(t.col_ok + q));
  if (k >= t.a && k + 8 <= t.b) return m;
  alignas(32) int32_t in_rows[8];  // straddles an end of the pixel range
  for (int i = 0; i < 8; ++i) in_rows[i] = k + i >= t.a && k + i < t.b ? -1 : 0;
  return _mm256_and_ps(m, _mm256_load_ps(reinterpret_cast<const float*>(in_rows)));
}

// The scalar copy of pack_cols_t_panel16 (as conv.cpp's portable pack_cols_t_panel), from
// panel row k0 on.
void pack_cols_t_rows_scalar(const ImplicitCols<float>& ic, const TapColumn* col, int64_t p0,
                             int64_t k0, int64_t kc, float* out) {
  int64_t q = (p0 + k0) % ic.W;
  for (int64_t k = k0; k < kc; ++k) {
    for (int j = 0; j < 16; ++j) {
      const TapColumn& t = col[j];
      out[k * 16 + j] = k >= t.a && k < t.b && t.col_ok[q] ? t.src[k] : 0.0f;
    }
    if (++q == ic.W) q = 0;
  }
}

}  // namespace

// 8 x 8 blocks of AND-masked loads, transposed (columns past nc read with an all-zero mask).
// Reads that would leave the tensor and the k tail go scalar.
void pack_cols_t_panel16(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr,
                         float* out) {
  const ImplicitCols<float>& ic = *static_cast<const ImplicitCols<float>*>(ctx);
  TapColumn col[16];
  bool inside = true;
  const int64_t RS = ic.R * ic.S, rs0 = j0 % RS;
  int64_t c = j0 / RS, r = rs0 / ic.S, s = rs0 % ic.S;  // column j0 + j, stepped along
  for (int j = 0; j < 16; ++j) {
    if (j >= nc) {  // past the last column: any readable stretch, no rows in range
      col[j] = {col[0].src, col[0].col_ok, 0, 0};
      continue;
    }
    col[j] = tap_column(ic, p0, kc, c, r, s);
    inside = inside && col[j].src - ic.lo >= 0 && ic.hi - col[j].src >= kc;
    if (++s == ic.S) {
      s = 0;
      if (++r == ic.R) r = 0, ++c;
    }
  }
  if (!inside) return pack_cols_t_rows_scalar(ic, col, p0, 0, kc, out);
  int64_t k = 0, q = p0 % ic.W;  // q: the output column of pixel p0 + k
  for (; k + 8 <= kc; k += 8) {
    for (int h = 0; h < 2; ++h) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i) {
        const TapColumn& t = col[h * 8 + i];
        r[i] = _mm256_and_ps(_mm256_loadu_ps(t.src + k), lane_mask8(t, k, q));
      }
      transpose8(r);
      for (int i = 0; i < 8; ++i) _mm256_storeu_ps(out + (k + i) * 16 + h * 8, r[i]);
    }
    for (q += 8; q >= ic.W;) q -= ic.W;  // (q + 8) % W without a division
  }
  pack_cols_t_rows_scalar(ic, col, p0, k, kc, out);
}

}  // namespace gradcore::avx2_fma
