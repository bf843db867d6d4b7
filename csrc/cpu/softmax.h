// Softmax and log-softmax over the last axis of a (rows, cols) array, numerically stable
// (the row maximum is subtracted before exponentiating). Rows run in parallel. Every kernel
// overwrites its output (y or dx).
#pragma once
#include <cstdint>

namespace gradcore {

// y[r, :] = exp(x[r, :] - m) / sum_c exp(x[r, c] - m), m = max_c x[r, c]. Overwrites y.
template <typename T>
void softmax_forward(const T* x, T* y, int64_t rows, int64_t cols);
// dx[r, :] = y[r, :] * (dy[r, :] - sum_c dy[r, c] * y[r, c]). Overwrites dx.
template <typename T>
void softmax_backward(const T* dy, const T* y, T* dx, int64_t rows, int64_t cols);

// y[r, :] = (x[r, :] - m) - log(sum_c exp(x[r, c] - m)). Overwrites y.
template <typename T>
void log_softmax_forward(const T* x, T* y, int64_t rows, int64_t cols);
// dx[r, :] = dy[r, :] - exp(y[r, :]) * sum_c dy[r, c]. Overwrites dx.
template <typename T>
void log_softmax_backward(const T* dy, const T* y, T* dx, int64_t rows, int64_t cols);

}  // namespace gradcore
