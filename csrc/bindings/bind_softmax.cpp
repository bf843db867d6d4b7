// Softmax and log-softmax over the last axis of a 2-d (rows, cols) array.
#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/softmax.h"

namespace gradcore::bindings {
namespace {

template <class K>
py::array softmax_fwd(const py::array& x, const char* op, K k) {
  const DType dt = float_input(x, op, "x", 2);
  py::array y = new_array(dt, shape_of(x));
  const int64_t rows = dim(x, 0), cols = dim(x, 1);
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = data_ptr<T>(x);
    T* py_ = data_ptr<T>(y);
    run_kernel([&] { k(px, py_, rows, cols); });
  });
  return y;
}

template <class K>
py::array softmax_bwd(const py::array& dy, const py::array& y, const char* op, K k) {
  const DType dt = float_input(dy, op, "dy", 2);
  same_float(y, dt, op, "y", "dy", 2);
  check_same_shape(dy, y, op, "dy", "y");
  py::array dx = new_array(dt, shape_of(dy));
  const int64_t rows = dim(dy, 0), cols = dim(dy, 1);
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* pdy = data_ptr<T>(dy);
    const T* py_ = data_ptr<T>(y);
    T* pdx = data_ptr<T>(dx);
    run_kernel([&] { k(pdy, py_, pdx, rows, cols); });
  });
  return dx;
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(softmax) {
  using namespace gradcore::bindings;
  namespace gc = gradcore;
  m.def(
      "softmax_forward",
      [](py::array x) {
        return softmax_fwd(x, "softmax_forward", [](auto* px, auto* py_, int64_t r, int64_t c) {
          gc::softmax_forward(px, py_, r, c);
        });
      },
      py::arg("x"), "Softmax over the last axis of x (rows, cols), max-subtracted.");
  m.def(
      "softmax_backward",
      [](py::array dy, py::array y) {
        return softmax_bwd(dy, y, "softmax_backward",
                           [](auto* pdy, auto* py_, auto* pdx, int64_t r, int64_t c) {
                             gc::softmax_backward(pdy, py_, pdx, r, c);
                           });
      },
      py::arg("dy"), py::arg("y"), "dx = y * (dy - sum(dy * y, axis=-1)).");
  m.def(
      "log_softmax_forward",
      [](py::array x) {
        return softmax_fwd(x, "log_softmax_forward", [](auto* px, auto* py_, int64_t r, int64_t c) {
          gc::log_softmax_forward(px, py_, r, c);
        });
      },
      py::arg("x"), "Log-softmax over the last axis of x (rows, cols), max-subtracted.");
  m.def(
      "log_softmax_backward",
      [](py::array dy, py::array y) {
        return softmax_bwd(dy, y, "log_softmax_backward",
                           [](auto* pdy, auto* py_, auto* pdx, int64_t r, int64_t c) {
                             gc::log_softmax_backward(pdy, py_, pdx, r, c);
                           });
      },
      py::arg("dy"), py::arg("y"), "dx = dy - exp(y) * sum(dy, axis=-1).");
}
