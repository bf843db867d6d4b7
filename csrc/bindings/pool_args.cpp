// The pooling bindings' argument checks (pool_args.h).
#include "bindings/pool_args.h"

#include <string>

namespace gradcore::bindings {

// Window, stride (None: the window), padding, dilation and output size of a 2-d pooling.
Window2d pool_params(const char* op, int64_t N, int64_t C, int64_t H, int64_t W,
                     const py::handle& kernel_size, const py::handle& stride,
                     const py::handle& padding, const py::handle& dilation, bool ceil_mode) {
  const auto k = pair_arg(kernel_size, op, "kernel_size");
  check_pair(k, op, "kernel_size");
  const auto s = stride.is_none() ? k : pair_arg(stride, op, "stride");
  check_pair(s, op, "stride");
  const auto pd = pair_arg(padding, op, "padding");
  check_pair(pd, op, "padding", /*allow_zero=*/true);
  const auto d = pair_arg(dilation, op, "dilation");
  check_pair(d, op, "dilation");
  if (pd.first > k.first / 2 || pd.second > k.second / 2)
    fail_value(op, "padding " + pair_str(pd.first, pd.second) +
                       " must be at most half of kernel_size " + pair_str(k.first, k.second));
  Window2d p;
  p.N = N;
  p.C = C;
  p.H = H;
  p.W = W;
  p.K = C;  // every channel is its own window
  p.groups = C;
  p.R = k.first;
  p.S = k.second;
  p.sh = s.first;
  p.sw = s.second;
  p.ph = pd.first;
  p.pw = pd.second;
  p.dh = d.first;
  p.dw = d.second;
  set_window_output(p, ceil_mode, op, "kernel_size");
  if (p.OH < 1 || p.OW < 1)
    fail_value(op, "output size " + pair_str(p.OH, p.OW) + " is too small for input " +
                       pair_str(H, W) + " (kernel_size " + pair_str(p.R, p.S) + ", stride " +
                       pair_str(p.sh, p.sw) + ", padding " + pair_str(p.ph, p.pw) + ", dilation " +
                       pair_str(p.dh, p.dw) + ")");
  // The kernels count N*C*(H*W + OH*OW*kh*kw) window reads in int64.
  checked_numel({N, C, H, W}, 8, op, "the input (N, C, H, W) =");
  const int64_t taps = checked_numel({p.OH, p.OW, p.R, p.S}, 1, op,
                                     "kernel_size: the window taps (OH, OW, kh, kw) =");
  int64_t reads = 0;
  if (__builtin_add_overflow(taps, H * W, &reads))
    fail_value(op, "kernel_size " + pair_str(p.R, p.S) + " is too large for input " +
                       pair_str(H, W) + ": the window reads overflow int64");
  checked_numel({N, C, reads}, 8, op, "kernel_size: the pooling work (N, C, H*W + OH*OW*kh*kw) =");
  checked_numel({N, C, p.OH, p.OW}, 8, op, "the output (N, C, OH, OW) =");
  return p;
}

void check_input4(const py::array& x, const char* op, const char* arg, DType dt) {
  check_array(x, op, arg, dt, 4);
  for (int i = 2; i < 4; ++i)
    if (x.shape(i) < 1)
      fail_value(op, std::string(arg) + " must have positive H and W, got shape " + shape_str(x));
}

int64_t divisor_arg(const py::handle& h, const char* op) {
  if (h.is_none()) return 0;
  if (!is_index(h)) fail_type(op, "divisor_override must be an int or None");
  const int64_t v = index_value(h);
  if (v < 0)
    fail_value(op, "divisor_override must be > 0 (or 0/None for none), got " + std::to_string(v));
  return v;
}

// The (N, C, H, W) of input_shape agrees with dy's (N, C, OH, OW) for these pooling params.
void check_dy_shape(const py::array& dy, const Window2d& p, const char* op) {
  if (dim(dy, 0) != p.N || dim(dy, 1) != p.C || dim(dy, 2) != p.OH || dim(dy, 3) != p.OW)
    fail_value(op, "dy must have shape (" + std::to_string(p.N) + ", " + std::to_string(p.C) +
                       ", " + std::to_string(p.OH) + ", " + std::to_string(p.OW) +
                       ") for input_shape (" + std::to_string(p.N) + ", " + std::to_string(p.C) +
                       ", " + std::to_string(p.H) + ", " + std::to_string(p.W) + "), got " +
                       shape_str(dy));
}

}  // namespace gradcore::bindings
