// CUDA dropout: each kernel runs one body of dropout_threads.h per element.
#include "cuda/dropout.h"
#include "cuda/dropout_threads.h"
#include "cuda/launch.cuh"

namespace gradcore::cuda {

void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, double p, uint64_t seed) {
  const uint64_t key = dropout_seed_key(seed), threshold = dropout_keep_threshold(p);
  const float scale = dropout_keep_scale(p);
  for_each_index(
      "dropout_forward", n,
      [=] __device__(int64_t t) { dropout_forward_at(t, x, y, mask, key, threshold, scale); },
      2.0 * n, (2.0 * sizeof(float) + 1.0) * n);
}

void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, double p) {
  const float scale = dropout_keep_scale(p);
  for_each_index(
      "dropout_backward", n,
      [=] __device__(int64_t t) { dropout_backward_at(t, dy, mask, dx, scale); }, 1.0 * n,
      (2.0 * sizeof(float) + 1.0) * n);
}

}  // namespace gradcore::cuda
