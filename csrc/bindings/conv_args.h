// Argument parsing shared by the convolution and pooling bindings: (h, w) pairs given as an
// int or a 2-sequence of ints, and 4-d shapes, with errors that name the op and argument.
#pragma once
#include <pybind11/pybind11.h>

#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "bindings/checks.h"

namespace gradcore::bindings {

// An integer (Python int or numpy integer; not bool).
inline bool is_index(const py::handle& v) {
  return PyIndex_Check(v.ptr()) && !PyBool_Check(v.ptr());
}
inline int64_t index_value(const py::handle& v) {
  return py::reinterpret_steal<py::int_>(PyNumber_Index(v.ptr())).cast<int64_t>();
}

// An (h, w) pair from an int (used for both) or a sequence of two ints.
inline std::pair<int64_t, int64_t> pair_arg(const py::handle& h, const char* op, const char* name) {
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

// Both elements > 0 (or >= 0 with allow_zero).
inline void check_pair(const std::pair<int64_t, int64_t>& v, const char* op, const char* name,
                       bool allow_zero = false) {
  if (v.first < 0 || v.second < 0 || (!allow_zero && (v.first == 0 || v.second == 0)))
    fail_value(op, std::string(name) + " must be " + (allow_zero ? ">= 0" : "> 0") + ", got (" +
                       std::to_string(v.first) + ", " + std::to_string(v.second) + ")");
}

// A 4-d shape (N, C, H, W) of ints >= 0 (N, C) and > 0 (H, W).
inline std::array<int64_t, 4> shape4_arg(const py::handle& h, const char* op, const char* name) {
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

inline std::string pair_str(int64_t a, int64_t b) {
  return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

}  // namespace gradcore::bindings
