// CUDA activations (float32, n contiguous elements), forward and backward: the CPU names of
// csrc/cpu/activation.h, launched on the current stream. Bodies: activation_threads.h.
#pragma once
#include <cstdint>

namespace gradcore::cuda {

void relu_forward(const float* x, float* y, int64_t n);
void relu_backward(const float* dy, const float* y, float* dx, int64_t n);
void leaky_relu_forward(const float* x, float* y, int64_t n, float slope);
void leaky_relu_backward(const float* dy, const float* x, float* dx, int64_t n, float slope);
void sigmoid_forward(const float* x, float* y, int64_t n);
void sigmoid_backward(const float* dy, const float* y, float* dx, int64_t n);
void tanh_forward(const float* x, float* y, int64_t n);
void tanh_backward(const float* dy, const float* y, float* dx, int64_t n);
void silu_forward(const float* x, float* y, int64_t n);
void silu_backward(const float* dy, const float* x, float* dx, int64_t n);
void gelu_forward(const float* x, float* y, int64_t n, bool approximate);
void gelu_backward(const float* dy, const float* x, float* dx, int64_t n, bool approximate);

}  // namespace gradcore::cuda
