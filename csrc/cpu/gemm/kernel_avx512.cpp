// AVX-512 (F+BW+VL+DQ) micro-kernels for 32 zmm registers: 8x32 float and 8x16 double (8 rows x
// 2 zmm = 16 accumulators), plus 2 B vectors and 1 broadcast; edge tiles
// of fewer rows or one zmm column, the last vector of a row masked with a k-mask; AVX-512
// packing routines.
// An ISA file (rules in cpu/gemm/gemm_isa.h and CMakeLists.txt): compiled with -mavx512f
// -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma, everything in gradcore::avx512 or an anonymous
// namespace, run only when at_least(CpuCapability::kAvx512). Why 8x32, and the blocking:
// docs/gemm_tuning.md (measured with bench/gemm_tile_shapes_avx512.cpp, which includes this file).
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) || \
    !defined(__AVX512DQ__) || !defined(__AVX2__) || !defined(__FMA__)
#error "kernel_avx512.cpp must be compiled with -mavx512f/bw/vl/dq -mavx2 -mfma (CMakeLists.txt)"
#endif
#include <immintrin.h>

#include "cpu/gemm/gemm_internal.h"
#include "cpu/gemm/gemm_isa.h"
#include "cpu/simd_transpose_avx2.h"

namespace gradcore::avx512 {
namespace {

using avx2_fma::transpose8;  // internal linkage: this file's copy is compiled for AVX-512
using gemm_detail::pack_a_generic;
using gemm_detail::pack_b_generic;
using gemm_detail::prefetch_rows;

constexpr int64_t min_i64(int64_t a, int64_t b) {
  return a < b ? a : b;
}

constexpr int kMrF = kGemmMrF32, kNrF = kGemmNrF32;  // 8 x 32 float
constexpr int kMrD = kGemmMrF64, kNrD = kGemmNrF64;  // 8 x 16 double

// ---------------------------------------------------------------------------------------
// The tile kernel, float and double

// One zmm of T and the AVX-512 operations of the tile kernels: one template serves float (16
// lanes) and double (8 lanes). Masks are k-registers: lanes [0, n) of a row's last vector.
template <typename T>
struct Zmm;

template <>
struct Zmm<float> {
  using T = float;
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  // Lanes [0, n) (0 < n <= 16).
  static Mask mask(int n) { return static_cast<Mask>((1u << n) - 1u); }
  static V maskload(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void maskstore(float* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
};

template <>
struct Zmm<double> {
  using T = double;
  using V = __m512d;
  using Mask = __mmask8;
  static constexpr int kLanes = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(double x) { return _mm512_set1_pd(x); }
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static void store(double* p, V v) { _mm512_storeu_pd(p, v); }
  // Lanes [0, n) (0 < n <= 8).
  static Mask mask(int n) { return static_cast<Mask>((1u << n) - 1u); }
  static V maskload(const double* p, Mask m) { return _mm512_maskz_loadu_pd(m, p); }
  static void maskstore(double* p, Mask m, V v) { _mm512_mask_storeu_pd(p, m, v); }
};

// One ymm of T, the same operations: the edge tile of a panel with at most 8 float (4 double)
// columns, which on Zen 4 costs half a zmm tile (a 512-bit FMA runs as two 256-bit halves).
template <typename T>
struct Ymm;

template <>
struct Ymm<float> {
  using T = float;
  using V = __m256;
  using Mask = __mmask8;
  static constexpr int kLanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static Mask mask(int n) { return static_cast<Mask>((1u << n) - 1u); }
  static V maskload(const float* p, Mask m) { return _mm256_maskz_loadu_ps(m, p); }
  static void maskstore(float* p, Mask m, V v) { _mm256_mask_storeu_ps(p, m, v); }
};

template <>
struct Ymm<double> {
  using T = double;
  using V = __m256d;
  using Mask = __mmask8;
  static constexpr int kLanes = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static Mask mask(int n) { return static_cast<Mask>((1u << n) - 1u); }
  static V maskload(const double* p, Mask m) { return _mm256_maskz_loadu_pd(m, p); }
  static void maskstore(double* p, Mask m, V v) { _mm256_mask_storeu_pd(p, m, v); }
};

// c[R x n] = acc + beta*c (beta == 0: acc overwrites c without reading it), with
// L(V-1) < n <= LV for L lanes: the last vector of each row is masked to n (masked loads and
// stores touch no memory outside the mask).
template <class Z, int R, int V, typename T = typename Z::T>
inline void store_tile(const typename Z::V (&acc)[R][V], T* c, int64_t ldc, T beta, int n) {
  constexpr int L = Z::kLanes;
  const typename Z::Mask mask = Z::mask(n - L * (V - 1));
  if (beta == T(0)) {
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < V - 1; ++v) Z::store(c + i * ldc + L * v, acc[i][v]);
      Z::maskstore(c + i * ldc + L * (V - 1), mask, acc[i][V - 1]);
    }
  } else {
    const typename Z::V vb = Z::set1(beta);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < V - 1; ++v) {
        T* p = c + i * ldc + L * v;
        Z::store(p, Z::fma(vb, Z::load(p), acc[i][v]));
      }
      T* last = c + i * ldc + L * (V - 1);
      Z::maskstore(last, mask, Z::fma(vb, Z::maskload(last, mask), acc[i][V - 1]));
    }
  }
}

// c[R x n] = the first R rows of an a-panel (kc x MR) @ b (kc x LV for L lanes, row stride
// ldb) + beta*c, with L(V-1) < n <= LV. Accumulation order per element: k = 0, 1, ... by FMA
// from zero, then one FMA with beta (or a plain store when beta == 0): identical for all R, V,
// n, so an element's value does not depend on which tile shape computed it (and the same as
// in the AVX2 path's kernels: with the same KC partition the two paths give the same bits).
template <class Z, int MR, int R, int V, typename T = typename Z::T>
inline void tile(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, T beta,
                 int n) {
  constexpr int L = Z::kLanes;
  typename Z::V acc[R][V];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + L * V - 1), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[i][v] = Z::zero();
  }
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    typename Z::V bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) bv[v] = Z::load(b + L * v);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const typename Z::V ai = Z::set1(a[i]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[i][v] = Z::fma(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += ldb;
  }
  store_tile<Z, R, V>(acc, c, ldc, beta, n);
}

// Edge tiles: m rows (1..MR) x n columns (1..NR): one ymm column (n <= NR/4), one zmm column
// (n <= NR/2) or two.
template <typename T, int MR, int R, int V>
void edge_rv(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, T beta, int n) {
  if constexpr (V == 0)
    tile<Ymm<T>, MR, R, 1>(kc, a, b, ldb, c, ldc, beta, n);
  else
    tile<Zmm<T>, MR, R, V>(kc, a, b, ldb, c, ldc, beta, n);
}

template <typename T>
using EdgeFn = void (*)(int64_t, const T*, const T*, int64_t, T*, int64_t, T, int);

// f[m - 1][w]: the edge tile of m rows and w = 0 (one ymm), 1 (one zmm) or 2 (two zmm) columns.
template <typename T, int MR>
struct EdgeTable {
  EdgeFn<T> f[MR][3];
};

template <int... Rs>
struct Seq {};
// Seq<1, 2, ..., N>.
template <int N, int... Rs>
struct MakeSeq : MakeSeq<N - 1, N, Rs...> {};
template <int... Rs>
struct MakeSeq<0, Rs...> {
  using type = Seq<Rs...>;
};

template <typename T, int MR, int... Rs>
constexpr EdgeTable<T, MR> make_edge_table(Seq<Rs...>) {
  static_assert(sizeof...(Rs) == MR, "one row of the table per row count 1..MR");
  return {{{&edge_rv<T, MR, Rs, 0>, &edge_rv<T, MR, Rs, 1>, &edge_rv<T, MR, Rs, 2>}...}};
}

static_assert(kNrF == 2 * Zmm<float>::kLanes && kNrD == 2 * Zmm<double>::kLanes &&
                  kNrF == 4 * Ymm<float>::kLanes && kNrD == 4 * Ymm<double>::kLanes,
              "the edge tables hold one ymm, one zmm and two zmm columns");
const EdgeTable<float, kMrF> kSEdge = make_edge_table<float, kMrF>(typename MakeSeq<kMrF>::type{});
const EdgeTable<double, kMrD> kDEdge =
    make_edge_table<double, kMrD>(typename MakeSeq<kMrD>::type{});

// The EdgeTable column of an edge n columns wide (1..NR).
template <int NR>
constexpr int edge_width(int n) {
  return n > NR / 2 ? 2 : n > NR / 4 ? 1 : 0;
}

// ---------------------------------------------------------------------------------------
// float packing

// Rows of B that pack_b_f32 prefetches ahead of the row it copies when asked to (as the AVX2
// path: for the groups of a one-row-block product, packed with little arithmetic in between).
constexpr int64_t kPackAhead = 8;

// op(B) rows [p0, p0+kc) x columns [j0, j0+nc) into 32-column micro-panels.
void pack_b_f32(bool trans, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                int64_t nc, float* out, bool ahead) {
  const int64_t full = nc / kNrF * kNrF;  // columns in full panels
  if (!trans) {
    // Up to 8 full panels at once, row by row: each row of B is read as one contiguous run
    // (a stream the hardware prefetcher follows) while the writes go to at most 8 panels.
    constexpr int64_t kChunk = 8 * kNrF;
    const float* src = B + p0 * ldb + j0;
    for (int64_t j1 = 0; j1 < full; j1 += kChunk) {
      const int64_t j2 = min_i64(full, j1 + kChunk);
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = src + k * ldb;
        if (ahead && k + kPackAhead < kc)
          prefetch_rows<3>(s + kPackAhead * ldb + j1, ldb, j2 - j1, 0, 1);
        for (int64_t j = j1; j < j2; j += kNrF) {
          float* d = out + j * kc + k * kNrF;
          _mm512_store_ps(d, _mm512_loadu_ps(s + j));
          _mm512_store_ps(d + 16, _mm512_loadu_ps(s + j + 16));
        }
      }
    }
  } else {
    for (int64_t jr = 0; jr < full; jr += kNrF) {
      // 32 rows of B, contiguous in k: 8x8 transposes, four per 8 values of k.
      float* dst = out + jr * kc;
      const float* src = B + (j0 + jr) * ldb + p0;
      int64_t k = 0;
      for (; k + 8 <= kc; k += 8) {
        for (int h = 0; h < kNrF / 8; ++h) {
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

// alpha*op(A) rows [i0, i0+mc) x columns [p0, p0+kc) into MR-row micro-panels (MR <= 16). Not
// transposed, 8 values of k at a time: rows 0-7 and rows 8..MR-1 (zero rows added) are 8 x 8
// transposes, giving each panel row k+j as 8 + (MR - 8) values (masked stores); masked loads
// read the kc tail and the rows of a partial panel (the missing rows are zero). Transposed,
// each panel row k is MR contiguous values: one masked load and store.
void pack_a_f32(bool trans, const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
                int64_t kc, float alpha, float* out) {
  static_assert(kMrF <= 16, "pack_a_f32 writes a panel row as at most two 8-lane parts");
  constexpr int kLo = kMrF < 8 ? kMrF : 8, kHi = kMrF - kLo;  // lanes of each part
  const __mmask8 m_lo = static_cast<__mmask8>((1u << kLo) - 1u);
  const __mmask8 m_hi = static_cast<__mmask8>((1u << kHi) - 1u);
  for (int64_t ir = 0; ir < mc; ir += kMrF) {
    const int rows = static_cast<int>(min_i64(kMrF, mc - ir));
    float* dst = out + ir * kc;
    if (!trans) {
      const __m256 va = _mm256_set1_ps(alpha);
      const float* src = A + (i0 + ir) * lda + p0;
      for (int64_t k = 0; k < kc; k += 8) {
        const int w = static_cast<int>(min_i64(8, kc - k));
        const __mmask8 mw = static_cast<__mmask8>((1u << w) - 1u);
        auto row = [&](int i) {
          return i < rows ? _mm256_mul_ps(va, _mm256_maskz_loadu_ps(mw, src + i * lda + k))
                          : _mm256_setzero_ps();
        };
        __m256 lo[8], hi[8];
        for (int i = 0; i < 8; ++i) lo[i] = row(i);
        transpose8(lo);
        if constexpr (kHi > 0) {
          for (int i = 0; i < 8; ++i) hi[i] = row(8 + i);
          transpose8(hi);
        }
        for (int j = 0; j < w; ++j) {
          float* d = dst + (k + j) * kMrF;
          _mm256_mask_storeu_ps(d, m_lo, lo[j]);
          if constexpr (kHi > 0) _mm256_mask_storeu_ps(d + 8, m_hi, hi[j]);
        }
      }
    } else {
      const __m512 va = _mm512_set1_ps(alpha);
      const float* src = A + p0 * lda + i0 + ir;  // row k of the panel is contiguous
      const __mmask16 m_rows = Zmm<float>::mask(rows), m_mr = Zmm<float>::mask(kMrF);
      for (int64_t k = 0; k < kc; ++k) {
        // Rows past a partial panel are zero (not alpha * 0, which is NaN for an infinite alpha).
        const __m512 v =
            _mm512_maskz_mul_ps(m_rows, va, _mm512_maskz_loadu_ps(m_rows, src + k * lda));
        _mm512_mask_storeu_ps(dst + k * kMrF, m_mr, v);
      }
    }
  }
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
      _mm512_store_pd(dst + k * kNrD, _mm512_loadu_pd(s));
      _mm512_store_pd(dst + k * kNrD + 8, _mm512_loadu_pd(s + 8));
    }
  }
}

}  // namespace

void sgemm_kernel(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                  float beta) {
  tile<Zmm<float>, kMrF, kMrF, 2>(kc, a, b, ldb, c, ldc, beta, kNrF);
}
void sgemm_edge_tile(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                     float beta, int m, int n) {
  kSEdge.f[m - 1][edge_width<kNrF>(n)](kc, a, b, ldb, c, ldc, beta, n);
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
  tile<Zmm<double>, kMrD, kMrD, 2>(kc, a, b, ldb, c, ldc, beta, kNrD);
}
void dgemm_edge_tile(int64_t kc, const double* a, const double* b, int64_t ldb, double* c,
                     int64_t ldc, double beta, int m, int n) {
  kDEdge.f[m - 1][edge_width<kNrD>(n)](kc, a, b, ldb, c, ldc, beta, n);
}
void dgemm_pack_a(bool trans, const double* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
                  int64_t kc, double alpha, double* out) {
  pack_a_generic<double, kMrD>(trans, A, lda, i0, mc, p0, kc, alpha, out);
}
void dgemm_pack_b(bool trans, const double* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                  int64_t nc, double* out, bool ahead) {
  pack_b_f64(trans, B, ldb, p0, kc, j0, nc, out, ahead);
}

}  // namespace gradcore::avx512
