// Fully connected layer through gemm<T> with transpose flags (no transposed copies).
#pragma once
#include <cstdint>

namespace gradcore {

// x (N, in), weight (out, in), bias (out) or nullptr -> y (N, out) = x @ weight^T + bias.
template <typename T>
void linear_forward(const T* x, const T* weight, const T* bias, T* y, int64_t N, int64_t in,
                    int64_t out);
// dy (N, out), weight (out, in) -> dx (N, in) = dy @ weight.
template <typename T>
void linear_backward_input(const T* dy, const T* weight, T* dx, int64_t N, int64_t in, int64_t out);
// dy (N, out), x (N, in) -> dw (out, in) = dy^T @ x.
template <typename T>
void linear_backward_weight(const T* dy, const T* x, T* dw, int64_t N, int64_t in, int64_t out);

}  // namespace gradcore
