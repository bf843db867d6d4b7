// CUDA im2col / col2im (float32, a batch of NCHW images; layout: im2col_threads.h) and
// conv2d_backward_bias (the CPU name of csrc/cpu/conv.h), launched on the current stream.
#pragma once
#include <cstdint>

#include "core/shapes.h"

namespace gradcore::cuda {

// col (N, C*R*S, OH*OW) = the columns of x (N, C, H, W) for window g (g.N, g.C, plane fields).
void im2col(const Window2d& g, const float* x, float* col);
// x (N, C, H, W) = the adjoint of im2col: every element sums the columns that read it.
void col2im(const Window2d& g, const float* col, float* x);
// db[k] = sum over n, p of dy (N, K, P): one block per channel, the fixed tree reduction.
void conv2d_backward_bias(int64_t N, int64_t K, int64_t P, const float* dy, float* db);

}  // namespace gradcore::cuda
