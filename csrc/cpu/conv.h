// 2-d convolution (cross-correlation, like torch.nn.functional.conv2d) by im2col + GEMM.
//
// Layouts: input x (N, C, H, W), weight w (K, C/groups, R, S), bias (K,), output y (N, K, OH, OW),
// all C-contiguous. The geometry p (core/shapes.h) has OH, OW set by set_output_size().
// Every kernel is deterministic: bitwise identical results for any thread count. Every kernel
// overwrites its output (y, dx, dw or db); none accumulates into it.
#pragma once
#include <cstdint>

#include "core/shapes.h"

namespace gradcore {

// y[n,k,oh,ow] = bias[k] + sum_{c in group(k), r, s} w[k,c,r,s] *
// x[n,c,oh*sh-ph+r*dh,ow*sw-pw+s*dw] (bias may be null). Overwrites y.
template <typename T>
void conv2d_forward(const Window2d& p, const T* x, const T* w, const T* bias, T* y);

// The sink of conv2d_forward_by_image: fn(ctx, n, y_n) gets image n's output y_n
// (K x OH*OW, row-major), valid only during the call.
template <typename T>
struct ImageSink {
  void (*fn)(const void* ctx, int64_t n, const T* y_n);
  const void* ctx;
};

// conv2d_forward for a consumer that reads each image's output while it is in cache (the fused
// conv -> relu -> max pool): image n's output is computed into the calling thread's scratch
// (kSlotImageOut) and handed to sink.fn, in the thread that computed it; no (N, K, OH, OW)
// array is written. Images run in parallel as in conv2d_forward, with its arithmetic (the same
// bits). Covers the direct, Winograd and implicit-GEMM paths; returns false, having done
// nothing, for any other geometry.
template <typename T>
bool conv2d_forward_by_image(const Window2d& p, const T* x, const T* w, const T* bias,
                             const ImageSink<T>& sink);

// The source of conv2d_backward_by_image: fn(ctx, n, dy_n) writes image n's output gradient
// (K x OH*OW, row-major) into dy_n.
template <typename T>
struct ImageSource {
  void (*fn)(const void* ctx, int64_t n, T* dy_n);
  const void* ctx;
};

// conv2d_backward_input (when dx is not null) and conv2d_backward_weight in one pass over the
// images, each image's dy made by src into the calling thread's kSlotImageOut scratch and
// consumed there (the fused block's backward: dy is never written whole); plane_sums (when not
// null) gets bias_plane_sum of each plane of dy_n at [n*K + k] (cpu/bias_grad.h). The same
// bits as the two kernels on the whole dy. Covers the direct weight gradient without dx (a
// first layer) and the implicit-GEMM weight gradient with the explicit input gradient (one
// image per block); returns false, having done nothing, for any other geometry (Winograd
// layers included: their gradients need the whole dy).
template <typename T>
bool conv2d_backward_by_image(const Window2d& p, const T* x, const T* w, const ImageSource<T>& src,
                              T* dx, T* dw, T* plane_sums);

// dx (N, C, H, W) = col2im(W_g^T @ dY_g) per image and group: the gradient of conv2d_forward
// with respect to x. Overwrites dx.
template <typename T>
void conv2d_backward_input(const Window2d& p, const T* dy, const T* w, T* dx);

// dw (K, C/groups, R, S) = sum_n dY_{n,g} @ cols(x_{n,g})^T: the gradient with respect to w.
// Overwrites dw.
template <typename T>
void conv2d_backward_weight(const Window2d& p, const T* dy, const T* x, T* dw);

// db[k] = sum_{n, p} dy[n, k, p] for dy (N, K, P) (P = OH*OW). Overwrites db.
template <typename T>
void conv2d_backward_bias(int64_t N, int64_t K, int64_t P, const T* dy, T* db);

}  // namespace gradcore
