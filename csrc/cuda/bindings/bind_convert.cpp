// CUDA conversions on DeviceArray: float32 rounded to bfloat16 / float16 values (float32
// out), and the 16-bit storage conversions (DeviceArrays of dtype bfloat16 / float16). The
// rounding rules: csrc/cuda/convert_threads.h (bitwise _C's float_to_bfloat16 for bfloat16,
// numpy's astype(float16) for float16).
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/registry.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/convert.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
using gc::DeviceArray;
using gc::DType;

namespace {

template <class In, class Out, class K>
DeviceArray convert(const DeviceArray& x, DType in, DType out, const char* op, K k) {
  if (x.dtype() != in)
    throw py::type_error(std::string(op) + ": x must be " + gc::dtype_name(in) + " on CUDA, got " +
                         gc::dtype_name(x.dtype()));
  gc::bindings::DeviceGuard guard(x.device());
  DeviceArray y(x.shape(), out);
  k(x.ptr<In>(), y.ptr<Out>(), x.size());
  return y;
}

}  // namespace

GRADCORE_BINDINGS(convert) {
  m.def(
      "round_to_bf16",
      [](const DeviceArray& x) {
        return convert<float, float>(x, DType::kFloat32, DType::kFloat32, "round_to_bf16",
                                     gc::round_to_bf16);
      },
      py::arg("x"), "float32 x rounded to bfloat16 values (RNE), as float32.");
  m.def(
      "round_to_f16",
      [](const DeviceArray& x) {
        return convert<float, float>(x, DType::kFloat32, DType::kFloat32, "round_to_f16",
                                     gc::round_to_f16);
      },
      py::arg("x"), "float32 x rounded to float16 values (RNE, overflow to inf), as float32.");
  m.def(
      "float_to_bfloat16",
      [](const DeviceArray& x) {
        return convert<float, uint16_t>(x, DType::kFloat32, DType::kBFloat16, "float_to_bfloat16",
                                        gc::float_to_bfloat16);
      },
      py::arg("x"), "bfloat16 DeviceArray of float32 x, rounded to nearest even.");
  m.def(
      "float_to_float16",
      [](const DeviceArray& x) {
        return convert<float, uint16_t>(x, DType::kFloat32, DType::kFloat16, "float_to_float16",
                                        gc::float_to_float16);
      },
      py::arg("x"), "float16 DeviceArray of float32 x, rounded to nearest even.");
  m.def(
      "bfloat16_to_float",
      [](const DeviceArray& x) {
        return convert<uint16_t, float>(x, DType::kBFloat16, DType::kFloat32, "bfloat16_to_float",
                                        gc::bfloat16_to_float);
      },
      py::arg("x"), "float32 DeviceArray of a bfloat16 one (exact).");
  m.def(
      "float16_to_float",
      [](const DeviceArray& x) {
        return convert<uint16_t, float>(x, DType::kFloat16, DType::kFloat32, "float16_to_float",
                                        gc::float16_to_float);
      },
      py::arg("x"), "float32 DeviceArray of a float16 one (exact).");
}
