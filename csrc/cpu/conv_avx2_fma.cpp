// The implicit convolution's AVX2 column packers (16-wide panels for the 6x16 float GEMM
// tile). An ISA file: compiled with -mavx2 -mfma, run only when the selected path's tuning
// names them (rules: CMakeLists.txt, "ISA files").
#if !defined(__AVX2__) || !defined(__FMA__)
#error "conv_avx2_fma.cpp must be compiled with -mavx2 -mfma (CMakeLists.txt, ISA files)"
#endif
#include <immintrin.h>

#include "cpu/conv_panels.h"
#include "cpu/simd_transpose_avx2.h"

namespace gradcore::avx2_fma {

// Two unaligned loads per row, the padding lanes cleared by AND with the lane masks (exact
// zeros whatever they read, NaN too). A row whose 16 lanes would reach outside the input
// tensor takes the scalar copy instead.
void pack_cols_panel16(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t, int,
                       float* out) {
  const ImplicitCols<float>& ic = *static_cast<const ImplicitCols<float>*>(ctx);
  int64_t c = p0 / ic.RS, rs = p0 % ic.RS;
  for (int64_t k = 0; k < kc; ++k, out += 16) {
    const int64_t off = ic.off[rs];
    const float* row = ic.x + c * ic.HW + j0;  // src[j] = row[j + off]
    const int32_t* m = ic.valid + rs * ic.Pp + j0;
    const int64_t lo = row + off - ic.lo, hi = ic.hi - (row + off);
    if (lo >= 0 && hi >= 16) {
      const float* src = row + off;
      const __m256 m0 = _mm256_loadu_ps(reinterpret_cast<const float*>(m));
      const __m256 m1 = _mm256_loadu_ps(reinterpret_cast<const float*>(m + 8));
      _mm256_storeu_ps(out, _mm256_and_ps(_mm256_loadu_ps(src), m0));
      _mm256_storeu_ps(out + 8, _mm256_and_ps(_mm256_loadu_ps(src + 8), m1));
    } else {
      for (int j = 0; j < 16; ++j) out[j] = m[j] ? row[j + off] : 0.0f;
    }
    if (++rs == ic.RS) rs = 0, ++c;
  }
}

namespace {

// The scalar copy of pack_cols_t_panel16 (as conv.cpp's portable pack_cols_t_panel).
void pack_cols_t_panel_scalar(const ImplicitCols<float>& ic, int64_t p0, int64_t kc, int64_t j0,
                              int64_t nc, int nr, float* out) {
  for (int j = 0; j < nr; ++j) {
    if (j >= nc) {
      for (int64_t k = 0; k < kc; ++k) out[k * nr + j] = 0.0f;
      continue;
    }
    const int64_t c = (j0 + j) / ic.RS, rs = (j0 + j) % ic.RS;
    const float* src = ic.x + c * ic.HW + ic.off[rs] + p0;
    const int32_t* m = ic.valid + rs * ic.Pp + p0;
    for (int64_t k = 0; k < kc; ++k) out[k * nr + j] = m[k] ? src[k] : 0.0f;
  }
}

}  // namespace

// 8 x 8 blocks of AND-masked loads, transposed (columns past nc read with an all-zero mask).
// Reads that would leave the tensor and the k tail go scalar.
void pack_cols_t_panel16(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr,
                         float* out) {
  const ImplicitCols<float>& ic = *static_cast<const ImplicitCols<float>*>(ctx);
  const float* src[16];
  const int32_t* msk[16];
  bool inside = true;
  for (int j = 0; j < 16 && inside; ++j) {
    if (j >= nc) {  // past the last column: any readable row, all-zero mask (row RS)
      src[j] = src[0];
      msk[j] = ic.valid + ic.RS * ic.Pp + p0;
      continue;
    }
    const int64_t c = (j0 + j) / ic.RS, rs = (j0 + j) % ic.RS;
    src[j] = ic.x + c * ic.HW + ic.off[rs] + p0;
    msk[j] = ic.valid + rs * ic.Pp + p0;
    inside = src[j] - ic.lo >= 0 && ic.hi - src[j] >= kc;
  }
  if (!inside) return pack_cols_t_panel_scalar(ic, p0, kc, j0, nc, nr, out);
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    for (int h = 0; h < 2; ++h) {
      __m256 r[8];
      for (int q = 0; q < 8; ++q) {
        const __m256 m = _mm256_loadu_ps(reinterpret_cast<const float*>(msk[h * 8 + q] + k));
        r[q] = _mm256_and_ps(_mm256_loadu_ps(src[h * 8 + q] + k), m);
      }
      transpose8(r);
      for (int q = 0; q < 8; ++q) _mm256_storeu_ps(out + (k + q) * 16 + h * 8, r[q]);
    }
  }
  for (; k < kc; ++k)
    for (int j = 0; j < 16; ++j) out[k * 16 + j] = msk[j][k] ? src[j][k] : 0.0f;
}

}  // namespace gradcore::avx2_fma
