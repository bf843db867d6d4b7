// sum_rows' accumulation loop, shared by elementwise.cpp (portable) and
// elementwise_avx2_fma.cpp (the same loop compiled for AVX2), and the AVX2 entry points.
//
// Everything here has internal linkage (anonymous namespace) and uses no STL, so the -mavx2
// copies are never merged with the portable ones (ISA rule: CMakeLists.txt, "ISA files"). Both
// builds add the same doubles in the same order: identical results.
#pragma once
#include <cstdint>

namespace gradcore {
namespace {

// p[c] += x[r, c] for the rows r in [r0, r1) of x (R, C), in row order, c in [0, C); in
// double. Accumulates into p (C).
template <typename T>
inline void add_rows_body(const T* x, int64_t C, int64_t r0, int64_t r1, double* p) {
  for (int64_t r = r0; r < r1; ++r) {
    const T* xr = x + r * C;
    for (int64_t c = 0; c < C; ++c) p[c] += static_cast<double>(xr[c]);
  }
}

}  // namespace

namespace avx2_fma {
// add_rows_body compiled for AVX2.
void add_rows(const float* x, int64_t C, int64_t r0, int64_t r1, double* p);
void add_rows(const double* x, int64_t C, int64_t r0, int64_t r1, double* p);
}  // namespace avx2_fma

}  // namespace gradcore
