// gemm on DeviceArray through cuBLAS (the CPU binding's name and arguments), and the loader.
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/registry.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/cublas.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
using gc::DeviceArray;

GRADCORE_BINDINGS(gemm) {
  using namespace gradcore::cuda::bindings;
  m.def("load_cublas", &gc::load_cublas, py::arg("path") = "",
        "Load libcublas from `path` ('' = the loader's search path); once per process.");
  m.def("cublas_loaded", &gc::cublas_loaded);
  m.def("cublas_path", &gc::cublas_path);
  m.def(
      "gemm",
      [](const DeviceArray& a, const DeviceArray& b, py::object c_obj, bool trans_a, bool trans_b,
         double alpha, double beta) {
        const char* op = "gemm";
        check_float32(a, op, "a");
        check_float32(b, op, "b");
        check_same_device(a, b, op, "a", "b");
        if (a.shape().size() != 2 || b.shape().size() != 2)
          throw py::value_error("gemm: a and b must be 2-d, got a " + a.shape_str() + ", b " +
                                b.shape_str());
        const int64_t M = trans_a ? a.shape()[1] : a.shape()[0];
        const int64_t Ka = trans_a ? a.shape()[0] : a.shape()[1];
        const int64_t Kb = trans_b ? b.shape()[1] : b.shape()[0];
        const int64_t N = trans_b ? b.shape()[0] : b.shape()[1];
        if (Ka != Kb)
          throw py::value_error("gemm: inner sizes differ: op(a) is " + std::to_string(M) + "x" +
                                std::to_string(Ka) + " but op(b) is " + std::to_string(Kb) + "x" +
                                std::to_string(N));
        DeviceGuard guard(a.device());
        DeviceArray c =
            c_obj.is_none() ? DeviceArray({M, N}, a.dtype()) : c_obj.cast<DeviceArray>();
        if (c_obj.is_none()) {
          beta = 0.0;
        } else {
          check_float32(c, op, "c");
          check_same_device(a, c, op, "a", "c");
          if (c.shape() != std::vector<int64_t>{M, N})
            throw py::value_error("gemm: c must have shape (" + std::to_string(M) + ", " +
                                  std::to_string(N) + "), got " + c.shape_str());
        }
        gc::sgemm(trans_a, trans_b, M, N, Ka, static_cast<float>(alpha), a.ptr<float>(),
                  a.shape()[1], b.ptr<float>(), b.shape()[1], static_cast<float>(beta),
                  c.ptr<float>(), N);
        return c;
      },
      py::arg("a"), py::arg("b"), py::arg("c") = py::none(), py::arg("trans_a") = false,
      py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
      "c = alpha * op(a) @ op(b) + beta * c through cuBLAS (float32; c allocated when None).");
}
