// CUDA sum_rows on DeviceArray (float32): the name and argument of _C's
// (csrc/bindings/bind_elementwise.cpp), the bias gradient of F.linear.
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/registry.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/linear.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
using gc::DeviceArray;

GRADCORE_BINDINGS(linear) {
  using namespace gradcore::cuda::bindings;
  m.def(
      "sum_rows",
      [](const DeviceArray& x) {
        const char* op = "sum_rows";
        check_float32(x, op, "x");
        if (x.shape().size() != 2)
          throw py::value_error(std::string(op) + ": x must have 2 dimensions, got shape " +
                                x.shape_str());
        const int64_t R = x.shape()[0], C = x.shape()[1];
        DeviceGuard guard(x.device());
        DeviceArray out({C}, gc::DType::kFloat32);
        gc::sum_rows(x.ptr<float>(), out.ptr<float>(), R, C);
        return out;
      },
      py::arg("x"), "Column sums of x (R, C) -> (C,), deterministic (fixed block tree).");
}
