// conv2d_relu_max_pool2d_forward / _backward: the Conv2d -> ReLU -> MaxPool2d(2) block in one
// pass each way (cpu/conv_relu_pool.h). The convolution's arguments are validated as for
// conv2d_forward (conv_args.h).

#include "bindings/checks.h"
#include "bindings/conv_args.h"
#include "bindings/registry.h"
#include "cpu/conv_relu_pool.h"

GRADCORE_BINDINGS(conv_relu_pool) {
  using namespace gradcore::bindings;
  using gradcore::Window2d;

  m.def(
      "conv2d_relu_max_pool2d_forward",
      [](py::array x, py::array weight, py::object bias, py::object stride, py::object padding,
         py::object dilation, int64_t groups) {
        const ConvForwardArgs a = conv_forward_args("conv2d_relu_max_pool2d_forward", x, weight,
                                                    bias, stride, padding, dilation, groups);
        const DType dt = a.dt;
        const py::array& b = a.bias;
        const bool has_bias = static_cast<bool>(b);
        const Window2d& p = a.p;
        py::array y = new_array(dt, {p.N, p.K, p.OH / 2, p.OW / 2});
        py::array cell = new_array(DType::kUInt8, {p.N, p.K, p.OH / 2, p.OW / 2});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* px = data_ptr<T>(static_cast<const py::array&>(x));
          const T* pw = data_ptr<T>(static_cast<const py::array&>(weight));
          const T* pb = has_bias ? data_ptr<T>(static_cast<const py::array&>(b)) : nullptr;
          T* py_ = data_ptr<T>(y);
          uint8_t* pc = data_ptr<uint8_t>(cell);
          run_kernel([&] { gradcore::conv2d_relu_max_pool2d_forward<T>(p, px, pw, pb, py_, pc); });
        });
        return py::make_tuple(y, cell);
      },
      py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(),
      py::arg("stride") = py::make_tuple(1, 1), py::arg("padding") = py::make_tuple(0, 0),
      py::arg("dilation") = py::make_tuple(1, 1), py::arg("groups") = 1,
      "(y, cells) = max_pool2d_relu_forward(conv2d_forward(x, weight, bias, ...)) bit for bit, "
      "without writing the convolution's output: y (N, K, OH // 2, OW // 2) and the uint8 "
      "cells of max_pool2d_relu_forward.");

  m.def(
      "conv2d_relu_max_pool2d_backward",
      [](py::array dy, py::array cells, py::array x, py::array weight, py::object stride,
         py::object padding, py::object dilation, int64_t groups, bool input_grad, bool bias) {
        const char* op = "conv2d_relu_max_pool2d_backward";
        const ConvForwardArgs a =
            conv_forward_args(op, x, weight, py::none(), stride, padding, dilation, groups);
        const DType dt = a.dt;
        const Window2d& p = a.p;
        check_array(dy, op, "dy", dt, 4);
        check_shape(dy, op, "dy", {p.N, p.K, p.OH / 2, p.OW / 2});
        check_array(cells, op, "cells", DType::kUInt8, 4);
        check_same_shape(cells, dy, op, "cells", "dy");
        py::object dx = py::none(), db = py::none();
        if (input_grad) dx = new_array(dt, shape_of(x));
        py::array dw = new_array(dt, shape_of(weight));
        if (bias) db = new_array(dt, {p.K});
        int64_t bad = 0;
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* pdy = data_ptr<T>(static_cast<const py::array&>(dy));
          const uint8_t* pc = data_ptr<uint8_t>(static_cast<const py::array&>(cells));
          const T* px = data_ptr<T>(static_cast<const py::array&>(x));
          const T* pw = data_ptr<T>(static_cast<const py::array&>(weight));
          T* pdx = input_grad ? data_ptr<T>(static_cast<py::array&>(dx)) : nullptr;
          T* pdw = data_ptr<T>(dw);
          T* pdb = bias ? data_ptr<T>(static_cast<py::array&>(db)) : nullptr;
          run_kernel([&] {
            bad = gradcore::conv2d_relu_max_pool2d_backward<T>(p, pdy, pc, px, pw, pdx, pdw, pdb);
          });
        });
        if (bad) fail_value(op, std::to_string(bad) + " cells are above 4");
        return py::make_tuple(dx, dw, db);
      },
      py::arg("dy"), py::arg("cells"), py::arg("x"), py::arg("weight"), py::arg("stride"),
      py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("input_grad"),
      py::arg("bias"),
      "(dx or None, dw, db or None): the gradients of conv2d_relu_max_pool2d_forward for the "
      "gradient dy (N, K, OH // 2, OW // 2) of its output and its cells, bit for bit those of "
      "max_pool2d_relu_backward then conv2d_backward_input / _weight / _bias.");
}
