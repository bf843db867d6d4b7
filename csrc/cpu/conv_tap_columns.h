// The columns (c, r, s) of one transposed implicit-columns panel (the weight gradient's right
// operand, rows = pixels [p0, p0+kc)), set up for the ISA packers: conv_avx2_fma.cpp (16-wide
// panels) and conv_avx512.cpp (32-wide). Internal linkage: each ISA file compiles its own copy
// with its own flags (rules: CMakeLists.txt, "ISA files"); it needs AVX2 (256-bit integers).
#pragma once
#if !defined(__AVX2__)
#error "conv_tap_columns.h is for ISA files compiled with -mavx2 (CMakeLists.txt, ISA files)"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "cpu/conv_panels.h"

namespace gradcore {
namespace {

// kWidth columns: each column's source stretch, its column lane masks (indexed by p % W), and
// the panel rows [a, b) inside its kernel row's pixel range (as broadcast a - 1 and b, for
// 8-lane row compares). Columns past nc read column 0's stretch with the all-zero mask row
// (row S of col_ok).
template <int kWidth>
struct TapColumns {
  const float* src[kWidth];
  const int32_t* col_ok[kWidth];
  __m256i a_minus_1[kWidth], b[kWidth];
  int64_t all_a = 0, all_b = 0;  // rows [all_a, all_b) are inside every column's range
  bool inside = true;            // every stretch lies inside the input tensor
};

template <int kWidth>
void tap_columns(const ImplicitCols<float>& ic, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                 TapColumns<kWidth>* t) {
  const int64_t RS = ic.R * ic.S, rs0 = j0 % RS, wm = ic.W + kColMaskPad;
  int64_t c = j0 / RS, r = rs0 / ic.S, s = rs0 % ic.S;  // column j0 + j, stepped along
  t->all_a = 0;
  t->all_b = kc;
  for (int j = 0; j < kWidth; ++j) {
    int64_t a = 0, b = kc;
    if (j >= nc) {
      t->src[j] = t->src[0];
      t->col_ok[j] = ic.col_ok + ic.S * wm;
    } else {
      t->src[j] = ic.x + c * ic.HW + ic.row_off[r] + ic.col_off[s] + p0;
      t->col_ok[j] = ic.col_ok + s * wm;
      a = std::clamp<int64_t>(ic.p_lo[r] - p0, 0, kc);
      b = std::clamp<int64_t>(ic.p_hi[r] - p0, a, kc);
      t->inside = t->inside && t->src[j] - ic.lo >= 0 && ic.hi - t->src[j] >= kc;
      if (++s == ic.S) {
        s = 0;
        if (++r == ic.R) r = 0, ++c;
      }
    }
    t->all_a = std::max(t->all_a, a);
    t->all_b = std::min(t->all_b, b);
    t->a_minus_1[j] = _mm256_set1_epi32(static_cast<int>(a) - 1);  // kc fits int32 (a GEMM block)
    t->b[j] = _mm256_set1_epi32(static_cast<int>(b));
  }
}

}  // namespace
}  // namespace gradcore
