// CPU test driver of csrc/cuda/convert.cu (see cuda_host.h): the per-element bodies of
// convert_threads.h over every element, on numpy arrays. round_to_bf16 / round_to_f16 take
// and give float32; the storage conversions give and take the 16-bit patterns as uint16 (as
// _C.float_to_bfloat16 does; _C_cuda gives DeviceArrays of dtype bfloat16 / float16).
#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/cuda_host.h"
#include "bindings/registry.h"
#include "cuda/convert_threads.h"

namespace gradcore::bindings {
namespace {

namespace gcu = gradcore::cuda;

template <class Out, class Body>
py::array from_float(const py::array& x, const char* op, Body body) {
  check_array(x, op, "x", DType::kFloat32);
  py::array_t<Out> y(shape_of(x));
  const float* px = data_ptr<float>(x);
  Out* py_ = y.mutable_data();
  for_each_index_host(numel(x), [&](int64_t t) { body(t, px, py_); });
  return y;
}

template <class Body>
py::array from_bits(const py::array& x, const char* op, Body body) {
  if (x.dtype().kind() != 'u' || x.itemsize() != 2)
    fail_type(op, "x must hold 16-bit patterns as uint16, got " + std::string(py::str(x.dtype())));
  py::array_t<uint16_t, py::array::c_style> xc(x);
  py::array_t<float> y(shape_of(x));
  const uint16_t* px = xc.data();
  float* py_ = y.mutable_data();
  for_each_index_host(numel(x), [&](int64_t t) { body(t, px, py_); });
  return y;
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(cuda_host_convert) {
  using namespace gradcore::bindings;
  py::module_ h = cuda_host_module(m);
  h.def(
      "round_to_bf16",
      [](py::array x) { return from_float<float>(x, "round_to_bf16", gcu::round_to_bf16_at); },
      py::arg("x"));
  h.def(
      "round_to_f16",
      [](py::array x) { return from_float<float>(x, "round_to_f16", gcu::round_to_f16_at); },
      py::arg("x"));
  h.def(
      "float_to_bfloat16",
      [](py::array x) {
        return from_float<uint16_t>(x, "float_to_bfloat16", gcu::float_to_bfloat16_at);
      },
      py::arg("x"));
  h.def(
      "float_to_float16",
      [](py::array x) {
        return from_float<uint16_t>(x, "float_to_float16", gcu::float_to_float16_at);
      },
      py::arg("x"));
  h.def(
      "bfloat16_to_float",
      [](py::array x) { return from_bits(x, "bfloat16_to_float", gcu::bfloat16_to_float_at); },
      py::arg("x"));
  h.def(
      "float16_to_float",
      [](py::array x) { return from_bits(x, "float16_to_float", gcu::float16_to_float_at); },
      py::arg("x"));
}
