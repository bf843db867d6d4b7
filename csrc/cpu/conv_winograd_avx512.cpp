// The Winograd tile transforms (conv_winograd.h) written for AVX-512: 16 tiles of a tile
// row per vector. Each input row is loaded once per chunk of 16 tiles (masked at the plane's
// edges, so the padding reads no memory), split into even and odd columns with vpermt2ps, and
// transformed in registers; the output tile rows are interleaved back the same way. The
// arithmetic is conv_winograd.h's, in its order, as in conv_winograd_avx2_fma.cpp (adds and
// subtracts only: the same bits).
// An ISA file: compiled with -mavx512f/bw/vl/dq -mavx2 -mfma, called by conv_winograd.cpp only
// when at_least(CpuCapability::kAvx512) (rules: CMakeLists.txt, "ISA files").
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) || \
    !defined(__AVX512DQ__) || !defined(__AVX2__) || !defined(__FMA__)
#error "conv_winograd_avx512.cpp must be compiled with -mavx512f/bw/vl/dq -mavx2 -mfma"
#endif
#include <immintrin.h>

#include "cpu/conv_winograd.h"

namespace gradcore::avx512 {
namespace {

// Lanes l < n (n clamped to [0, 16]).
__mmask16 first_lanes(int64_t n) {
  if (n <= 0) return 0;
  if (n >= 16) return 0xFFFF;
  return static_cast<__mmask16>((1u << n) - 1u);
}

// Lanes l with 0 <= c + l < W: a load of 16 columns starting at column c.
__mmask16 inside_columns(int64_t c, int64_t W) {
  const int64_t lo = c < 0 ? -c : 0;  // first lane inside
  return static_cast<__mmask16>(first_lanes(W - c) & ~first_lanes(lo));
}

}  // namespace

void winograd_input_plane(const float* x, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t ti0,
                          int64_t ti1, int64_t TW, float* v, int64_t ldxi) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (int64_t tj0 = 0; tj0 < TW; tj0 += 16) {
    const __mmask16 tiles = first_lanes(TW - tj0);
    const int64_t c0 = 2 * tj0 - pw;  // the input column of tile tj0's first column
    const __mmask16 mA = inside_columns(c0, W), mB = inside_columns(c0 + 16, W);
    const __mmask16 mA2 = inside_columns(c0 + 2, W), mB2 = inside_columns(c0 + 18, W);
    // R[j] = (d B)_j of input row ih for the 16 tiles: d[2tj..2tj+3] combined along the row.
    auto row = [&](int64_t ih, __m512 R[4]) {
      if (ih < 0 || ih >= H) {
        R[0] = R[1] = R[2] = R[3] = _mm512_setzero_ps();
        return;
      }
      const float* p = x + ih * W + c0;
      const __m512 A = _mm512_maskz_loadu_ps(mA, p), B = _mm512_maskz_loadu_ps(mB, p + 16);
      const __m512 A2 = _mm512_maskz_loadu_ps(mA2, p + 2), B2 = _mm512_maskz_loadu_ps(mB2, p + 18);
      const __m512 e0 = _mm512_permutex2var_ps(A, even, B), o0 = _mm512_permutex2var_ps(A, odd, B);
      const __m512 e1 = _mm512_permutex2var_ps(A2, even, B2);
      const __m512 o1 = _mm512_permutex2var_ps(A2, odd, B2);
      R[0] = _mm512_sub_ps(e0, e1);
      R[1] = _mm512_add_ps(o0, e1);
      R[2] = _mm512_sub_ps(e1, o0);
      R[3] = _mm512_sub_ps(o0, o1);
    };
    __m512 q0[4], q1[4], q2[4], q3[4];  // input rows 0..3 of the tile row
    row(2 * ti0 - ph, q0);
    row(2 * ti0 + 1 - ph, q1);
    for (int64_t ti = ti0; ti < ti1; ++ti) {
      row(2 * ti - ph + 2, q2);
      row(2 * ti - ph + 3, q3);
      float* vt = v + (ti - ti0) * TW + tj0;
      for (int j = 0; j < 4; ++j) {
        _mm512_mask_storeu_ps(vt + j * ldxi, tiles, _mm512_sub_ps(q0[j], q2[j]));
        _mm512_mask_storeu_ps(vt + (4 + j) * ldxi, tiles, _mm512_add_ps(q1[j], q2[j]));
        _mm512_mask_storeu_ps(vt + (8 + j) * ldxi, tiles, _mm512_sub_ps(q2[j], q1[j]));
        _mm512_mask_storeu_ps(vt + (12 + j) * ldxi, tiles, _mm512_sub_ps(q1[j], q3[j]));
      }
      for (int j = 0; j < 4; ++j) {
        q0[j] = q2[j];
        q1[j] = q3[j];
      }
    }
  }
}

void winograd_output_plane(const float* m, int64_t ldxi, int64_t ti0, int64_t ti1, int64_t TW,
                           float bias, float* y, int64_t OH, int64_t OW) {
  const __m512 b = _mm512_set1_ps(bias);
  // interleave a (even output columns) and b (odd): lanes 0..7 and 8..15 of each
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  for (int64_t tj0 = 0; tj0 < TW; tj0 += 16) {
    const __mmask16 tiles = first_lanes(TW - tj0);
    const int64_t cols = OW - 2 * tj0;  // output columns of this chunk still inside the plane
    const __mmask16 mlo = first_lanes(cols), mhi = first_lanes(cols - 16);
    for (int64_t ti = ti0; ti < ti1; ++ti) {
      const float* mt = m + (ti - ti0) * TW + tj0;
      __m512 s0[4], s1[4];  // rows of A^T M
      for (int j = 0; j < 4; ++j) {
        const __m512 m0 = _mm512_maskz_loadu_ps(tiles, mt + j * ldxi);
        const __m512 m1 = _mm512_maskz_loadu_ps(tiles, mt + (4 + j) * ldxi);
        const __m512 m2 = _mm512_maskz_loadu_ps(tiles, mt + (8 + j) * ldxi);
        const __m512 m3 = _mm512_maskz_loadu_ps(tiles, mt + (12 + j) * ldxi);
        s0[j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        s1[j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
      }
      for (int i = 0; i < 2 && 2 * ti + i < OH; ++i) {
        const __m512* s = i == 0 ? s0 : s1;
        const __m512 ye = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]), b);
        const __m512 yo = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3]), b);
        float* yr = y + (2 * ti + i) * OW + 2 * tj0;
        _mm512_mask_storeu_ps(yr, mlo, _mm512_permutex2var_ps(ye, lo, yo));
        _mm512_mask_storeu_ps(yr + 16, mhi, _mm512_permutex2var_ps(ye, hi, yo));
      }
    }
  }
}

void winograd_output_grad_plane(const float* dy, int64_t OH, int64_t OW, int64_t ti0, int64_t ti1,
                                int64_t TW, float* dm, int64_t ldxi) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t tj0 = 0; tj0 < TW; tj0 += 16) {
    const __mmask16 tiles = first_lanes(TW - tj0);
    const int64_t cols = OW - 2 * tj0;  // dy columns of this chunk inside the plane
    const __mmask16 mA = first_lanes(cols), mB = first_lanes(cols - 16);
    for (int64_t ti = ti0; ti < ti1; ++ti) {
      __m512 z[2][4];  // A dY along the row, of rows 2*ti and 2*ti + 1
      for (int a = 0; a < 2; ++a) {
        const int64_t oh = 2 * ti + a;
        if (oh >= OH) {
          z[a][0] = z[a][1] = z[a][2] = z[a][3] = zero;
          continue;
        }
        const float* p = dy + oh * OW + 2 * tj0;
        const __m512 A = _mm512_maskz_loadu_ps(mA, p), B = _mm512_maskz_loadu_ps(mB, p + 16);
        const __m512 e = _mm512_permutex2var_ps(A, even, B), o = _mm512_permutex2var_ps(A, odd, B);
        z[a][0] = e;
        z[a][1] = _mm512_add_ps(e, o);
        z[a][2] = _mm512_sub_ps(e, o);
        z[a][3] = _mm512_sub_ps(zero, o);
      }
      float* dt = dm + (ti - ti0) * TW + tj0;
      for (int j = 0; j < 4; ++j) {
        _mm512_mask_storeu_ps(dt + j * ldxi, tiles, z[0][j]);
        _mm512_mask_storeu_ps(dt + (4 + j) * ldxi, tiles, _mm512_add_ps(z[0][j], z[1][j]));
        _mm512_mask_storeu_ps(dt + (8 + j) * ldxi, tiles, _mm512_sub_ps(z[0][j], z[1][j]));
        _mm512_mask_storeu_ps(dt + (12 + j) * ldxi, tiles, _mm512_sub_ps(zero, z[1][j]));
      }
    }
  }
}

}  // namespace gradcore::avx512
