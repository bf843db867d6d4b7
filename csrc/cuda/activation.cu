// CUDA activations: each kernel runs one body of activation_threads.h per element.
#include "cuda/activation.h"
#include "cuda/activation_threads.h"
#include "cuda/launch.cuh"

namespace gradcore::cuda {

void relu_forward(const float* x, float* y, int64_t n) {
  for_each_index(
      "relu_forward", n, [=] __device__(int64_t t) { relu_forward_at(t, x, y); }, n,
      2.0 * n * sizeof(float));
}
void relu_backward(const float* dy, const float* y, float* dx, int64_t n) {
  for_each_index(
      "relu_backward", n, [=] __device__(int64_t t) { relu_backward_at(t, dy, y, dx); }, n,
      3.0 * n * sizeof(float));
}
void leaky_relu_forward(const float* x, float* y, int64_t n, float slope) {
  for_each_index(
      "leaky_relu_forward", n, [=] __device__(int64_t t) { leaky_relu_forward_at(t, x, y, slope); },
      2.0 * n, 2.0 * n * sizeof(float));
}
void leaky_relu_backward(const float* dy, const float* x, float* dx, int64_t n, float slope) {
  for_each_index(
      "leaky_relu_backward", n,
      [=] __device__(int64_t t) { leaky_relu_backward_at(t, dy, x, dx, slope); }, 2.0 * n,
      3.0 * n * sizeof(float));
}
void sigmoid_forward(const float* x, float* y, int64_t n) {
  for_each_index(
      "sigmoid_forward", n, [=] __device__(int64_t t) { sigmoid_forward_at(t, x, y); }, 4.0 * n,
      2.0 * n * sizeof(float));
}
void sigmoid_backward(const float* dy, const float* y, float* dx, int64_t n) {
  for_each_index(
      "sigmoid_backward", n, [=] __device__(int64_t t) { sigmoid_backward_at(t, dy, y, dx); },
      3.0 * n, 3.0 * n * sizeof(float));
}
void tanh_forward(const float* x, float* y, int64_t n) {
  for_each_index(
      "tanh_forward", n, [=] __device__(int64_t t) { tanh_forward_at(t, x, y); }, 4.0 * n,
      2.0 * n * sizeof(float));
}
void tanh_backward(const float* dy, const float* y, float* dx, int64_t n) {
  for_each_index(
      "tanh_backward", n, [=] __device__(int64_t t) { tanh_backward_at(t, dy, y, dx); }, 3.0 * n,
      3.0 * n * sizeof(float));
}
void silu_forward(const float* x, float* y, int64_t n) {
  for_each_index("silu_forward", n, [=] __device__(int64_t t) { silu_forward_at(t, x, y); });
}
void silu_backward(const float* dy, const float* x, float* dx, int64_t n) {
  for_each_index(
      "silu_backward", n, [=] __device__(int64_t t) { silu_backward_at(t, dy, x, dx); }, 9.0 * n,
      3.0 * n * sizeof(float));
}
void gelu_forward(const float* x, float* y, int64_t n, bool approximate) {
  for_each_index(
      "gelu_forward", n, [=] __device__(int64_t t) { gelu_forward_at(t, x, y, approximate); },
      8.0 * n, 2.0 * n * sizeof(float));
}
void gelu_backward(const float* dy, const float* x, float* dx, int64_t n, bool approximate) {
  for_each_index(
      "gelu_backward", n,
      [=] __device__(int64_t t) { gelu_backward_at(t, dy, x, dx, approximate); }, 12.0 * n,
      3.0 * n * sizeof(float));
}

}  // namespace gradcore::cuda
