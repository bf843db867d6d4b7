// The AVX512_BF16 micro-kernel of gemm_bf16 (gemm_bf16.h) and its B packer. An ISA file:
// compiled with the avx512 flags plus -mavx512bf16 and called only where the avx512 path is
// selected and cpu_has_avx512_bf16() (rules: CMakeLists.txt, "ISA files").
//
// Tile: MR = 8 rows x NR = 32 columns, 16 zmm accumulators of 16 floats. Per pair of K: two
// 64-byte loads of the packed B panel (16 columns x 2 k each) and, per row, one broadcast of
// A's 32-bit pair (A[i][2p] low, A[i][2p+1] high), then vdpbf16ps: acc[c] += a0*b0[c] +
// a1*b1[c] for the 16 columns c.
#if !defined(__AVX512F__) || !defined(__AVX512BF16__)
#error "gemm_bf16_avx512bf16.cpp must be compiled with -mavx512bf16 (CMakeLists.txt, ISA files)"
#endif
#include <immintrin.h>

#include <cstring>

#include "cpu/gemm/gemm_bf16.h"

namespace gradcore::avx512bf16 {
namespace {

constexpr int kMr = 8;

// One pair of K for MR rows: acc[r] += A[r][2p..2p+1] . panel pair p. `pair(r)` gives row r's
// 32-bit pair (A[r][2p] low, A[r][2p+1] high).
template <int MR, class Pair>
inline void step(__m512 (&acc)[MR][2], const uint16_t* panel, int64_t p, const Pair& pair) {
  const __m512bh b0 = (__m512bh)_mm512_loadu_si512(panel + p * 64);
  const __m512bh b1 = (__m512bh)_mm512_loadu_si512(panel + p * 64 + 32);
  for (int r = 0; r < MR; ++r) {
    const __m512bh a = (__m512bh)_mm512_set1_epi32(pair(r));
    acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
    acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
  }
}

template <int MR>
void tile(const uint16_t* A, int64_t lda, int64_t K, const uint16_t* panel, int64_t nc, float* C,
          int64_t ldc) {
  __m512 acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const int64_t full = K / 2;
  for (int64_t p = 0; p < full; ++p)
    step<MR>(acc, panel, p, [&](int r) {
      int v;
      std::memcpy(&v, A + r * lda + 2 * p, sizeof v);
      return v;
    });
  if (K % 2)  // the last pair: A[r][K-1] and a zero
    step<MR>(acc, panel, full, [&](int r) { return static_cast<int>(A[r * lda + K - 1]); });
  const __mmask16 m0 = nc >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << nc) - 1);
  const __mmask16 m1 = nc >= 32  ? 0xFFFF
                       : nc > 16 ? static_cast<__mmask16>((1u << (nc - 16)) - 1)
                                 : 0;
  for (int r = 0; r < MR; ++r) {
    _mm512_mask_storeu_ps(C + r * ldc, m0, acc[r][0]);
    _mm512_mask_storeu_ps(C + r * ldc + 16, m1, acc[r][1]);
  }
}

}  // namespace

void pack_b_panel(bool trans_b, const uint16_t* B, int64_t ldb, int64_t K, int64_t j0, int64_t nc,
                  uint16_t* out) {
  const int64_t kp = (K + 1) / 2;
  for (int64_t p = 0; p < kp; ++p) {
    uint16_t* o = out + p * 64;
    for (int64_t j = 0; j < 32; ++j) {
      for (int t = 0; t < 2; ++t) {
        const int64_t k = 2 * p + t;
        uint16_t v = 0;
        if (j < nc && k < K) v = trans_b ? B[(j0 + j) * ldb + k] : B[k * ldb + j0 + j];
        o[(j / 16) * 32 + (j % 16) * 2 + t] = v;
      }
    }
  }
}

void panel_rows(const uint16_t* A, int64_t lda, int64_t K, int64_t i0, int64_t i1,
                const uint16_t* panel, int64_t nc, float* C, int64_t ldc) {
  int64_t i = i0;
  for (; i + kMr <= i1; i += kMr) tile<kMr>(A + i * lda, lda, K, panel, nc, C + i * ldc, ldc);
  switch (i1 - i) {
    case 7:
      tile<7>(A + i * lda, lda, K, panel, nc, C + i * ldc, ldc);
      break;
    case 6:
      tile<6>(A + i * lda, lda, K, panel, nc, C + i * ldc, ldc);
      break;
    case 5:
      tile<5>(A + i * lda, lda, K, panel, nc, C + i * ldc, ldc);
      break;
    case 4:
      tile<4>(A + i * lda, lda, K, panel, nc, C + i * ldc, ldc);
      break;
    case 3:
      tile<3>(A + i * lda, lda, K, panel, nc, C + i * ldc, ldc);
      break;
    case 2:
      tile<2>(A + i * lda, lda, K, panel, nc, C + i * ldc, ldc);
      break;
    case 1:
      tile<1>(A + i * lda, lda, K, panel, nc, C + i * ldc, ldc);
      break;
    default:
      break;
  }
}

}  // namespace gradcore::avx512bf16
