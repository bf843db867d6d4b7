// CUDA pooling: each kernel runs one body of pool_threads.h per output element (forward) or
// per input element (backward, a gather: deterministic, no atomics).
#include "cuda/launch.cuh"
#include "cuda/pool.h"
#include "cuda/pool_threads.h"

namespace gradcore::cuda {

void max_pool2d_forward(const Window2d& p, const float* x, float* y, int64_t* idx) {
  const Window2d g = p;
  for_each_index("max_pool2d_forward", g.N * g.C * g.OH * g.OW,
                 [=] __device__(int64_t t) { max_pool2d_forward_at(t, g, x, y, idx); });
}
void max_pool2d_backward(const Window2d& p, const float* dy, const int64_t* idx, float* dx) {
  const Window2d g = p;
  for_each_index("max_pool2d_backward", g.N * g.C * g.H * g.W,
                 [=] __device__(int64_t t) { max_pool2d_backward_at(t, g, dy, idx, dx); });
}
void max_pool2d_backward_planes(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                const float* dy, const int64_t* idx, float* dx) {
  const int64_t HW = H * W, P = OH * OW;
  for_each_index("max_pool2d_backward", planes,
                 [=] __device__(int64_t t) { max_pool2d_backward_plane(t, HW, P, dy, idx, dx); });
}
void count_bad_indices(int64_t n, int64_t HW, const int64_t* idx, float* bad) {
  for_each_row_reduce(
      "max_pool2d_backward", 1,
      [=] __device__(int64_t, int t) { return bad_index_partial(t, n, HW, idx); },
      [=] __device__(int64_t, float total) { *bad = total; });
}

void avg_pool2d_forward(const Window2d& p, bool count_include_pad, int64_t divisor_override,
                        const float* x, float* y) {
  const Window2d g = p;
  for_each_index("avg_pool2d_forward", g.N * g.C * g.OH * g.OW, [=] __device__(int64_t t) {
    avg_pool2d_forward_at(t, g, count_include_pad, divisor_override, x, y);
  });
}
void avg_pool2d_backward(const Window2d& p, bool count_include_pad, int64_t divisor_override,
                         const float* dy, float* dx) {
  const Window2d g = p;
  for_each_index("avg_pool2d_backward", g.N * g.C * g.H * g.W, [=] __device__(int64_t t) {
    avg_pool2d_backward_at(t, g, count_include_pad, divisor_override, dy, dx);
  });
}

void adaptive_avg_pool2d_forward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                 const float* x, float* y) {
  for_each_index("adaptive_avg_pool2d_forward", planes * OH * OW, [=] __device__(int64_t t) {
    adaptive_avg_pool2d_forward_at(t, H, W, OH, OW, x, y);
  });
}
void adaptive_avg_pool2d_backward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                  const float* dy, float* dx) {
  for_each_index("adaptive_avg_pool2d_backward", planes * H * W, [=] __device__(int64_t t) {
    adaptive_avg_pool2d_backward_at(t, H, W, OH, OW, dy, dx);
  });
}

}  // namespace gradcore::cuda
