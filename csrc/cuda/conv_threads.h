// Per-thread bodies of the small kernels of the CUDA convolution (conv.cu) that are not
// im2col / col2im (im2col_threads.h), shared with the CPU test driver
// (csrc/bindings/bind_cuda_host_conv.cpp). Every body writes one output element.
#pragma once
#include <cstdint>

#include "core/shapes.h"
#include "cuda/host_device.h"

namespace gradcore::cuda {

// Thread t < N*K*P of y (N, K, P): y[t] = bias[k] (the GEMM then adds W @ col with beta = 1).
GC_HD void conv_bias_fill_at(int64_t t, int64_t K, int64_t P, const float* bias, float* y) {
  y[t] = bias[(t / P) % K];
}

// Thread t < K*N*P of dst (K, N, P): dst[k][n][p] = src[n][k][p] (src (N, K, P)).
GC_HD void conv_nkp_to_knp_at(int64_t t, int64_t N, int64_t K, int64_t P, const float* src,
                              float* dst) {
  const int64_t NP = N * P;
  const int64_t k = t / NP, q = t % NP;
  const int64_t n = q / P, p = q % P;
  dst[t] = src[(n * K + k) * P + p];
}

// The columns of the whole batch side by side, for the weight gradient's single GEMM:
// col (C*R*S, N*P) with col[(c*R + r)*S + s][n*P + oh*OW + ow] =
// x[n][c][oh*sh - ph + r*dh][ow*sw - pw + s*dw] (zero in the padding): im2col_at's value,
// laid out (C*R*S, N, P) instead of (N, C*R*S, P). Thread t < C*R*S*N*P writes col[t].
GC_HD void im2col_cat_at(int64_t t, const Window2d g, const float* x, float* col) {
  const int64_t P = g.OH * g.OW;
  const int64_t NP = g.N * P;
  const int64_t row = t / NP, q = t % NP;  // row = (c*R + r)*S + s
  const int64_t n = q / P, p = q % P;
  const int64_t s = row % g.S;
  const int64_t r = (row / g.S) % g.R;
  const int64_t c = row / (g.S * g.R);
  const int64_t oh = p / g.OW, ow = p % g.OW;
  const int64_t ih = oh * g.sh - g.ph + r * g.dh;
  const int64_t iw = ow * g.sw - g.pw + s * g.dw;
  col[t] =
      (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) ? x[((n * g.C + c) * g.H + ih) * g.W + iw] : 0.f;
}

// Thread t < n: y[t] = 0.
GC_HD void conv_zero_at(int64_t t, float* y) {
  y[t] = 0.f;
}

}  // namespace gradcore::cuda
