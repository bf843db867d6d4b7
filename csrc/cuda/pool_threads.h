// Per-thread bodies of the pooling kernels, shared by pool.cu and the CPU test driver.
// Semantics as csrc/cpu/pool.h. Forward kernels: thread t computes output element t (of
// N*C*OH*OW). Backward kernels gather: thread t computes input-gradient element t (of N*C*H*W)
// as the sum, in ascending output order (the CPU's order of accumulation), of the
// contributions of the output windows that cover it: deterministic, no atomics.
#pragma once
#include <cstdint>

#include "core/shapes.h"
#include "cuda/host_device.h"
#include "cuda/im2col_threads.h"

namespace gradcore::cuda {

GC_HD int64_t min_hd(int64_t a, int64_t b) {
  return a < b ? a : b;
}
GC_HD int64_t max_hd(int64_t a, int64_t b) {
  return a < b ? b : a;
}

// Output positions o in [lo, hi] (clipped to [0, n_out)) whose window
// [o*stride - pad, o*stride - pad + extent] (extent = last tap's offset) may hold position i.
GC_HD void covering_range(int64_t i, int64_t stride, int64_t pad, int64_t extent, int64_t n_out,
                          int64_t* lo, int64_t* hi) {
  // o*stride - pad <= i  <=>  o <= floor((i + pad) / stride)
  // o*stride - pad + extent >= i  <=>  o >= ceil((i + pad - extent) / stride)
  const int64_t a = i + pad - extent;
  *lo = max_hd(0, -floor_div_hd(-a, stride));
  *hi = min_hd(n_out - 1, floor_div_hd(i + pad, stride));
}

// ---- max pooling ----

// y[t] = max over the window (NaN wins, first maximum kept), idx[t] = its flat h*W + w.
GC_HD void max_pool2d_forward_at(int64_t t, const Window2d p, const float* x, float* y,
                                 int64_t* idx) {
  const int64_t P = p.OH * p.OW;
  const int64_t plane = t / P, o = t % P;
  const int64_t oh = o / p.OW, ow = o % p.OW;
  const float* xp = x + plane * p.H * p.W;
  int64_t ih0 = oh * p.sh - p.ph;
  const int64_t ih1 = min_hd(ih0 + (p.R - 1) * p.dh + 1, p.H);
  if (ih0 < 0) ih0 += (-ih0 + p.dh - 1) / p.dh * p.dh;  // first tap inside the input
  int64_t iw0 = ow * p.sw - p.pw;
  const int64_t iw1 = min_hd(iw0 + (p.S - 1) * p.dw + 1, p.W);
  if (iw0 < 0) iw0 += (-iw0 + p.dw - 1) / p.dw * p.dw;
  int64_t k = ih0 * p.W + iw0;
  float m = -__builtin_huge_valf();
  for (int64_t ih = ih0; ih < ih1; ih += p.dh)
    for (int64_t iw = iw0; iw < iw1; iw += p.dw) {
      const float v = xp[ih * p.W + iw];
      if (v > m || v != v) m = v, k = ih * p.W + iw;
    }
  y[t] = m;
  idx[t] = k;
}

// With the window geometry: dx[t] = sum of dy[o] over the outputs o whose window covers
// element t and whose saved index is t's position in its plane.
GC_HD void max_pool2d_backward_at(int64_t t, const Window2d p, const float* dy, const int64_t* idx,
                                  float* dx) {
  const int64_t iw = t % p.W, ih = (t / p.W) % p.H, plane = t / (p.W * p.H);
  const int64_t P = p.OH * p.OW, pos = ih * p.W + iw;
  int64_t oh0, oh1, ow0, ow1;
  covering_range(ih, p.sh, p.ph, (p.R - 1) * p.dh, p.OH, &oh0, &oh1);
  covering_range(iw, p.sw, p.pw, (p.S - 1) * p.dw, p.OW, &ow0, &ow1);
  const float* g = dy + plane * P;
  const int64_t* ind = idx + plane * P;
  float sum = 0.f;
  for (int64_t oh = oh0; oh <= oh1; ++oh)
    for (int64_t ow = ow0; ow <= ow1; ++ow)
      if (ind[oh * p.OW + ow] == pos) sum += g[oh * p.OW + ow];
  dx[t] = sum;
}

// Without the window geometry (the CPU signature: dy, indices, input_shape): thread t handles
// plane t: zeroes its H*W gradients, then adds dy[o] at idx[o] for every output o in order
// (the CPU loop; indices outside [0, H*W) are skipped: bad_index_partial counts them).
GC_HD void max_pool2d_backward_plane(int64_t t, int64_t HW, int64_t P, const float* dy,
                                     const int64_t* idx, float* dx) {
  float* d = dx + t * HW;
  const float* g = dy + t * P;
  const int64_t* ind = idx + t * P;
  for (int64_t i = 0; i < HW; ++i) d[i] = 0.f;
  for (int64_t o = 0; o < P; ++o) {
    const int64_t k = ind[o];
    if (k >= 0 && k < HW) d[k] += g[o];
  }
}

// The bad-index count of max_pool2d_backward (as one block reduction): thread t counts the
// indices t, t + kBlock, ... of the n that lie outside [0, HW).
GC_HD float bad_index_partial(int t, int64_t n, int64_t HW, const int64_t* idx) {
  float c = 0.f;
  for (int64_t i = t; i < n; i += kBlock)
    if (idx[i] < 0 || idx[i] >= HW) c += 1.f;
  return c;
}

// ---- average pooling ----

// PyTorch's average-pool window of output (oh, ow), clipped to the input, and its divisor
// (cpu/pool.cpp's avg_window).
struct AvgWindowHD {
  int64_t h0, h1, w0, w1, divisor;
};
GC_HD AvgWindowHD avg_window_hd(const Window2d& p, bool count_include_pad, int64_t divisor_override,
                                int64_t oh, int64_t ow) {
  int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
  int64_t h1 = min_hd(h0 + p.R, p.H + p.ph), w1 = min_hd(w0 + p.S, p.W + p.pw);
  const int64_t pool_size = (h1 - h0) * (w1 - w0);
  h0 = max_hd(h0, 0);
  w0 = max_hd(w0, 0);
  h1 = min_hd(h1, p.H);
  w1 = min_hd(w1, p.W);
  const int64_t div = divisor_override > 0 ? divisor_override
                      : count_include_pad  ? pool_size
                                           : (h1 - h0) * (w1 - w0);
  return AvgWindowHD{h0, h1, w0, w1, div};
}

GC_HD void avg_pool2d_forward_at(int64_t t, const Window2d p, bool count_include_pad,
                                 int64_t divisor_override, const float* x, float* y) {
  const int64_t P = p.OH * p.OW;
  const int64_t plane = t / P, o = t % P;
  const AvgWindowHD w = avg_window_hd(p, count_include_pad, divisor_override, o / p.OW, o % p.OW);
  if (w.h0 >= w.h1 || w.w0 >= w.w1) {
    y[t] = 0.f;
    return;
  }
  const float* xp = x + plane * p.H * p.W;
  float sum = 0.f;
  for (int64_t ih = w.h0; ih < w.h1; ++ih)
    for (int64_t iw = w.w0; iw < w.w1; ++iw) sum += xp[ih * p.W + iw];
  y[t] = sum / static_cast<float>(w.divisor);
}

// dx[t] = sum of dy[o] / divisor(o) over the outputs o whose (clipped) window holds t.
GC_HD void avg_pool2d_backward_at(int64_t t, const Window2d p, bool count_include_pad,
                                  int64_t divisor_override, const float* dy, float* dx) {
  const int64_t iw = t % p.W, ih = (t / p.W) % p.H, plane = t / (p.W * p.H);
  const int64_t P = p.OH * p.OW;
  int64_t oh0, oh1, ow0, ow1;
  covering_range(ih, p.sh, p.ph, p.R - 1, p.OH, &oh0, &oh1);
  covering_range(iw, p.sw, p.pw, p.S - 1, p.OW, &ow0, &ow1);
  const float* g = dy + plane * P;
  float sum = 0.f;
  for (int64_t oh = oh0; oh <= oh1; ++oh)
    for (int64_t ow = ow0; ow <= ow1; ++ow) {
      const AvgWindowHD w = avg_window_hd(p, count_include_pad, divisor_override, oh, ow);
      if (ih < w.h0 || ih >= w.h1 || iw < w.w0 || iw >= w.w1) continue;
      sum += g[oh * p.OW + ow] / static_cast<float>(w.divisor);
    }
  dx[t] = sum;
}

// ---- adaptive average pooling ----

GC_HD int64_t adaptive_start_hd(int64_t i, int64_t in, int64_t out) {
  return (i * in) / out;
}
GC_HD int64_t adaptive_end_hd(int64_t i, int64_t in, int64_t out) {
  return ((i + 1) * in + out - 1) / out;
}

GC_HD void adaptive_avg_pool2d_forward_at(int64_t t, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                          const float* x, float* y) {
  const int64_t P = OH * OW;
  const int64_t plane = t / P, oh = (t % P) / OW, ow = t % OW;
  const int64_t h0 = adaptive_start_hd(oh, H, OH), h1 = adaptive_end_hd(oh, H, OH);
  const int64_t w0 = adaptive_start_hd(ow, W, OW), w1 = adaptive_end_hd(ow, W, OW);
  const float* xp = x + plane * H * W;
  float sum = 0.f;
  for (int64_t ih = h0; ih < h1; ++ih)
    for (int64_t iw = w0; iw < w1; ++iw) sum += xp[ih * W + iw];
  y[t] = sum / static_cast<float>((h1 - h0) * (w1 - w0));
}

// Outputs o in [lo, hi] of an adaptive axis whose window [start(o), end(o)) may hold i
// (a superset; the caller checks membership).
GC_HD void adaptive_covering(int64_t i, int64_t in, int64_t out, int64_t* lo, int64_t* hi) {
  *lo = max_hd(0, (i * out) / in - 1);
  *hi = min_hd(out - 1, ((i + 1) * out + in - 1) / in);
}

GC_HD void adaptive_avg_pool2d_backward_at(int64_t t, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                           const float* dy, float* dx) {
  const int64_t iw = t % W, ih = (t / W) % H, plane = t / (W * H);
  const float* g = dy + plane * OH * OW;
  int64_t oh0, oh1, ow0, ow1;
  adaptive_covering(ih, H, OH, &oh0, &oh1);
  adaptive_covering(iw, W, OW, &ow0, &ow1);
  float sum = 0.f;
  for (int64_t oh = oh0; oh <= oh1; ++oh) {
    const int64_t h0 = adaptive_start_hd(oh, H, OH), h1 = adaptive_end_hd(oh, H, OH);
    if (ih < h0 || ih >= h1) continue;
    for (int64_t ow = ow0; ow <= ow1; ++ow) {
      const int64_t w0 = adaptive_start_hd(ow, W, OW), w1 = adaptive_end_hd(ow, W, OW);
      if (iw < w0 || iw >= w1) continue;
      sum += g[oh * OW + ow] / static_cast<float>((h1 - h0) * (w1 - w0));
    }
  }
  dx[t] = sum;
}

}  // namespace gradcore::cuda
