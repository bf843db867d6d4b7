// gemm_lowp on DeviceArray: the GEMM of mixed precision (gradcore.amp on CUDA). float32
// operands holding float16 / bfloat16 values are packed to 16-bit storage on the device
// (exact for such values; others are rounded to nearest even), multiplied by cublasGemmEx on
// tensor cores with float32 accumulation, and the float32 result returned.
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "bindings/registry.h"
#include "cuda/bindings/device_checks.h"
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
        check_float32(a, op, "a");
        check_float32(b, op, "b");
        check_same_device(a, b, op, "a", "b");
        if (a.shape().size() != 2 || b.shape().size() != 2)
          throw py::value_error("gemm_lowp: a and b must be 2-d, got a " + a.shape_str() + ", b " +
                                b.shape_str());
        const int64_t M = trans_a ? a.shape()[1] : a.shape()[0];
        const int64_t Ka = trans_a ? a.shape()[0] : a.shape()[1];
        const int64_t Kb = trans_b ? b.shape()[1] : b.shape()[0];
        const int64_t N = trans_b ? b.shape()[0] : b.shape()[1];
        if (Ka != Kb)
          throw py::value_error("gemm_lowp: inner sizes differ: op(a) is " + std::to_string(M) +
                                "x" + std::to_string(Ka) + " but op(b) is " + std::to_string(Kb) +
                                "x" + std::to_string(N));
        DeviceGuard guard(a.device());
        DeviceArray c =
            c_obj.is_none() ? DeviceArray({M, N}, DType::kFloat32) : c_obj.cast<DeviceArray>();
        if (c_obj.is_none()) {
          beta = 0.0;
        } else {
          check_float32(c, op, "c");
          check_same_device(a, c, op, "a", "c");
          if (c.shape() != std::vector<int64_t>{M, N})
            throw py::value_error("gemm_lowp: c must have shape (" + std::to_string(M) + ", " +
                                  std::to_string(N) + "), got " + c.shape_str());
        }
        const DeviceArray a16 = pack(a, type), b16 = pack(b, type);
        gc::gemm_ex(trans_a, trans_b, M, N, Ka, static_cast<float>(alpha), a16.data(), type,
                    a.shape()[1], b16.data(), type, b.shape()[1], static_cast<float>(beta),
                    c.ptr<float>(), N);
        return c;
      },
      py::arg("a"), py::arg("b"), py::arg("c") = py::none(), py::arg("trans_a") = false,
      py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
      py::arg("dtype") = "float16",
      "c = alpha * op(a) @ op(b) + beta * c with a, b (float32) packed to float16 / bfloat16 "
      "on the device and multiplied on tensor cores with float32 accumulation (c float32, "
      "allocated when None).");
}
