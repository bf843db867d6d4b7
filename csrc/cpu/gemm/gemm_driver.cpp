// BLIS-style blocking driver and dispatch for gemm<T> (contract in gemm.h).
//
// Loops: jc over NC columns -> pc over KC of the inner dimension -> ic over MC rows (pack
// the A block, alpha folded in) -> jr over NR (pack the B micro-panel during the first ic
// block, or read B in place) -> ir over MR (micro-kernel). The next B panel's source is
// prefetched while the current panel computes, so packing from memory overlaps the math.
// Threads split C into column ranges (or row ranges when C is tall), aligned to the
// micro-tile grid; each thread packs into its own thread_scratch buffers, so no barriers
// are needed. The KC partition depends on K only and every element of C is accumulated
// in the same k order whatever the thread count, so results are bitwise identical for
// any number of threads.
#include <algorithm>
#include <cstring>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "core/workspace.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_internal.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

using gemm_detail::GemmPath;

// Below this many multiply-adds per thread, extra threads cost more than they save.
constexpr int64_t kMinWorkPerThread = int64_t{1} << 17;

template <typename T>
const GemmPath<T>& select_path();
template <>
const GemmPath<float>& select_path<float>() {
  return simd_path() == SimdPath::kAvx2Fma ? gemm_detail::avx2_path_f32()
                                           : gemm_detail::generic_path_f32();
}
template <>
const GemmPath<double>& select_path<double>() {
  return simd_path() == SimdPath::kAvx2Fma ? gemm_detail::avx2_path_f64()
                                           : gemm_detail::generic_path_f64();
}

inline int64_t round_up(int64_t x, int64_t m) {
  return (x + m - 1) / m * m;
}

template <typename T>
struct Problem {
  bool trans_a, trans_b;
  int64_t M, N, K;
  T alpha;
  const T* A;
  int64_t lda;
  const T* B;
  int64_t ldb;
  T beta;
  T* C;
  int64_t ldc;
  int64_t kc;  // KC block used for this K (a function of K only)
};

// Prefetches part [u0, u1) of the source of op(B)'s micro-panel rows [pc, pc+kc) x columns
// [j, j+nr): the units are the kc rows of B (not transposed) or its nr rows (transposed).
// Spread over the micro-kernel calls of the previous panel, this hides the latency of the
// strided source reads that packing the panel would otherwise wait for.
template <typename T>
inline void prefetch_b_source(const Problem<T>& pr, int64_t pc, int64_t kc, int64_t j, int64_t nr,
                              int64_t u0, int64_t u1) {
  if (!pr.trans_b) {
    const T* src = pr.B + pc * pr.ldb + j;
    for (int64_t k = u0; k < u1; ++k) {
      __builtin_prefetch(src + k * pr.ldb);
      __builtin_prefetch(src + k * pr.ldb + nr - 1);
    }
  } else {
    constexpr int64_t kLine = 64 / sizeof(T);
    const T* src = pr.B + j * pr.ldb + pc;
    for (int64_t r = u0; r < u1; ++r) {
      for (int64_t k = 0; k < kc; k += kLine) __builtin_prefetch(src + r * pr.ldb + k);
      __builtin_prefetch(src + r * pr.ldb + kc - 1);
    }
  }
}

// Whether the micro-kernel should read op(B) = B in place instead of packed micro-panels:
// only for a single MC block (each B row segment is used by one pass of micro-tiles) and
// when the rows of a KC x NR panel spread over enough L1 sets to stay resident (a row
// stride that is a multiple of 1 KiB maps all rows to a few sets, and packing wins).
template <typename T>
bool use_b_in_place(const Problem<T>& pr, int64_t rows, int64_t mc) {
  if (pr.trans_b || rows > mc) return false;
  const int64_t stride = pr.ldb * static_cast<int64_t>(sizeof(T));
  int64_t g = 4096;  // gcd(stride, 4096): row starts take 4096 / g positions modulo 4 KiB
  while (stride % g != 0) g /= 2;
  const int64_t sets = std::min<int64_t>(64, 4096 / g);  // of the 64 L1d sets of 64 B
  return pr.kc <= 4 * sets;
}

// C[m0:m1, n0:n1] of the problem, on the calling thread with its own packing buffers.
template <typename T>
void gemm_block_range(const GemmPath<T>& p, const Problem<T>& pr, int64_t m0, int64_t m1,
                      int64_t n0, int64_t n1) {
  const int mr = p.mr, nr = p.nr;
  const int64_t mc_max = std::min(p.mc, round_up(m1 - m0, mr));
  const int64_t nc_max = std::min(p.nc, round_up(n1 - n0, nr));
  T* pack_a = thread_scratch<T>(kSlotGemmPackA, static_cast<size_t>(mc_max * pr.kc));
  T* pack_b = thread_scratch<T>(kSlotGemmPackB, static_cast<size_t>(nc_max * pr.kc));

  const bool direct_b = use_b_in_place(pr, m1 - m0, p.mc);
  const bool single_ic = m1 - m0 <= p.mc;
  for (int64_t jc = n0; jc < n1; jc += p.nc) {
    const int64_t nc = std::min(p.nc, n1 - jc);
    for (int64_t pc = 0; pc < pr.K; pc += pr.kc) {
      const int64_t kc = std::min(pr.kc, pr.K - pc);
      const T beta = pc == 0 ? pr.beta : T(1);
      for (int64_t ic = m0; ic < m1; ic += p.mc) {
        const int64_t mc = std::min(p.mc, m1 - ic);
        p.pack_a(pr.trans_a, pr.A, pr.lda, ic, mc, pc, kc, pr.alpha, pack_a);
        for (int64_t jr = 0; jr < nc; jr += nr) {
          const int64_t nrr = std::min<int64_t>(nr, nc - jr);
          const bool first = ic == m0;
          const T* b;
          int64_t ldbk;
          if (direct_b && nrr == nr) {
            b = pr.B + pc * pr.ldb + jc + jr;
            ldbk = pr.ldb;
          } else {
            // The B block is packed one micro-panel at a time right before its first use,
            // while the panel is hot in L1; later ic blocks reuse it from L2/L3. With a single
            // ic block each panel is used once: two panel slots in turn keep it in L1.
            T* pb = single_ic ? pack_b + ((jr / nr) & 1) * kc * nr : pack_b + jr * kc;
            if (first) p.pack_b(pr.trans_b, pr.B, pr.ldb, pc, kc, jc + jr, nrr, pb);
            b = pb;
            ldbk = nr;
          }
          const int64_t next_nr = std::min<int64_t>(nr, nc - jr - nr);
          const int64_t units = pr.trans_b ? next_nr : kc, n_ir = (mc + mr - 1) / mr;
          for (int64_t ir = 0, q = 0; ir < mc; ir += mr, ++q) {
            const int64_t mrr = std::min<int64_t>(mr, mc - ir);
            if (first && next_nr > 0)
              prefetch_b_source(pr, pc, kc, jc + jr + nr, next_nr, units * q / n_ir,
                                units * (q + 1) / n_ir);
            const T* a = pack_a + ir * kc;
            T* c = pr.C + (ic + ir) * pr.ldc + jc + jr;
            if (mrr == mr && nrr == nr) {
              p.kernel(kc, a, b, ldbk, c, pr.ldc, beta);
              continue;
            }
            p.edge(kc, a, b, ldbk, c, pr.ldc, beta, static_cast<int>(mrr), static_cast<int>(nrr));
          }
        }
      }
    }
  }
}

// C = beta * C (K == 0); beta == 0 writes zeros whatever C held.
template <typename T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0))
      std::fill(c, c + N, T(0));
    else
      for (int64_t j = 0; j < N; ++j) c[j] *= beta;
  }
}

}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  GC_PROFILE_SCOPE("gemm", 2.0 * M * N * K, sizeof(T) * (M * K + K * N + 2 * M * N), {M, N, K});
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const GemmPath<T>& p = select_path<T>();
  // KC partition: the fewest blocks of at most p.kc, of equal size (depends on K only).
  const int64_t nk = (K + p.kc - 1) / p.kc;
  const int64_t kc = (K + nk - 1) / nk;
  const Problem<T> pr{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, kc};

  const int64_t m_tiles = (M + p.mr - 1) / p.mr, n_tiles = (N + p.nr - 1) / p.nr;
  int nt = threads_for(M * N * K, kMinWorkPerThread);
  // Split the larger side of C (in whole micro-tiles): the other operand is packed by every
  // thread, so duplicate the smaller one.
  const bool split_n = n_tiles >= m_tiles;
  nt = static_cast<int>(std::min<int64_t>(nt, split_n ? n_tiles : m_tiles));
  if (nt <= 1) {
    gemm_block_range(p, pr, 0, M, 0, N);
    return;
  }
  const int64_t tiles = split_n ? n_tiles : m_tiles;
  const int64_t step = split_n ? p.nr : p.mr;
  parallel_for(nt, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = std::min(split_n ? N : M, tiles * t / nt * step);
      const int64_t e = std::min(split_n ? N : M, tiles * (t + 1) / nt * step);
      if (b >= e) continue;
      if (split_n)
        gemm_block_range(p, pr, 0, M, b, e);
      else
        gemm_block_range(p, pr, b, e, 0, N);
    }
  });
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);

}  // namespace gradcore
