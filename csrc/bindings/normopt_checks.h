// Argument checks shared by the normalisation, dropout and optimizer bindings, on top of
// checks.h: optional array arguments, scalar ranges, per-channel vectors, state buffers.
#pragma once
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "bindings/checks.h"

namespace gradcore::bindings {

// An optional numpy array argument: a null handle (false in a bool context) for None;
// TypeError for a non-array (a list would be copied, and an in-place update of the copy
// would be lost).
inline py::array optional_array(const py::object& obj, const char* op, const char* arg) {
  if (obj.is_none()) return py::reinterpret_steal<py::array>(py::handle());
  if (!py::isinstance<py::array>(obj))
    fail_type(op, std::string(arg) + " must be a numpy array or None, got " +
                      py::str(py::type::of(obj)).cast<std::string>());
  return obj.cast<py::array>();
}

template <typename T>
T* optional_ptr(py::array& a) {
  return a ? data_ptr<T>(a) : nullptr;
}
template <typename T>
const T* optional_cptr(const py::array& a) {
  return a ? data_ptr<T>(a) : nullptr;
}

inline std::string num_str(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// lo <= v <= hi (strict at an end when lo_open / hi_open); NaN always fails.
inline void check_range(double v, const char* op, const char* arg, double lo, double hi,
                        bool lo_open = false, bool hi_open = false) {
  const bool ok = (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  if (!ok) {
    std::string range = std::string(lo_open ? "(" : "[") + num_str(lo) + ", " +
                        (std::isinf(hi) ? "inf" : num_str(hi)) + (hi_open ? ")" : "]");
    fail_value(op, std::string(arg) + " must be in " + range + ", got " + num_str(v));
  }
}

// `a` has dtype dt, is C-contiguous, 1-d of length C (writable when `output`).
inline void check_vector(const py::array& a, const char* op, const char* arg, DType dt, int64_t C,
                         bool output) {
  if (float_dtype(a, op, arg) != dt)
    fail_type(op, std::string(arg) + " must have the input's dtype " + dtype_name(dt) + ", got " +
                      dtype_name(float_dtype(a, op, arg)));
  if (output)
    check_output(a, op, arg, dt, 1);
  else
    check_array(a, op, arg, dt, 1);
  check_shape(a, op, arg, {C});
}

// A float array with the same dtype as the reference argument (TypeError otherwise).
inline void check_same_dtype(const py::array& a, DType dt, const char* op, const char* arg,
                             const char* ref) {
  const DType d = float_dtype(a, op, arg);
  if (d != dt)
    fail_type(op, std::string(arg) + " must have the same dtype as " + ref + " (" + dtype_name(dt) +
                      "), got " + dtype_name(d));
}

// Named arrays that are written by a call must not overlap each other or any other argument.
struct NamedArray {
  const py::array* a;
  const char* name;
  bool written;
};
inline void check_no_aliasing(const std::vector<NamedArray>& arrays, const char* op) {
  for (size_t i = 0; i < arrays.size(); ++i) {
    if (!arrays[i].written || !*arrays[i].a) continue;
    for (size_t j = 0; j < arrays.size(); ++j) {
      if (j == i || !*arrays[j].a || (arrays[j].written && j < i)) continue;
      check_no_overlap(*arrays[i].a, *arrays[j].a, op, arrays[i].name, arrays[j].name);
    }
  }
}

inline int64_t numel(const py::array& a) {
  return static_cast<int64_t>(a.size());
}

}  // namespace gradcore::bindings
