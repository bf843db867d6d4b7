// AVX2 + FMA micro-kernels: 6x16 float and 6x8 double, 12 ymm accumulators each.
// Compiled without -march flags: only these functions carry target("avx2,fma"), and the
// driver calls them only when the CPU has AVX2 and FMA (core/cpu_features.h).
#include "cpu/gemm/gemm_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GC_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define GC_HAVE_X86 1
#endif

namespace gradcore::gemm_detail {

#ifdef GC_HAVE_X86
namespace {

constexpr int kMrF = 6, kNrF = 16;
constexpr int kMrD = 6, kNrD = 8;

// c[6 x 16] = a-panel (kc x 6) @ b-panel (kc x 16) + beta * c (beta == 0: overwrite).
GC_TARGET_AVX2 void sgemm_kernel_6x16(int64_t kc, const float* a, const float* b, float* c,
                                      int64_t ldc, float beta) {
  for (int i = 0; i < kMrF; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 15), _MM_HINT_T0);
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
    __m256 ai = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(ai, b0, c00);
    c01 = _mm256_fmadd_ps(ai, b1, c01);
    ai = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ai, b0, c10);
    c11 = _mm256_fmadd_ps(ai, b1, c11);
    ai = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ai, b0, c20);
    c21 = _mm256_fmadd_ps(ai, b1, c21);
    ai = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ai, b0, c30);
    c31 = _mm256_fmadd_ps(ai, b1, c31);
    ai = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ai, b0, c40);
    c41 = _mm256_fmadd_ps(ai, b1, c41);
    ai = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ai, b0, c50);
    c51 = _mm256_fmadd_ps(ai, b1, c51);
    a += kMrF;
    b += kNrF;
  }
  if (beta == 0.0f) {
    _mm256_storeu_ps(c + 0 * ldc, c00);
    _mm256_storeu_ps(c + 0 * ldc + 8, c01);
    _mm256_storeu_ps(c + 1 * ldc, c10);
    _mm256_storeu_ps(c + 1 * ldc + 8, c11);
    _mm256_storeu_ps(c + 2 * ldc, c20);
    _mm256_storeu_ps(c + 2 * ldc + 8, c21);
    _mm256_storeu_ps(c + 3 * ldc, c30);
    _mm256_storeu_ps(c + 3 * ldc + 8, c31);
    _mm256_storeu_ps(c + 4 * ldc, c40);
    _mm256_storeu_ps(c + 4 * ldc + 8, c41);
    _mm256_storeu_ps(c + 5 * ldc, c50);
    _mm256_storeu_ps(c + 5 * ldc + 8, c51);
  } else {
    const __m256 vb = _mm256_set1_ps(beta);
#define GC_UPD(r, v0, v1)                                                               \
  _mm256_storeu_ps(c + r * ldc, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + r * ldc), v0)); \
  _mm256_storeu_ps(c + r * ldc + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + r * ldc + 8), v1))
    GC_UPD(0, c00, c01);
    GC_UPD(1, c10, c11);
    GC_UPD(2, c20, c21);
    GC_UPD(3, c30, c31);
    GC_UPD(4, c40, c41);
    GC_UPD(5, c50, c51);
#undef GC_UPD
  }
}

// c[6 x 8] = a-panel (kc x 6) @ b-panel (kc x 8) + beta * c (beta == 0: overwrite), double.
GC_TARGET_AVX2 void dgemm_kernel_6x8(int64_t kc, const double* a, const double* b, double* c,
                                     int64_t ldc, double beta) {
  for (int i = 0; i < kMrD; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 7), _MM_HINT_T0);
  }
  __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
  __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
  __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
  __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
  __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
  __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m256d b0 = _mm256_load_pd(b);
    const __m256d b1 = _mm256_load_pd(b + 4);
    __m256d ai = _mm256_broadcast_sd(a + 0);
    c00 = _mm256_fmadd_pd(ai, b0, c00);
    c01 = _mm256_fmadd_pd(ai, b1, c01);
    ai = _mm256_broadcast_sd(a + 1);
    c10 = _mm256_fmadd_pd(ai, b0, c10);
    c11 = _mm256_fmadd_pd(ai, b1, c11);
    ai = _mm256_broadcast_sd(a + 2);
    c20 = _mm256_fmadd_pd(ai, b0, c20);
    c21 = _mm256_fmadd_pd(ai, b1, c21);
    ai = _mm256_broadcast_sd(a + 3);
    c30 = _mm256_fmadd_pd(ai, b0, c30);
    c31 = _mm256_fmadd_pd(ai, b1, c31);
    ai = _mm256_broadcast_sd(a + 4);
    c40 = _mm256_fmadd_pd(ai, b0, c40);
    c41 = _mm256_fmadd_pd(ai, b1, c41);
    ai = _mm256_broadcast_sd(a + 5);
    c50 = _mm256_fmadd_pd(ai, b0, c50);
    c51 = _mm256_fmadd_pd(ai, b1, c51);
    a += kMrD;
    b += kNrD;
  }
  if (beta == 0.0) {
    _mm256_storeu_pd(c + 0 * ldc, c00);
    _mm256_storeu_pd(c + 0 * ldc + 4, c01);
    _mm256_storeu_pd(c + 1 * ldc, c10);
    _mm256_storeu_pd(c + 1 * ldc + 4, c11);
    _mm256_storeu_pd(c + 2 * ldc, c20);
    _mm256_storeu_pd(c + 2 * ldc + 4, c21);
    _mm256_storeu_pd(c + 3 * ldc, c30);
    _mm256_storeu_pd(c + 3 * ldc + 4, c31);
    _mm256_storeu_pd(c + 4 * ldc, c40);
    _mm256_storeu_pd(c + 4 * ldc + 4, c41);
    _mm256_storeu_pd(c + 5 * ldc, c50);
    _mm256_storeu_pd(c + 5 * ldc + 4, c51);
  } else {
    const __m256d vb = _mm256_set1_pd(beta);
#define GC_UPD(r, v0, v1)                                                               \
  _mm256_storeu_pd(c + r * ldc, _mm256_fmadd_pd(vb, _mm256_loadu_pd(c + r * ldc), v0)); \
  _mm256_storeu_pd(c + r * ldc + 4, _mm256_fmadd_pd(vb, _mm256_loadu_pd(c + r * ldc + 4), v1))
    GC_UPD(0, c00, c01);
    GC_UPD(1, c10, c11);
    GC_UPD(2, c20, c21);
    GC_UPD(3, c30, c31);
    GC_UPD(4, c40, c41);
    GC_UPD(5, c50, c51);
#undef GC_UPD
  }
}

}  // namespace

const GemmPath<float>& avx2_path_f32() {
  // Zen 3: a 16 KiB B micro-panel (256 x 16) in L1d, a 144 KiB A block in L2,
  // the B block (256 x 4080, 4 MiB) in L3.
  static const GemmPath<float> p{kMrF,
                                 kNrF,
                                 144,
                                 256,
                                 4080,
                                 &sgemm_kernel_6x16,
                                 &pack_a_generic<float, kMrF>,
                                 &pack_b_generic<float, kNrF>};
  return p;
}

const GemmPath<double>& avx2_path_f64() {
  static const GemmPath<double> p{kMrD,
                                  kNrD,
                                  96,
                                  256,
                                  4080,
                                  &dgemm_kernel_6x8,
                                  &pack_a_generic<double, kMrD>,
                                  &pack_b_generic<double, kNrD>};
  return p;
}

#else  // not x86: the driver never selects these (cpu_has_avx2_fma() is false)

const GemmPath<float>& avx2_path_f32() {
  return generic_path_f32();
}
const GemmPath<double>& avx2_path_f64() {
  return generic_path_f64();
}

#endif

}  // namespace gradcore::gemm_detail
