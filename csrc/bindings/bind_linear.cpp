// Linear layer: y = x @ W^T + b and its two gradients, through gemm<T>.
#include <string>

#include "bindings/checks.h"
#include "bindings/ops_util.h"
#include "bindings/registry.h"
#include "cpu/linear.h"

GRADCORE_BINDINGS(linear) {
  using namespace gradcore::bindings;
  namespace gc = gradcore;
  m.def(
      "linear_forward",
      [](py::array x, py::array weight, py::object bias_obj) {
        const char* op = "linear_forward";
        const DType dt = float_input(x, op, "x", 2);
        same_float(weight, dt, op, "weight", "x", 2);
        const int64_t N = dim(x, 0), in = dim(x, 1), out = dim(weight, 0);
        if (dim(weight, 1) != in)
          fail_value(op, "x has " + std::to_string(in) + " features but weight expects " +
                             std::to_string(dim(weight, 1)) + " (x " + shape_str(x) + ", weight " +
                             shape_str(weight) + ")");
        const void* bias = optional_array(bias_obj, dt, op, "bias", {out}, "x");
        py::array y = new_array(dt, {N, out});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* px = data_ptr<T>(x);
          const T* pw = data_ptr<T>(weight);
          const T* pb = static_cast<const T*>(bias);
          T* py_ = data_ptr<T>(y);
          run_kernel([&] { gc::linear_forward(px, pw, pb, py_, N, in, out); });
        });
        return y;
      },
      py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(),
      "y (N, out) = x (N, in) @ weight (out, in)^T + bias (out,).");
  m.def(
      "linear_backward_input",
      [](py::array dy, py::array weight) {
        const char* op = "linear_backward_input";
        const DType dt = float_input(dy, op, "dy", 2);
        same_float(weight, dt, op, "weight", "dy", 2);
        const int64_t N = dim(dy, 0), out = dim(dy, 1), in = dim(weight, 1);
        if (dim(weight, 0) != out)
          fail_value(op, "dy has " + std::to_string(out) + " features but weight has " +
                             std::to_string(dim(weight, 0)) + " outputs (dy " + shape_str(dy) +
                             ", weight " + shape_str(weight) + ")");
        py::array dx = new_array(dt, {N, in});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* pdy = data_ptr<T>(dy);
          const T* pw = data_ptr<T>(weight);
          T* pdx = data_ptr<T>(dx);
          run_kernel([&] { gc::linear_backward_input(pdy, pw, pdx, N, in, out); });
        });
        return dx;
      },
      py::arg("dy"), py::arg("weight"), "dx (N, in) = dy (N, out) @ weight (out, in).");
  m.def(
      "linear_backward_weight",
      [](py::array dy, py::array x) {
        const char* op = "linear_backward_weight";
        const DType dt = float_input(dy, op, "dy", 2);
        same_float(x, dt, op, "x", "dy", 2);
        const int64_t N = dim(dy, 0), out = dim(dy, 1), in = dim(x, 1);
        if (dim(x, 0) != N)
          fail_value(op, "dy has " + std::to_string(N) + " rows but x has " +
                             std::to_string(dim(x, 0)) + " (dy " + shape_str(dy) + ", x " +
                             shape_str(x) + ")");
        py::array dw = new_array(dt, {out, in});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* pdy = data_ptr<T>(dy);
          const T* px = data_ptr<T>(x);
          T* pdw = data_ptr<T>(dw);
          run_kernel([&] { gc::linear_backward_weight(pdy, px, pdw, N, in, out); });
        });
        return dw;
      },
      py::arg("dy"), py::arg("x"), "dw (out, in) = dy (N, out)^T @ x (N, in).");
}
