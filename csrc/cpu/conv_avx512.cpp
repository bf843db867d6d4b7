// The implicit convolution's AVX-512 column packers (32-wide panels for the 8x32 float GEMM
// tile). An ISA file: compiled with -mavx512f/bw/vl/dq -mavx2 -mfma, run only when the selected
// path's tuning names them (rules: CMakeLists.txt, "ISA files"). The lane masks become
// k-masks and the loads are masked: a masked-off lane reads no memory (no fault at the edges
// of the input tensor) and is written as +0, exactly as the portable packers' `m ? x : 0`.
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) || \
    !defined(__AVX512DQ__) || !defined(__AVX2__) || !defined(__FMA__)
#error "conv_avx512.cpp must be compiled with -mavx512f/bw/vl/dq -mavx2 -mfma (CMakeLists.txt)"
#endif
#include <immintrin.h>

#include "cpu/conv_panels.h"
#include "cpu/simd_transpose_avx2.h"

namespace gradcore::avx512 {
namespace {

using avx2_fma::transpose8;  // internal linkage: this file's copy is compiled for AVX-512

constexpr int kPanel = 32;  // the AVX-512 float GEMM's NR

// The k-mask of 16 lane masks (-1 valid, 0 padding) at m.
inline __mmask16 lanes16(const int32_t* m) {
  const __m512i v = _mm512_loadu_si512(m);
  return _mm512_test_epi32_mask(v, v);
}

inline __mmask8 lanes8(const int32_t* m) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m));
  return _mm256_test_epi32_mask(v, v);
}

}  // namespace

// Rows [p0, p0+kc) x pixels [j0, j0+32) of the columns: per row, two masked 16-lane loads of
// the shifted input plane (the masks are zero past the last pixel: Pp is a multiple of 32).
void pack_cols_panel32(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t, int,
                       float* out) {
  const ImplicitCols<float>& ic = *static_cast<const ImplicitCols<float>*>(ctx);
  int64_t c = p0 / ic.RS, rs = p0 % ic.RS;
  for (int64_t k = 0; k < kc; ++k, out += kPanel) {
    const float* src = ic.x + c * ic.HW + j0 + ic.off[rs];  // src[j] = x[c][j0 + j + off]
    const int32_t* m = ic.valid + rs * ic.Pp + j0;
    _mm512_storeu_ps(out, _mm512_maskz_loadu_ps(lanes16(m), src));
    _mm512_storeu_ps(out + 16, _mm512_maskz_loadu_ps(lanes16(m + 16), src + 16));
    if (++rs == ic.RS) rs = 0, ++c;
  }
}

// Rows (pixels) [p0, p0+kc) x columns (c, r, s) [j0, j0+nc) of the transposed columns, as
// 32-wide panels: 8 x 8 blocks of masked loads, transposed (columns past nc read with an
// all-zero mask, row RS of the masks); the k tail is scalar.
void pack_cols_t_panel32(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int,
                         float* out) {
  const ImplicitCols<float>& ic = *static_cast<const ImplicitCols<float>*>(ctx);
  const float* src[kPanel];
  const int32_t* msk[kPanel];
  for (int j = 0; j < kPanel; ++j) {
    if (j >= nc) {  // past the last column: no memory read, all-zero mask
      src[j] = ic.x;
      msk[j] = ic.valid + ic.RS * ic.Pp + p0;
      continue;
    }
    const int64_t c = (j0 + j) / ic.RS, rs = (j0 + j) % ic.RS;
    src[j] = ic.x + c * ic.HW + ic.off[rs] + p0;
    msk[j] = ic.valid + rs * ic.Pp + p0;
  }
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    for (int h = 0; h < kPanel / 8; ++h) {
      __m256 r[8];
      for (int q = 0; q < 8; ++q)
        r[q] = _mm256_maskz_loadu_ps(lanes8(msk[h * 8 + q] + k), src[h * 8 + q] + k);
      transpose8(r);
      for (int q = 0; q < 8; ++q) _mm256_storeu_ps(out + (k + q) * kPanel + h * 8, r[q]);
    }
  }
  for (; k < kc; ++k)
    for (int j = 0; j < kPanel; ++j) out[k * kPanel + j] = msk[j][k] ? src[j][k] : 0.0f;
}

}  // namespace gradcore::avx512
