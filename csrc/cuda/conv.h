// CUDA 2-d convolution (float32, NCHW, groups): the CPU names of csrc/cpu/conv.h, launched on
// the current stream. im2col (im2col.h) + cuBLAS GEMMs (cublas.h); the plan is conv_plan.h,
// the small kernels' bodies conv_threads.h. Layouts and semantics as csrc/cpu/conv.h; `g` has
// OH, OW set. Every function overwrites its output. conv2d_backward_bias is in im2col.h.
#pragma once
#include <cstdint>

#include "core/shapes.h"

namespace gradcore::cuda {

// y (N, K, OH, OW) = conv2d(x (N, C, H, W), w (K, C/groups, R, S)) + bias (K,) (may be null).
void conv2d_forward(const Window2d& g, const float* x, const float* w, const float* bias, float* y);
// dx (N, C, H, W): the gradient of conv2d_forward with respect to x.
void conv2d_backward_input(const Window2d& g, const float* dy, const float* w, float* dx);
// dw (K, C/groups, R, S): the gradient of conv2d_forward with respect to w.
void conv2d_backward_weight(const Window2d& g, const float* dy, const float* x, float* dw);

// The plan's small kernels (bodies in conv_threads.h).
// col (C*R*S, N*P): the columns of all N images side by side.
void conv_im2col_cat(const Window2d& g, const float* x, float* col);
// y (N, K, P): y[n, k, p] = bias[k].
void conv_bias_fill(int64_t N, int64_t K, int64_t P, const float* bias, float* y);
// dst (K, N, P) = src (N, K, P) with the first two axes swapped.
void conv_nkp_to_knp(int64_t N, int64_t K, int64_t P, const float* src, float* dst);
// y[0, n) = 0.
void conv_zero(float* y, int64_t n);

}  // namespace gradcore::cuda
