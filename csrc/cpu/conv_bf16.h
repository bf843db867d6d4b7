// 2-d convolution of bfloat16 operands with float32 accumulation: gradcore.amp's conv2d.
//
// Layouts and geometry as in conv.h. x, w and dy are bfloat16 bit patterns (uint16); the
// outputs are float32, each a float32 sum of exact products of bfloat16 values (what PyTorch's
// CPU autocast computes before it rounds its bfloat16 output). Where gemm_bf16 multiplies
// natively (AVX512_BF16 on the avx512 path) the products run on it, band by band of output
// rows: forward y_n = W @ cols(x_n), input gradient dx_n = col2im(W^T @ dY_n), weight gradient
// dW = sum_n dY_n @ cols(x_n)^T, the columns im2col'd in bfloat16 (half the bytes of float32).
// Elsewhere, and for convolutions with fewer than 32 rows of columns (C/groups*R*S: a first
// layer, memory-bound, where the float32 kernels' narrow tiles are faster), the operands are
// widened and the float32 kernels of conv.h run: the same products, summed in another order.
// Every kernel overwrites its output and gives the same bits for any thread count.
#pragma once
#include <cstdint>

#include "core/shapes.h"

namespace gradcore {

// y (N, K, OH, OW) = conv(x, w) + bias (bias float32, may be null).
void conv2d_forward_bf16(const Window2d& p, const uint16_t* x, const uint16_t* w, const float* bias,
                         float* y);
// dx (N, C, H, W): the gradient of conv2d_forward_bf16 with respect to x, for dy (N, K, OH, OW).
void conv2d_backward_input_bf16(const Window2d& p, const uint16_t* dy, const uint16_t* w,
                                float* dx);
// dw (K, C/groups, R, S): the gradient with respect to w.
void conv2d_backward_weight_bf16(const Window2d& p, const uint16_t* dy, const uint16_t* x,
                                 float* dw);

// db[k] (float32) = sum over n and pixels of dy[n, k] (bfloat16 bits, N x K x P).
void conv2d_backward_bias_bf16(int64_t N, int64_t K, int64_t P, const uint16_t* dy, float* db);

// Whether these kernels multiply on gemm_bf16 for this geometry (else widened, above): with
// AVX512_BF16 and at least kMinNativeRows rows of columns.
bool conv_bf16_native(const Window2d& p);

// Whether autocast should run this layer on these kernels: conv_bf16_native, except layers of
// 64 or more channels that the float32 Winograd convolution takes (faster there; autocast
// then runs the float32 kernels on the rounded values).
bool conv_bf16_autocast_native(const Window2d& p);

}  // namespace gradcore
