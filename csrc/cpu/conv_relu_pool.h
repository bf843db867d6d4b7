// The usual CNN block, Conv2d -> ReLU -> MaxPool2d(2), forward in one pass over memory.
//
// conv2d_forward writes its (N, K, OH, OW) output, then max_pool2d_relu_forward reads it back:
// on cnn-small 6.4 MB (layer 1) and 3.2 MB (layer 2), which leave the 1 MiB L2 between the
// two and made the pool memory-bound inside a training step (1.5-2.2x its time on hot data).
// Here each image's convolution output (K x OH*OW: 100 KB and 50 KB there) is pooled by the
// thread that computed it, while it is still in L2, and the full output is never written.
// The backward needs no convolution output (only the cells), so nothing is recomputed; it
// unpools each image's gradient in cache too, where the convolution allows.
#pragma once
#include <cstdint>

#include "core/shapes.h"

namespace gradcore {

// y (N, K, OH/2, OW/2), cell (same shape) = max_pool2d_relu_forward(conv2d_forward(x, w, bias))
// bit for bit (cpu/conv.h, cpu/pool.h): y = relu(max of each 2x2 cell of the convolution's
// output), cell = the maximum's place (0..3) or 4 where relu passes no gradient. Odd last rows
// and columns of the convolution's output fall outside every cell. Geometries without a
// per-image convolution path run the two kernels one after the other. Overwrites y and cell.
template <typename T>
void conv2d_relu_max_pool2d_forward(const Window2d& p, const T* x, const T* w, const T* bias, T* y,
                                    uint8_t* cell);

// dx (when not null), dw and db (when not null) of the block for g (N, K, OH/2, OW/2), the
// forward's cells, its input x and weight w: the same bits as max_pool2d_relu_backward, then
// conv2d_backward_input, conv2d_backward_weight and conv2d_backward_bias. Where the
// convolution has a by-image backward (the direct first-layer weight gradient without dx, or
// the implicit-GEMM weight gradient with the explicit input gradient), each image's gradient
// is unpooled in cache and consumed there; otherwise the kernels run in turn. Returns the
// number of cell values above 4 (the caller reports them). Overwrites dx, dw and db.
template <typename T>
int64_t conv2d_relu_max_pool2d_backward(const Window2d& p, const T* g, const uint8_t* cell,
                                        const T* x, const T* w, T* dx, T* dw, T* db);

}  // namespace gradcore
