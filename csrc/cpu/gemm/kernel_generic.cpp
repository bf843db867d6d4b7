// Portable micro-kernels in plain C++ for any CPU (the compiler vectorises them for the
// baseline ISA, e.g. SSE2 on x86-64). Used when AVX2+FMA is missing or forced off
// (GRADCORE_FORCE_GENERIC=1, gradcore._C.set_simd_path("generic")).
#include "cpu/gemm/gemm_internal.h"

namespace gradcore::gemm_detail {
namespace {

// c[MR x NR] = a-panel (kc x MR) @ b-panel (kc x NR) + beta * c (beta == 0: overwrite).
template <typename T, int MR, int NR>
void kernel_generic(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, T beta) {
  T acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int i = 0; i < MR; ++i) {
      const T ai = a[i];
      for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[j];
    }
    a += MR;
    b += ldb;
  }
  if (beta == T(0)) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) c[i * ldc + j] = acc[i][j];
  } else {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) c[i * ldc + j] = acc[i][j] + beta * c[i * ldc + j];
  }
}

constexpr int kMrF = 4, kNrF = 8;  // 8 SSE registers of accumulators
constexpr int kMrD = 4, kNrD = 4;

}  // namespace

const GemmPath<float>& generic_path_f32() {
  static const GemmPath<float> p{
      kMrF,
      kNrF,
      128,
      256,
      4096,
      &kernel_generic<float, kMrF, kNrF>,
      &edge_via_tile<float, kMrF, kNrF, &kernel_generic<float, kMrF, kNrF>>,
      &pack_a_generic<float, kMrF>,
      &pack_b_generic<float, kNrF>,
      nullptr,
      nullptr};
  return p;
}

const GemmPath<double>& generic_path_f64() {
  static const GemmPath<double> p{
      kMrD,
      kNrD,
      64,
      256,
      4096,
      &kernel_generic<double, kMrD, kNrD>,
      &edge_via_tile<double, kMrD, kNrD, &kernel_generic<double, kMrD, kNrD>>,
      &pack_a_generic<double, kMrD>,
      &pack_b_generic<double, kNrD>,
      nullptr,
      nullptr};
  return p;
}

}  // namespace gradcore::gemm_detail
