// Winograd F(2x2, 3x3) convolution for float32 3x3 stride-1 layers. conv.cpp runs the forward,
// input gradient and weight gradient through it where winograd_ok().
//
// F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): a 2x2
// output tile of a 3x3 cross-correlation is Y = A^T [(G g G^T) .* (B^T d B)] A, where d is the
// 4x4 input tile under it and g the 3x3 filter, with
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   (input transform, V = B^T d B)
//   G   = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]       (filter transform, U = G g G^T)
//   A^T = [1 1 1 0; 0 1 -1 -1]                       (output transform, Y = A^T M A)
// so 16 multiplies per tile and channel pair instead of 36. Summed over channels, the 16
// products are 16 independent GEMMs, M_xi = U_xi @ V_xi, xi = 4*i + j indexing the 4x4 tile.
// The weight gradient runs the chain rule through the same formula: dM = A dY A^T per output
// tile (the output-gradient transform), dU_xi = sum over tiles of dM_xi V_xi^T (16 GEMMs),
// dg = G^T dU G.
//
// The filter transforms and the driver are portable (conv_winograd.cpp); the tile transforms
// exist for the paths that take Winograd, in intrinsics (conv_winograd_avx2_fma.cpp,
// conv_winograd_avx512.cpp), with the same additions in the same order (the same bits). The
// portable path never takes it: its transforms would cost more than the multiplies they save.
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

// The tile transforms, one set per ISA file:
//  - winograd_input_plane: V = B^T d B of tile rows [ti0, ti1) of one channel plane x (H x W),
//    tile (ti, tj), tj < TW, covering input rows 2*ti - ph .. + 3 and columns 2*tj - pw .. + 3
//    (zero outside the plane), to v[xi * ldxi + (ti - ti0) * TW + tj]. Each input row first
//    (R_j = d B along the row), then the rows of a tile (V_{4i+j} = B^T R_j).
//  - winograd_output_plane: output rows 2*ti0 .. 2*ti1 - 1 of one plane y (OH x OW), each 2x2
//    tile A^T M A + bias from m[xi * ldxi + (ti - ti0) * TW + tj], clipped to the plane.
//  - winograd_output_grad_plane: dM = A dY A^T of tile rows [ti0, ti1) of one plane dy
//    (OH x OW; a tile holds rows 2*ti, 2*ti + 1 and columns 2*tj, 2*tj + 1, zero outside) to
//    dm[xi * ldxi + (ti - ti0) * TW + tj]. Along each row first, then down the two rows.
// Each overwrites its output.
namespace avx2_fma {
void winograd_input_plane(const float* x, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t ti0,
                          int64_t ti1, int64_t TW, float* v, int64_t ldxi);
void winograd_output_plane(const float* m, int64_t ldxi, int64_t ti0, int64_t ti1, int64_t TW,
                           float bias, float* y, int64_t OH, int64_t OW);
void winograd_output_grad_plane(const float* dy, int64_t OH, int64_t OW, int64_t ti0, int64_t ti1,
                                int64_t TW, float* dm, int64_t ldxi);
}  // namespace avx2_fma
namespace avx512 {
void winograd_input_plane(const float* x, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t ti0,
                          int64_t ti1, int64_t TW, float* v, int64_t ldxi);
void winograd_output_plane(const float* m, int64_t ldxi, int64_t ti0, int64_t ti1, int64_t TW,
                           float bias, float* y, int64_t OH, int64_t OW);
void winograd_output_grad_plane(const float* dy, int64_t OH, int64_t OW, int64_t ti0, int64_t ti1,
                                int64_t TW, float* dm, int64_t ldxi);
}  // namespace avx512

}  // namespace gradcore
