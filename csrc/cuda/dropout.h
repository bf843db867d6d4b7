// CUDA dropout (float32, n contiguous elements, uint8 mask): the CPU names of
// csrc/cpu/dropout.h, launched on the current stream; the mask is the CPU kernels' (same
// counter-based generator, dropout_threads.h).
#pragma once
#include <cstdint>

namespace gradcore::cuda {

// mask[i] = keep(seed, i), y = x * mask / (1 - p) (p == 1: y = x * 0). Overwrites y and mask.
void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, double p, uint64_t seed);
// dx = dy * mask / (1 - p). Overwrites dx.
void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, double p);

}  // namespace gradcore::cuda
