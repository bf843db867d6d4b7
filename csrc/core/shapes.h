// The shape vocabulary of windowed ops (convolution, pooling, im2col): one output-size formula
// and one geometry struct, shared by the kernels and their bindings.
#pragma once
#include <cstdint>

namespace gradcore {

// The geometry of a 2-d sliding window over a batch of NCHW planes:
//   input (N, C, H, W) -> output (N, K, OH, OW), window R x S with stride (sh, sw), zero or
//   -inf padding (ph, pw) on both sides and dilation (dh, dw); output pixel (oh, ow) reads
//   input rows oh*sh - ph + r*dh (r < R) and columns ow*sw - pw + s*dw (s < S).
// Convolution: weight (K, C/groups, R, S). Pooling: every channel is its own window
// (K == C == groups). im2col reads only the plane fields (H, W, R, S, strides, padding,
// dilation, OH, OW) and takes its channel count as an argument.
struct Window2d {
  int64_t N = 1, C = 1, H = 1, W = 1;  // input
  int64_t K = 1, groups = 1;           // output channels, channel groups
  int64_t R = 1, S = 1;                // window rows, columns
  int64_t sh = 1, sw = 1;              // stride
  int64_t ph = 0, pw = 0;              // padding
  int64_t dh = 1, dw = 1;              // dilation
  int64_t OH = 1, OW = 1;              // output; set by set_output_size()
};

// PyTorch's output size of a window along one axis:
//   floor((in + 2*pad - dilation*(kernel-1) - 1) / stride) + 1         (ceil_mode false)
//   ceil((in + 2*pad - dilation*(kernel-1) - 1) / stride) + 1, minus one when that last
//   window would start past the input and the left padding ((out-1)*stride >= in + pad)
// and 0 when no window fits (or stride <= 0). Sizes must be non-negative, kernel and dilation
// positive, and window_fits_int64() true: then no intermediate overflows.
int64_t window_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                        bool ceil_mode);

// in + 2*pad + dilation*(kernel-1) + stride fits in int64 (and in, pad >= 0, kernel, stride,
// dilation >= 1): every index a window kernel forms along this axis (from -pad to past the
// last window's end) is then representable.
bool window_fits_int64(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation);

// Sets g.OH and g.OW from the input plane and the window (see window_out_size).
void set_output_size(Window2d& g, bool ceil_mode);

}  // namespace gradcore
