// Winograd F(2x2, 3x3) convolution for float32 3x3 stride-1 layers (the transforms:
// conv_winograd_body.h). conv.cpp runs the forward, input gradient and weight gradient through
// it where winograd_ok().
//
// Work is cut into blocks of whole images, or bands of tile rows of one image when an image is
// too large for a block (a fixed function of the shapes): a block's input tiles are
// transformed into V (16 x C x T, T its tiles), multiplied by the transformed filters
// (16 GEMMs, U_xi (K x C) @ V_xi, with the packed GEMM) and transformed back, while V and the
// products are in cache. Blocks run in parallel, each serial, so results are bitwise identical
// for any thread count; they differ from the im2col/GEMM paths by rounding (the transforms add
// and subtract before and after the products: about 2-4x the direct sum's error, as in
// cuDNN's and oneDNN's Winograd convolutions).
#pragma once
#include <cstdint>

#include "core/shapes.h"
#include "cpu/conv.h"

namespace gradcore {

// Whether the Winograd path is used where it applies (default true). Process-wide; the
// binding exposes it as gradcore.backends.cpu (set_winograd_enabled / winograd_enabled).
void set_winograd_enabled(bool enabled);
bool winograd_enabled();

// True when winograd_conv2d_forward takes geometry p: enabled, 3x3, stride 1, dilation 1, one
// group, padding at most 2, enough channels and pixels for the transforms to pay, and one row of
// tiles within 8 MiB of transformed tiles (wider layers take the GEMM algorithm).
bool winograd_ok(const Window2d& p);

// y (N, K, OH, OW) = conv2d(x, w) + bias (bias may be null), as conv2d_forward; overwrites y.
// With a sink, y is null and each image's output goes to the sink from this thread's
// kSlotImageOut scratch (conv2d_forward_by_image's contract). Requires winograd_ok(p).
void winograd_conv2d_forward(const Window2d& p, const float* x, const float* w, const float* bias,
                             float* y, const ImageSink<float>* sink);

// dx (N, C, H, W) = the gradient of conv2d_forward with respect to x, as the Winograd
// convolution of dy with the flipped, transposed filters (padding 2 - p). Overwrites dx.
// Requires winograd_input_grad_ok(p).
bool winograd_input_grad_ok(const Window2d& p);
void winograd_conv2d_backward_input(const Window2d& p, const float* dy, const float* w, float* dx);

// dw (K, C, 3, 3) = the gradient of conv2d_forward with respect to w, through the Winograd
// formula: dU_xi = sum over the batch's tiles of (A dY A^T)_xi (B^T d B)_xi^T, dw = G^T dU G.
// Reduced over a fixed partition of the batch (work_units.h): bitwise identical for any thread
// count. Overwrites dw. Requires winograd_ok(p).
void winograd_conv2d_backward_weight(const Window2d& p, const float* dy, const float* x, float* dw);

namespace avx2_fma {
void winograd_input_plane(const float* x, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t ti0,
                          int64_t ti1, int64_t TW, float* v, int64_t ldxi, float* rows);
void winograd_output_plane(const float* m, int64_t ldxi, int64_t ti0, int64_t ti1, int64_t TW,
                           float bias, float* y, int64_t OH, int64_t OW, float* rows);
void winograd_output_grad_plane(const float* dy, int64_t OH, int64_t OW, int64_t ti0, int64_t ti1,
                                int64_t TW, float* dm, int64_t ldxi, float* rows);
}  // namespace avx2_fma
namespace avx512 {
void winograd_input_plane(const float* x, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t ti0,
                          int64_t ti1, int64_t TW, float* v, int64_t ldxi, float* rows);
void winograd_output_plane(const float* m, int64_t ldxi, int64_t ti0, int64_t ti1, int64_t TW,
                           float bias, float* y, int64_t OH, int64_t OW, float* rows);
void winograd_output_grad_plane(const float* dy, int64_t OH, int64_t OW, int64_t ti0, int64_t ti1,
                                int64_t TW, float* dm, int64_t ldxi, float* rows);
}  // namespace avx512

}  // namespace gradcore
