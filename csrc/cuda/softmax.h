// CUDA softmax and log-softmax over the last axis of a (rows, cols) float32 array: the CPU
// names of csrc/cpu/softmax.h, launched on the current stream. Bodies: softmax_threads.h.
// Each call takes a scratch block of per-row values from the caching allocator (2 * rows
// floats for the forwards, rows for the backwards): a row maximum (for_each_row_reduce_with),
// then a row sum (for_each_row_reduce), then one thread per element.
#pragma once
#include <cstdint>

namespace gradcore::cuda {

void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols);
void softmax_backward(const float* dy, const float* y, float* dx, int64_t rows, int64_t cols);
void log_softmax_forward(const float* x, float* y, int64_t rows, int64_t cols);
void log_softmax_backward(const float* dy, const float* y, float* dx, int64_t rows, int64_t cols);

}  // namespace gradcore::cuda
