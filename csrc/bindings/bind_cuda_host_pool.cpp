// CPU test driver of csrc/cuda/pool.cu (see cuda_host.h): float32 numpy arrays, _C's names and
// arguments (max_pool2d_backward also takes the forward's geometry as optional keywords, as
// the CUDA binding does). The arguments are checked as _C's pooling checks them.
#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/cuda_host.h"
#include "bindings/registry.h"
#include "cuda/pool_threads.h"

namespace gradcore::bindings {
namespace {

namespace gcu = gradcore::cuda;

// bind_pool.cpp's pool_params (the same checks and messages).
Window2d host_pool_params(const char* op, int64_t N, int64_t C, int64_t H, int64_t W,
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
  p.K = C;
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
  checked_numel({N, C, H, W}, 8, op, "the input (N, C, H, W) =");
  checked_numel({N, C, p.OH, p.OW}, 8, op, "the output (N, C, OH, OW) =");
  return p;
}

void check_input4(const py::array& x, const char* op, const char* arg) {
  check_array(x, op, arg, DType::kFloat32, 4);
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

void check_dy_shape(const py::array& dy, const Window2d& p, const char* op) {
  if (dim(dy, 0) != p.N || dim(dy, 1) != p.C || dim(dy, 2) != p.OH || dim(dy, 3) != p.OW)
    fail_value(op, "dy must have shape (" + std::to_string(p.N) + ", " + std::to_string(p.C) +
                       ", " + std::to_string(p.OH) + ", " + std::to_string(p.OW) +
                       ") for input_shape (" + std::to_string(p.N) + ", " + std::to_string(p.C) +
                       ", " + std::to_string(p.H) + ", " + std::to_string(p.W) + "), got " +
                       shape_str(dy));
}

// The host emulation of count_bad_indices: one block of kBlock partials, the fixed tree.
float count_bad_host(int64_t n, int64_t HW, const int64_t* idx) {
  float buf[gcu::kBlock];
  for (int t = 0; t < gcu::kBlock; ++t) buf[t] = gcu::bad_index_partial(t, n, HW, idx);
  return gcu::tree_reduce_host(buf);
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(cuda_host_pool) {
  using namespace gradcore::bindings;
  using gradcore::Window2d;
  py::module_ h = cuda_host_module(m);

  h.def(
      "max_pool2d_forward",
      [](py::array x, py::object kernel_size, py::object stride, py::object padding,
         py::object dilation, bool ceil_mode) {
        const char* op = "max_pool2d_forward";
        check_input4(x, op, "x");
        const Window2d p = host_pool_params(op, dim(x, 0), dim(x, 1), dim(x, 2), dim(x, 3),
                                            kernel_size, stride, padding, dilation, ceil_mode);
        py::array y = new_array(DType::kFloat32, {p.N, p.C, p.OH, p.OW});
        py::array idx = new_array(DType::kInt64, {p.N, p.C, p.OH, p.OW});
        const float* px = data_ptr<float>(static_cast<const py::array&>(x));
        float* py_ = data_ptr<float>(y);
        int64_t* pi = data_ptr<int64_t>(idx);
        for_each_index_host(p.N * p.C * p.OH * p.OW,
                            [&](int64_t t) { gcu::max_pool2d_forward_at(t, p, px, py_, pi); });
        return py::make_tuple(y, idx);
      },
      py::arg("x"), py::arg("kernel_size"), py::arg("stride") = py::none(),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
      py::arg("ceil_mode") = false);

  h.def(
      "max_pool2d_backward",
      [](py::array dy, py::array indices, py::object input_shape, py::object kernel_size,
         py::object stride, py::object padding, py::object dilation, bool ceil_mode) {
        const char* op = "max_pool2d_backward";
        check_array(dy, op, "dy", DType::kFloat32, 4);
        check_array(indices, op, "indices", DType::kInt64, 4);
        check_same_shape(indices, dy, op, "indices", "dy");
        const auto s = shape4_arg(input_shape, op, "input_shape");
        if (s[0] != dim(dy, 0) || s[1] != dim(dy, 1))
          fail_value(op, "input_shape (" + std::to_string(s[0]) + ", " + std::to_string(s[1]) +
                             ", ...) must have the batch and channels of dy " + shape_str(dy));
        py::array dx = new_array(DType::kFloat32, {s[0], s[1], s[2], s[3]});
        const float* pdy = data_ptr<float>(static_cast<const py::array&>(dy));
        const int64_t* pi = data_ptr<int64_t>(static_cast<const py::array&>(indices));
        float* pdx = data_ptr<float>(dx);
        if (!kernel_size.is_none()) {
          const Window2d p = host_pool_params(op, s[0], s[1], s[2], s[3], kernel_size, stride,
                                              padding, dilation, ceil_mode);
          check_dy_shape(dy, p, op);
          for_each_index_host(p.N * p.C * p.H * p.W,
                              [&](int64_t t) { gcu::max_pool2d_backward_at(t, p, pdy, pi, pdx); });
        } else {
          const int64_t HW = s[2] * s[3], P = dim(dy, 2) * dim(dy, 3);
          for_each_index_host(s[0] * s[1], [&](int64_t t) {
            gcu::max_pool2d_backward_plane(t, HW, P, pdy, pi, pdx);
          });
        }
        const float bad = count_bad_host(numel(indices), s[2] * s[3], pi);
        if (bad > 0.f)
          fail_value(op, std::to_string(static_cast<int64_t>(bad)) +
                             " indices lie outside the input plane [0, " +
                             std::to_string(s[2] * s[3]) + ")");
        return dx;
      },
      py::arg("dy"), py::arg("indices"), py::arg("input_shape"),
      py::arg("kernel_size") = py::none(), py::arg("stride") = py::none(),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
      py::arg("ceil_mode") = false);

  h.def(
      "avg_pool2d_forward",
      [](py::array x, py::object kernel_size, py::object stride, py::object padding, bool ceil_mode,
         bool count_include_pad, py::object divisor_override) {
        const char* op = "avg_pool2d_forward";
        check_input4(x, op, "x");
        const int64_t div = divisor_arg(divisor_override, op);
        const Window2d p = host_pool_params(op, dim(x, 0), dim(x, 1), dim(x, 2), dim(x, 3),
                                            kernel_size, stride, padding, py::int_(1), ceil_mode);
        py::array y = new_array(DType::kFloat32, {p.N, p.C, p.OH, p.OW});
        const float* px = data_ptr<float>(static_cast<const py::array&>(x));
        float* py_ = data_ptr<float>(y);
        for_each_index_host(p.N * p.C * p.OH * p.OW, [&](int64_t t) {
          gcu::avg_pool2d_forward_at(t, p, count_include_pad, div, px, py_);
        });
        return y;
      },
      py::arg("x"), py::arg("kernel_size"), py::arg("stride") = py::none(),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("ceil_mode") = false,
      py::arg("count_include_pad") = true, py::arg("divisor_override") = 0);

  h.def(
      "avg_pool2d_backward",
      [](py::array dy, py::object input_shape, py::object kernel_size, py::object stride,
         py::object padding, bool ceil_mode, bool count_include_pad, py::object divisor_override) {
        const char* op = "avg_pool2d_backward";
        check_array(dy, op, "dy", DType::kFloat32, 4);
        const auto s = shape4_arg(input_shape, op, "input_shape");
        const int64_t div = divisor_arg(divisor_override, op);
        const Window2d p = host_pool_params(op, s[0], s[1], s[2], s[3], kernel_size, stride,
                                            padding, py::int_(1), ceil_mode);
        check_dy_shape(dy, p, op);
        py::array dx = new_array(DType::kFloat32, {s[0], s[1], s[2], s[3]});
        const float* pdy = data_ptr<float>(static_cast<const py::array&>(dy));
        float* pdx = data_ptr<float>(dx);
        for_each_index_host(p.N * p.C * p.H * p.W, [&](int64_t t) {
          gcu::avg_pool2d_backward_at(t, p, count_include_pad, div, pdy, pdx);
        });
        return dx;
      },
      py::arg("dy"), py::arg("input_shape"), py::arg("kernel_size"), py::arg("stride") = py::none(),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("ceil_mode") = false,
      py::arg("count_include_pad") = true, py::arg("divisor_override") = 0);

  h.def(
      "adaptive_avg_pool2d_forward",
      [](py::array x, py::object output_size) {
        const char* op = "adaptive_avg_pool2d_forward";
        check_input4(x, op, "x");
        const auto o = pair_arg(output_size, op, "output_size");
        check_pair(o, op, "output_size");
        const int64_t N = dim(x, 0), C = dim(x, 1), H = dim(x, 2), W = dim(x, 3);
        py::array y = new_array(DType::kFloat32, {N, C, o.first, o.second});
        const float* px = data_ptr<float>(static_cast<const py::array&>(x));
        float* py_ = data_ptr<float>(y);
        for_each_index_host(N * C * o.first * o.second, [&](int64_t t) {
          gcu::adaptive_avg_pool2d_forward_at(t, H, W, o.first, o.second, px, py_);
        });
        return y;
      },
      py::arg("x"), py::arg("output_size"));

  h.def(
      "adaptive_avg_pool2d_backward",
      [](py::array dy, py::object input_shape) {
        const char* op = "adaptive_avg_pool2d_backward";
        check_array(dy, op, "dy", DType::kFloat32, 4);
        const auto s = shape4_arg(input_shape, op, "input_shape");
        if (s[0] != dim(dy, 0) || s[1] != dim(dy, 1) || dim(dy, 2) < 1 || dim(dy, 3) < 1)
          fail_value(op, "dy " + shape_str(dy) + " must have the batch and channels of " +
                             "input_shape and a positive output size");
        const int64_t OH = dim(dy, 2), OW = dim(dy, 3);
        py::array dx = new_array(DType::kFloat32, {s[0], s[1], s[2], s[3]});
        const float* pdy = data_ptr<float>(static_cast<const py::array&>(dy));
        float* pdx = data_ptr<float>(dx);
        for_each_index_host(s[0] * s[1] * s[2] * s[3], [&](int64_t t) {
          gcu::adaptive_avg_pool2d_backward_at(t, s[2], s[3], OH, OW, pdy, pdx);
        });
        return dx;
      },
      py::arg("dy"), py::arg("input_shape"));
}
