// CPU test driver of csrc/cuda/activation.cu (see cuda_host.h): float32 numpy arrays.
#include <string>

#include "bindings/checks.h"
#include "bindings/cuda_host.h"
#include "bindings/registry.h"
#include "cuda/activation_threads.h"

namespace gradcore::bindings {
namespace {

namespace gcu = gradcore::cuda;

bool approximate_arg(const std::string& a, const char* op) {
  if (a == "none") return false;
  if (a == "tanh") return true;
  fail_value(op, "approximate must be one of 'none', 'tanh', got '" + a + "'");
}

// y[t] = body(t, x, y) for every element t
template <class Body>
py::array unary(const py::array& x, const char* op, Body body) {
  check_array(x, op, "x", DType::kFloat32);
  py::array y = new_array(DType::kFloat32, shape_of(x));
  const float* px = data_ptr<float>(x);
  float* py_ = data_ptr<float>(y);
  for_each_index_host(numel(x), [&](int64_t t) { body(t, px, py_); });
  return y;
}

template <class Body>
py::array activation_grad(const py::array& dy, const py::array& a, const char* op,
                          const char* a_name, Body body) {
  check_array(dy, op, "dy", DType::kFloat32);
  check_array(a, op, a_name, DType::kFloat32);
  check_same_shape(dy, a, op, "dy", a_name);
  py::array dx = new_array(DType::kFloat32, shape_of(dy));
  const float* pdy = data_ptr<float>(dy);
  const float* pa = data_ptr<float>(a);
  float* pdx = data_ptr<float>(dx);
  for_each_index_host(numel(dy), [&](int64_t t) { body(t, pdy, pa, pdx); });
  return dx;
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(cuda_host_activation) {
  using namespace gradcore::bindings;
  py::module_ h = cuda_host_module(m);
  h.def("relu_forward", [](py::array x) { return unary(x, "relu_forward", gcu::relu_forward_at); });
  h.def("relu_backward", [](py::array dy, py::array y) {
    return activation_grad(dy, y, "relu_backward", "y", gcu::relu_backward_at);
  });
  h.def("leaky_relu_forward", [](py::array x, float s) {
    return unary(x, "leaky_relu_forward", [s](int64_t t, const float* a, float* b) {
      gcu::leaky_relu_forward_at(t, a, b, s);
    });
  });
  h.def("leaky_relu_backward", [](py::array dy, py::array x, float s) {
    return activation_grad(dy, x, "leaky_relu_backward", "x",
                           [s](int64_t t, const float* a, const float* b, float* c) {
                             gcu::leaky_relu_backward_at(t, a, b, c, s);
                           });
  });
  h.def("sigmoid_forward",
        [](py::array x) { return unary(x, "sigmoid_forward", gcu::sigmoid_forward_at); });
  h.def("sigmoid_backward", [](py::array dy, py::array y) {
    return activation_grad(dy, y, "sigmoid_backward", "y", gcu::sigmoid_backward_at);
  });
  h.def("tanh_forward", [](py::array x) { return unary(x, "tanh_forward", gcu::tanh_forward_at); });
  h.def("tanh_backward", [](py::array dy, py::array y) {
    return activation_grad(dy, y, "tanh_backward", "y", gcu::tanh_backward_at);
  });
  h.def("silu_forward", [](py::array x) { return unary(x, "silu_forward", gcu::silu_forward_at); });
  h.def("silu_backward", [](py::array dy, py::array x) {
    return activation_grad(dy, x, "silu_backward", "x", gcu::silu_backward_at);
  });
  h.def(
      "gelu_forward",
      [](py::array x, const std::string& approximate) {
        const bool a = approximate_arg(approximate, "gelu_forward");
        return unary(x, "gelu_forward", [a](int64_t t, const float* p, float* q) {
          gcu::gelu_forward_at(t, p, q, a);
        });
      },
      py::arg("x"), py::arg("approximate") = "none");
  h.def(
      "gelu_backward",
      [](py::array dy, py::array x, const std::string& approximate) {
        const bool a = approximate_arg(approximate, "gelu_backward");
        return activation_grad(dy, x, "gelu_backward", "x",
                               [a](int64_t t, const float* p, const float* q, float* r) {
                                 gcu::gelu_backward_at(t, p, q, r, a);
                               });
      },
      py::arg("dy"), py::arg("x"), py::arg("approximate") = "none");
}
