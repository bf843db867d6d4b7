// CUDA im2col / col2im (one thread per column element / per image element, a gather) and
// conv2d_backward_bias (one block-row reduction per channel). Bodies: im2col_threads.h.
#include "cuda/im2col.h"
#include "cuda/im2col_threads.h"
#include "cuda/launch.cuh"

namespace gradcore::cuda {

void im2col(const Window2d& g, const float* x, float* col) {
  const Window2d w = g;
  for_each_index("im2col", g.N * g.C * g.R * g.S * g.OH * g.OW,
                 [=] __device__(int64_t t) { im2col_at(t, w, x, col); });
}
void col2im(const Window2d& g, const float* col, float* x) {
  const Window2d w = g;
  for_each_index("col2im", g.N * g.C * g.H * g.W,
                 [=] __device__(int64_t t) { col2im_at(t, w, col, x); });
}
void conv2d_backward_bias(int64_t N, int64_t K, int64_t P, const float* dy, float* db) {
  for_each_row_reduce(
      "conv2d_backward_bias", K,
      [=] __device__(int64_t k, int t) { return bias_grad_partial(k, t, N, K, P, dy); },
      [=] __device__(int64_t k, float total) { bias_grad_finish(k, total, db); });
}

}  // namespace gradcore::cuda
