#include "core/shapes.h"

namespace gradcore {

int64_t window_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                        bool ceil_mode) {
  if (stride <= 0) return 0;
  // The extent the window cannot start in: in + 2*pad - dilation*(kernel-1) - 1.
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  const int64_t num = span + (ceil_mode ? stride - 1 : 0);
  if (num < 0) return 0;
  int64_t out = num / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

bool window_fits_int64(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  if (in < 0 || kernel < 1 || stride < 1 || pad < 0 || dilation < 1) return false;
  int64_t extent = 0, reach = 0;
  return !__builtin_mul_overflow(dilation, kernel - 1, &reach) &&
         !__builtin_add_overflow(in, pad, &extent) &&
         !__builtin_add_overflow(extent, pad, &extent) &&
         !__builtin_add_overflow(extent, reach, &extent) &&
         !__builtin_add_overflow(extent, stride, &extent);
}

void set_output_size(Window2d& g, bool ceil_mode) {
  g.OH = window_out_size(g.H, g.R, g.sh, g.ph, g.dh, ceil_mode);
  g.OW = window_out_size(g.W, g.S, g.sw, g.pw, g.dw, ceil_mode);
}

}  // namespace gradcore
