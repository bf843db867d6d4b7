// 2-d convolution (cross-correlation, like torch.nn.functional.conv2d) by im2col + GEMM.
//
// Layouts: input x (N, C, H, W), weight w (K, C/groups, R, S), bias (K,), output y (N, K, OH, OW),
// all C-contiguous. OH = floor((H + 2*ph - dh*(R-1) - 1)/sh) + 1, likewise OW.
// Every kernel is deterministic: bitwise identical results for any thread count.
#pragma once
#include <cstdint>

namespace gradcore {

struct Conv2dParams {
  int64_t N = 1, C = 1, H = 1, W = 1;  // input
  int64_t K = 1, R = 1, S = 1;         // weight (K, C/groups, R, S)
  int64_t sh = 1, sw = 1;              // stride
  int64_t ph = 0, pw = 0;              // zero padding
  int64_t dh = 1, dw = 1;              // dilation
  int64_t groups = 1;
  int64_t OH = 1, OW = 1;  // output; set by conv2d_output_shape()
};

// floor((in + 2*pad - dil*(k-1) - 1)/stride) + 1, or 0 when the kernel does not fit.
int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil);
// Sets p.OH and p.OW from the other fields.
void conv2d_output_shape(Conv2dParams& p);

// y[n,k,oh,ow] = bias[k] + sum_{c in group(k), r, s} w[k,c,r,s] *
// x[n,c,oh*sh-ph+r*dh,ow*sw-pw+s*dw] (bias may be null).
template <typename T>
void conv2d_forward(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y);

// dx (N, C, H, W) = col2im(W_g^T @ dY_g) per image and group: the gradient of conv2d_forward
// with respect to x.
template <typename T>
void conv2d_backward_input(const Conv2dParams& p, const T* dy, const T* w, T* dx);

// dw (K, C/groups, R, S) = sum_n dY_{n,g} @ cols(x_{n,g})^T: the gradient with respect to w.
template <typename T>
void conv2d_backward_weight(const Conv2dParams& p, const T* dy, const T* x, T* dw);

// db[k] = sum_{n, p} dy[n, k, p] for dy (N, K, P) (P = OH*OW).
template <typename T>
void conv2d_backward_bias(int64_t N, int64_t K, int64_t P, const T* dy, T* db);

}  // namespace gradcore
