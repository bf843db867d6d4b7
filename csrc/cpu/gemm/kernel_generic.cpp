// Portable micro-kernels in plain C++ for any CPU (the compiler vectorises them for the
// baseline ISA, e.g. SSE2 on x86-64). Used when AVX2+FMA is missing or forced off
// (GRADCORE_CPU_CAPABILITY=generic, gradcore._C.set_cpu_capability("generic")).
#include "cpu/gemm/gemm_internal.h"
#include "cpu/gemm/gemm_isa.h"

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

}  // namespace

}  // namespace gradcore::gemm_detail

namespace gradcore::generic {

using gemm_detail::edge_via_tile;
using gemm_detail::kernel_generic;

void sgemm_kernel(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                  float beta) {
  kernel_generic<float, kGemmMrF32, kGemmNrF32>(kc, a, b, ldb, c, ldc, beta);
}
void sgemm_edge_tile(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                     float beta, int m, int n) {
  edge_via_tile<float, kGemmMrF32, kGemmNrF32, &kernel_generic<float, kGemmMrF32, kGemmNrF32>>(
      kc, a, b, ldb, c, ldc, beta, m, n);
}
void dgemm_kernel(int64_t kc, const double* a, const double* b, int64_t ldb, double* c, int64_t ldc,
                  double beta) {
  kernel_generic<double, kGemmMrF64, kGemmNrF64>(kc, a, b, ldb, c, ldc, beta);
}
void dgemm_edge_tile(int64_t kc, const double* a, const double* b, int64_t ldb, double* c,
                     int64_t ldc, double beta, int m, int n) {
  edge_via_tile<double, kGemmMrF64, kGemmNrF64, &kernel_generic<double, kGemmMrF64, kGemmNrF64>>(
      kc, a, b, ldb, c, ldc, beta, m, n);
}

}  // namespace gradcore::generic
