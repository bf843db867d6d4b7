// Internals of the BLIS-style GEMM (see gemm.h for the public contract).
//
// C (M x N) is computed in micro-tiles of MR x NR by a register-blocked micro-kernel
// that reads two packed operands:
//   packed A: an MC x KC block of alpha*op(A) as ceil(MC/MR) micro-panels, each KC x MR
//             (for k: MR values of column k), rows past the matrix edge zero-filled;
//   packed B: a KC x NC block of op(B) as ceil(NC/NR) micro-panels, each KC x NR
//             (for k: NR values of row k), columns past the matrix edge zero-filled.
// The blocking driver (gemm_driver.cpp) loops jc (NC) -> pc (KC) -> ic (MC) -> jr (NR)
// -> ir (MR). A micro-panel of B (KC x NR) stays in L1 while the A block (MC x KC)
// streams from L2; the B block (KC x NC) lives in L3.
#pragma once
#include <cstdint>

namespace gradcore {
struct CpuPathTuning;  // core/cpu_path_tuning.h
}

namespace gradcore::gemm_detail {

// c[MR x NR] (row stride ldc) = sum_k a[k*MR + i] * b[k*ldb + j] + beta * c; beta == 0
// overwrites c without reading it. Every element is accumulated in increasing k order
// starting from zero, then combined with beta*c, so the result does not depend on where
// a tile lies or which thread computes it. b is a packed micro-panel (ldb == NR) or, for
// op(B) = B, the matrix itself (ldb its leading dimension).
template <typename T>
using MicroKernel = void (*)(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc,
                             T beta);

// Edge tile: like MicroKernel but only the top-left m x n (m <= MR, n <= NR) of c exists;
// every element is computed by exactly the same operations as in a full tile.
// b must hold NR readable columns (a packed panel).
template <typename T>
using EdgeKernel = void (*)(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc,
                            T beta, int m, int n);

// Two row tiles at once: c[(MR + m1) x n] = the rows of the a-panel a0 (MR rows) then the first
// m1 rows of the a-panel a1 @ the first n columns of b + beta*c, each element by the same
// operations as in MicroKernel. For narrow edge panels (n <= NR/2) and a short last row tile
// (m1 <= MR/2, n <= NR) with the full tile above it: it keeps more FMA chains in flight than an
// edge tile of few rows or few columns. Optional (may be null).
template <typename T>
using TallKernel = void (*)(int64_t kc, const T* a0, const T* a1, int m1, const T* b, int64_t ldb,
                            T* c, int64_t ldc, T beta, int n);

// A narrow panel (n <= NR/4 columns) against the row tiles of a packed A block: computes rows
// [0, r) of c[m x n] = a @ b + beta*c, where a is the first a-panel (the next ones follow every
// MR*kc values), for the r <= m rows it takes per call, and returns r. Each element by the same
// operations as in MicroKernel. Optional (may be null).
template <typename T>
using NarrowKernel = int (*)(int64_t kc, const T* a, int m, const T* b, int64_t ldb, T* c,
                             int64_t ldc, T beta, int n);

// Packs rows [i0, i0+mc) x columns [p0, p0+kc) of alpha*op(A) into MR-row micro-panels.
// op(A)[i][k] = trans ? A[k*lda + i] : A[i*lda + k].
template <typename T>
using PackA = void (*)(bool trans, const T* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
                       int64_t kc, T alpha, T* out);

// Packs rows [p0, p0+kc) x columns [j0, j0+nc) of op(B) into NR-column micro-panels.
// op(B)[k][j] = trans ? B[j*ldb + k] : B[k*ldb + j]. ahead: also prefetch the source a few rows
// ahead of the copy, for packs that the caller's own prefetching does not cover in time (the
// portable packers ignore it).
template <typename T>
using PackB = void (*)(bool trans, const T* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                       int64_t nc, T* out, bool ahead);

// One complete GEMM implementation: register tile, cache blocking and its functions.
template <typename T>
struct GemmPath {
  int mr, nr;          // micro-tile (MR x NR)
  int64_t mc, kc, nc;  // cache blocks: mc % mr == 0, nc % nr == 0
  MicroKernel<T> kernel;
  EdgeKernel<T> edge;
  PackA<T> pack_a;
  PackB<T> pack_b;
  TallKernel<T> tall;           // null: edge tiles only
  NarrowKernel<T> narrow;       // null: tall or edge tiles
  const CpuPathTuning* tuning;  // the path's cache budgets for the driver
};

// The templates below have internal linkage (anonymous namespace): ISA files include this
// header, and an -mavx2 copy of an inline template with external linkage could be merged by
// the linker with the portable copy and run on a CPU without AVX2 (rule in gemm_isa.h).
namespace {

// Prefetches rows [u0, u1) of a row-major block (row stride ld, w values per row), every
// cache line of each row; Locality as in __builtin_prefetch (3: into L1, 2: into L2).
template <int Locality, typename T>
inline void prefetch_rows(const T* src, int64_t ld, int64_t w, int64_t u0, int64_t u1) {
  constexpr int64_t kLine = 64 / sizeof(T);
  for (int64_t r = u0; r < u1; ++r) {
    for (int64_t c = 0; c < w; c += kLine) __builtin_prefetch(src + r * ld + c, 0, Locality);
    __builtin_prefetch(src + r * ld + w - 1, 0, Locality);
  }
}

// Portable packing routines, templated on the micro-tile size.
template <typename T, int MR>
void pack_a_generic(bool trans, const T* __restrict A, int64_t lda, int64_t i0, int64_t mc,
                    int64_t p0, int64_t kc, T alpha, T* __restrict out) {
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int64_t mr = mc - ir < MR ? mc - ir : MR;
    T* __restrict dst = out + ir * kc;
    if (!trans) {
      const T* __restrict src = A + (i0 + ir) * lda + p0;  // op(A)[i][k] = src[i*lda + k]
      if (mr == MR) {
        for (int64_t k = 0; k < kc; ++k)
          for (int i = 0; i < MR; ++i) dst[k * MR + i] = alpha * src[i * lda + k];
      } else {
        for (int64_t k = 0; k < kc; ++k) {
          for (int64_t i = 0; i < mr; ++i) dst[k * MR + i] = alpha * src[i * lda + k];
          for (int64_t i = mr; i < MR; ++i) dst[k * MR + i] = T(0);
        }
      }
    } else {
      const T* __restrict src = A + p0 * lda + i0 + ir;  // op(A)[i][k] = src[k*lda + i]
      if (mr == MR) {
        for (int64_t k = 0; k < kc; ++k)
          for (int i = 0; i < MR; ++i) dst[k * MR + i] = alpha * src[k * lda + i];
      } else {
        for (int64_t k = 0; k < kc; ++k) {
          for (int64_t i = 0; i < mr; ++i) dst[k * MR + i] = alpha * src[k * lda + i];
          for (int64_t i = mr; i < MR; ++i) dst[k * MR + i] = T(0);
        }
      }
    }
  }
}

template <typename T, int NR>
void pack_b_generic(bool trans, const T* __restrict B, int64_t ldb, int64_t p0, int64_t kc,
                    int64_t j0, int64_t nc, T* __restrict out, bool /*ahead*/ = false) {
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int64_t nr = nc - jr < NR ? nc - jr : NR;
    T* __restrict dst = out + jr * kc;
    if (!trans) {
      const T* __restrict src = B + p0 * ldb + j0 + jr;  // op(B)[k][j] = src[k*ldb + j]
      if (nr == NR) {
        for (int64_t k = 0; k < kc; ++k)
          for (int j = 0; j < NR; ++j) dst[k * NR + j] = src[k * ldb + j];
      } else {
        for (int64_t k = 0; k < kc; ++k) {
          for (int64_t j = 0; j < nr; ++j) dst[k * NR + j] = src[k * ldb + j];
          for (int64_t j = nr; j < NR; ++j) dst[k * NR + j] = T(0);
        }
      }
    } else {
      const T* __restrict src = B + (j0 + jr) * ldb + p0;  // op(B)[k][j] = src[j*ldb + k]
      for (int64_t j = 0; j < nr; ++j)
        for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = src[j * ldb + k];
      for (int64_t j = nr; j < NR; ++j)
        for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = T(0);
    }
  }
}

// Edge tile through a full temporary tile: copy the valid part of c in (beta != 0), run
// the full micro-kernel on the temporary, copy the valid part out.
template <typename T, int MR, int NR, MicroKernel<T> K>
void edge_via_tile(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, T beta,
                   int m, int n) {
  alignas(64) T tile[MR * NR];
  if (beta != T(0)) {
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) tile[i * NR + j] = c[i * ldc + j];
  }
  K(kc, a, b, ldb, tile, NR, beta);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) c[i * ldc + j] = tile[i * NR + j];
}

}  // namespace
}  // namespace gradcore::gemm_detail
