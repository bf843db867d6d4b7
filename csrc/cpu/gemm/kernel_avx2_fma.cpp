// long-file: the whole AVX2 GEMM path (kernels, packers) in one ISA file, internal linkage.
// AVX2 + FMA micro-kernels (6x16 float, 6x8 double: 12 ymm accumulators each), their
// edge-tile variants (fewer rows, one vector column, masked last vector) and AVX2 packing
// routines. An ISA file (rules in cpu/gemm/gemm_isa.h and CMakeLists.txt): compiled with
// -mavx2 -mfma, everything in gradcore::avx2_fma or an anonymous namespace, run only when
// at_least(CpuCapability::kAvx2Fma). Blocking and tuning measurements: docs/gemm_tuning.md.
#if !defined(__AVX2__) || !defined(__FMA__)
#error "kernel_avx2_fma.cpp must be compiled with -mavx2 -mfma (CMakeLists.txt, ISA files)"
#endif
#include <immintrin.h>

#include "cpu/gemm/gemm_internal.h"
#include "cpu/gemm/gemm_isa.h"
#include "cpu/simd_transpose_avx2.h"

namespace gradcore::avx2_fma {
namespace {

using gemm_detail::pack_a_generic;
using gemm_detail::pack_b_generic;
using gemm_detail::prefetch_rows;

constexpr int min_int(int a, int b) {
  return a < b ? a : b;
}
constexpr int64_t min_i64(int64_t a, int64_t b) {
  return a < b ? a : b;
}

constexpr int kMrF = 6, kNrF = 16;
constexpr int kMrD = 6, kNrD = 8;

// ---------------------------------------------------------------------------------------
// The tile kernel, float and double

// One ymm of T and the AVX2 operations of the tile kernels: one template serves float (8
// lanes) and double (4 lanes).
template <typename T>
struct Ymm;

template <>
struct Ymm<float> {
  using V = __m256;
  static constexpr int kLanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  // Lanes [0, n) (0 < n <= 8).
  static __m256i mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V maskload(const float* p, __m256i m) { return _mm256_maskload_ps(p, m); }
  static void maskstore(float* p, __m256i m, V v) { _mm256_maskstore_ps(p, m, v); }
};

template <>
struct Ymm<double> {
  using V = __m256d;
  static constexpr int kLanes = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static V broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  // Lanes [0, n) (0 < n <= 4).
  static __m256i mask(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static V maskload(const double* p, __m256i m) { return _mm256_maskload_pd(p, m); }
  static void maskstore(double* p, __m256i m, V v) { _mm256_maskstore_pd(p, m, v); }
};

// c[R x n] = acc + beta*c (beta == 0: acc overwrites c without reading it), with
// L(V-1) < n <= LV for L lanes: the last vector of each row is masked to n.
template <typename T, int R, int V>
inline void store_tile(const typename Ymm<T>::V (&acc)[R][V], T* c, int64_t ldc, T beta, int n) {
  using Y = Ymm<T>;
  constexpr int L = Y::kLanes;
  const bool full = n == L * V;
  const __m256i mask = Y::mask(n - L * (V - 1));
  if (beta == T(0)) {
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i) {
#pragma GCC unroll 2
      for (int v = 0; v < V - 1; ++v) Y::store(c + i * ldc + L * v, acc[i][v]);
      T* last = c + i * ldc + L * (V - 1);
      if (full)
        Y::store(last, acc[i][V - 1]);
      else
        Y::maskstore(last, mask, acc[i][V - 1]);
    }
  } else {
    const typename Y::V vb = Y::set1(beta);
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i) {
#pragma GCC unroll 2
      for (int v = 0; v < V - 1; ++v) {
        T* p = c + i * ldc + L * v;
        Y::store(p, Y::fma(vb, Y::load(p), acc[i][v]));
      }
      T* last = c + i * ldc + L * (V - 1);
      if (full)
        Y::store(last, Y::fma(vb, Y::load(last), acc[i][V - 1]));
      else
        Y::maskstore(last, mask, Y::fma(vb, Y::maskload(last, mask), acc[i][V - 1]));
    }
  }
}

// c[(R0 + R1) x n] = (the first R0 rows of a-panel a0, then the first R1 rows of a-panel a1;
// each panel kc x MR) @ b-panel (kc x LV for L lanes, first LV columns) + beta*c, with
// L(V-1) < n <= LV. Accumulation order per element: k = 0, 1, ... by FMA from zero, then one
// FMA with beta (or a plain store when beta == 0): identical for all R0, R1, V, n, so an
// element's value does not depend on which tile shape computed it. R1 > 0 lets a tile
// straddle two row panels.
template <typename T, int MR, int R0, int R1, int V>
inline void tile_rows(int64_t kc, const T* a0, const T* a1, const T* b, int64_t ldb, T* c,
                      int64_t ldc, T beta, int n) {
  using Y = Ymm<T>;
  constexpr int R = R0 + R1, L = Y::kLanes;
  typename Y::V acc[R][V];
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + L * V - 1), _MM_HINT_T0);
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[i][v] = Y::zero();
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    typename Y::V bv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) bv[v] = Y::load(b + L * v);
#pragma GCC unroll 6
    for (int i = 0; i < R0; ++i) {
      const typename Y::V ai = Y::broadcast(a0 + i);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[i][v] = Y::fma(ai, bv[v], acc[i][v]);
    }
#pragma GCC unroll 6
    for (int i = 0; i < R1; ++i) {
      const typename Y::V ai = Y::broadcast(a1 + i);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[R0 + i][v] = Y::fma(ai, bv[v], acc[R0 + i][v]);
    }
    a0 += MR;
    if (R1 > 0) a1 += MR;
    b += ldb;
  }
  store_tile<T, R, V>(acc, c, ldc, beta, n);
}

// ---------------------------------------------------------------------------------------
// float micro-kernels (6x16)

template <int R0, int R1, int V>
inline void sgemm_rows(int64_t kc, const float* a0, const float* a1, const float* b, int64_t ldb,
                       float* c, int64_t ldc, float beta, int n) {
  tile_rows<float, kMrF, R0, R1, V>(kc, a0, a1, b, ldb, c, ldc, beta, n);
}

// c[R x n] = the first R rows of one a-panel @ b-panel + beta*c (8(V-1) < n <= 8V).
template <int R, int V>
inline void sgemm_tile(int64_t kc, const float* a, const float* b, int64_t ldb, float* c,
                       int64_t ldc, float beta, int n) {
  sgemm_rows<R, 0, V>(kc, a, a, b, ldb, c, ldc, beta, n);
}

// c[(6 + m1) x n] = the full a-panel a0 and the first m1 rows of a1 @ the first n columns of b
// + beta*c: two row tiles at once, for a narrow edge panel (n <= 8) or a short last row tile
// (m1 <= 3, n <= 16) with the full tile above it. A tile with fewer than 8 accumulators leaves
// the 4-cycle FMA latency exposed (6x8: 4 cycles per k instead of 3; 2x16: 4 chains), and one
// with more broadcasts than FMAs per k is bound by loads (8x8: 9 loads per 8 FMAs), so:
//   n <= 8:  one (6 + m1) x 8 tile, 7..12 chains;
//   n > 8:   6 + m1 rows as two 16-column tiles of 6..10 chains, the second straddling the two
//            panels (7 rows as 4 + 3, 8 as 4 + 4, 9 as 5 + 4): 1.04-1.09x the speed of two
//            (6 + m1) x 8 tiles on 19, 20 and 21 x 500 x 4096.
template <int M1>
void sgemm_tall(int64_t kc, const float* a0, const float* a1, const float* b, int64_t ldb, float* c,
                int64_t ldc, float beta, int n) {
  if constexpr (M1 <= 3) {
    if (n > 8) {
      constexpr int kTop = M1 <= 2 ? 4 : 5;  // rows from a0 alone
      sgemm_rows<kTop, 0, 2>(kc, a0, a0, b, ldb, c, ldc, beta, n);
      sgemm_rows<kMrF - kTop, M1, 2>(kc, a0 + kTop, a1, b, ldb, c + kTop * ldc, ldc, beta, n);
      return;
    }
  }
  sgemm_rows<kMrF, M1, 1>(kc, a0, a1, b, ldb, c, ldc, beta, n);
}

using STall = void (*)(int64_t, const float*, const float*, const float*, int64_t, float*, int64_t,
                       float, int);
const STall kSTall[kMrF] = {&sgemm_tall<1>, &sgemm_tall<2>, &sgemm_tall<3>,
                            &sgemm_tall<4>, &sgemm_tall<5>, &sgemm_tall<6>};

void sgemm_tall_dispatch(int64_t kc, const float* a0, const float* a1, int m1, const float* b,
                         int64_t ldb, float* c, int64_t ldc, float beta, int n) {
  kSTall[m1 - 1](kc, a0, a1, b, ldb, c, ldc, beta, n);
}

void sgemm_kernel_6x16(int64_t kc, const float* a, const float* b, int64_t ldb, float* c,
                       int64_t ldc, float beta) {
  sgemm_tile<6, 2>(kc, a, b, ldb, c, ldc, beta, 16);
}

template <int R, int V>
void sgemm_edge_rv(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                   float beta, int n) {
  sgemm_tile<R, V>(kc, a, b, ldb, c, ldc, beta, n);
}

using SEdge = void (*)(int64_t, const float*, const float*, int64_t, float*, int64_t, float, int);
const SEdge kSEdge[kMrF][2] = {
    {&sgemm_edge_rv<1, 1>, &sgemm_edge_rv<1, 2>}, {&sgemm_edge_rv<2, 1>, &sgemm_edge_rv<2, 2>},
    {&sgemm_edge_rv<3, 1>, &sgemm_edge_rv<3, 2>}, {&sgemm_edge_rv<4, 1>, &sgemm_edge_rv<4, 2>},
    {&sgemm_edge_rv<5, 1>, &sgemm_edge_rv<5, 2>}, {&sgemm_edge_rv<6, 1>, &sgemm_edge_rv<6, 2>}};

void sgemm_edge(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                float beta, int m, int n) {
  kSEdge[m - 1][n > 8](kc, a, b, ldb, c, ldc, beta, n);
}

// One k step of sgemm_narrow: acc[q][j] += (rows of k in a-panel q) * b[k][j]. With 12
// accumulators the registers allow either the NC broadcasts of b (NC <= 3) or the P rows of a
// (NC == 4) to stay live across the step, not both.
template <int NC, int P, bool kLast>
inline __attribute__((always_inline)) void narrow_step(__m256 (&acc)[P][NC], int64_t k,
                                                       const float* a, int64_t ps, const float* b,
                                                       int64_t ldb) {
  const float* ak = a + k * kMrF;
  const float* bk = b + k * ldb;
  auto load_a = [&](int q) {
    return kLast ? _mm256_maskload_ps(ak + q * ps, Ymm<float>::mask(kMrF))
                 : _mm256_loadu_ps(ak + q * ps);
  };
  if constexpr (NC <= 3) {
    __m256 bv[NC];
#pragma GCC unroll 4
    for (int j = 0; j < NC; ++j) bv[j] = _mm256_broadcast_ss(bk + j);
#pragma GCC unroll 12
    for (int q = 0; q < P; ++q) {
      const __m256 av = load_a(q);
#pragma GCC unroll 4
      for (int j = 0; j < NC; ++j) acc[q][j] = _mm256_fmadd_ps(av, bv[j], acc[q][j]);
    }
  } else {
    __m256 av[P];
#pragma GCC unroll 12
    for (int q = 0; q < P; ++q) av[q] = load_a(q);
#pragma GCC unroll 4
    for (int j = 0; j < NC; ++j) {
      const __m256 bj = _mm256_broadcast_ss(bk + j);
#pragma GCC unroll 12
      for (int q = 0; q < P; ++q) acc[q][j] = _mm256_fmadd_ps(av[q], bj, acc[q][j]);
    }
  }
}

// c[m x NC] for a panel of NC <= 4 columns (m <= 6P), vectorised along the rows instead of
// the columns: per k, one 8-float load from each of P a-panels (its 6 rows of k; lanes 6, 7
// are the next k's and are never stored) is multiplied by NC broadcast values of b. That keeps
// 12 FMA chains busy on a sliver of C that a row-vectorised tile computes 8-wide for 1-4
// columns. acc[p][j] holds rows 6p..6p+5 of column j; each element gets the same FMA chain
// from zero and the same beta FMA as in sgemm_tile. ps: floats between consecutive a-panels.
template <int NC, int P>
void sgemm_narrow(int64_t kc, const float* a, int64_t ps, const float* b, int64_t ldb, float* c,
                  int64_t ldc, float beta, int m) {
  __m256 acc[P][NC];
#pragma GCC unroll 12
  for (int q = 0; q < P; ++q)
#pragma GCC unroll 4
    for (int j = 0; j < NC; ++j) acc[q][j] = _mm256_setzero_ps();
  // The last k reads only the 6 floats of its panel row (a panel may end the buffer).
#pragma GCC unroll 2
  for (int64_t k = 0; k + 1 < kc; ++k) narrow_step<NC, P, false>(acc, k, a, ps, b, ldb);
  narrow_step<NC, P, true>(acc, kc - 1, a, ps, b, ldb);
  // Out of registers (constant indices keep acc in registers in the loop above), then
  // column by column into the strided rows of c.
  alignas(32) float out[P][NC][8];
#pragma GCC unroll 12
  for (int q = 0; q < P; ++q)
#pragma GCC unroll 4
    for (int j = 0; j < NC; ++j) _mm256_store_ps(out[q][j], acc[q][j]);
  const __m256 vb = _mm256_set1_ps(beta);
  alignas(32) float col[8] = {};
  for (int q = 0; q < P; ++q) {
    const int rows = min_int(kMrF, m - q * kMrF);
    float* cq = c + q * kMrF * ldc;
    for (int j = 0; j < NC; ++j) {
      if (beta != 0.0f) {
        for (int i = 0; i < rows; ++i) col[i] = cq[i * ldc + j];
        _mm256_store_ps(out[q][j],
                        _mm256_fmadd_ps(vb, _mm256_load_ps(col), _mm256_load_ps(out[q][j])));
      }
      for (int i = 0; i < rows; ++i) cq[i * ldc + j] = out[q][j][i];
    }
  }
}

// Row panels per call of sgemm_narrow for NC columns: 12 accumulators.
constexpr int narrow_panels(int nc) {
  return 12 / nc;
}

using SNarrow = void (*)(int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t,
                         float, int);

template <int... Ps>
struct Seq {};
using Seq12 = Seq<0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11>;

struct SNarrowRow {
  SNarrow f[12];
};

template <int NC, int... Ps>
constexpr SNarrowRow narrow_table(Seq<Ps...>) {
  return {{&sgemm_narrow<NC, min_int(Ps + 1, narrow_panels(NC))>...}};
}

// kSNarrow[n - 1][panels - 1]: n columns, panels a-panels (entries past narrow_panels(n)
// repeat the largest and are never called).
const SNarrowRow kSNarrow[4] = {narrow_table<1>(Seq12{}), narrow_table<2>(Seq12{}),
                                narrow_table<3>(Seq12{}), narrow_table<4>(Seq12{})};

int sgemm_narrow_dispatch(int64_t kc, const float* a, int m, const float* b, int64_t ldb, float* c,
                          int64_t ldc, float beta, int n) {
  const int panels = min_int(narrow_panels(n), (m + kMrF - 1) / kMrF);
  const int rows = min_int(m, panels * kMrF);
  kSNarrow[n - 1].f[panels - 1](kc, a, kMrF * kc, b, ldb, c, ldc, beta, rows);
  return rows;
}

// ---------------------------------------------------------------------------------------
// double micro-kernels (6x8)

// c[R x n] = the first R rows of one a-panel @ b-panel + beta*c (4(V-1) < n <= 4V).
template <int R, int V>
inline void dgemm_tile(int64_t kc, const double* a, const double* b, int64_t ldb, double* c,
                       int64_t ldc, double beta, int n) {
  tile_rows<double, kMrD, R, 0, V>(kc, a, a, b, ldb, c, ldc, beta, n);
}

void dgemm_kernel_6x8(int64_t kc, const double* a, const double* b, int64_t ldb, double* c,
                      int64_t ldc, double beta) {
  dgemm_tile<6, 2>(kc, a, b, ldb, c, ldc, beta, 8);
}

template <int R, int V>
void dgemm_edge_rv(int64_t kc, const double* a, const double* b, int64_t ldb, double* c,
                   int64_t ldc, double beta, int n) {
  dgemm_tile<R, V>(kc, a, b, ldb, c, ldc, beta, n);
}

using DEdge = void (*)(int64_t, const double*, const double*, int64_t, double*, int64_t, double,
                       int);
const DEdge kDEdge[kMrD][2] = {
    {&dgemm_edge_rv<1, 1>, &dgemm_edge_rv<1, 2>}, {&dgemm_edge_rv<2, 1>, &dgemm_edge_rv<2, 2>},
    {&dgemm_edge_rv<3, 1>, &dgemm_edge_rv<3, 2>}, {&dgemm_edge_rv<4, 1>, &dgemm_edge_rv<4, 2>},
    {&dgemm_edge_rv<5, 1>, &dgemm_edge_rv<5, 2>}, {&dgemm_edge_rv<6, 1>, &dgemm_edge_rv<6, 2>}};

void dgemm_edge(int64_t kc, const double* a, const double* b, int64_t ldb, double* c, int64_t ldc,
                double beta, int m, int n) {
  kDEdge[m - 1][n > 4](kc, a, b, ldb, c, ldc, beta, n);
}

// ---------------------------------------------------------------------------------------
// float packing

// alpha*op(A) rows [i0, i0+mc) x columns [p0, p0+kc) into 6-row micro-panels.
void pack_a_f32(bool trans, const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
                int64_t kc, float alpha, float* out) {
  const __m256 va = _mm256_set1_ps(alpha);
  for (int64_t ir = 0; ir < mc; ir += kMrF) {
    const int64_t rows = min_i64(kMrF, mc - ir);
    if (rows < kMrF && trans) {  // partial panel: portable path (zero-fills the missing rows)
      pack_a_generic<float, kMrF>(trans, A, lda, i0 + ir, rows, p0, kc, alpha, out + ir * kc);
      continue;
    }
    float* dst = out + ir * kc;
    if (!trans) {
      // Six rows (fewer in a partial panel: the rest are zero), contiguous in k: transpose
      // 8-column blocks (rows 6, 7 are don't-care); the last kc % 8 columns by masked loads.
      const float* src = A + (i0 + ir) * lda + p0;
      for (int64_t k = 0; k < kc; k += 8) {
        const int64_t w = min_i64(8, kc - k);
        __m256 r[8];
        if (rows == kMrF && w == 8) {
          for (int i = 0; i < kMrF; ++i)
            r[i] = _mm256_mul_ps(va, _mm256_loadu_ps(src + i * lda + k));
        } else {
          const __m256i mask = Ymm<float>::mask(static_cast<int>(w));
          for (int i = 0; i < kMrF; ++i)
            r[i] = i < rows ? _mm256_mul_ps(va, _mm256_maskload_ps(src + i * lda + k, mask))
                            : _mm256_setzero_ps();
        }
        r[6] = r[7] = _mm256_setzero_ps();
        transpose8(r);
        // Column k+j is 6 floats; its 8-float store spills 2 zeros into column k+j+1, which
        // the next store overwrites. The panel's last block goes through a buffer, so that
        // nothing is written past the panel.
        if (k + 8 < kc) {
          for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + (k + j) * kMrF, r[j]);
        } else {
          alignas(32) float cols[8][8];
          for (int j = 0; j < 8; ++j) _mm256_store_ps(cols[j], r[j]);
          for (int64_t j = 0; j < w; ++j)
            __builtin_memcpy(dst + (k + j) * kMrF, cols[j], sizeof(float) * kMrF);
        }
      }
    } else {
      const float* src = A + p0 * lda + i0 + ir;  // row k of the panel is contiguous
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = src + k * lda;
        float* d = dst + k * kMrF;
        _mm_storeu_ps(d, _mm_mul_ps(_mm256_castps256_ps128(va), _mm_loadu_ps(s)));
        d[4] = alpha * s[4];
        d[5] = alpha * s[5];
      }
    }
  }
}

// Rows of B that pack_b_f32 prefetches ahead of the row it copies when asked to: for the groups
// of a one-row-block product, packed with little arithmetic in between. For the B block shared
// by several row blocks, whose source the driver prefetches during the arithmetic, it only adds
// instructions (measurements: docs/gemm_tuning.md).
constexpr int64_t kPackAhead = 8;

// op(B) rows [p0, p0+kc) x columns [j0, j0+nc) into 16-column micro-panels.
void pack_b_f32(bool trans, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                int64_t nc, float* out, bool ahead) {
  const int64_t full = nc / kNrF * kNrF;  // columns in full panels
  if (!trans) {
    // Up to 16 full panels at once, row by row: each row of B is read as one contiguous run
    // (a stream the hardware prefetcher follows) instead of 64 bytes per panel and row, while
    // the writes go to at most 16 panels (a group of the driver is at most that for kc >= 128).
    constexpr int64_t kChunk = 16 * kNrF;
    const float* src = B + p0 * ldb + j0;
    for (int64_t j1 = 0; j1 < full; j1 += kChunk) {
      const int64_t j2 = min_i64(full, j1 + kChunk);
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = src + k * ldb;
        if (ahead && k + kPackAhead < kc)
          prefetch_rows<3>(s + kPackAhead * ldb + j1, ldb, j2 - j1, 0, 1);
        for (int64_t j = j1; j < j2; j += kNrF) {
          float* d = out + j * kc + k * kNrF;
          _mm256_store_ps(d, _mm256_loadu_ps(s + j));
          _mm256_store_ps(d + 8, _mm256_loadu_ps(s + j + 8));
        }
      }
    }
  } else {
    for (int64_t jr = 0; jr < full; jr += kNrF) {
      // 16 rows of B, contiguous in k: 8x8 transposes.
      float* dst = out + jr * kc;
      const float* src = B + (j0 + jr) * ldb + p0;
      int64_t k = 0;
      for (; k + 8 <= kc; k += 8) {
        for (int h = 0; h < 2; ++h) {
          __m256 r[8];
          for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(src + (h * 8 + j) * ldb + k);
          transpose8(r);
          for (int q = 0; q < 8; ++q) _mm256_store_ps(dst + (k + q) * kNrF + h * 8, r[q]);
        }
      }
      for (; k < kc; ++k)
        for (int j = 0; j < kNrF; ++j) dst[k * kNrF + j] = src[j * ldb + k];
    }
  }
  if (full < nc)  // partial panel: portable path (zero-fills the missing columns)
    pack_b_generic<float, kNrF>(trans, B, ldb, p0, kc, j0 + full, nc - full, out + full * kc);
}

// ---------------------------------------------------------------------------------------
// double packing (B not transposed vectorised; the rest is the portable code)

void pack_b_f64(bool trans, const double* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                int64_t nc, double* out, bool /*ahead*/) {
  if (trans) {
    pack_b_generic<double, kNrD>(trans, B, ldb, p0, kc, j0, nc, out);
    return;
  }
  for (int64_t jr = 0; jr < nc; jr += kNrD) {
    if (nc - jr < kNrD) {
      pack_b_generic<double, kNrD>(trans, B, ldb, p0, kc, j0 + jr, nc - jr, out + jr * kc);
      continue;
    }
    double* dst = out + jr * kc;
    const double* src = B + p0 * ldb + j0 + jr;
    for (int64_t k = 0; k < kc; ++k) {
      const double* s = src + k * ldb;
      _mm256_store_pd(dst + k * kNrD, _mm256_loadu_pd(s));
      _mm256_store_pd(dst + k * kNrD + 4, _mm256_loadu_pd(s + 4));
    }
  }
}

}  // namespace

void sgemm_kernel(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                  float beta) {
  sgemm_kernel_6x16(kc, a, b, ldb, c, ldc, beta);
}
void sgemm_edge_tile(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                     float beta, int m, int n) {
  sgemm_edge(kc, a, b, ldb, c, ldc, beta, m, n);
}
void sgemm_tall_tiles(int64_t kc, const float* a0, const float* a1, int m1, const float* b,
                      int64_t ldb, float* c, int64_t ldc, float beta, int n) {
  sgemm_tall_dispatch(kc, a0, a1, m1, b, ldb, c, ldc, beta, n);
}
int sgemm_narrow_panel(int64_t kc, const float* a, int m, const float* b, int64_t ldb, float* c,
                       int64_t ldc, float beta, int n) {
  return sgemm_narrow_dispatch(kc, a, m, b, ldb, c, ldc, beta, n);
}
void sgemm_pack_a(bool trans, const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
                  int64_t kc, float alpha, float* out) {
  pack_a_f32(trans, A, lda, i0, mc, p0, kc, alpha, out);
}
void sgemm_pack_b(bool trans, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                  int64_t nc, float* out, bool ahead) {
  pack_b_f32(trans, B, ldb, p0, kc, j0, nc, out, ahead);
}
void dgemm_kernel(int64_t kc, const double* a, const double* b, int64_t ldb, double* c, int64_t ldc,
                  double beta) {
  dgemm_kernel_6x8(kc, a, b, ldb, c, ldc, beta);
}
void dgemm_edge_tile(int64_t kc, const double* a, const double* b, int64_t ldb, double* c,
                     int64_t ldc, double beta, int m, int n) {
  dgemm_edge(kc, a, b, ldb, c, ldc, beta, m, n);
}
void dgemm_pack_b(bool trans, const double* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                  int64_t nc, double* out, bool ahead) {
  pack_b_f64(trans, B, ldb, p0, kc, j0, nc, out, ahead);
}

}  // namespace gradcore::avx2_fma
