// CUDA softmax / log-softmax on DeviceArray (float32): the names and arguments of _C's.
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/registry.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/softmax.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
using gc::DeviceArray;

namespace {

void check_2d(const DeviceArray& a, const char* op, const char* arg) {
  gc::bindings::check_float32(a, op, arg);
  if (a.shape().size() != 2)
    throw py::value_error(std::string(op) + ": " + arg + " must have 2 dimensions, got shape " +
                          a.shape_str());
}

template <class K>
DeviceArray softmax_fwd(const DeviceArray& x, const char* op, K k) {
  check_2d(x, op, "x");
  gc::bindings::DeviceGuard guard(x.device());
  DeviceArray y(x.shape(), x.dtype());
  k(x.ptr<float>(), y.ptr<float>(), x.shape()[0], x.shape()[1]);
  return y;
}

template <class K>
DeviceArray softmax_bwd(const DeviceArray& dy, const DeviceArray& y, const char* op, K k) {
  check_2d(dy, op, "dy");
  check_2d(y, op, "y");
  gc::bindings::check_same_shape(dy, y, op, "dy", "y");
  gc::bindings::check_same_device(dy, y, op, "dy", "y");
  gc::bindings::DeviceGuard guard(dy.device());
  DeviceArray dx(dy.shape(), dy.dtype());
  k(dy.ptr<float>(), y.ptr<float>(), dx.ptr<float>(), dy.shape()[0], dy.shape()[1]);
  return dx;
}

}  // namespace

GRADCORE_BINDINGS(softmax) {
  m.def(
      "softmax_forward",
      [](const DeviceArray& x) { return softmax_fwd(x, "softmax_forward", gc::softmax_forward); },
      py::arg("x"), "Softmax over the last axis of x (rows, cols), max-subtracted.");
  m.def(
      "softmax_backward",
      [](const DeviceArray& dy, const DeviceArray& y) {
        return softmax_bwd(dy, y, "softmax_backward", gc::softmax_backward);
      },
      py::arg("dy"), py::arg("y"), "dx = y * (dy - sum(dy * y, axis=-1)).");
  m.def(
      "log_softmax_forward",
      [](const DeviceArray& x) {
        return softmax_fwd(x, "log_softmax_forward", gc::log_softmax_forward);
      },
      py::arg("x"), "Log-softmax over the last axis of x (rows, cols), max-subtracted.");
  m.def(
      "log_softmax_backward",
      [](const DeviceArray& dy, const DeviceArray& y) {
        return softmax_bwd(dy, y, "log_softmax_backward", gc::log_softmax_backward);
      },
      py::arg("dy"), py::arg("y"), "dx = dy - exp(y) * sum(dy, axis=-1).");
}
