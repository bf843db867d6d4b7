// CUDA activations on DeviceArray (float32): the names and arguments of _C's.
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/registry.h"
#include "cuda/activation.h"
#include "cuda/bindings/device_checks.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
using gc::DeviceArray;

namespace {

bool parse_approximate(const std::string& a, const char* op) {
  if (a == "none") return false;
  if (a == "tanh") return true;
  throw py::value_error(std::string(op) + ": approximate must be one of 'none', 'tanh', got '" + a +
                        "'");
}

template <class K>
DeviceArray unary(const DeviceArray& x, const char* op, K k) {
  gc::bindings::check_float32(x, op, "x");
  gc::bindings::DeviceGuard guard(x.device());
  DeviceArray y(x.shape(), x.dtype());
  k(x.ptr<float>(), y.ptr<float>(), x.size());
  return y;
}

template <class K>
DeviceArray activation_grad(const DeviceArray& dy, const DeviceArray& a, const char* op,
                            const char* a_name, K k) {
  gc::bindings::check_float32(dy, op, "dy");
  gc::bindings::check_float32(a, op, a_name);
  gc::bindings::check_same_shape(dy, a, op, "dy", a_name);
  gc::bindings::check_same_device(dy, a, op, "dy", a_name);
  gc::bindings::DeviceGuard guard(dy.device());
  DeviceArray dx(dy.shape(), dy.dtype());
  k(dy.ptr<float>(), a.ptr<float>(), dx.ptr<float>(), dy.size());
  return dx;
}

}  // namespace

GRADCORE_BINDINGS(activation) {
  using namespace gradcore::cuda::bindings;
  m.def(
      "relu_forward",
      [](const DeviceArray& x) { return unary(x, "relu_forward", gc::relu_forward); },
      py::arg("x"));
  m.def(
      "relu_backward",
      [](const DeviceArray& dy, const DeviceArray& y) {
        return activation_grad(dy, y, "relu_backward", "y", gc::relu_backward);
      },
      py::arg("dy"), py::arg("y"));
  m.def(
      "leaky_relu_forward",
      [](const DeviceArray& x, float slope) {
        return unary(x, "leaky_relu_forward", [slope](const float* a, float* b, int64_t n) {
          gc::leaky_relu_forward(a, b, n, slope);
        });
      },
      py::arg("x"), py::arg("negative_slope") = 0.01f);
  m.def(
      "leaky_relu_backward",
      [](const DeviceArray& dy, const DeviceArray& x, float slope) {
        return activation_grad(dy, x, "leaky_relu_backward", "x",
                               [slope](const float* a, const float* b, float* c, int64_t n) {
                                 gc::leaky_relu_backward(a, b, c, n, slope);
                               });
      },
      py::arg("dy"), py::arg("x"), py::arg("negative_slope") = 0.01f);
  m.def(
      "sigmoid_forward",
      [](const DeviceArray& x) { return unary(x, "sigmoid_forward", gc::sigmoid_forward); },
      py::arg("x"));
  m.def(
      "sigmoid_backward",
      [](const DeviceArray& dy, const DeviceArray& y) {
        return activation_grad(dy, y, "sigmoid_backward", "y", gc::sigmoid_backward);
      },
      py::arg("dy"), py::arg("y"));
  m.def(
      "tanh_forward",
      [](const DeviceArray& x) { return unary(x, "tanh_forward", gc::tanh_forward); },
      py::arg("x"));
  m.def(
      "tanh_backward",
      [](const DeviceArray& dy, const DeviceArray& y) {
        return activation_grad(dy, y, "tanh_backward", "y", gc::tanh_backward);
      },
      py::arg("dy"), py::arg("y"));
  m.def(
      "silu_forward",
      [](const DeviceArray& x) { return unary(x, "silu_forward", gc::silu_forward); },
      py::arg("x"));
  m.def(
      "silu_backward",
      [](const DeviceArray& dy, const DeviceArray& x) {
        return activation_grad(dy, x, "silu_backward", "x", gc::silu_backward);
      },
      py::arg("dy"), py::arg("x"));
  m.def(
      "gelu_forward",
      [](const DeviceArray& x, const std::string& approximate) {
        const bool a = parse_approximate(approximate, "gelu_forward");
        return unary(x, "gelu_forward",
                     [a](const float* p, float* q, int64_t n) { gc::gelu_forward(p, q, n, a); });
      },
      py::arg("x"), py::arg("approximate") = "none");
  m.def(
      "gelu_backward",
      [](const DeviceArray& dy, const DeviceArray& x, const std::string& approximate) {
        const bool a = parse_approximate(approximate, "gelu_backward");
        return activation_grad(dy, x, "gelu_backward", "x",
                               [a](const float* p, const float* q, float* r, int64_t n) {
                                 gc::gelu_backward(p, q, r, n, a);
                               });
      },
      py::arg("dy"), py::arg("x"), py::arg("approximate") = "none");
}
