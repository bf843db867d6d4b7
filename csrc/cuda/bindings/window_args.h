// Window arguments of the _C_cuda pooling and im2col bindings (the CUDA module does not link
// bindings/checks.cpp): (h, w) pairs, 4-d shapes and the pooling geometry, checked as _C's
// bindings check them, with TypeError / ValueError naming the op and the argument.
#pragma once
#include <pybind11/pybind11.h>

#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "core/shapes.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/device_array.h"
#include "cuda/im2col_threads.h"

namespace gradcore::cuda::bindings {

namespace py = pybind11;

inline std::string pair_str(int64_t a, int64_t b) {
  return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

inline bool is_index(const py::handle& v) {
  return PyIndex_Check(v.ptr()) && !PyBool_Check(v.ptr());
}
inline int64_t index_value(const py::handle& v) {
  return py::reinterpret_steal<py::int_>(PyNumber_Index(v.ptr())).cast<int64_t>();
}

// An (h, w) pair from an int (used for both) or a sequence of two ints.
inline std::pair<int64_t, int64_t> pair_arg(const py::handle& h, const char* op, const char* name) {
  if (is_index(h)) {
    const int64_t v = index_value(h);
    return {v, v};
  }
  if (py::isinstance<py::sequence>(h) && !py::isinstance<py::str>(h)) {
    auto seq = py::reinterpret_borrow<py::sequence>(h);
    if (seq.size() != 2)
      fail_value(op, std::string(name) + " must have 2 elements (h, w), got " +
                         py::repr(h).cast<std::string>());
    if (is_index(seq[0]) && is_index(seq[1])) return {index_value(seq[0]), index_value(seq[1])};
  }
  fail_type(op, std::string(name) + " must be an int or a pair of ints, got " +
                    py::repr(h).cast<std::string>());
}

// Both elements > 0 (or >= 0 with allow_zero).
inline void check_pair(const std::pair<int64_t, int64_t>& v, const char* op, const char* name,
                       bool allow_zero = false) {
  if (v.first < 0 || v.second < 0 || (!allow_zero && (v.first == 0 || v.second == 0)))
    fail_value(op, std::string(name) + " must be " + (allow_zero ? ">= 0" : "> 0") + ", got " +
                       pair_str(v.first, v.second));
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

// `a` is 4-d (N, C, H, W) with H, W > 0.
inline void check_image4(const DeviceArray& a, const char* op, const char* arg) {
  if (a.shape().size() != 4)
    fail_value(
        op, std::string(arg) + " must have 4 dimensions (N, C, H, W), got shape " + a.shape_str());
  if (a.shape()[2] < 1 || a.shape()[3] < 1)
    fail_value(op, std::string(arg) + " must have positive H and W, got shape " + a.shape_str());
}

// The window geometry of kernel_size / stride / padding / dilation over input (N, C, H, W),
// with OH, OW set (every channel its own window, as _C's pooling). `pooling`: PyTorch's
// pooling rule, padding at most half the kernel. The output must have at least one pixel.
inline Window2d window_params(const char* op, const std::array<int64_t, 4>& in,
                              const py::handle& kernel_size, const py::handle& stride,
                              const py::handle& padding, const py::handle& dilation, bool ceil_mode,
                              bool pooling, const char* kernel_name) {
  const auto k = pair_arg(kernel_size, op, kernel_name);
  check_pair(k, op, kernel_name);
  const auto s = stride.is_none() ? k : pair_arg(stride, op, "stride");
  check_pair(s, op, "stride");
  const auto pd = pair_arg(padding, op, "padding");
  check_pair(pd, op, "padding", /*allow_zero=*/true);
  const auto d = pair_arg(dilation, op, "dilation");
  check_pair(d, op, "dilation");
  if (pooling && (pd.first > k.first / 2 || pd.second > k.second / 2))
    fail_value(op, "padding " + pair_str(pd.first, pd.second) +
                       " must be at most half of kernel_size " + pair_str(k.first, k.second));
  Window2d p;
  p.N = in[0];
  p.C = in[1];
  p.H = in[2];
  p.W = in[3];
  p.K = p.C;
  p.groups = p.C;
  p.R = k.first;
  p.S = k.second;
  p.sh = s.first;
  p.sw = s.second;
  p.ph = pd.first;
  p.pw = pd.second;
  p.dh = d.first;
  p.dw = d.second;
  p.OH = window_out_size_hd(p.H, p.R, p.sh, p.ph, p.dh, ceil_mode);
  p.OW = window_out_size_hd(p.W, p.S, p.sw, p.pw, p.dw, ceil_mode);
  if (p.OH < 1 || p.OW < 1)
    fail_value(op, "output size " + pair_str(p.OH, p.OW) + " is too small for input " +
                       pair_str(p.H, p.W) + " (" + kernel_name + " " + pair_str(p.R, p.S) +
                       ", stride " + pair_str(p.sh, p.sw) + ", padding " + pair_str(p.ph, p.pw) +
                       ", dilation " + pair_str(p.dh, p.dw) + ")");
  return p;
}

}  // namespace gradcore::cuda::bindings
