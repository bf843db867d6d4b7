// Argument checks shared by all bindings. Every binding validates dtype, contiguity,
// rank, shapes and aliasing before a kernel runs, and raises TypeError / ValueError
// naming the op, what it expected and what it got. Kernels then trust their inputs.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/fpmode.h"

namespace gradcore::bindings {

namespace py = pybind11;

enum class DType { kFloat32, kFloat64, kInt64, kUInt8 };

const char* dtype_name(DType d);
std::string shape_str(const py::array& a);

// The float dtype of `a` (float32 or float64); TypeError otherwise.
DType float_dtype(const py::array& a, const char* op, const char* arg);

// `a` has dtype `dt`, is C-contiguous and has `ndim` dimensions (ndim < 0: any rank).
void check_array(const py::array& a, const char* op, const char* arg, DType dt, int ndim = -1);
// As check_array, and `a` must be writable (outputs and in-place arguments).
void check_output(const py::array& a, const char* op, const char* arg, DType dt, int ndim = -1);
// `a` has exactly `shape`.
void check_shape(const py::array& a, const char* op, const char* arg,
                 std::initializer_list<int64_t> shape);
void check_same_shape(const py::array& a, const py::array& b, const char* op, const char* arg_a,
                      const char* arg_b);
// The memory of `out` does not overlap the memory of `in`.
void check_no_overlap(const py::array& out, const py::array& in, const char* op,
                      const char* out_arg, const char* in_arg);
// value > 0 (or >= 0 when allow_zero).
void check_positive(int64_t value, const char* op, const char* arg, bool allow_zero = false);

[[noreturn]] void fail_value(const std::string& op, const std::string& msg);
[[noreturn]] void fail_type(const std::string& op, const std::string& msg);

// A new C-contiguous array of `dt` and `shape` (uninitialised unless zero).
py::array new_array(DType dt, const std::vector<int64_t>& shape, bool zero = false);

template <typename T>
T* data_ptr(py::array& a) {
  return static_cast<T*>(a.mutable_data());
}
template <typename T>
const T* data_ptr(const py::array& a) {
  return static_cast<const T*>(a.data());
}

inline int64_t dim(const py::array& a, int i) {
  return static_cast<int64_t>(a.shape(i));
}

// Calls f(float{}) or f(double{}) for the float dtype dt.
template <typename F>
decltype(auto) dispatch_float(DType dt, F&& f) {
  if (dt == DType::kFloat64) return f(double{});
  return f(float{});
}

// Runs a kernel with the GIL released and flush-to-zero set on the calling thread.
template <typename F>
void run_kernel(F&& f) {
  py::gil_scoped_release nogil;
  DenormalGuard ftz;
  f();
}

}  // namespace gradcore::bindings
