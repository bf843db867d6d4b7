// Activations (any shape): relu, leaky_relu, sigmoid, tanh, gelu, silu forward/backward.
#include <string>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/activation.h"

namespace gradcore::bindings {
namespace {

bool parse_approximate(const std::string& a, const char* op) {
  if (a == "none") return false;
  if (a == "tanh") return true;
  fail_value(op, "approximate must be one of 'none', 'tanh', got '" + a + "'");
}

// y = f(x) for a unary forward kernel k(x, y, n).
template <class K>
py::array unary(const py::array& x, const char* op, K k) {
  const DType dt = float_input(x, op, "x");
  py::array y = new_array(dt, shape_of(x));
  const int64_t n = x.size();
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = data_ptr<T>(x);
    T* py_ = data_ptr<T>(y);
    run_elementwise_kernel(n, [&] { k(px, py_, n, tag); });
  });
  return y;
}

// dx = f(dy, a) for a backward kernel k(dy, a, dx, n) where `a` is x or y.
template <class K>
py::array binary(const py::array& dy, const py::array& a, const char* op, const char* a_name, K k) {
  const DType dt = float_input(dy, op, "dy");
  same_float(a, dt, op, a_name, "dy");
  check_same_shape(dy, a, op, "dy", a_name);
  py::array dx = new_array(dt, shape_of(dy));
  const int64_t n = dy.size();
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* pdy = data_ptr<T>(dy);
    const T* pa = data_ptr<T>(a);
    T* pdx = data_ptr<T>(dx);
    run_elementwise_kernel(n, [&] { k(pdy, pa, pdx, n, tag); });
  });
  return dx;
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(activation) {
  using namespace gradcore::bindings;
  namespace gc = gradcore;

  m.def(
      "relu_forward",
      [](py::array x) {
        return unary(x, "relu_forward",
                     [](auto* px, auto* py_, int64_t n, auto) { gc::relu_forward(px, py_, n); });
      },
      py::arg("x"), "y = max(x, 0) (NaN propagates).");
  m.def(
      "relu_backward",
      [](py::array dy, py::array y) {
        return binary(dy, y, "relu_backward", "y",
                      [](auto* pdy, auto* py_, auto* pdx, int64_t n, auto) {
                        gc::relu_backward(pdy, py_, pdx, n);
                      });
      },
      py::arg("dy"), py::arg("y"), "dx = dy where y > 0, else 0.");

  m.def(
      "leaky_relu_forward",
      [](py::array x, py::object slope_obj) {
        const double slope = number_arg(slope_obj, "leaky_relu_forward", "negative_slope");
        return unary(x, "leaky_relu_forward", [slope](auto* px, auto* py_, int64_t n, auto tag) {
          using T = decltype(tag);
          gc::leaky_relu_forward(px, py_, n, static_cast<T>(slope));
        });
      },
      py::arg("x"), py::arg("negative_slope") = 0.01, "y = x > 0 ? x : negative_slope * x.");
  m.def(
      "leaky_relu_backward",
      [](py::array dy, py::array x, py::object slope_obj) {
        const double slope = number_arg(slope_obj, "leaky_relu_backward", "negative_slope");
        return binary(dy, x, "leaky_relu_backward", "x",
                      [slope](auto* pdy, auto* px, auto* pdx, int64_t n, auto tag) {
                        using T = decltype(tag);
                        gc::leaky_relu_backward(pdy, px, pdx, n, static_cast<T>(slope));
                      });
      },
      py::arg("dy"), py::arg("x"), py::arg("negative_slope") = 0.01,
      "dx = x > 0 ? dy : negative_slope * dy.");

  m.def(
      "sigmoid_forward",
      [](py::array x) {
        return unary(x, "sigmoid_forward",
                     [](auto* px, auto* py_, int64_t n, auto) { gc::sigmoid_forward(px, py_, n); });
      },
      py::arg("x"), "y = 1 / (1 + exp(-x)), stable for large |x|.");
  m.def(
      "sigmoid_backward",
      [](py::array dy, py::array y) {
        return binary(dy, y, "sigmoid_backward", "y",
                      [](auto* pdy, auto* py_, auto* pdx, int64_t n, auto) {
                        gc::sigmoid_backward(pdy, py_, pdx, n);
                      });
      },
      py::arg("dy"), py::arg("y"), "dx = dy * (1 - y) * y.");
  m.def(
      "silu_forward",
      [](py::array x) {
        return unary(x, "silu_forward",
                     [](auto* px, auto* py_, int64_t n, auto) { gc::silu_forward(px, py_, n); });
      },
      py::arg("x"), "y = x * sigmoid(x).");
  m.def(
      "silu_backward",
      [](py::array dy, py::array x) {
        return binary(dy, x, "silu_backward", "x",
                      [](auto* pdy, auto* px, auto* pdx, int64_t n, auto) {
                        gc::silu_backward(pdy, px, pdx, n);
                      });
      },
      py::arg("dy"), py::arg("x"), "dx = dy * s * (1 + x * (1 - s)), s = sigmoid(x).");

  m.def(
      "tanh_forward",
      [](py::array x) {
        return unary(x, "tanh_forward",
                     [](auto* px, auto* py_, int64_t n, auto) { gc::tanh_forward(px, py_, n); });
      },
      py::arg("x"), "y = tanh(x).");
  m.def(
      "tanh_backward",
      [](py::array dy, py::array y) {
        return binary(dy, y, "tanh_backward", "y",
                      [](auto* pdy, auto* py_, auto* pdx, int64_t n, auto) {
                        gc::tanh_backward(pdy, py_, pdx, n);
                      });
      },
      py::arg("dy"), py::arg("y"), "dx = dy * (1 - y^2).");

  m.def(
      "gelu_forward",
      [](py::array x, const std::string& approximate) {
        const bool approx = parse_approximate(approximate, "gelu_forward");
        return unary(x, "gelu_forward", [approx](auto* px, auto* py_, int64_t n, auto) {
          gc::gelu_forward(px, py_, n, approx);
        });
      },
      py::arg("x"), py::arg("approximate") = "none",
      "GELU: exact (erf) with approximate='none', tanh approximation with 'tanh'.");
  m.def(
      "gelu_backward",
      [](py::array dy, py::array x, const std::string& approximate) {
        const bool approx = parse_approximate(approximate, "gelu_backward");
        return binary(dy, x, "gelu_backward", "x",
                      [approx](auto* pdy, auto* px, auto* pdx, int64_t n, auto) {
                        gc::gelu_backward(pdy, px, pdx, n, approx);
                      });
      },
      py::arg("dy"), py::arg("x"), py::arg("approximate") = "none", "dx = dy * gelu'(x).");
}
