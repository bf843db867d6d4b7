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

#include <algorithm>

#include "cpu/conv_panels.h"
#include "cpu/conv_tap_columns.h"
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

// Bits j of [0, n) (n <= 32) with lo <= j < hi.
inline uint32_t range_bits(int64_t lo, int64_t hi, int n) {
  const int64_t l = std::clamp<int64_t>(lo, 0, n), h = std::clamp<int64_t>(hi, l, n);
  return static_cast<uint32_t>(((uint64_t{1} << h) - 1) & ~((uint64_t{1} << l) - 1));
}

}  // namespace

// Rows [p0, p0+kc) x pixels [j0, j0+32) of the columns: per row, two masked 16-lane loads of
// the shifted input plane (a masked-off lane reads no memory, so rows that reach past the
// input tensor's ends need no scalar copy). The k-mask: the column lane masks (col_ok, indexed
// by p % W) AND the kernel row's pixel-range lanes, computed when the kernel row changes; as
// conv_avx2_fma.cpp's pack_cols_panel16 with 32 lanes.
void pack_cols_panel32(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t, int,
                       float* out) {
  const ImplicitCols<float>& ic = *static_cast<const ImplicitCols<float>*>(ctx);
  const int64_t RS = ic.R * ic.S, rs0 = p0 % RS, wm = ic.W + kColMaskPad, q0 = j0 % ic.W;
  int64_t c = p0 / RS, r = rs0 / ic.S, s = rs0 % ic.S;
  const float* xc = ic.x + c * ic.HW + j0;  // row (c, r, s) reads xc[j + off]
  int64_t roff = 0;                         // kernel row r's shift
  __mmask16 rm0 = 0, rm1 = 0;               // lanes of [j0, j0+32) in its pixel range
  auto enter_row = [&] {
    roff = ic.row_off[r];
    const uint32_t bits = range_bits(ic.p_lo[r] - j0, ic.p_hi[r] - j0, kPanel);
    rm0 = static_cast<__mmask16>(bits & 0xffffu);
    rm1 = static_cast<__mmask16>(bits >> 16);
  };
  enter_row();
  for (int64_t k = 0; k < kc; ++k, out += kPanel) {
    const float* src = xc + roff + ic.col_off[s];
    const int32_t* m = ic.col_ok + s * wm + q0;
    _mm512_storeu_ps(out, _mm512_maskz_loadu_ps(rm0 & lanes16(m), src));
    _mm512_storeu_ps(out + 16, _mm512_maskz_loadu_ps(rm1 & lanes16(m + 16), src + 16));
    if (++s == ic.S) {
      s = 0;
      if (++r == ic.R) r = 0, xc += ic.HW;
      enter_row();
    }
  }
}

namespace {

// Rows [k, k+8) of the panel, transposed into out (8 rows of 32): column j's k-mask is its
// column lane masks at output column q AND (unless kAllIn: every row inside every column's
// range) its panel rows [a[j], b[j]) (rows past kc are outside every column's range, so the
// k tail uses the same block).
template <bool kAllIn>
void pack_t_block(const TapColumns<kPanel>& t, int64_t k, int64_t q, float* out) {
  const __m256i rows = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                        _mm256_set1_epi32(static_cast<int>(k)));
  for (int h = 0; h < kPanel / 8; ++h) {
    __m256 v[8];
    for (int i = 0; i < 8; ++i) {
      const int j = h * 8 + i;
      __mmask8 m = lanes8(t.col_ok[j] + q);
      if constexpr (!kAllIn)
        m &= _mm256_cmpgt_epi32_mask(rows, t.a_minus_1[j]) & _mm256_cmpgt_epi32_mask(t.b[j], rows);
      v[i] = _mm256_maskz_loadu_ps(m, t.src[j] + k);
    }
    transpose8(v);
    for (int i = 0; i < 8; ++i) _mm256_storeu_ps(out + i * kPanel + h * 8, v[i]);
  }
}

}  // namespace

// Rows (pixels) [p0, p0+kc) x columns (c, r, s) [j0, j0+nc) of the transposed columns, as
// 32-wide panels: 8 x 8 blocks of masked loads, transposed, as conv_avx2_fma.cpp's
// pack_cols_t_panel16 (columns past nc read column 0's stretch with the all-zero mask row S
// of col_ok: nothing is read). Blocks of rows inside every column's pixel range (all but the
// first and last few of a plane) use the column lane masks alone.
void pack_cols_t_panel32(const void* ctx, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int,
                         float* out) {
  const ImplicitCols<float>& ic = *static_cast<const ImplicitCols<float>*>(ctx);
  TapColumns<kPanel> t;
  tap_columns(ic, p0, kc, j0, nc, &t);
  int64_t k = 0, q = p0 % ic.W;  // q: the output column of pixel p0 + k
  for (; k + 8 <= kc; k += 8) {
    if (k >= t.all_a && k + 8 <= t.all_b)
      pack_t_block<true>(t, k, q, out + k * kPanel);
    else
      pack_t_block<false>(t, k, q, out + k * kPanel);
    for (q += 8; q >= ic.W;) q -= ic.W;  // (q + 8) % W without a division
  }
  if (k < kc) {
    alignas(64) float tail[8 * kPanel];
    pack_t_block<false>(t, k, q, tail);
    std::copy(tail, tail + (kc - k) * kPanel, out + k * kPanel);
  }
}

}  // namespace gradcore::avx512
