// BLIS-style blocking driver and dispatch for gemm<T> (contract in gemm.h).
//
// Loops: jc over NC columns -> pc over KC of the inner dimension (pack B block) -> ic over
// MC rows (pack A block, alpha folded in) -> jr over NR -> ir over MR (micro-kernel).
// Threads split C into column ranges (or row ranges when C is tall), aligned to the
// micro-tile grid; each thread packs into its own thread_scratch buffers, so no
// barriers are needed. The KC partition depends on K only and every element of C is
// accumulated in the same k order whatever the thread count, so results are bitwise
// identical for any number of threads.
#include <algorithm>
#include <cstring>
#include <cstdlib>

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

// C[m0:m1, n0:n1] of the problem, on the calling thread with its own packing buffers.
template <typename T>
void gemm_block_range(const GemmPath<T>& p, const Problem<T>& pr, int64_t m0, int64_t m1,
                      int64_t n0, int64_t n1) {
  const int mr = p.mr, nr = p.nr;
  const int64_t mc_max = std::min(p.mc, round_up(m1 - m0, mr));
  const int64_t nc_max = std::min(p.nc, round_up(n1 - n0, nr));
  T* pack_a = thread_scratch<T>(kSlotGemmPackA, static_cast<size_t>(mc_max * pr.kc));
  T* pack_b = thread_scratch<T>(kSlotGemmPackB, static_cast<size_t>(nc_max * pr.kc));
  alignas(64) T tile[8 * 16];  // edge tiles (MR * NR <= 128)

  for (int64_t jc = n0; jc < n1; jc += p.nc) {
    const int64_t nc = std::min(p.nc, n1 - jc);
    for (int64_t pc = 0; pc < pr.K; pc += pr.kc) {
      const int64_t kc = std::min(pr.kc, pr.K - pc);
      const T beta = pc == 0 ? pr.beta : T(1);
      p.pack_b(pr.trans_b, pr.B, pr.ldb, pc, kc, jc, nc, pack_b);
      for (int64_t ic = m0; ic < m1; ic += p.mc) {
        const int64_t mc = std::min(p.mc, m1 - ic);
        p.pack_a(pr.trans_a, pr.A, pr.lda, ic, mc, pc, kc, pr.alpha, pack_a);
        for (int64_t jr = 0; jr < nc; jr += nr) {
          const int64_t nrr = std::min<int64_t>(nr, nc - jr);
          const T* b = pack_b + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += mr) {
            const int64_t mrr = std::min<int64_t>(mr, mc - ir);
            const T* a = pack_a + ir * kc;
            T* c = pr.C + (ic + ir) * pr.ldc + jc + jr;
            if (mrr == mr && nrr == nr) {
              p.kernel(kc, a, b, c, pr.ldc, beta);
              continue;
            }
            // Edge tile: run the same kernel on a full temporary tile, copy the valid part.
            if (beta != T(0)) {
              for (int64_t i = 0; i < mrr; ++i)
                for (int64_t j = 0; j < nrr; ++j) tile[i * nr + j] = c[i * pr.ldc + j];
            }
            p.kernel(kc, a, b, tile, nr, beta);
            for (int64_t i = 0; i < mrr; ++i)
              std::memcpy(c + i * pr.ldc, tile + i * nr, static_cast<size_t>(nrr) * sizeof(T));
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
  GemmPath<T> p = select_path<T>();
  {  // TUNING ONLY (remove)
    static const char* e1 = std::getenv("GC_MC");
    static const char* e2 = std::getenv("GC_KC");
    static const char* e3 = std::getenv("GC_NC");
    if (e1) p.mc = std::atoi(e1);
    if (e2) p.kc = std::atoi(e2);
    if (e3) p.nc = std::atoi(e3);
  }
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
