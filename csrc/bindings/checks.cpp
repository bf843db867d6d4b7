#include "bindings/checks.h"

#include <cstring>
#include <sstream>

namespace gradcore::bindings {

const char* dtype_name(DType d) {
  switch (d) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kInt64:
      return "int64";
    case DType::kUInt8:
      return "uint8";
  }
  return "?";
}

std::string shape_str(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << (i ? ", " : "") << a.shape(i);
  if (a.ndim() == 1) s << ",";
  s << ")";
  return s.str();
}

void fail_value(const std::string& op, const std::string& msg) {
  throw py::value_error(op + ": " + msg);
}
void fail_type(const std::string& op, const std::string& msg) {
  throw py::type_error(op + ": " + msg);
}

namespace {
bool has_dtype(const py::array& a, DType dt) {
  switch (dt) {
    case DType::kFloat32:
      return a.dtype().is(py::dtype::of<float>());
    case DType::kFloat64:
      return a.dtype().is(py::dtype::of<double>());
    case DType::kInt64:
      return a.dtype().is(py::dtype::of<int64_t>());
    case DType::kUInt8:
      return a.dtype().is(py::dtype::of<uint8_t>());
  }
  return false;
}
std::string dtype_of(const py::array& a) {
  return py::str(a.dtype()).cast<std::string>();
}
}  // namespace

DType float_dtype(const py::array& a, const char* op, const char* arg) {
  if (has_dtype(a, DType::kFloat32)) return DType::kFloat32;
  if (has_dtype(a, DType::kFloat64)) return DType::kFloat64;
  fail_type(op, std::string(arg) + " must be float32 or float64, got " + dtype_of(a));
}

void check_array(const py::array& a, const char* op, const char* arg, DType dt, int ndim) {
  if (!has_dtype(a, dt))
    fail_type(op, std::string(arg) + " must be " + dtype_name(dt) + ", got " + dtype_of(a));
  if (ndim >= 0 && a.ndim() != ndim)
    fail_value(op, std::string(arg) + " must have " + std::to_string(ndim) +
                       " dimensions, got shape " + shape_str(a));
  if (!(a.flags() & py::array::c_style))
    fail_value(op, std::string(arg) + " must be C-contiguous (call numpy.ascontiguousarray)");
}

void check_output(const py::array& a, const char* op, const char* arg, DType dt, int ndim) {
  check_array(a, op, arg, dt, ndim);
  if (!a.writeable()) fail_value(op, std::string(arg) + " must be writable");
}

void check_shape(const py::array& a, const char* op, const char* arg,
                 std::initializer_list<int64_t> shape) {
  bool ok = static_cast<size_t>(a.ndim()) == shape.size();
  int i = 0;
  for (int64_t s : shape) ok = ok && (i < a.ndim() && a.shape(i++) == s);
  if (!ok) {
    std::ostringstream want;
    want << "(";
    i = 0;
    for (int64_t s : shape) want << (i++ ? ", " : "") << s;
    if (shape.size() == 1) want << ",";
    want << ")";
    fail_value(op, std::string(arg) + " must have shape " + want.str() + ", got " + shape_str(a));
  }
}

void check_same_shape(const py::array& a, const py::array& b, const char* op, const char* arg_a,
                      const char* arg_b) {
  bool ok = a.ndim() == b.ndim();
  for (py::ssize_t i = 0; ok && i < a.ndim(); ++i) ok = a.shape(i) == b.shape(i);
  if (!ok)
    fail_value(op, std::string(arg_a) + " " + shape_str(a) + " and " + arg_b + " " + shape_str(b) +
                       " must have the same shape");
}

void check_no_overlap(const py::array& out, const py::array& in, const char* op,
                      const char* out_arg, const char* in_arg) {
  auto lo_o = reinterpret_cast<uintptr_t>(out.data());
  auto hi_o = lo_o + static_cast<uintptr_t>(out.nbytes());
  auto lo_i = reinterpret_cast<uintptr_t>(in.data());
  auto hi_i = lo_i + static_cast<uintptr_t>(in.nbytes());
  if (out.nbytes() > 0 && in.nbytes() > 0 && lo_o < hi_i && lo_i < hi_o)
    fail_value(op, std::string(out_arg) + " must not share memory with " + in_arg);
}

void check_positive(int64_t value, const char* op, const char* arg, bool allow_zero) {
  if (value < 0 || (!allow_zero && value == 0))
    fail_value(op, std::string(arg) + " must be " + (allow_zero ? ">= 0" : "> 0") + ", got " +
                       std::to_string(value));
}

py::array new_array(DType dt, const std::vector<int64_t>& shape, bool zero) {
  std::vector<py::ssize_t> s(shape.begin(), shape.end());
  py::array a;
  switch (dt) {
    case DType::kFloat32:
      a = py::array_t<float>(s);
      break;
    case DType::kFloat64:
      a = py::array_t<double>(s);
      break;
    case DType::kInt64:
      a = py::array_t<int64_t>(s);
      break;
    case DType::kUInt8:
      a = py::array_t<uint8_t>(s);
      break;
  }
  if (zero && a.nbytes() > 0) std::memset(a.mutable_data(), 0, static_cast<size_t>(a.nbytes()));
  return a;
}

}  // namespace gradcore::bindings
