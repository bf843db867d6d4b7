// CUDA conv2d_forward / conv2d_backward_input / conv2d_backward_weight on DeviceArray
// (float32): the names, arguments, defaults and checks of _C's (csrc/bindings/bind_conv.cpp).
// conv2d_backward_bias is bound with im2col (bind_im2col.cpp).
#include <pybind11/pybind11.h>

#include <string>
#include <utility>
#include <vector>

#include "bindings/registry.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/bindings/window_args.h"
#include "cuda/conv.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
using gc::DeviceArray;
using gradcore::Window2d;

namespace {

using namespace gradcore::cuda::bindings;

std::string num(int64_t v) {
  return std::to_string(v);
}

// Stride, padding, dilation and groups into a Window2d, checked as _C checks them.
Window2d conv_params(const char* op, const py::handle& stride, const py::handle& padding,
                     const py::handle& dilation, int64_t groups) {
  const auto s = pair_arg(stride, op, "stride");
  const auto p = pair_arg(padding, op, "padding");
  const auto d = pair_arg(dilation, op, "dilation");
  check_pair(s, op, "stride");
  check_pair(p, op, "padding", /*allow_zero=*/true);
  check_pair(d, op, "dilation");
  if (groups <= 0) fail_value(op, "groups must be > 0, got " + num(groups));
  Window2d g;
  g.sh = s.first;
  g.sw = s.second;
  g.ph = p.first;
  g.pw = p.second;
  g.dh = d.first;
  g.dw = d.second;
  g.groups = groups;
  return g;
}

void check_conv_array(const DeviceArray& a, const char* op, const char* arg, int first_positive) {
  check_float32(a, op, arg);
  if (a.shape().size() != 4)
    fail_value(op, std::string(arg) + " must have 4 dimensions, got shape " + a.shape_str());
  for (int i = first_positive; i < 4; ++i)
    if (a.shape()[i] < 1)
      fail_value(op, std::string(arg) + " must have positive sizes, got shape " + a.shape_str());
}

// n = prod(dims) fits int64 (in bytes of 8-byte elements, as _C checks).
void check_numel(std::initializer_list<int64_t> dims, const char* op, const std::string& what) {
  int64_t n = 1, bytes = 0;
  bool overflow = false;
  for (int64_t d : dims) overflow = overflow || __builtin_mul_overflow(n, d, &n);
  overflow = overflow || __builtin_mul_overflow(n, int64_t{8}, &bytes);
  if (overflow) {
    std::string s = "(";
    int i = 0;
    for (int64_t d : dims) s += (i++ ? ", " : "") + std::to_string(d);
    fail_value(op, what + " " + s + ") has too many elements: its size overflows int64");
  }
}

// in + 2*pad + dil*(k-1) + stride fits int64 (core/shapes.h window_fits_int64).
void check_window_axis(const char* axis, int64_t in, int64_t k, int64_t st, int64_t pad,
                       int64_t dil, const char* op) {
  int64_t a = 0, b = 0, c = 0;
  const bool overflow = __builtin_mul_overflow(pad, int64_t{2}, &a) ||
                        __builtin_add_overflow(in, a, &a) ||
                        __builtin_mul_overflow(dil, k - 1, &b) ||
                        __builtin_add_overflow(a, b, &c) || __builtin_add_overflow(c, st, &c);
  if (overflow)
    fail_value(op, std::string("the window overflows int64 along ") + axis + ": input " + num(in) +
                       " + 2 * padding " + num(pad) + " + dilation " + num(dil) + " * (kernel " +
                       num(k) + " - 1) + stride " + num(st) + " must be at most 2^63 - 1");
}

// Sets OH, OW; fails when the (dilated) kernel does not fit the padded input, or on overflow.
void output_shape(Window2d& p, const char* op) {
  check_window_axis("H", p.H, p.R, p.sh, p.ph, p.dh, op);
  check_window_axis("W", p.W, p.S, p.sw, p.pw, p.dw, op);
  p.OH = gc::window_out_size_hd(p.H, p.R, p.sh, p.ph, p.dh, false);
  p.OW = gc::window_out_size_hd(p.W, p.S, p.sw, p.pw, p.dw, false);
  if (p.OH < 1 || p.OW < 1)
    fail_value(op, "kernel " + pair_str(p.R, p.S) + " with dilation " + pair_str(p.dh, p.dw) +
                       " is larger than the padded input " +
                       pair_str(p.H + 2 * p.ph, p.W + 2 * p.pw) + " (input " + pair_str(p.H, p.W) +
                       ", padding " + pair_str(p.ph, p.pw) + ")");
  check_numel({p.N, p.K, p.OH, p.OW}, op, "padding and stride give an output (N, K, OH, OW) =");
  check_numel({p.N, p.C, p.H, p.W}, op, "the input (N, C, H, W) =");
  check_numel({p.K, p.C / p.groups, p.R, p.S}, op, "the kernel (K, C/groups, R, S) =");
  check_numel({p.N, p.C, p.R, p.S, p.OH, p.OW}, op, "the columns (N, C, R, S, OH, OW) =");
}

void check_groups(const Window2d& p, const char* op, const std::string& shapes) {
  if (p.K % p.groups != 0)
    fail_value(op, num(p.K) + " output channels are not divisible by groups=" + num(p.groups) +
                       " (" + shapes + ")");
  if (p.C % p.groups != 0)
    fail_value(op, num(p.C) + " input channels are not divisible by groups=" + num(p.groups) +
                       " (" + shapes + ")");
}

}  // namespace

GRADCORE_BINDINGS(conv) {
  m.def(
      "conv2d_forward",
      [](const DeviceArray& x, const DeviceArray& weight, py::object bias, py::object stride,
         py::object padding, py::object dilation, int64_t groups) {
        const char* op = "conv2d_forward";
        check_conv_array(x, op, "x", 1);
        check_conv_array(weight, op, "weight", 0);
        check_same_device(x, weight, op, "x", "weight");
        Window2d p = conv_params(op, stride, padding, dilation, groups);
        const auto& xs = x.shape();
        const auto& ws = weight.shape();
        p.N = xs[0];
        p.C = xs[1];
        p.H = xs[2];
        p.W = xs[3];
        p.K = ws[0];
        p.R = ws[2];
        p.S = ws[3];
        const std::string shapes = "input " + x.shape_str() + ", weight " + weight.shape_str();
        if (p.C != ws[1] * p.groups)
          fail_value(op, "input has " + num(p.C) + " channels but weight expects " +
                             num(ws[1] * p.groups) + " (" + shapes + ", groups=" + num(p.groups) +
                             ")");
        check_groups(p, op, shapes);
        const DeviceArray* b = nullptr;
        if (!bias.is_none()) {
          if (!py::isinstance<DeviceArray>(bias))
            fail_type(op, "bias must be a DeviceArray or None, got " +
                              py::str(py::type::of(bias)).cast<std::string>());
          b = bias.cast<const DeviceArray*>();
          check_float32(*b, op, "bias");
          if (b->shape() != std::vector<int64_t>{p.K})
            fail_value(op, "bias must have shape (" + num(p.K) + ",), got " + b->shape_str());
          check_same_device(x, *b, op, "x", "bias");
        }
        output_shape(p, op);
        DeviceGuard guard(x.device());
        DeviceArray y({p.N, p.K, p.OH, p.OW}, gc::DType::kFloat32);
        gc::conv2d_forward(p, x.ptr<float>(), weight.ptr<float>(), b ? b->ptr<float>() : nullptr,
                           y.ptr<float>());
        return y;
      },
      py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(),
      py::arg("stride") = py::make_tuple(1, 1), py::arg("padding") = py::make_tuple(0, 0),
      py::arg("dilation") = py::make_tuple(1, 1), py::arg("groups") = 1,
      "y (N, K, OH, OW) = conv2d(x (N, C, H, W), weight (K, C/groups, R, S)) + bias (K,).");

  m.def(
      "conv2d_backward_input",
      [](const DeviceArray& dy, const DeviceArray& weight, py::object input_hw, py::object stride,
         py::object padding, py::object dilation, int64_t groups) {
        const char* op = "conv2d_backward_input";
        check_conv_array(dy, op, "dy", 1);
        check_conv_array(weight, op, "weight", 0);
        check_same_device(dy, weight, op, "dy", "weight");
        Window2d p = conv_params(op, stride, padding, dilation, groups);
        const auto hw = pair_arg(input_hw, op, "input_hw");
        check_pair(hw, op, "input_hw");
        const auto& ds = dy.shape();
        const auto& ws = weight.shape();
        p.N = ds[0];
        p.K = ws[0];
        p.C = ws[1] * p.groups;
        p.H = hw.first;
        p.W = hw.second;
        p.R = ws[2];
        p.S = ws[3];
        const std::string shapes = "dy " + dy.shape_str() + ", weight " + weight.shape_str();
        if (ds[1] != p.K)
          fail_value(op, "dy has " + num(ds[1]) + " channels but weight has " + num(p.K) +
                             " filters (" + shapes + ")");
        check_groups(p, op, shapes);
        output_shape(p, op);
        if (ds[2] != p.OH || ds[3] != p.OW)
          fail_value(op, "dy must have spatial size " + pair_str(p.OH, p.OW) + " for input " +
                             pair_str(p.H, p.W) + ", got " + shapes);
        DeviceGuard guard(dy.device());
        DeviceArray dx({p.N, p.C, p.H, p.W}, gc::DType::kFloat32);
        gc::conv2d_backward_input(p, dy.ptr<float>(), weight.ptr<float>(), dx.ptr<float>());
        return dx;
      },
      py::arg("dy"), py::arg("weight"), py::arg("input_hw"),
      py::arg("stride") = py::make_tuple(1, 1), py::arg("padding") = py::make_tuple(0, 0),
      py::arg("dilation") = py::make_tuple(1, 1), py::arg("groups") = 1,
      "dx (N, C, H, W): gradient of conv2d_forward with respect to its input.");

  m.def(
      "conv2d_backward_weight",
      [](const DeviceArray& dy, const DeviceArray& x, py::object kernel_hw, py::object stride,
         py::object padding, py::object dilation, int64_t groups) {
        const char* op = "conv2d_backward_weight";
        check_conv_array(dy, op, "dy", 1);
        check_conv_array(x, op, "x", 1);
        check_same_device(dy, x, op, "dy", "x");
        Window2d p = conv_params(op, stride, padding, dilation, groups);
        const auto rs = pair_arg(kernel_hw, op, "kernel_hw");
        check_pair(rs, op, "kernel_hw");
        const auto& ds = dy.shape();
        const auto& xs = x.shape();
        p.N = xs[0];
        p.C = xs[1];
        p.H = xs[2];
        p.W = xs[3];
        p.K = ds[1];
        p.R = rs.first;
        p.S = rs.second;
        const std::string shapes = "dy " + dy.shape_str() + ", x " + x.shape_str();
        if (ds[0] != p.N) fail_value(op, "dy and x must have the same batch size (" + shapes + ")");
        check_groups(p, op, shapes);
        output_shape(p, op);
        if (ds[2] != p.OH || ds[3] != p.OW)
          fail_value(op, "dy must have spatial size " + pair_str(p.OH, p.OW) + " for input " +
                             pair_str(p.H, p.W) + " and kernel " + pair_str(p.R, p.S) + ", got " +
                             shapes);
        DeviceGuard guard(dy.device());
        DeviceArray dw({p.K, p.C / p.groups, p.R, p.S}, gc::DType::kFloat32);
        gc::conv2d_backward_weight(p, dy.ptr<float>(), x.ptr<float>(), dw.ptr<float>());
        return dw;
      },
      py::arg("dy"), py::arg("x"), py::arg("kernel_hw"), py::arg("stride") = py::make_tuple(1, 1),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
      py::arg("groups") = 1,
      "dw (K, C/groups, R, S): gradient of conv2d_forward with respect to its weight.");
}
