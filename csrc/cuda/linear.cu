// CUDA sum_rows: x (R, C) seen as conv2d_backward_bias's dy (N = R, K = C, P = 1), so the
// per-thread bodies are im2col_threads.h's bias_grad_partial / bias_grad_finish (one block
// per column, kBlock threads striding over the rows, the fixed tree).
#include "cuda/im2col_threads.h"
#include "cuda/launch.cuh"
#include "cuda/linear.h"

namespace gradcore::cuda {

void sum_rows(const float* x, float* out, int64_t R, int64_t C) {
  for_each_row_reduce(
      "sum_rows", C,
      [=] __device__(int64_t c, int t) { return bias_grad_partial(c, t, R, C, 1, x); },
      [=] __device__(int64_t c, float total) { bias_grad_finish(c, total, out); });
}

}  // namespace gradcore::cuda
