// The Winograd tile transforms (conv_winograd.h) written for AVX2: 8 tiles of a tile row
// per vector, as conv_winograd_avx512.cpp does 16. Input rows are read with masked loads (the
// padding reads no memory) and split into even and odd columns with shuffles; the output rows
// are interleaved back the same way. The arithmetic is conv_winograd.h's, in its order, as in
// conv_winograd_avx512.cpp (adds and subtracts only: the same bits). An ISA file: compiled with
// -mavx2 -mfma, called by conv_winograd.cpp only when at_least(CpuCapability::kAvx2Fma) (rules:
// CMakeLists.txt, "ISA files").
#if !defined(__AVX2__) || !defined(__FMA__)
#error "conv_winograd_avx2_fma.cpp must be compiled with -mavx2 -mfma (CMakeLists.txt, ISA files)"
#endif
#include <immintrin.h>

#include "cpu/conv_winograd.h"

namespace gradcore::avx2_fma {
namespace {

// All-ones in lanes l (0..7) with 0 <= c + l < n, zero elsewhere: a load of 8 columns
// starting at column c of a row of n.
__m256i inside(int64_t c, int64_t n) {
  const int64_t lo = c < 0 ? -c : 0;  // first lane inside
  const int64_t hi = n - c;           // first lane past the end
  const int lo8 = lo > 8 ? 8 : static_cast<int>(lo);
  const int hi8 = hi < 0 ? 0 : (hi > 8 ? 8 : static_cast<int>(hi));
  const __m256i l = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_and_si256(_mm256_cmpgt_epi32(l, _mm256_set1_epi32(lo8 - 1)),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32(hi8), l));
}

// Lanes l < n.
__m256i first_lanes(int64_t n) {
  return inside(0, n);
}

// Even and odd elements of the 16 floats a:b: (a0 a2 .. b6), (a1 a3 .. b7).
inline void split_even_odd(__m256 a, __m256 b, __m256* even, __m256* odd) {
  const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
  const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
  *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8));
}

}  // namespace

void winograd_input_plane(const float* x, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t ti0,
                          int64_t ti1, int64_t TW, float* v, int64_t ldxi) {
  for (int64_t tj0 = 0; tj0 < TW; tj0 += 8) {
    const __m256i tiles = first_lanes(TW - tj0);
    const int64_t c0 = 2 * tj0 - pw;  // the input column of tile tj0's first column
    const __m256i mA = inside(c0, W), mB = inside(c0 + 8, W);
    const __m256i mA2 = inside(c0 + 2, W), mB2 = inside(c0 + 10, W);
    // R[j] = (d B)_j of input row ih for the 8 tiles: d[2tj..2tj+3] combined along the row.
    auto row = [&](int64_t ih, __m256 R[4]) {
      if (ih < 0 || ih >= H) {
        R[0] = R[1] = R[2] = R[3] = _mm256_setzero_ps();
        return;
      }
      const float* p = x + ih * W + c0;
      __m256 e0, o0, e1, o1;
      split_even_odd(_mm256_maskload_ps(p, mA), _mm256_maskload_ps(p + 8, mB), &e0, &o0);
      split_even_odd(_mm256_maskload_ps(p + 2, mA2), _mm256_maskload_ps(p + 10, mB2), &e1, &o1);
      R[0] = _mm256_sub_ps(e0, e1);
      R[1] = _mm256_add_ps(o0, e1);
      R[2] = _mm256_sub_ps(e1, o0);
      R[3] = _mm256_sub_ps(o0, o1);
    };
    __m256 q0[4], q1[4], q2[4], q3[4];  // input rows 0..3 of the tile row
    row(2 * ti0 - ph, q0);
    row(2 * ti0 + 1 - ph, q1);
    for (int64_t ti = ti0; ti < ti1; ++ti) {
      row(2 * ti - ph + 2, q2);
      row(2 * ti - ph + 3, q3);
      float* vt = v + (ti - ti0) * TW + tj0;
      for (int j = 0; j < 4; ++j) {
        _mm256_maskstore_ps(vt + j * ldxi, tiles, _mm256_sub_ps(q0[j], q2[j]));
        _mm256_maskstore_ps(vt + (4 + j) * ldxi, tiles, _mm256_add_ps(q1[j], q2[j]));
        _mm256_maskstore_ps(vt + (8 + j) * ldxi, tiles, _mm256_sub_ps(q2[j], q1[j]));
        _mm256_maskstore_ps(vt + (12 + j) * ldxi, tiles, _mm256_sub_ps(q1[j], q3[j]));
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
  const __m256 b = _mm256_set1_ps(bias);
  for (int64_t tj0 = 0; tj0 < TW; tj0 += 8) {
    const __m256i tiles = first_lanes(TW - tj0);
    const int64_t cols = OW - 2 * tj0;  // output columns of this chunk still inside the plane
    const __m256i mlo = first_lanes(cols), mhi = first_lanes(cols - 8);
    for (int64_t ti = ti0; ti < ti1; ++ti) {
      const float* mt = m + (ti - ti0) * TW + tj0;
      __m256 s0[4], s1[4];  // rows of A^T M
      for (int j = 0; j < 4; ++j) {
        const __m256 m0 = _mm256_maskload_ps(mt + j * ldxi, tiles);
        const __m256 m1 = _mm256_maskload_ps(mt + (4 + j) * ldxi, tiles);
        const __m256 m2 = _mm256_maskload_ps(mt + (8 + j) * ldxi, tiles);
        const __m256 m3 = _mm256_maskload_ps(mt + (12 + j) * ldxi, tiles);
        s0[j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
        s1[j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
      }
      for (int i = 0; i < 2 && 2 * ti + i < OH; ++i) {
        const __m256* s = i == 0 ? s0 : s1;
        const __m256 ye = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s[0], s[1]), s[2]), b);
        const __m256 yo = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s[1], s[2]), s[3]), b);
        const __m256 lo = _mm256_unpacklo_ps(ye, yo);  // e0 o0 e1 o1 | e4 o4 e5 o5
        const __m256 hi = _mm256_unpackhi_ps(ye, yo);  // e2 o2 e3 o3 | e6 o6 e7 o7
        float* yr = y + (2 * ti + i) * OW + 2 * tj0;
        _mm256_maskstore_ps(yr, mlo, _mm256_permute2f128_ps(lo, hi, 0x20));
        _mm256_maskstore_ps(yr + 8, mhi, _mm256_permute2f128_ps(lo, hi, 0x31));
      }
    }
  }
}

void winograd_output_grad_plane(const float* dy, int64_t OH, int64_t OW, int64_t ti0, int64_t ti1,
                                int64_t TW, float* dm, int64_t ldxi) {
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t tj0 = 0; tj0 < TW; tj0 += 8) {
    const __m256i tiles = first_lanes(TW - tj0);
    const int64_t cols = OW - 2 * tj0;  // dy columns of this chunk inside the plane
    const __m256i mA = first_lanes(cols), mB = first_lanes(cols - 8);
    for (int64_t ti = ti0; ti < ti1; ++ti) {
      __m256 z[2][4];  // A dY along the row, of rows 2*ti and 2*ti + 1
      for (int a = 0; a < 2; ++a) {
        const int64_t oh = 2 * ti + a;
        if (oh >= OH) {
          z[a][0] = z[a][1] = z[a][2] = z[a][3] = zero;
          continue;
        }
        const float* p = dy + oh * OW + 2 * tj0;
        __m256 e, o;
        split_even_odd(_mm256_maskload_ps(p, mA), _mm256_maskload_ps(p + 8, mB), &e, &o);
        z[a][0] = e;
        z[a][1] = _mm256_add_ps(e, o);
        z[a][2] = _mm256_sub_ps(e, o);
        z[a][3] = _mm256_sub_ps(zero, o);
      }
      float* dt = dm + (ti - ti0) * TW + tj0;
      for (int j = 0; j < 4; ++j) {
        _mm256_maskstore_ps(dt + j * ldxi, tiles, z[0][j]);
        _mm256_maskstore_ps(dt + (4 + j) * ldxi, tiles, _mm256_add_ps(z[0][j], z[1][j]));
        _mm256_maskstore_ps(dt + (8 + j) * ldxi, tiles, _mm256_sub_ps(z[0][j], z[1][j]));
        _mm256_maskstore_ps(dt + (12 + j) * ldxi, tiles, _mm256_sub_ps(zero, z[1][j]));
      }
    }
  }
}

}  // namespace gradcore::avx2_fma
