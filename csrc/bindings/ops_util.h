// Argument helpers shared by the ops bindings (activations, softmax, losses, linear,
// elementwise): float dtype agreement, reduction names, optional arrays, class targets.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bindings/checks.h"
#include "cpu/loss.h"

namespace gradcore::bindings {

inline std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

// The float dtype of `a`, which must be C-contiguous (any rank unless ndim >= 0).
inline DType float_input(const py::array& a, const char* op, const char* arg, int ndim = -1) {
  const DType dt = float_dtype(a, op, arg);
  check_array(a, op, arg, dt, ndim);
  return dt;
}

// `b` is a C-contiguous float array of dtype `dt` (the dtype of `a_name`).
inline void same_float(const py::array& b, DType dt, const char* op, const char* arg,
                       const char* a_name, int ndim = -1) {
  const DType db = float_dtype(b, op, arg);
  if (db != dt)
    fail_type(op, std::string(arg) + " must have the same dtype as " + a_name + " (" +
                      dtype_name(dt) + "), got " + dtype_name(db));
  check_array(b, op, arg, dt, ndim);
}

inline Reduction parse_reduction(const std::string& r, const char* op) {
  if (r == "mean") return Reduction::kMean;
  if (r == "sum") return Reduction::kSum;
  if (r == "none") return Reduction::kNone;
  fail_value(op, "reduction must be one of 'mean', 'sum', 'none', got '" + r + "'");
}

inline bool parse_approximate(const std::string& a, const char* op) {
  if (a == "none") return false;
  if (a == "tanh") return true;
  fail_value(op, "approximate must be one of 'none', 'tanh', got '" + a + "'");
}

// A Python number (int or float, not bool, not str) as double; TypeError otherwise.
inline double number_arg(const py::object& o, const char* op, const char* arg) {
  if (py::isinstance<py::bool_>(o) || py::isinstance<py::str>(o) || !py::hasattr(o, "__float__"))
    fail_type(op, std::string(arg) + " must be a float, got " +
                      py::str(py::type::of(o).attr("__name__")).cast<std::string>());
  return o.cast<double>();
}

// int64 class targets (N,) with every value in [0, C) or equal to ignore_index.
inline void check_targets(const py::array& target, int64_t N, int64_t C, int64_t ignore_index,
                          const char* op) {
  check_array(target, op, "target", DType::kInt64, 1);
  if (dim(target, 0) != N)
    fail_value(op, "target has " + std::to_string(dim(target, 0)) + " entries but the input has " +
                       std::to_string(N) + " rows (target " + shape_str(target) + ")");
  const auto* t = static_cast<const int64_t*>(target.data());
  for (int64_t i = 0; i < N; ++i) {
    if (t[i] != ignore_index && (t[i] < 0 || t[i] >= C))
      fail_value(op, "target " + std::to_string(t[i]) + " at index " + std::to_string(i) +
                         " is out of range [0, " + std::to_string(C) +
                         ") (ignore_index=" + std::to_string(ignore_index) + ")");
  }
}

// An optional float array (None -> nullptr) of dtype `dt` and exactly `shape`.
inline const void* optional_array(const py::object& o, DType dt, const char* op, const char* arg,
                                  std::initializer_list<int64_t> shape, const char* a_name) {
  if (o.is_none()) return nullptr;
  if (!py::isinstance<py::array>(o))
    fail_type(op, std::string(arg) + " must be a numpy array or None");
  py::array a = o.cast<py::array>();
  same_float(a, dt, op, arg, a_name);
  check_shape(a, op, arg, shape);
  return a.data();
}

// grad_out of a loss: one element for mean/sum, `none_shape` for none.
inline void check_grad_out(const py::array& g, DType dt, Reduction r,
                           const std::vector<int64_t>& none_shape, const char* op) {
  same_float(g, dt, op, "grad_out", "the input");
  if (r == Reduction::kNone) {
    bool ok = static_cast<size_t>(g.ndim()) == none_shape.size();
    for (size_t i = 0; ok && i < none_shape.size(); ++i)
      ok = dim(g, static_cast<int>(i)) == none_shape[i];
    if (!ok) {
      std::string want = "(";
      for (size_t i = 0; i < none_shape.size(); ++i)
        want += (i ? ", " : "") + std::to_string(none_shape[i]);
      want += none_shape.size() == 1 ? ",)" : ")";
      fail_value(op,
                 "grad_out must have shape " + want + " for reduction='none', got " + shape_str(g));
    }
  } else if (g.size() != 1) {
    fail_value(op, "grad_out must have one element for reduction='mean' or 'sum', got shape " +
                       shape_str(g));
  }
}

// Output array for a loss: 0-d for mean/sum, `none_shape` for none.
inline py::array loss_output(DType dt, Reduction r, const std::vector<int64_t>& none_shape) {
  return new_array(dt, r == Reduction::kNone ? none_shape : std::vector<int64_t>{});
}

}  // namespace gradcore::bindings
