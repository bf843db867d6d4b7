// Argument checks of the _C_cuda GEMM bindings (gemm, gemm_lowp), written once: float32
// operands on one device with matching inner sizes, and the output c.
#pragma once
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cuda/bindings/device_checks.h"

namespace gradcore::cuda::bindings {

// op(a) is M x K, op(b) is K x N.
struct GemmDims {
  int64_t M, N, K;
};

// a, b: float32, 2-d, on one device, op(a)'s columns = op(b)'s rows.
inline GemmDims gemm_dims(const DeviceArray& a, const DeviceArray& b, bool trans_a, bool trans_b,
                          const char* op) {
  check_float32(a, op, "a");
  check_float32(b, op, "b");
  check_same_device(a, b, op, "a", "b");
  if (a.shape().size() != 2 || b.shape().size() != 2)
    fail_value(op, "a and b must be 2-d, got a " + a.shape_str() + ", b " + b.shape_str());
  const int64_t M = trans_a ? a.shape()[1] : a.shape()[0];
  const int64_t Ka = trans_a ? a.shape()[0] : a.shape()[1];
  const int64_t Kb = trans_b ? b.shape()[1] : b.shape()[0];
  const int64_t N = trans_b ? b.shape()[0] : b.shape()[1];
  if (Ka != Kb)
    fail_value(op, "inner sizes differ: op(a) is " + std::to_string(M) + "x" + std::to_string(Ka) +
                       " but op(b) is " + std::to_string(Kb) + "x" + std::to_string(N));
  return {M, N, Ka};
}

// The output: c_obj, checked (float32 (M, N) on a's device), or when None a new float32
// (M, N) array on the current device, with *beta set to 0 (nothing to accumulate into).
inline DeviceArray gemm_output(const py::object& c_obj, const DeviceArray& a, const GemmDims& d,
                               double* beta, const char* op) {
  if (c_obj.is_none()) {
    *beta = 0.0;
    return DeviceArray({d.M, d.N}, DType::kFloat32);
  }
  DeviceArray c = c_obj.cast<DeviceArray>();
  check_float32(c, op, "c");
  check_same_device(a, c, op, "a", "c");
  if (c.shape() != std::vector<int64_t>{d.M, d.N})
    fail_value(op, "c must have shape (" + std::to_string(d.M) + ", " + std::to_string(d.N) +
                       "), got " + c.shape_str());
  return c;
}

}  // namespace gradcore::cuda::bindings
