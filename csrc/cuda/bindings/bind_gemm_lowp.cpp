// gemm_lowp on DeviceArray: the GEMM of mixed precision (gradcore.amp on CUDA). float32
// operands holding float16 / bfloat16 values are packed to 16-bit storage on the device
// (exact for such values; others are rounded to nearest even), multiplied by cublasGemmEx on
// tensor cores with float32 accumulation, and the float32 result returned.
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "bindings/registry.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/bindings/gemm_args.h"
#include "cuda/convert.h"
#include "cuda/cublas.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
using gc::DeviceArray;
using gc::DType;

namespace {

// x (float32) as 16-bit storage of `type` on x's device.
DeviceArray pack(const DeviceArray& x, gc::LowpType type) {
  const bool bf = type == gc::LowpType::kBFloat16;
  DeviceArray y(x.shape(), bf ? DType::kBFloat16 : DType::kFloat16);
  if (bf)
    gc::float_to_bfloat16(x.ptr<float>(), y.ptr<uint16_t>(), x.size());
  else
    gc::float_to_float16(x.ptr<float>(), y.ptr<uint16_t>(), x.size());
  return y;
}

}  // namespace

GRADCORE_BINDINGS(gemm_lowp) {
  using namespace gradcore::cuda::bindings;
  m.def(
      "gemm_lowp",
      [](const DeviceArray& a, const DeviceArray& b, py::object c_obj, bool trans_a, bool trans_b,
         double alpha, double beta, const std::string& dtype) {
        const char* op = "gemm_lowp";
        gc::LowpType type;
        if (dtype == "float16")
          type = gc::LowpType::kFloat16;
        else if (dtype == "bfloat16")
          type = gc::LowpType::kBFloat16;
        else
          throw py::value_error("gemm_lowp: dtype must be 'float16' or 'bfloat16', got '" + dtype +
                                "'");
        const GemmDims d = gemm_dims(a, b, trans_a, trans_b, op);
        DeviceGuard guard(a.device());
        DeviceArray c = gemm_output(c_obj, a, d, &beta, op);
        const DeviceArray a16 = pack(a, type), b16 = pack(b, type);
        gc::gemm_ex(trans_a, trans_b, d.M, d.N, d.K, static_cast<float>(alpha), a16.data(), type,
                    a.shape()[1], b16.data(), type, b.shape()[1], static_cast<float>(beta),
                    c.ptr<float>(), d.N);
        return c;
      },
      py::arg("a"), py::arg("b"), py::arg("c") = py::none(), py::arg("trans_a") = false,
      py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
      py::arg("dtype") = "float16",
      "c = alpha * op(a) @ op(b) + beta * c with a, b (float32) packed to float16 / bfloat16 "
      "on the device and multiplied on tensor cores with float32 accumulation (c float32, "
      "allocated when None).");
}
