// The AVX512_BF16 micro-kernel of gemm_bf16 (gemm_bf16.h) and its B packer. An ISA file:
// compiled with the avx512 flags plus -mavx512bf16 and called only where the avx512 path is
// selected and cpu_has_avx512_bf16() (rules: CMakeLists.txt, "ISA files").
//
// Tile: MR = 8 rows x NR = 32 columns, 16 zmm accumulators of 16 floats (8 x 16 for a last
// panel of at most 16 columns). Per pair of K: two 64-byte loads of the packed B panel (16
// columns x 2 k each) and, per row, one broadcast of A's 32-bit pair (A[i][2p] low, A[i][2p+1]
// high), then vdpbf16ps: acc[c] += a0*b0[c] + a1*b1[c] for the 16 columns c.
#if !defined(__AVX512F__) || !defined(__AVX512BF16__)
#error "gemm_bf16_avx512bf16.cpp must be compiled with -mavx512bf16 (CMakeLists.txt, ISA files)"
#endif
#include <immintrin.h>

#include <cstring>

#include "cpu/gemm/gemm_bf16.h"

namespace gradcore::avx512bf16 {
namespace {

constexpr int kMr = 8;

// One pair of K for MR rows and NH 16-column halves of the panel: acc[r][h] += A[r][2p..2p+1] .
// panel pair p, half h. `pair(r)` gives row r's 32-bit pair (A[r][2p] low, A[r][2p+1] high).
template <int MR, int NH, class Pair>
inline void step(__m512 (&acc)[MR][NH], const uint16_t* panel, int64_t p, const Pair& pair) {
  __m512bh b[NH];
  for (int h = 0; h < NH; ++h) b[h] = (__m512bh)_mm512_loadu_si512(panel + p * 64 + h * 32);
  for (int r = 0; r < MR; ++r) {
    const __m512bh a = (__m512bh)_mm512_set1_epi32(pair(r));
    for (int h = 0; h < NH; ++h) acc[r][h] = _mm512_dpbf16_ps(acc[r][h], a, b[h]);
  }
}

// C (MR x nc) = A (MR x K) @ the panel, or += with accumulate. NH = 2 for nc > 16, else 1 (a
// last panel of at most 16 columns multiplies only its first half).
template <int MR, int NH>
void tile(const uint16_t* A, int64_t lda, int64_t K, const uint16_t* panel, int64_t nc, float* C,
          int64_t ldc, bool accumulate) {
  __m512 acc[MR][NH];
  for (int r = 0; r < MR; ++r)
    for (int h = 0; h < NH; ++h) acc[r][h] = _mm512_setzero_ps();
  const int64_t full = K / 2;
  for (int64_t p = 0; p < full; ++p)
    step<MR, NH>(acc, panel, p, [&](int r) {
      int v;
      std::memcpy(&v, A + r * lda + 2 * p, sizeof v);
      return v;
    });
  if (K % 2)  // the last pair: A[r][K-1] and a zero
    step<MR, NH>(acc, panel, full, [&](int r) { return static_cast<int>(A[r * lda + K - 1]); });
  __mmask16 mask[NH];
  for (int h = 0; h < NH; ++h) {
    const int64_t left = nc - 16 * h;  // no std::min here: ISA files instantiate no STL
    const int64_t cols = left < 0 ? 0 : (left > 16 ? 16 : left);
    mask[h] = cols == 16 ? 0xFFFF : static_cast<__mmask16>((1u << cols) - 1);
  }
  for (int r = 0; r < MR; ++r)
    for (int h = 0; h < NH; ++h) {
      float* c = C + r * ldc + 16 * h;
      if (accumulate) acc[r][h] = _mm512_add_ps(acc[r][h], _mm512_maskz_loadu_ps(mask[h], c));
      _mm512_mask_storeu_ps(c, mask[h], acc[r][h]);
    }
}

// Rows [i0, i1) of C against one panel, in tiles of kMr rows and a last one of 1..7.
template <int NH>
void rows(const uint16_t* A, int64_t lda, int64_t K, int64_t i0, int64_t i1, const uint16_t* panel,
          int64_t nc, float* C, int64_t ldc, bool accumulate) {
  int64_t i = i0;
  for (; i + kMr <= i1; i += kMr)
    tile<kMr, NH>(A + i * lda, lda, K, panel, nc, C + i * ldc, ldc, accumulate);
  A += i * lda;
  C += i * ldc;
  switch (i1 - i) {
    case 7:
      return tile<7, NH>(A, lda, K, panel, nc, C, ldc, accumulate);
    case 6:
      return tile<6, NH>(A, lda, K, panel, nc, C, ldc, accumulate);
    case 5:
      return tile<5, NH>(A, lda, K, panel, nc, C, ldc, accumulate);
    case 4:
      return tile<4, NH>(A, lda, K, panel, nc, C, ldc, accumulate);
    case 3:
      return tile<3, NH>(A, lda, K, panel, nc, C, ldc, accumulate);
    case 2:
      return tile<2, NH>(A, lda, K, panel, nc, C, ldc, accumulate);
    case 1:
      return tile<1, NH>(A, lda, K, panel, nc, C, ldc, accumulate);
    default:
      return;
  }
}

// op(B) = B (K x N): pair p of the panel interleaves rows 2p and 2p+1 of B, 32 columns each
// (masked loads past nc), lane e of half h taking column 16h + e/2 of row 2p + e%2.
void pack_rows(const uint16_t* B, int64_t ldb, int64_t K, int64_t j0, int64_t nc, uint16_t* out) {
  alignas(64) static constexpr uint16_t kLo[32] = {0,  32, 1,  33, 2,  34, 3,  35, 4,  36, 5,
                                                   37, 6,  38, 7,  39, 8,  40, 9,  41, 10, 42,
                                                   11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
  alignas(64) static constexpr uint16_t kHi[32] = {16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21,
                                                   53, 22, 54, 23, 55, 24, 56, 25, 57, 26, 58,
                                                   27, 59, 28, 60, 29, 61, 30, 62, 31, 63};
  const __m512i lo = _mm512_load_si512(kLo), hi = _mm512_load_si512(kHi);
  const __mmask32 m = nc >= 32 ? ~__mmask32{0} : (__mmask32{1} << nc) - 1;
  const uint16_t* b = B + j0;
  for (int64_t p = 0; p < (K + 1) / 2; ++p, out += 64) {
    const __m512i r0 = _mm512_maskz_loadu_epi16(m, b + 2 * p * ldb);
    const __m512i r1 =
        2 * p + 1 < K ? _mm512_maskz_loadu_epi16(m, b + (2 * p + 1) * ldb) : _mm512_setzero_si512();
    _mm512_storeu_si512(out, _mm512_permutex2var_epi16(r0, lo, r1));
    _mm512_storeu_si512(out + 32, _mm512_permutex2var_epi16(r0, hi, r1));
  }
}

// op(B) = B^T for B (N x K): pair p of column j is the 32-bit word at B[j0 + j][2p], so the
// panel is a 32 x (K/2) transpose of words: gathered 16 columns at a time. An odd K's last
// pair (one value and a zero) is copied by hand: its word would read past the row.
void pack_cols(const uint16_t* B, int64_t ldb, int64_t K, int64_t j0, int64_t nc, uint16_t* out) {
  if (ldb > (int64_t{1} << 26)) {  // the gather's 32-bit byte offsets (15 * 2 * ldb) overflow
    for (int64_t p = 0; p < (K + 1) / 2; ++p)
      for (int64_t j = 0; j < 32; ++j)
        for (int64_t t = 0; t < 2; ++t)
          out[p * 64 + j * 2 + t] = j < nc && 2 * p + t < K ? B[(j0 + j) * ldb + 2 * p + t] : 0;
    return;
  }
  const __m512i step =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(static_cast<int>(ldb * 2)));
  const uint16_t* b = B + j0 * ldb;
  const __mmask16 m0 = nc >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << nc) - 1);
  const __mmask16 m1 = nc >= 32  ? 0xFFFF
                       : nc > 16 ? static_cast<__mmask16>((1u << (nc - 16)) - 1)
                                 : 0;
  const uint16_t* b1 = b + 16 * ldb;
  const int64_t full = K / 2;
  for (int64_t p = 0; p < full; ++p, out += 64) {
    const __m512i z = _mm512_setzero_si512();
    _mm512_storeu_si512(out, _mm512_mask_i32gather_epi32(z, m0, step, b + 2 * p, 1));
    _mm512_storeu_si512(out + 32, m1 ? _mm512_mask_i32gather_epi32(z, m1, step, b1 + 2 * p, 1) : z);
  }
  if (K % 2) {
    for (int64_t j = 0; j < 32; ++j) {
      out[2 * j] = j < nc ? b[j * ldb + K - 1] : 0;
      out[2 * j + 1] = 0;
    }
  }
}

}  // namespace

void pack_b_panel(bool trans_b, const uint16_t* B, int64_t ldb, int64_t K, int64_t j0, int64_t nc,
                  uint16_t* out) {
  if (trans_b)
    pack_cols(B, ldb, K, j0, nc, out);
  else
    pack_rows(B, ldb, K, j0, nc, out);
}

void panel_rows(const uint16_t* A, int64_t lda, int64_t K, int64_t i0, int64_t i1,
                const uint16_t* panel, int64_t nc, float* C, int64_t ldc, bool accumulate) {
  if (nc > 16)
    rows<2>(A, lda, K, i0, i1, panel, nc, C, ldc, accumulate);
  else
    rows<1>(A, lda, K, i0, i1, panel, nc, C, ldc, accumulate);
}

}  // namespace gradcore::avx512bf16
