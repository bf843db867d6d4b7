// conv2d_forward, conv2d_backward_input, conv2d_backward_weight, conv2d_backward_bias, and the
// switch of the Winograd path (cpu/conv_winograd.h).
// Every argument is validated before a kernel runs (dtype, rank, contiguity, channel/group
// agreement, output size: conv_args.h, shared with the CUDA test driver); the kernels in
// cpu/conv.cpp trust their inputs.

#include "bindings/checks.h"
#include "bindings/conv_args.h"
#include "bindings/registry.h"
#include "cpu/conv.h"
#include "cpu/conv_winograd.h"

GRADCORE_BINDINGS(conv) {
  using namespace gradcore::bindings;
  using gradcore::Window2d;

  m.def(
      "conv2d_forward",
      [](py::array x, py::array weight, py::object bias, py::object stride, py::object padding,
         py::object dilation, int64_t groups) {
        const ConvForwardArgs a =
            conv_forward_args("conv2d_forward", x, weight, bias, stride, padding, dilation, groups);
        const DType dt = a.dt;
        const py::array& b = a.bias;
        const bool has_bias = static_cast<bool>(b);
        const Window2d& p = a.p;
        py::array y = new_array(dt, {p.N, p.K, p.OH, p.OW});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* px = data_ptr<T>(static_cast<const py::array&>(x));
          const T* pw = data_ptr<T>(static_cast<const py::array&>(weight));
          const T* pb = has_bias ? data_ptr<T>(static_cast<const py::array&>(b)) : nullptr;
          T* py_ = data_ptr<T>(y);
          run_kernel([&] { gradcore::conv2d_forward<T>(p, px, pw, pb, py_); });
        });
        return y;
      },
      py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(),
      py::arg("stride") = py::make_tuple(1, 1), py::arg("padding") = py::make_tuple(0, 0),
      py::arg("dilation") = py::make_tuple(1, 1), py::arg("groups") = 1,
      "y (N, K, OH, OW) = conv2d(x (N, C, H, W), weight (K, C/groups, R, S)) + bias (K,).");

  m.def(
      "conv2d_backward_input",
      [](py::array dy, py::array weight, py::object input_hw, py::object stride, py::object padding,
         py::object dilation, int64_t groups) {
        const char* op = "conv2d_backward_input";
        const DType dt = float_dtype(dy, op, "dy");
        const Window2d p = conv_backward_input_geometry(op, dy, weight, input_hw, dt, stride,
                                                        padding, dilation, groups);
        py::array dx = new_array(dt, {p.N, p.C, p.H, p.W});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* pdy = data_ptr<T>(static_cast<const py::array&>(dy));
          const T* pw = data_ptr<T>(static_cast<const py::array&>(weight));
          T* pdx = data_ptr<T>(dx);
          run_kernel([&] { gradcore::conv2d_backward_input<T>(p, pdy, pw, pdx); });
        });
        return dx;
      },
      py::arg("dy"), py::arg("weight"), py::arg("input_hw"),
      py::arg("stride") = py::make_tuple(1, 1), py::arg("padding") = py::make_tuple(0, 0),
      py::arg("dilation") = py::make_tuple(1, 1), py::arg("groups") = 1,
      "dx (N, C, H, W): gradient of conv2d_forward with respect to its input.");

  m.def(
      "conv2d_backward_weight",
      [](py::array dy, py::array x, py::object kernel_hw, py::object stride, py::object padding,
         py::object dilation, int64_t groups) {
        const char* op = "conv2d_backward_weight";
        const DType dt = float_dtype(dy, op, "dy");
        const Window2d p = conv_backward_weight_geometry(op, dy, x, kernel_hw, dt, stride, padding,
                                                         dilation, groups);
        py::array dw = new_array(dt, {p.K, p.C / p.groups, p.R, p.S});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* pdy = data_ptr<T>(static_cast<const py::array&>(dy));
          const T* px = data_ptr<T>(static_cast<const py::array&>(x));
          T* pdw = data_ptr<T>(dw);
          run_kernel([&] { gradcore::conv2d_backward_weight<T>(p, pdy, px, pdw); });
        });
        return dw;
      },
      py::arg("dy"), py::arg("x"), py::arg("kernel_hw"), py::arg("stride") = py::make_tuple(1, 1),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
      py::arg("groups") = 1,
      "dw (K, C/groups, R, S): gradient of conv2d_forward with respect to its weight.");

  m.def(
      "conv2d_backward_bias",
      [](py::array dy) {
        const char* op = "conv2d_backward_bias";
        const DType dt = float_dtype(dy, op, "dy");
        const BiasGradDims d = bias_grad_dims(op, dy, dt);
        const int64_t N = d.N, K = d.K, P = d.P;
        py::array db = new_array(dt, {K});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* pdy = data_ptr<T>(static_cast<const py::array&>(dy));
          T* pdb = data_ptr<T>(db);
          run_kernel([&] { gradcore::conv2d_backward_bias<T>(N, K, P, pdy, pdb); });
        });
        return db;
      },
      py::arg("dy"), "db (K,) = dy summed over every axis but 1.");

  m.def("set_conv_winograd_enabled", &gradcore::set_winograd_enabled, py::arg("enabled"),
        "Whether float32 3x3 stride-1 convolutions use the Winograd F(2x2, 3x3) path for their "
        "forward and input gradient where it pays (process-wide; default True).");
  m.def("conv_winograd_enabled", &gradcore::winograd_enabled,
        "Whether the Winograd convolution path is enabled (set_conv_winograd_enabled).");
}
