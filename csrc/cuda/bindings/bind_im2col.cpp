// CUDA im2col / col2im and conv2d_backward_bias on DeviceArray (float32). _C has no im2col
// binding (its im2col is internal to the convolution): these take a batch of NCHW images and
// give columns (N, C*R*S, OH*OW), the layout of csrc/cpu/im2col.h per image.
// conv2d_backward_bias has _C's name and argument (csrc/bindings/bind_conv.cpp).
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/registry.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/bindings/window_args.h"
#include "cuda/im2col.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
using gc::DeviceArray;
using gradcore::Window2d;

GRADCORE_BINDINGS(im2col) {
  using namespace gradcore::cuda::bindings;

  m.def(
      "im2col",
      [](const DeviceArray& x, py::object kernel_size, py::object stride, py::object padding,
         py::object dilation) {
        const char* op = "im2col";
        check_float32(x, op, "x");
        check_image4(x, op, "x");
        const auto& s = x.shape();
        const Window2d g = window_params(op, {s[0], s[1], s[2], s[3]}, kernel_size, stride, padding,
                                         dilation, false, /*pooling=*/false, "kernel_size");
        DeviceGuard guard(x.device());
        DeviceArray col({g.N, g.C * g.R * g.S, g.OH * g.OW}, gc::DType::kFloat32);
        gc::im2col(g, x.ptr<float>(), col.ptr<float>());
        return col;
      },
      py::arg("x"), py::arg("kernel_size"), py::arg("stride") = py::make_tuple(1, 1),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
      "col (N, C*kh*kw, OH*OW): col[n, (c*kh + r)*kw + s, oh*OW + ow] = "
      "x[n, c, oh*sh - ph + r*dh, ow*sw - pw + s*dw] (0 in the padding).");

  m.def(
      "col2im",
      [](const DeviceArray& col, py::object input_shape, py::object kernel_size, py::object stride,
         py::object padding, py::object dilation) {
        const char* op = "col2im";
        check_float32(col, op, "col");
        check_rank(col, 3, op, "col");
        const auto s = shape4_arg(input_shape, op, "input_shape");
        const Window2d g = window_params(op, s, kernel_size, stride, padding, dilation, false,
                                         /*pooling=*/false, "kernel_size");
        const auto& c = col.shape();
        if (c[0] != g.N || c[1] != g.C * g.R * g.S || c[2] != g.OH * g.OW)
          fail_value(op, "col must have shape (" + std::to_string(g.N) + ", " +
                             std::to_string(g.C * g.R * g.S) + ", " + std::to_string(g.OH * g.OW) +
                             ") for input_shape and kernel_size, " + "got " + col.shape_str());
        DeviceGuard guard(col.device());
        DeviceArray x({s[0], s[1], s[2], s[3]}, gc::DType::kFloat32);
        gc::col2im(g, col.ptr<float>(), x.ptr<float>());
        return x;
      },
      py::arg("col"), py::arg("input_shape"), py::arg("kernel_size"),
      py::arg("stride") = py::make_tuple(1, 1), py::arg("padding") = py::make_tuple(0, 0),
      py::arg("dilation") = py::make_tuple(1, 1),
      "x (input_shape): the adjoint of im2col (each element sums the columns that read it).");

  m.def(
      "conv2d_backward_bias",
      [](const DeviceArray& dy) {
        const char* op = "conv2d_backward_bias";
        check_float32(dy, op, "dy");
        const auto& s = dy.shape();
        if (s.size() < 2)
          fail_value(op,
                     "dy must have at least 2 dimensions (N, K, ...), got shape " + dy.shape_str());
        int64_t P = 1;
        for (std::size_t i = 2; i < s.size(); ++i) P *= s[i];
        DeviceGuard guard(dy.device());
        DeviceArray db({s[1]}, gc::DType::kFloat32);
        gc::conv2d_backward_bias(s[0], s[1], P, dy.ptr<float>(), db.ptr<float>());
        return db;
      },
      py::arg("dy"), "db (K,) = dy summed over every axis but 1.");
}
