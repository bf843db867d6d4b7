// Dropout bindings:
//   dropout_forward(x, p, seed) -> (y, mask uint8)     y = x * mask / (1 - p)
//   dropout_backward(dy, mask, p) -> dx                dx = dy * mask / (1 - p)
// The mask comes from a counter-based RNG of (seed, element index) (cpu/dropout.h).
#include <Python.h>

#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/dropout.h"

namespace gradcore::bindings {
namespace {

uint64_t seed_value(const py::object& seed, const char* op) {
  if (!PyIndex_Check(seed.ptr()) || PyBool_Check(seed.ptr()))
    fail_type(op, "seed must be an int, got " + py::str(py::type::of(seed)).cast<std::string>());
  py::int_ v = py::reinterpret_steal<py::int_>(PyNumber_Index(seed.ptr()));
  if (!v) throw py::error_already_set();
  if (v < py::int_(0) || v >= py::int_(1).attr("__lshift__")(64))
    fail_value(op, "seed must be in [0, 2**64), got " + py::str(v).cast<std::string>());
  return v.cast<uint64_t>();
}

py::tuple dropout_fwd(py::array x, double p, py::object seed_o) {
  const char* op = "dropout_forward";
  const DType dt = float_dtype(x, op, "x");
  check_array(x, op, "x", dt);
  check_range(p, op, "p", 0.0, 1.0);
  const uint64_t seed = seed_value(seed_o, op);
  const int64_t n = numel(x);
  py::array y = new_array(dt, shape_of(x));
  py::array mask = new_array(DType::kUInt8, shape_of(x));
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = data_ptr<T>(static_cast<const py::array&>(x));
    T* py_ = data_ptr<T>(y);
    uint8_t* pm = data_ptr<uint8_t>(mask);
    run_kernel([&] { dropout_forward<T>(px, py_, pm, n, p, seed); });
  });
  return py::make_tuple(y, mask);
}

py::array dropout_bwd(py::array dy, py::array mask, double p) {
  const char* op = "dropout_backward";
  const DType dt = float_dtype(dy, op, "dy");
  check_array(dy, op, "dy", dt);
  check_array(mask, op, "mask", DType::kUInt8);
  check_same_shape(dy, mask, op, "dy", "mask");
  check_range(p, op, "p", 0.0, 1.0);
  const int64_t n = numel(dy);
  py::array dx = new_array(dt, shape_of(dy));
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* pdy = data_ptr<T>(static_cast<const py::array&>(dy));
    const uint8_t* pm = data_ptr<uint8_t>(static_cast<const py::array&>(mask));
    T* pdx = data_ptr<T>(dx);
    run_kernel([&] { dropout_backward<T>(pdy, pm, pdx, n, p); });
  });
  return dx;
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(dropout) {
  using namespace gradcore::bindings;
  m.def("dropout_forward", &dropout_fwd, py::arg("x"), py::arg("p"), py::arg("seed"),
        "Dropout: returns (y, mask) with mask (uint8, x's shape) from a counter-based RNG of "
        "(seed, element index), y = x * mask / (1 - p). p in [0, 1]; seed in [0, 2**64).");
  m.def("dropout_backward", &dropout_bwd, py::arg("dy"), py::arg("mask"), py::arg("p"),
        "Dropout backward: dx = dy * mask / (1 - p).");
}
