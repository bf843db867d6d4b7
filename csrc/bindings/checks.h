// The argument helpers of every binding (the one header for them): dtype, contiguity, rank,
// shape and aliasing checks, optional arrays, Python numbers, (h, w) pairs and 4-d shapes.
// Every binding validates its arguments before a kernel runs and raises TypeError /
// ValueError naming the op, what it expected and what it got. Kernels then trust their inputs.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "core/arg_checks.h"
#include "core/fpmode.h"
#include "core/shapes.h"

namespace gradcore::bindings {

namespace py = pybind11;

// kBFloat16Bits: bfloat16 values as their uint16 bit patterns (gradcore.bfloat16 storage).
enum class DType { kFloat32, kFloat64, kInt64, kUInt8, kBFloat16Bits };

const char* dtype_name(DType d);
std::string shape_str(const py::array& a);

// The float dtype of `a` (float32 or float64); TypeError otherwise.
DType float_dtype(const py::array& a, const char* op, const char* arg);

using argcheck::num_str;  // core/arg_checks.h: shared with _C_cuda
// "(a, b)".
inline std::string pair_str(int64_t a, int64_t b) {
  return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
}
inline std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}
inline int64_t numel(const py::array& a) {
  return static_cast<int64_t>(a.size());
}

// `a` has dtype `dt`, is C-contiguous and has `ndim` dimensions (ndim < 0: any rank).
void check_array(const py::array& a, const char* op, const char* arg, DType dt, int ndim = -1);
// As check_array, and `a` must be writable (outputs and in-place arguments).
void check_output(const py::array& a, const char* op, const char* arg, DType dt, int ndim = -1);
// The float dtype of `a`, which must be C-contiguous (any rank unless ndim >= 0).
DType float_input(const py::array& a, const char* op, const char* arg, int ndim = -1);
// `a` is a float array of dtype `dt`, the dtype of the argument named `ref` (TypeError
// "<arg> must have the same dtype as <ref> (...)" otherwise).
void check_same_dtype(const py::array& a, DType dt, const char* op, const char* arg,
                      const char* ref);
// check_same_dtype, and `a` is C-contiguous with `ndim` dimensions (ndim < 0: any rank).
void same_float(const py::array& a, DType dt, const char* op, const char* arg, const char* ref,
                int ndim = -1);
// `a` has dtype dt, is C-contiguous, 1-d of length C (writable when `output`).
void check_vector(const py::array& a, const char* op, const char* arg, DType dt, int64_t C,
                  bool output);
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

// lo <= v <= hi (strict at an end when lo_open / hi_open); NaN always fails.
using argcheck::check_range;

// Named arrays that are written by a call must not overlap each other or any other argument.
struct NamedArray {
  const py::array* a;
  const char* name;
  bool written;
};
void check_no_aliasing(const std::vector<NamedArray>& arrays, const char* op);

// An optional numpy array argument: a null handle (false in a bool context) for None;
// TypeError for a non-array (a list would be copied, and an in-place update of the copy
// would be lost).
py::array optional_array(const py::object& obj, const char* op, const char* arg);
template <typename T>
T* optional_ptr(py::array& a) {
  return a ? static_cast<T*>(a.mutable_data()) : nullptr;
}
template <typename T>
const T* optional_cptr(const py::array& a) {
  return a ? static_cast<const T*>(a.data()) : nullptr;
}

// A Python number (int or float, not bool, not str) as double; TypeError otherwise.
double number_arg(const py::object& o, const char* op, const char* arg);

// An integer (Python int or numpy integer; not bool).
inline bool is_index(const py::handle& v) {
  return PyIndex_Check(v.ptr()) && !PyBool_Check(v.ptr());
}
int64_t index_value(const py::handle& v);
// An (h, w) pair from an int (used for both) or a sequence of two ints.
std::pair<int64_t, int64_t> pair_arg(const py::handle& h, const char* op, const char* name);
// Both elements > 0 (or >= 0 with allow_zero).
void check_pair(const std::pair<int64_t, int64_t>& v, const char* op, const char* name,
                bool allow_zero = false);
// A 4-d shape (N, C, H, W) of ints >= 0 (N, C) and > 0 (H, W).
std::array<int64_t, 4> shape4_arg(const py::handle& h, const char* op, const char* name);

// Sets g.OH and g.OW (set_output_size) after checking that every index along each axis fits
// in int64 (window_fits_int64): ValueError naming the op, the axis and the window arguments
// otherwise. `kernel` is the name of the kernel-size argument.
void set_window_output(Window2d& g, bool ceil_mode, const char* op, const char* kernel);
// The product of `dims`, checked: ValueError "<op>: <what> (...) has too many elements" when
// the product, or its size in bytes at elem_size bytes per element, overflows int64.
int64_t checked_numel(std::initializer_list<int64_t> dims, int64_t elem_size, const char* op,
                      const std::string& what);

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

// Elementwise passes over fewer elements than this keep the GIL: releasing and taking it
// back costs ~30 ns, about what such a pass takes (1024 floats: ~0.1 us on one core), and no
// other Python thread gets useful time in between.
constexpr int64_t kKeepGilBelowElements = 1024;

// run_kernel for an elementwise pass over `elements` elements (see kKeepGilBelowElements).
template <typename F>
void run_elementwise_kernel(int64_t elements, F&& f) {
  if (elements >= kKeepGilBelowElements) return run_kernel(std::forward<F>(f));
  DenormalGuard ftz;
  f();
}

}  // namespace gradcore::bindings
