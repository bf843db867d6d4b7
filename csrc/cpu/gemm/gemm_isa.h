// The GEMM functions each ISA path exports, and the path tables built from them.
//
// ISA dispatch rule: the functions of gradcore::avx2_fma are defined in kernel_avx2_fma.cpp,
// compiled with -mavx2 -mfma (CMakeLists.txt, "ISA files"); they may only run when
// at_least(CpuCapability::kAvx2Fma). Portable code reaches them through these declarations
// and the GemmPath tables of paths.cpp, never by including intrinsics. Inline functions and
// templates with external linkage instantiated in an ISA file could be merged by the linker
// (COMDAT) with a portable file's copy and then run on a CPU without that ISA, so ISA files
// keep everything in their own namespace or an anonymous one, and include only headers of
// plain declarations (this one) or templates with internal linkage (gemm_internal.h).
#pragma once
#include <cstdint>

#include "core/cpu_path_tuning.h"
#include "cpu/gemm/gemm_internal.h"

namespace gradcore {

namespace generic {
// The portable kernels (kernel_generic.cpp): 4x8 float (8 SSE registers of accumulators) and
// 4x4 double tiles; they pack with gemm_internal.h's portable packers.
constexpr int kGemmMrF32 = 4, kGemmNrF32 = 8, kGemmMrF64 = 4, kGemmNrF64 = 4;
void sgemm_kernel(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                  float beta);
void sgemm_edge_tile(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                     float beta, int m, int n);
void dgemm_kernel(int64_t kc, const double* a, const double* b, int64_t ldb, double* c, int64_t ldc,
                  double beta);
void dgemm_edge_tile(int64_t kc, const double* a, const double* b, int64_t ldb, double* c,
                     int64_t ldc, double beta, int m, int n);
}  // namespace generic

namespace avx2_fma {
// The MicroKernel, EdgeKernel, TallKernel, NarrowKernel, PackA and PackB of gemm_internal.h for
// the 6x16 float tile and the 6x8 double tile (double packs A with the portable packer).
constexpr int kGemmMrF32 = 6, kGemmNrF32 = 16, kGemmMrF64 = 6, kGemmNrF64 = 8;
void sgemm_kernel(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                  float beta);
void sgemm_edge_tile(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                     float beta, int m, int n);
void sgemm_tall_tiles(int64_t kc, const float* a0, const float* a1, int m1, const float* b,
                      int64_t ldb, float* c, int64_t ldc, float beta, int n);
int sgemm_narrow_panel(int64_t kc, const float* a, int m, const float* b, int64_t ldb, float* c,
                       int64_t ldc, float beta, int n);
void sgemm_pack_a(bool trans, const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
                  int64_t kc, float alpha, float* out);
void sgemm_pack_b(bool trans, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                  int64_t nc, float* out, bool ahead);
void dgemm_kernel(int64_t kc, const double* a, const double* b, int64_t ldb, double* c, int64_t ldc,
                  double beta);
void dgemm_edge_tile(int64_t kc, const double* a, const double* b, int64_t ldb, double* c,
                     int64_t ldc, double beta, int m, int n);
void dgemm_pack_b(bool trans, const double* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                  int64_t nc, double* out, bool ahead);
}  // namespace avx2_fma

namespace avx512 {
// kernel_avx512.cpp (-mavx512f/bw/vl/dq -mavx2 -mfma; run only when
// at_least(CpuCapability::kAvx512)): the MicroKernel, EdgeKernel, PackA and PackB of
// gemm_internal.h for the 8x32 float and 8x16 double tiles (16 zmm accumulators each).
constexpr int kGemmMrF32 = 8, kGemmNrF32 = 32, kGemmMrF64 = 8, kGemmNrF64 = 16;
void sgemm_kernel(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                  float beta);
void sgemm_edge_tile(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                     float beta, int m, int n);
void sgemm_pack_a(bool trans, const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
                  int64_t kc, float alpha, float* out);
void sgemm_pack_b(bool trans, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                  int64_t nc, float* out, bool ahead);
void dgemm_kernel(int64_t kc, const double* a, const double* b, int64_t ldb, double* c, int64_t ldc,
                  double beta);
void dgemm_edge_tile(int64_t kc, const double* a, const double* b, int64_t ldb, double* c,
                     int64_t ldc, double beta, int m, int n);
void dgemm_pack_a(bool trans, const double* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
                  int64_t kc, double alpha, double* out);
void dgemm_pack_b(bool trans, const double* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                  int64_t nc, double* out, bool ahead);
}  // namespace avx512

namespace gemm_detail {
// The GEMM path of the selected capability (paths.cpp).
template <typename T>
const GemmPath<T>& selected_gemm_path();

// The path that multiplies an M x N product fastest among the selected one and the paths
// below it whose tiles waste fewer lanes (paths.cpp); n = 0: N unknown (taken as wide).
template <typename T>
const GemmPath<T>& gemm_path_for(int64_t m, int64_t n);
}  // namespace gemm_detail

}  // namespace gradcore
