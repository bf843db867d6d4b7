// Per-thread bodies of the im2col / col2im kernels and of conv2d_backward_bias, shared by
// im2col.cu and the CPU test driver. Layout as csrc/cpu/im2col.h, for a batch of N images:
//   col[n][(c*R + r)*S + s][oh*OW + ow] = x[n][c][oh*sh - ph + r*dh][ow*sw - pw + s*dw]
// (zero in the padding); col is (N, C*R*S, OH*OW). col2im is its adjoint: every image element
// sums, in (r, s) order, the columns that read it (a gather: one thread per image element,
// deterministic, no atomics).
#pragma once
#include <cstdint>

#include "core/shapes.h"
#include "cuda/host_device.h"

namespace gradcore::cuda {

// floor(a / b) for b > 0.
GC_HD int64_t floor_div_hd(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// PyTorch's output size of a window along one axis (core/shapes.cpp's window_out_size, for
// the CUDA module, which does not link core/).
GC_HD int64_t window_out_size_hd(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                                 int64_t dilation, bool ceil_mode) {
  if (stride <= 0) return 0;
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  const int64_t num = span + (ceil_mode ? stride - 1 : 0);
  if (num < 0) return 0;
  int64_t out = num / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// Thread t < N*C*R*S*OH*OW writes col element t (flat index of (n, c*R*S + r*S + s, oh*OW+ow)).
GC_HD void im2col_at(int64_t t, const Window2d g, const float* x, float* col) {
  const int64_t P = g.OH * g.OW;
  const int64_t p = t % P;
  const int64_t row = t / P;  // n*C*R*S + (c*R + r)*S + s
  const int64_t s = row % g.S;
  const int64_t r = (row / g.S) % g.R;
  const int64_t nc = row / (g.S * g.R);  // n*C + c
  const int64_t oh = p / g.OW, ow = p % g.OW;
  const int64_t ih = oh * g.sh - g.ph + r * g.dh;
  const int64_t iw = ow * g.sw - g.pw + s * g.dw;
  col[t] = (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) ? x[(nc * g.H + ih) * g.W + iw] : 0.f;
}

// Thread t < N*C*H*W writes image element t: the sum over (r, s), in that order, of the
// columns that read it.
GC_HD void col2im_at(int64_t t, const Window2d g, const float* col, float* x) {
  const int64_t iw = t % g.W;
  const int64_t ih = (t / g.W) % g.H;
  const int64_t nc = t / (g.W * g.H);  // n*C + c
  const int64_t P = g.OH * g.OW;
  float sum = 0.f;
  for (int64_t r = 0; r < g.R; ++r) {
    const int64_t hh = ih + g.ph - r * g.dh;  // = oh*sh
    if (hh < 0 || hh % g.sh != 0) continue;
    const int64_t oh = hh / g.sh;
    if (oh >= g.OH) continue;
    for (int64_t s = 0; s < g.S; ++s) {
      const int64_t ww = iw + g.pw - s * g.dw;
      if (ww < 0 || ww % g.sw != 0) continue;
      const int64_t ow = ww / g.sw;
      if (ow >= g.OW) continue;
      sum += col[((nc * g.R + r) * g.S + s) * P + oh * g.OW + ow];
    }
  }
  x[t] = sum;
}

// conv2d_backward_bias, one row per channel k of dy (N, K, P): thread t of the row sums
// elements i = t, t + kBlock, ... of the N*P elements of channel k (i = n*P + p).
GC_HD float bias_grad_partial(int64_t k, int t, int64_t N, int64_t K, int64_t P, const float* dy) {
  float acc = 0.f;
  const int64_t n_elems = N * P;
  for (int64_t i = t; i < n_elems; i += kBlock) {
    const int64_t n = i / P, p = i % P;
    acc += dy[(n * K + k) * P + p];
  }
  return acc;
}
GC_HD void bias_grad_finish(int64_t k, float total, float* db) {
  db[k] = total;
}

}  // namespace gradcore::cuda
