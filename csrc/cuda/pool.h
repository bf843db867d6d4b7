// CUDA pooling (float32, NCHW), forward and backward: the CPU names of csrc/cpu/pool.h,
// launched on the current stream. Bodies: pool_threads.h. Every kernel overwrites its output.
#pragma once
#include <cstdint>

#include "core/shapes.h"

namespace gradcore::cuda {

// y, idx (N, C, OH, OW): max and flat h*W + w argmax of every window (NaN wins).
void max_pool2d_forward(const Window2d& p, const float* x, float* y, int64_t* idx);
// dx (N, C, H, W) from dy, idx (N, C, OH, OW) and the forward's window geometry p: one thread
// per input element gathering from the windows that cover it.
void max_pool2d_backward(const Window2d& p, const float* dy, const int64_t* idx, float* dx);
// Without the geometry (the CPU signature): one thread per plane, the CPU's scatter loop.
void max_pool2d_backward_planes(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                const float* dy, const int64_t* idx, float* dx);
// *bad (one float on the device) = the number of the n indices outside [0, HW).
void count_bad_indices(int64_t n, int64_t HW, const int64_t* idx, float* bad);

void avg_pool2d_forward(const Window2d& p, bool count_include_pad, int64_t divisor_override,
                        const float* x, float* y);
void avg_pool2d_backward(const Window2d& p, bool count_include_pad, int64_t divisor_override,
                         const float* dy, float* dx);

void adaptive_avg_pool2d_forward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                 const float* x, float* y);
void adaptive_avg_pool2d_backward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                  const float* dy, float* dx);

}  // namespace gradcore::cuda
