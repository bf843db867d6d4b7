// im2col / col2im: the lowering that turns a convolution into a GEMM.
//
// For one image's C input planes (H x W) and a window geometry g (core/shapes.h: only its plane
// fields are read; C is an argument), the columns matrix has C*R*S rows and one column per output
// pixel:
//   col[(c*R + r)*S + s][(oh - oh0)*OW + ow] = x[c][oh*sh - ph + r*dh][ow*sw - pw + s*dw]
// (zero where the input index falls into the padding). Only output rows [oh0, oh1) are
// produced, so a convolution can be tiled over output rows and keep its columns in cache.
// `ldcol` is the row stride of the columns matrix (>= (oh1 - oh0)*OW), so several images'
// columns can sit side by side in one wide matrix.
#pragma once
#include <cstdint>

#include "core/shapes.h"

namespace gradcore {

// col (C*R*S x (oh1-oh0)*OW, row stride ldcol) = columns of x (C x H x W) for output rows
// [oh0, oh1). Overwrites those columns of col. T: float, double, or uint16_t (bfloat16 bits).
template <typename T>
void im2col(const Window2d& g, int64_t C, const T* x, int64_t oh0, int64_t oh1, T* col,
            int64_t ldcol);

// Accumulates: x (C x H x W) += the columns scattered back to the input positions they were read
// from (the adjoint of im2col), for output rows [oh0, oh1). col is scratch: entries that map to the
// padding may be overwritten with zeros.
template <typename T>
void col2im_add(const Window2d& g, int64_t C, T* col, int64_t ldcol, int64_t oh0, int64_t oh1,
                T* x);

}  // namespace gradcore
