// Direct float32 convolution for a few taps (C*R*S <= 16, groups 1, stride 1: an image
// network's first layer, such as cnn-small's 1 -> 32 channels 3x3), forward and weight
// gradient, on the avx512 path.
//
// As a GEMM these products have an inner size of C*R*S (9): each micro-tile does a few
// rank-1 updates between packing and storing, and the layer ran at 20-30% of the peak. Here
// the taps of 16 output pixels are loaded once from a zero-padded copy of the image and every
// filter is applied to them (forward), or every filter's dy is multiplied into per-tap
// accumulators (weight gradient), so dy and y are read or written once, as whole vectors.
// Deterministic: the weight gradient is summed per fixed work group of images (work_units.h),
// in the same order for any thread count.
#pragma once
#include <cstdint>

#include "core/shapes.h"
#include "cpu/conv.h"

namespace gradcore {

constexpr int64_t kDirectMaxTaps = 16;

// Whether conv2d_direct_* handle this float32 geometry (and the avx512 path is selected).
bool conv_direct_ok(const Window2d& p);

// y (N, K, OH, OW) = conv(x, w) + bias (bias may be null). Overwrites y.
void conv2d_direct_forward(const Window2d& p, const float* x, const float* w, const float* bias,
                           float* y);
// conv2d_direct_forward handing each image's output (K x OH*OW, in the calling thread's
// kSlotImageOut scratch) to the sink instead of writing y (see conv2d_forward_by_image).
void conv2d_direct_forward_by_image(const Window2d& p, const float* x, const float* w,
                                    const float* bias, const ImageSink<float>& sink);
// dw (K, C, R, S) = the weight gradient for dy (N, K, OH, OW). Overwrites dw.
void conv2d_direct_backward_weight(const Window2d& p, const float* dy, const float* x, float* dw);
// conv2d_direct_backward_weight with image n's dy (K x OH*OW) made by src into the calling
// thread's kSlotImageOut scratch, in the thread that uses it (the fused block's backward: dy_n
// is unpooled there and never written whole); when plane_sums is not null,
// plane_sums[n*K + k] = plane_sum of dy_n's plane k (bias_grad.h). Same bits as
// conv2d_direct_backward_weight on the whole dy.
void conv2d_direct_backward_weight_by_image(const Window2d& p, const float* x,
                                            const ImageSource<float>& src, float* dw,
                                            float* plane_sums);

// One image of the kernels above, in the avx512 ISA file.
struct DirectImage {
  int64_t taps, K, OH, OW, Wp;  // Wp: the padded image's row length
  int64_t off[kDirectMaxTaps];  // tap j = (c, r, s): c*Hp*Wp + r*dh*Wp + s*dw in the padded image
};
namespace avx512 {
// y (K x OH*OW) = w (K x taps) @ the taps of xp (+ bias).
void direct_forward_image(const DirectImage& g, const float* xp, const float* w, const float* bias,
                          float* y);
// dw (K x taps) += dy (K x OH*OW) @ the taps of xp, transposed.
void direct_weight_grad_image(const DirectImage& g, const float* xp, const float* dy, float* dw);
}  // namespace avx512

}  // namespace gradcore
