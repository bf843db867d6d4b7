#include "bindings/checks.h"

#include <cmath>
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
    case DType::kBFloat16Bits:
      return "bfloat16 bit patterns (uint16)";
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
    case DType::kBFloat16Bits:
      return a.dtype().kind() == 'u' && a.itemsize() == 2;
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
    case DType::kBFloat16Bits:
      a = py::array_t<uint16_t>(s);
      break;
  }
  if (zero && a.nbytes() > 0) std::memset(a.mutable_data(), 0, static_cast<size_t>(a.nbytes()));
  return a;
}

DType float_input(const py::array& a, const char* op, const char* arg, int ndim) {
  const DType dt = float_dtype(a, op, arg);
  check_array(a, op, arg, dt, ndim);
  return dt;
}

void check_same_dtype(const py::array& a, DType dt, const char* op, const char* arg,
                      const char* ref) {
  const DType d = float_dtype(a, op, arg);
  if (d != dt)
    fail_type(op, std::string(arg) + " must have the same dtype as " + ref + " (" + dtype_name(dt) +
                      "), got " + dtype_name(d));
}

void same_float(const py::array& a, DType dt, const char* op, const char* arg, const char* ref,
                int ndim) {
  check_same_dtype(a, dt, op, arg, ref);
  check_array(a, op, arg, dt, ndim);
}

void check_vector(const py::array& a, const char* op, const char* arg, DType dt, int64_t C,
                  bool output) {
  check_same_dtype(a, dt, op, arg, "the input");
  if (output)
    check_output(a, op, arg, dt, 1);
  else
    check_array(a, op, arg, dt, 1);
  check_shape(a, op, arg, {C});
}

void check_no_aliasing(const std::vector<NamedArray>& arrays, const char* op) {
  for (size_t i = 0; i < arrays.size(); ++i) {
    if (!arrays[i].written || !*arrays[i].a) continue;
    for (size_t j = 0; j < arrays.size(); ++j) {
      if (j == i || !*arrays[j].a || (arrays[j].written && j < i)) continue;
      check_no_overlap(*arrays[i].a, *arrays[j].a, op, arrays[i].name, arrays[j].name);
    }
  }
}

py::array optional_array(const py::object& obj, const char* op, const char* arg) {
  if (obj.is_none()) return py::reinterpret_steal<py::array>(py::handle());
  if (!py::isinstance<py::array>(obj))
    fail_type(op, std::string(arg) + " must be a numpy array or None, got " +
                      py::str(py::type::of(obj)).cast<std::string>());
  return obj.cast<py::array>();
}

double number_arg(const py::object& o, const char* op, const char* arg) {
  if (py::isinstance<py::bool_>(o) || py::isinstance<py::str>(o) || !py::hasattr(o, "__float__"))
    fail_type(op, std::string(arg) + " must be a float, got " +
                      py::str(py::type::of(o).attr("__name__")).cast<std::string>());
  return o.cast<double>();
}

int64_t index_value(const py::handle& v) {
  return py::reinterpret_steal<py::int_>(PyNumber_Index(v.ptr())).cast<int64_t>();
}

std::pair<int64_t, int64_t> pair_arg(const py::handle& h, const char* op, const char* name) {
  auto as_int = [&](const py::handle& v) -> int64_t {
    if (!is_index(v))
      fail_type(op, std::string(name) + " must be an int or a pair of ints, got " +
                        py::repr(h).cast<std::string>());
    return index_value(v);
  };
  if (is_index(h)) {
    const int64_t v = index_value(h);
    return {v, v};
  }
  if (py::isinstance<py::sequence>(h) && !py::isinstance<py::str>(h)) {
    auto seq = py::reinterpret_borrow<py::sequence>(h);
    if (seq.size() == 2) return {as_int(seq[0]), as_int(seq[1])};
    fail_value(op, std::string(name) + " must have 2 elements (h, w), got " +
                       py::repr(h).cast<std::string>());
  }
  fail_type(op, std::string(name) + " must be an int or a pair of ints, got " +
                    py::repr(h).cast<std::string>());
}

void check_pair(const std::pair<int64_t, int64_t>& v, const char* op, const char* name,
                bool allow_zero) {
  if (v.first < 0 || v.second < 0 || (!allow_zero && (v.first == 0 || v.second == 0)))
    fail_value(op, std::string(name) + " must be " + (allow_zero ? ">= 0" : "> 0") + ", got (" +
                       std::to_string(v.first) + ", " + std::to_string(v.second) + ")");
}

std::array<int64_t, 4> shape4_arg(const py::handle& h, const char* op, const char* name) {
  if (!py::isinstance<py::sequence>(h) || py::isinstance<py::str>(h))
    fail_type(op, std::string(name) + " must be a sequence of 4 ints (N, C, H, W)");
  auto seq = py::reinterpret_borrow<py::sequence>(h);
  if (seq.size() != 4)
    fail_value(op, std::string(name) + " must have 4 elements (N, C, H, W), got " +
                       py::repr(h).cast<std::string>());
  std::array<int64_t, 4> s{};
  for (int i = 0; i < 4; ++i) {
    if (!is_index(seq[i]))
      fail_type(op, std::string(name) + " must hold ints, got " + py::repr(h).cast<std::string>());
    s[i] = index_value(seq[i]);
    if (s[i] < 0 || (i >= 2 && s[i] == 0))
      fail_value(op, std::string(name) + " must have sizes >= 0 and H, W > 0, got " +
                         py::repr(h).cast<std::string>());
  }
  return s;
}

namespace {
void check_window_axis(const char* axis, int64_t in, int64_t k, int64_t st, int64_t pad,
                       int64_t dil, const char* op, const char* kernel) {
  if (window_fits_int64(in, k, st, pad, dil)) return;
  fail_value(op, std::string("the window overflows int64 along ") + axis + ": input " +
                     std::to_string(in) + " + 2 * padding " + std::to_string(pad) + " + dilation " +
                     std::to_string(dil) + " * (" + kernel + " " + std::to_string(k) +
                     " - 1) + stride " + std::to_string(st) + " must be at most 2^63 - 1");
}
}  // namespace

void set_window_output(Window2d& g, bool ceil_mode, const char* op, const char* kernel) {
  check_window_axis("H", g.H, g.R, g.sh, g.ph, g.dh, op, kernel);
  check_window_axis("W", g.W, g.S, g.sw, g.pw, g.dw, op, kernel);
  set_output_size(g, ceil_mode);
}

int64_t checked_numel(std::initializer_list<int64_t> dims, int64_t elem_size, const char* op,
                      const std::string& what) {
  int64_t n = 1, bytes = 0;
  bool overflow = false;
  for (int64_t d : dims) overflow = overflow || __builtin_mul_overflow(n, d, &n);
  overflow = overflow || __builtin_mul_overflow(n, elem_size, &bytes);
  if (overflow) {
    std::string s = "(";
    int i = 0;
    for (int64_t d : dims) s += (i++ ? ", " : "") + std::to_string(d);
    fail_value(op, what + " " + s + ") has too many elements: its size overflows int64");
  }
  return n;
}

}  // namespace gradcore::bindings
