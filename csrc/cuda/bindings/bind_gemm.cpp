// gemm on DeviceArray through cuBLAS (the CPU binding's name and arguments), and the loader.
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/registry.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/bindings/gemm_args.h"
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
        const GemmDims d = gemm_dims(a, b, trans_a, trans_b, op);
        DeviceGuard guard(a.device());
        DeviceArray c = gemm_output(c_obj, a, d, &beta, op);
        gc::sgemm(trans_a, trans_b, d.M, d.N, d.K, static_cast<float>(alpha), a.ptr<float>(),
                  a.shape()[1], b.ptr<float>(), b.shape()[1], static_cast<float>(beta),
                  c.ptr<float>(), d.N);
        return c;
      },
      py::arg("a"), py::arg("b"), py::arg("c") = py::none(), py::arg("trans_a") = false,
      py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
      "c = alpha * op(a) @ op(b) + beta * c through cuBLAS (float32; c allocated when None).");
}
