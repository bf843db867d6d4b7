// CPU test driver of csrc/cuda/dropout.cu (see cuda_host.h): float32 numpy arrays, uint8 mask;
// _C's names, arguments and checks.
#include <Python.h>

#include <string>

#include "bindings/checks.h"
#include "bindings/cuda_host.h"
#include "bindings/registry.h"
#include "cuda/dropout_threads.h"

namespace gradcore::bindings {
namespace {

namespace gcu = gradcore::cuda;

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
  check_array(x, op, "x", DType::kFloat32);
  check_range(p, op, "p", 0.0, 1.0);
  const uint64_t seed = seed_value(seed_o, op);
  py::array y = new_array(DType::kFloat32, shape_of(x));
  py::array mask = new_array(DType::kUInt8, shape_of(x));
  const float* px = data_ptr<float>(static_cast<const py::array&>(x));
  float* py_ = data_ptr<float>(y);
  uint8_t* pm = data_ptr<uint8_t>(mask);
  const uint64_t key = gcu::dropout_seed_key(seed), thr = gcu::dropout_keep_threshold(p);
  const float scale = gcu::dropout_keep_scale(p);
  for_each_index_host(numel(x),
                      [&](int64_t t) { gcu::dropout_forward_at(t, px, py_, pm, key, thr, scale); });
  return py::make_tuple(y, mask);
}

py::array dropout_bwd(py::array dy, py::array mask, double p) {
  const char* op = "dropout_backward";
  check_array(dy, op, "dy", DType::kFloat32);
  check_array(mask, op, "mask", DType::kUInt8);
  check_same_shape(dy, mask, op, "dy", "mask");
  check_range(p, op, "p", 0.0, 1.0);
  py::array dx = new_array(DType::kFloat32, shape_of(dy));
  const float* pdy = data_ptr<float>(static_cast<const py::array&>(dy));
  const uint8_t* pm = data_ptr<uint8_t>(static_cast<const py::array&>(mask));
  float* pdx = data_ptr<float>(dx);
  const float scale = gcu::dropout_keep_scale(p);
  for_each_index_host(numel(dy),
                      [&](int64_t t) { gcu::dropout_backward_at(t, pdy, pm, pdx, scale); });
  return dx;
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(cuda_host_dropout) {
  using namespace gradcore::bindings;
  py::module_ h = cuda_host_module(m);
  h.def("dropout_forward", &dropout_fwd, py::arg("x"), py::arg("p"), py::arg("seed"));
  h.def("dropout_backward", &dropout_bwd, py::arg("dy"), py::arg("mask"), py::arg("p"));
}
