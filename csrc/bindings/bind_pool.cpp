// max_pool2d_forward/backward, avg_pool2d_forward/backward, adaptive_avg_pool2d_forward/backward.
// Arguments follow torch.nn.functional (stride None = kernel_size); their checks, shared with
// the CUDA test driver, are in pool_args.h.
#include <string>

#include "bindings/checks.h"
#include "bindings/pool_args.h"
#include "bindings/registry.h"
#include "cpu/pool.h"

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
      "max_pool2d_relu_forward",
      [](py::array x) {
        const char* op = "max_pool2d_relu_forward";
        const DType dt = float_dtype(x, op, "x");
        check_input4(x, op, "x", dt);
        const int64_t N = dim(x, 0), C = dim(x, 1), H = dim(x, 2), W = dim(x, 3);
        py::array y = new_array(dt, {N, C, H / 2, W / 2});
        py::array cell = new_array(DType::kUInt8, {N, C, H / 2, W / 2});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* px = data_ptr<T>(static_cast<const py::array&>(x));
          T* py_ = data_ptr<T>(y);
          uint8_t* pc = data_ptr<uint8_t>(cell);
          run_kernel([&] { gradcore::max_pool2d_relu_forward<T>(N * C, H, W, px, py_, pc); });
        });
        return py::make_tuple(y, cell);
      },
      py::arg("x"),
      "(y, cells): relu(max_pool2d(x, 2)) (2x2 windows, stride 2, floor) in one pass, and per "
      "output its maximum's place in the 2x2 cell (uint8 0..3, row-major) or 4 where relu passes "
      "no gradient.");

  m.def(
      "max_pool2d_relu_backward",
      [](py::array dy, py::array cells, py::object input_shape) {
        const char* op = "max_pool2d_relu_backward";
        const DType dt = float_dtype(dy, op, "dy");
        check_array(dy, op, "dy", dt, 4);
        check_array(cells, op, "cells", DType::kUInt8, 4);
        check_same_shape(cells, dy, op, "cells", "dy");
        const auto s = shape4_arg(input_shape, op, "input_shape");
        if (s[0] != dim(dy, 0) || s[1] != dim(dy, 1) || s[2] / 2 != dim(dy, 2) ||
            s[3] / 2 != dim(dy, 3))
          fail_value(op, "dy " + shape_str(dy) +
                             " must be (N, C, H // 2, W // 2) of input_shape (" +
                             std::to_string(s[0]) + ", " + std::to_string(s[1]) + ", " +
                             std::to_string(s[2]) + ", " + std::to_string(s[3]) + ")");
        py::array dx = new_array(dt, {s[0], s[1], s[2], s[3]});
        int64_t bad = 0;
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* pdy = data_ptr<T>(static_cast<const py::array&>(dy));
          const uint8_t* pc = data_ptr<uint8_t>(static_cast<const py::array&>(cells));
          T* pdx = data_ptr<T>(dx);
          run_kernel([&] {
            bad = gradcore::max_pool2d_relu_backward<T>(s[0] * s[1], s[2], s[3], pdy, pc, pdx);
          });
        });
        if (bad) fail_value(op, std::to_string(bad) + " cells are above 4");
        return dx;
      },
      py::arg("dy"), py::arg("cells"), py::arg("input_shape"),
      "dx: dy at each 2x2 cell's maximum saved by max_pool2d_relu_forward, 0 elsewhere.");

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
