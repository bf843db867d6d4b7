// CUDA optimizer updates: one thread per element runs a body of optim_threads.h;
// sum_of_squares is two deterministic block-reduction passes (chunks, then the chunk sums).
#include "cuda/launch.cuh"
#include "cuda/optim.h"
#include "cuda/optim_threads.h"

namespace gradcore::cuda {

void sgd_step(float* param, const float* grad, float* buf, int64_t n, const SgdConsts& c) {
  const SgdConsts k = c;
  for_each_index(
      "sgd_step_", n, [=] __device__(int64_t t) { sgd_step_at(t, param, grad, buf, k); }, 6.0 * n,
      sizeof(float) * (k.momentum ? 5.0 : 3.0) * n);
}

void adam_step(float* param, const float* grad, float* m, float* v, float* vmax, int64_t n,
               const AdamConsts& c) {
  const AdamConsts k = c;
  for_each_index(
      "adam_step_", n, [=] __device__(int64_t t) { adam_step_at(t, param, grad, m, v, vmax, k); },
      16.0 * n, sizeof(float) * (k.amsgrad ? 9.0 : 7.0) * n);
}

void rmsprop_step(float* param, const float* grad, float* square_avg, float* grad_avg, float* buf,
                  int64_t n, const RmspropConsts& c) {
  const RmspropConsts k = c;
  for_each_index(
      "rmsprop_step_", n,
      [=] __device__(int64_t t) { rmsprop_step_at(t, param, grad, square_avg, grad_avg, buf, k); },
      12.0 * n, sizeof(float) * (5.0 + (k.centered ? 2 : 0) + (k.momentum ? 2 : 0)) * n);
}

void adagrad_step(float* param, const float* grad, float* state_sum, int64_t n,
                  const AdagradConsts& c) {
  const AdagradConsts k = c;
  for_each_index(
      "adagrad_step_", n,
      [=] __device__(int64_t t) { adagrad_step_at(t, param, grad, state_sum, k); }, 8.0 * n,
      sizeof(float) * 5.0 * n);
}

void sum_of_squares(const float* x, int64_t n, float* sums, float* out) {
  const int64_t chunks = sumsq_chunks(n);
  for_each_row_reduce(
      "sum_of_squares", chunks,
      [=] __device__(int64_t r, int t) { return sumsq_chunk_partial(r, t, x, n); },
      [=] __device__(int64_t r, float total) { sumsq_store(r, total, sums); }, 2.0 * n,
      sizeof(float) * 1.0 * n);
  for_each_row_reduce(
      "sum_of_squares", 1,
      [=] __device__(int64_t, int t) { return sumsq_total_partial(t, sums, chunks); },
      [=] __device__(int64_t, float total) { *out = total; });
}

void scale_inplace(float* x, int64_t n, float alpha) {
  for_each_index(
      "scale_", n, [=] __device__(int64_t t) { scale_at(t, x, alpha); }, 1.0 * n,
      sizeof(float) * 2.0 * n);
}

void clamp_inplace(float* x, int64_t n, float lo, float hi) {
  for_each_index(
      "clamp_", n, [=] __device__(int64_t t) { clamp_at(t, x, lo, hi); }, 2.0 * n,
      sizeof(float) * 2.0 * n);
}

}  // namespace gradcore::cuda
