// 2-d pooling over NCHW planes, forward and backward (PyTorch's semantics).
//
// Max pooling keeps the argmax of every window as a flat index h*W + w into its input plane
// (int64, like torch.nn.functional.max_pool2d(..., return_indices=True)); its backward
// scatter-adds dy at those indices. Average pooling follows PyTorch's window clipping,
// count_include_pad and divisor_override rules; adaptive average pooling uses the windows
// [floor(i*H/OH), ceil((i+1)*H/OH)). All kernels run over planes in parallel and are
// deterministic (no plane is written by two threads). Every kernel overwrites its outputs: a
// backward kernel writes all of dx (the sum of the windows' contributions, 0 where none reach).
#pragma once
#include <cstdint>

#include "core/shapes.h"

namespace gradcore {

// y[n,c,oh,ow] = max over the window (NaN wins), idx = flat input index of that maximum.
// Overwrites y and idx.
template <typename T>
void max_pool2d_forward(const Window2d& p, const T* x, T* y, int64_t* idx);

// dx (planes x H*W) = 0, then dx[plane][idx[o]] += dy[o] for every output o (P outputs per
// plane): overwrites dx. Returns the number of indices outside [0, H*W) (skipped; the caller
// reports them).
template <typename T>
int64_t max_pool2d_backward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                            const T* dy, const int64_t* idx, T* dx);

// The usual CNN block's ReLU and 2x2/2 max pool in one pass, over planes of H x W with
// OH = H / 2, OW = W / 2 (odd last rows and columns fall outside every cell):
// y = relu(max over the cell), equal bit for bit, gradients included, to relu after
// max_pool2d_forward (relu then pool agrees up to the sign of a zero output, and the gradient
// of a cell holding a denormal, which relu first compares as 0 under DAZ), and cell[o] = the
// maximum's place in its cell (0..3, row-major) or 4 where relu passes no gradient. One byte
// per output instead of an int64 index. Overwrites y and cell.
template <typename T>
void max_pool2d_relu_forward(int64_t planes, int64_t H, int64_t W, const T* x, T* y, uint8_t* cell);
// max_pool2d_relu_forward in the calling thread only (no parallel region): for a caller that
// already runs in parallel, such as the fused conv -> relu -> max pool's per-image epilogue.
template <typename T>
void max_pool2d_relu_forward_serial(int64_t planes, int64_t H, int64_t W, const T* x, T* y,
                                    uint8_t* cell);
// dx = dy at each cell's chosen element, 0 elsewhere (also where cell is 4): overwrites dx.
// Returns the number of cell values above 4 (their cells are left 0; the caller reports them).
template <typename T>
int64_t max_pool2d_relu_backward(int64_t planes, int64_t H, int64_t W, const T* dy,
                                 const uint8_t* cell, T* dx);
// max_pool2d_relu_backward in the calling thread only (the fused block's per-image backward).
template <typename T>
int64_t max_pool2d_relu_backward_serial(int64_t planes, int64_t H, int64_t W, const T* dy,
                                        const uint8_t* cell, T* dx);

// y = sum over the window clipped to the input / divisor, where the divisor is
// divisor_override if > 0, else the window size clipped to the padded input
// (count_include_pad) or to the input (not count_include_pad). Overwrites y.
template <typename T>
void avg_pool2d_forward(const Window2d& p, bool count_include_pad, int64_t divisor_override,
                        const T* x, T* y);
// dx = 0, then dx[window(o)] += dy[o] / divisor(o) for every output o: overwrites dx.
template <typename T>
void avg_pool2d_backward(const Window2d& p, bool count_include_pad, int64_t divisor_override,
                         const T* dy, T* dx);

// y[oh, ow] = mean of x over rows [floor(oh*H/OH), ceil((oh+1)*H/OH)) and likewise columns.
// Overwrites y.
template <typename T>
void adaptive_avg_pool2d_forward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                 const T* x, T* y);
// dx = 0, then dx[window(o)] += dy[o] / |window(o)| for every output o: overwrites dx.
template <typename T>
void adaptive_avg_pool2d_backward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                  const T* dy, T* dx);

}  // namespace gradcore
