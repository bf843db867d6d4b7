// CUDA dropout on DeviceArray (float32 values, uint8 mask): the names, arguments and checks of
// _C's (csrc/bindings/bind_dropout.cpp). The mask equals _C's for the same seed (the same
// counter-based generator, cuda/dropout_threads.h).
//   dropout_forward(x, p, seed) -> (y, mask uint8)     y = x * mask / (1 - p)
//   dropout_backward(dy, mask, p) -> dx                dx = dy * mask / (1 - p)
#include <Python.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <sstream>
#include <string>

#include "bindings/registry.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/dropout.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
using gc::DeviceArray;

namespace {

std::string num_str(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void check_p(double p, const char* op) {
  if (!(p >= 0.0 && p <= 1.0))
    throw py::value_error(std::string(op) + ": p must be in [0, 1], got " + num_str(p));
}

uint64_t seed_value(const py::object& seed, const char* op) {
  if (!PyIndex_Check(seed.ptr()) || PyBool_Check(seed.ptr()))
    throw py::type_error(std::string(op) + ": seed must be an int, got " +
                         py::str(py::type::of(seed)).cast<std::string>());
  py::int_ v = py::reinterpret_steal<py::int_>(PyNumber_Index(seed.ptr()));
  if (!v) throw py::error_already_set();
  if (v < py::int_(0) || v >= py::int_(1).attr("__lshift__")(64))
    throw py::value_error(std::string(op) + ": seed must be in [0, 2**64), got " +
                          py::str(v).cast<std::string>());
  return v.cast<uint64_t>();
}

py::tuple dropout_fwd(const DeviceArray& x, double p, const py::object& seed_o) {
  const char* op = "dropout_forward";
  gc::bindings::check_float32(x, op, "x");
  check_p(p, op);
  const uint64_t seed = seed_value(seed_o, op);
  gc::bindings::DeviceGuard guard(x.device());
  DeviceArray y(x.shape(), gc::DType::kFloat32);
  DeviceArray mask(x.shape(), gc::DType::kUInt8);
  gc::dropout_forward(x.ptr<float>(), y.ptr<float>(), mask.ptr<uint8_t>(), x.size(), p, seed);
  return py::make_tuple(y, mask);
}

DeviceArray dropout_bwd(const DeviceArray& dy, const DeviceArray& mask, double p) {
  const char* op = "dropout_backward";
  gc::bindings::check_float32(dy, op, "dy");
  if (mask.dtype() != gc::DType::kUInt8)
    throw py::type_error(std::string(op) + ": mask must be uint8, got " +
                         gc::dtype_name(mask.dtype()));
  gc::bindings::check_same_shape(dy, mask, op, "dy", "mask");
  gc::bindings::check_same_device(dy, mask, op, "dy", "mask");
  check_p(p, op);
  gc::bindings::DeviceGuard guard(dy.device());
  DeviceArray dx(dy.shape(), gc::DType::kFloat32);
  gc::dropout_backward(dy.ptr<float>(), mask.ptr<uint8_t>(), dx.ptr<float>(), dy.size(), p);
  return dx;
}

}  // namespace

GRADCORE_BINDINGS(dropout) {
  m.def("dropout_forward", &dropout_fwd, py::arg("x"), py::arg("p"), py::arg("seed"),
        "Dropout on a float32 DeviceArray: returns (y, mask) with mask (uint8, x's shape) from "
        "a counter-based RNG of (seed, element index), the same as gradcore._C's; "
        "y = x * mask / (1 - p). p in [0, 1]; seed in [0, 2**64).");
  m.def("dropout_backward", &dropout_bwd, py::arg("dy"), py::arg("mask"), py::arg("p"),
        "Dropout backward: dx = dy * mask / (1 - p).");
}
