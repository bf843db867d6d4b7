// General matrix multiply, the engine under convolution and linear layers.
//
//   C (M x N) = alpha * op(A) @ op(B) + beta * C
//   op(A) is M x K: A is stored M x K (lda >= K) or, with trans_a, K x M (lda >= M).
//   op(B) is K x N: B is stored K x N (ldb >= N) or, with trans_b, N x K (ldb >= K).
//   C is row-major M x N with ldc >= N. beta == 0 overwrites C (NaNs in C are ignored).
//
// Row-major throughout. Uses up to get_num_threads() threads; runs on the calling
// thread alone when called from inside a parallel region (e.g. per-image convolution).
// Results are bitwise identical for any thread count.
#pragma once
#include <cstdint>

namespace gradcore {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace gradcore
