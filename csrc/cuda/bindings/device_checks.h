// Argument checks of the _C_cuda bindings (the DeviceArray counterparts of
// bindings/checks.h): TypeError / ValueError naming the op and the argument.
#pragma once
#include <pybind11/pybind11.h>

#include <string>

#include "cuda/device_array.h"
#include "cuda/runtime.h"

namespace gradcore::cuda::bindings {

namespace py = pybind11;

// `a` is float32 (the dtype of the CUDA kernels).
inline void check_float32(const DeviceArray& a, const char* op, const char* arg) {
  if (a.dtype() != DType::kFloat32)
    throw py::type_error(std::string(op) + ": " + arg + " must be float32 on CUDA, got " +
                         dtype_name(a.dtype()));
}

inline void check_same_shape(const DeviceArray& a, const DeviceArray& b, const char* op,
                             const char* arg_a, const char* arg_b) {
  if (a.shape() != b.shape())
    throw py::value_error(std::string(op) + ": " + arg_a + " " + a.shape_str() + " and " + arg_b +
                          " " + b.shape_str() + " must have the same shape");
}

inline void check_same_device(const DeviceArray& a, const DeviceArray& b, const char* op,
                              const char* arg_a, const char* arg_b) {
  if (a.device() != b.device())
    throw py::value_error(std::string(op) + ": " + arg_a +
                          " is on cuda:" + std::to_string(a.device()) + " and " + arg_b +
                          " on cuda:" + std::to_string(b.device()));
}

// Makes `device` current for the scope of one binding call (outputs are allocated there and
// kernels run there), restoring the previous device after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) : previous_(current_device()) {
    if (device != previous_) set_device(device);
  }
  ~DeviceGuard() {
    if (current_device() != previous_) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_;
};

}  // namespace gradcore::cuda::bindings
