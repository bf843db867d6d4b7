// Placeholder-free reference blocking driver: correct for every case, to be replaced by
// the packed BLIS-style driver (see gemm.h for the contract).
#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "cpu/gemm/gemm.h"
#include "profiler/profiler.h"

namespace gradcore {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  GC_PROFILE_SCOPE("gemm", 2.0 * M * N * K, sizeof(T) * (M * K + K * N + 2 * M * N), {M, N, K});
  parallel_for(M, 16, [&](int64_t i0, int64_t i1) {
    std::vector<T> row(N);
    for (int64_t i = i0; i < i1; ++i) {
      std::fill(row.begin(), row.end(), T(0));
      for (int64_t k = 0; k < K; ++k) {
        const T a = trans_a ? A[k * lda + i] : A[i * lda + k];
        if (trans_b)
          for (int64_t j = 0; j < N; ++j) row[j] += a * B[j * ldb + k];
        else
          for (int64_t j = 0; j < N; ++j) row[j] += a * B[k * ldb + j];
      }
      T* c = C + i * ldc;
      for (int64_t j = 0; j < N; ++j) c[j] = alpha * row[j] + (beta == T(0) ? T(0) : beta * c[j]);
    }
  });
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);

}  // namespace gradcore
