// CPU test driver of csrc/cuda/pool.cu (see cuda_host.h): float32 numpy arrays, _C's names and
// arguments (max_pool2d_backward also takes the forward's geometry as optional keywords, as
// the CUDA binding does). The arguments are checked as _C's pooling checks them.
#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/cuda_host.h"
#include "bindings/pool_args.h"
#include "bindings/registry.h"
#include "cuda/pool_threads.h"

namespace gradcore::bindings {
namespace {

namespace gcu = gradcore::cuda;

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
        check_input4(x, op, "x", DType::kFloat32);
        const Window2d p = pool_params(op, dim(x, 0), dim(x, 1), dim(x, 2), dim(x, 3), kernel_size,
                                       stride, padding, dilation, ceil_mode);
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
          const Window2d p = pool_params(op, s[0], s[1], s[2], s[3], kernel_size, stride, padding,
                                         dilation, ceil_mode);
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
        check_input4(x, op, "x", DType::kFloat32);
        const int64_t div = divisor_arg(divisor_override, op);
        const Window2d p = pool_params(op, dim(x, 0), dim(x, 1), dim(x, 2), dim(x, 3), kernel_size,
                                       stride, padding, py::int_(1), ceil_mode);
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
        const Window2d p = pool_params(op, s[0], s[1], s[2], s[3], kernel_size, stride, padding,
                                       py::int_(1), ceil_mode);
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
        check_input4(x, op, "x", DType::kFloat32);
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
