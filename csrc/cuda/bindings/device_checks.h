// Argument checks of the _C_cuda bindings (the DeviceArray counterparts of
// bindings/checks.h): TypeError / ValueError naming the op and the argument.
#pragma once
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/arg_checks.h"
#include "cuda/device_array.h"
#include "cuda/runtime.h"

namespace gradcore::cuda::bindings {

namespace py = pybind11;

[[noreturn]] inline void fail_value(const std::string& op, const std::string& msg) {
  throw py::value_error(op + ": " + msg);
}
[[noreturn]] inline void fail_type(const std::string& op, const std::string& msg) {
  throw py::type_error(op + ": " + msg);
}

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

// `a` has exactly `ndim` dimensions.
inline void check_rank(const DeviceArray& a, std::size_t ndim, const char* op, const char* arg) {
  if (a.shape().size() != ndim)
    fail_value(op, std::string(arg) + " must have " + std::to_string(ndim) +
                       " dimensions, got shape " + a.shape_str());
}

using argcheck::check_range;  // core/arg_checks.h, shared with _C
using argcheck::num_str;

// An optional DeviceArray argument: nullptr for None, TypeError for anything else that is not
// a DeviceArray.
inline const DeviceArray* optional_device_array(const py::object& o, const char* op,
                                                const char* arg) {
  if (o.is_none()) return nullptr;
  if (!py::isinstance<DeviceArray>(o))
    fail_type(op, std::string(arg) + " must be a DeviceArray or None, got " +
                      py::str(py::type::of(o)).cast<std::string>());
  return o.cast<const DeviceArray*>();
}

// An argument of a call that writes some of its arrays (nullptr: an absent optional one).
struct NamedArray {
  const DeviceArray* a;
  const char* name;
  bool written;
};
// No array the call writes shares memory with another argument.
inline void check_no_aliasing(const std::vector<NamedArray>& arrays, const char* op) {
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    if (!arrays[i].written || !arrays[i].a) continue;
    for (std::size_t j = 0; j < arrays.size(); ++j) {
      if (j == i || !arrays[j].a || (arrays[j].written && j < i)) continue;
      const DeviceArray& o = *arrays[i].a;
      const DeviceArray& in = *arrays[j].a;
      const auto lo_o = reinterpret_cast<std::uintptr_t>(o.data());
      const auto hi_o = lo_o + o.nbytes();
      const auto lo_i = reinterpret_cast<std::uintptr_t>(in.data());
      const auto hi_i = lo_i + in.nbytes();
      if (o.nbytes() > 0 && in.nbytes() > 0 && lo_o < hi_i && lo_i < hi_o)
        fail_value(op,
                   std::string(arrays[i].name) + " must not share memory with " + arrays[j].name);
    }
  }
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
