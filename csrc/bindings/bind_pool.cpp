// max_pool2d_forward/backward, avg_pool2d_forward/backward, adaptive_avg_pool2d_forward/backward.
// Arguments follow torch.nn.functional (stride None = kernel_size); PyTorch's rules are checked
// here: padding at most half the kernel, an output of at least one pixel.
#include <string>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/pool.h"

namespace gradcore::bindings {
namespace {

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

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(pool) {
  using namespace gradcore::bindings;
  using gradcore::Window2d;

  m.def(
      "max_pool2d_forward",
      [](py::array x, py::object kernel_size, py::object stride, py::object padding,
         py::object dilation, bool ceil_mode) {
        const char* op = "max_pool2d_forward";
        const DType dt = float_dtype(x, op, "x");
        check_input4(x, op, "x", dt);
        const Window2d p = pool_params(op, dim(x, 0), dim(x, 1), dim(x, 2), dim(x, 3), kernel_size,
                                       stride, padding, dilation, ceil_mode);
        py::array y = new_array(dt, {p.N, p.C, p.OH, p.OW});
        py::array idx = new_array(DType::kInt64, {p.N, p.C, p.OH, p.OW});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* px = data_ptr<T>(static_cast<const py::array&>(x));
          T* py_ = data_ptr<T>(y);
          int64_t* pi = data_ptr<int64_t>(idx);
          run_kernel([&] { gradcore::max_pool2d_forward<T>(p, px, py_, pi); });
        });
        return py::make_tuple(y, idx);
      },
      py::arg("x"), py::arg("kernel_size"), py::arg("stride") = py::none(),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
      py::arg("ceil_mode") = false,
      "(y, indices): max over each window; indices (int64) are flat h*W+w positions in the "
      "input plane.");

  m.def(
      "max_pool2d_backward",
      [](py::array dy, py::array indices, py::object input_shape) {
        const char* op = "max_pool2d_backward";
        const DType dt = float_dtype(dy, op, "dy");
        check_array(dy, op, "dy", dt, 4);
        check_array(indices, op, "indices", DType::kInt64, 4);
        check_same_shape(indices, dy, op, "indices", "dy");
        const auto s = shape4_arg(input_shape, op, "input_shape");
        if (s[0] != dim(dy, 0) || s[1] != dim(dy, 1))
          fail_value(op, "input_shape (" + std::to_string(s[0]) + ", " + std::to_string(s[1]) +
                             ", ...) must have the batch and channels of dy " + shape_str(dy));
        py::array dx = new_array(dt, {s[0], s[1], s[2], s[3]});
        int64_t bad = 0;
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* pdy = data_ptr<T>(static_cast<const py::array&>(dy));
          const int64_t* pi = data_ptr<int64_t>(static_cast<const py::array&>(indices));
          T* pdx = data_ptr<T>(dx);
          run_kernel([&] {
            bad = gradcore::max_pool2d_backward<T>(s[0] * s[1], s[2], s[3], dim(dy, 2), dim(dy, 3),
                                                   pdy, pi, pdx);
          });
        });
        if (bad)
          fail_value(op, std::to_string(bad) + " indices lie outside the input plane [0, " +
                             std::to_string(s[2] * s[3]) + ")");
        return dx;
      },
      py::arg("dy"), py::arg("indices"), py::arg("input_shape"),
      "dx: dy scattered (added) to the argmax positions saved by max_pool2d_forward.");

  m.def(
      "avg_pool2d_forward",
      [](py::array x, py::object kernel_size, py::object stride, py::object padding, bool ceil_mode,
         bool count_include_pad, py::object divisor_override) {
        const char* op = "avg_pool2d_forward";
        const DType dt = float_dtype(x, op, "x");
        check_input4(x, op, "x", dt);
        const int64_t div = divisor_arg(divisor_override, op);
        const Window2d p = pool_params(op, dim(x, 0), dim(x, 1), dim(x, 2), dim(x, 3), kernel_size,
                                       stride, padding, py::int_(1), ceil_mode);
        py::array y = new_array(dt, {p.N, p.C, p.OH, p.OW});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* px = data_ptr<T>(static_cast<const py::array&>(x));
          T* py_ = data_ptr<T>(y);
          run_kernel([&] { gradcore::avg_pool2d_forward<T>(p, count_include_pad, div, px, py_); });
        });
        return y;
      },
      py::arg("x"), py::arg("kernel_size"), py::arg("stride") = py::none(),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("ceil_mode") = false,
      py::arg("count_include_pad") = true, py::arg("divisor_override") = 0,
      "y: mean over each window (PyTorch's count_include_pad / divisor_override rules).");

  m.def(
      "avg_pool2d_backward",
      [](py::array dy, py::object input_shape, py::object kernel_size, py::object stride,
         py::object padding, bool ceil_mode, bool count_include_pad, py::object divisor_override) {
        const char* op = "avg_pool2d_backward";
        const DType dt = float_dtype(dy, op, "dy");
        check_array(dy, op, "dy", dt, 4);
        const auto s = shape4_arg(input_shape, op, "input_shape");
        const int64_t div = divisor_arg(divisor_override, op);
        const Window2d p = pool_params(op, s[0], s[1], s[2], s[3], kernel_size, stride, padding,
                                       py::int_(1), ceil_mode);
        check_dy_shape(dy, p, op);
        py::array dx = new_array(dt, {s[0], s[1], s[2], s[3]});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* pdy = data_ptr<T>(static_cast<const py::array&>(dy));
          T* pdx = data_ptr<T>(dx);
          run_kernel(
              [&] { gradcore::avg_pool2d_backward<T>(p, count_include_pad, div, pdy, pdx); });
        });
        return dx;
      },
      py::arg("dy"), py::arg("input_shape"), py::arg("kernel_size"), py::arg("stride") = py::none(),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("ceil_mode") = false,
      py::arg("count_include_pad") = true, py::arg("divisor_override") = 0,
      "dx: gradient of avg_pool2d_forward.");

  m.def(
      "adaptive_avg_pool2d_forward",
      [](py::array x, py::object output_size) {
        const char* op = "adaptive_avg_pool2d_forward";
        const DType dt = float_dtype(x, op, "x");
        check_input4(x, op, "x", dt);
        const auto o = pair_arg(output_size, op, "output_size");
        check_pair(o, op, "output_size");
        const int64_t N = dim(x, 0), C = dim(x, 1), H = dim(x, 2), W = dim(x, 3);
        py::array y = new_array(dt, {N, C, o.first, o.second});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* px = data_ptr<T>(static_cast<const py::array&>(x));
          T* py_ = data_ptr<T>(y);
          run_kernel([&] {
            gradcore::adaptive_avg_pool2d_forward<T>(N * C, H, W, o.first, o.second, px, py_);
          });
        });
        return y;
      },
      py::arg("x"), py::arg("output_size"),
      "y (N, C, OH, OW): mean over the windows [floor(i*H/OH), ceil((i+1)*H/OH)).");

  m.def(
      "adaptive_avg_pool2d_backward",
      [](py::array dy, py::object input_shape) {
        const char* op = "adaptive_avg_pool2d_backward";
        const DType dt = float_dtype(dy, op, "dy");
        check_array(dy, op, "dy", dt, 4);
        const auto s = shape4_arg(input_shape, op, "input_shape");
        if (s[0] != dim(dy, 0) || s[1] != dim(dy, 1) || dim(dy, 2) < 1 || dim(dy, 3) < 1)
          fail_value(op, "dy " + shape_str(dy) + " must have the batch and channels of " +
                             "input_shape and a positive output size");
        const int64_t OH = dim(dy, 2), OW = dim(dy, 3);
        py::array dx = new_array(dt, {s[0], s[1], s[2], s[3]});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* pdy = data_ptr<T>(static_cast<const py::array&>(dy));
          T* pdx = data_ptr<T>(dx);
          run_kernel([&] {
            gradcore::adaptive_avg_pool2d_backward<T>(s[0] * s[1], s[2], s[3], OH, OW, pdy, pdx);
          });
        });
        return dx;
      },
      py::arg("dy"), py::arg("input_shape"), "dx: gradient of adaptive_avg_pool2d_forward.");
}
