// The conv2d bindings' argument checks (conv_args.h).
#include "bindings/conv_args.h"

#include <string>

namespace gradcore::bindings {
namespace {

// Stride, padding, dilation and groups, parsed and checked.
struct ConvArgs {
  std::pair<int64_t, int64_t> stride, padding, dilation;
  int64_t groups;
};

ConvArgs conv_args(const char* op, const py::handle& stride, const py::handle& padding,
                   const py::handle& dilation, int64_t groups) {
  ConvArgs a{pair_arg(stride, op, "stride"), pair_arg(padding, op, "padding"),
             pair_arg(dilation, op, "dilation"), groups};
  check_pair(a.stride, op, "stride");
  check_pair(a.padding, op, "padding", /*allow_zero=*/true);
  check_pair(a.dilation, op, "dilation");
  check_positive(groups, op, "groups");
  return a;
}

Window2d make_params(const ConvArgs& a) {
  Window2d p;
  p.sh = a.stride.first;
  p.sw = a.stride.second;
  p.ph = a.padding.first;
  p.pw = a.padding.second;
  p.dh = a.dilation.first;
  p.dw = a.dilation.second;
  p.groups = a.groups;
  return p;
}

// Sets OH/OW; fails when an index or the output size overflows int64, or when the (dilated)
// kernel does not fit the padded input.
void output_shape(Window2d& p, const char* op) {
  set_window_output(p, /*ceil_mode=*/false, op, "kernel");
  if (p.OH < 1 || p.OW < 1)
    fail_value(op, "kernel " + pair_str(p.R, p.S) + " with dilation " + pair_str(p.dh, p.dw) +
                       " is larger than the padded input " +
                       pair_str(p.H + 2 * p.ph, p.W + 2 * p.pw) + " (input " + pair_str(p.H, p.W) +
                       ", padding " + pair_str(p.ph, p.pw) + ")");
  const int64_t elem = 8;  // the larger float size: the checks hold for both dtypes
  checked_numel({p.N, p.K, p.OH, p.OW}, elem, op,
                "padding and stride give an output (N, K, OH, OW) =");
  checked_numel({p.N, p.C, p.H, p.W}, elem, op, "the input (N, C, H, W) =");
  checked_numel({p.K, p.C / p.groups, p.R, p.S}, elem, op, "the kernel (K, C/groups, R, S) =");
}

void check_groups(const Window2d& p, const char* op, const std::string& shapes) {
  if (p.K % p.groups != 0)
    fail_value(op, std::to_string(p.K) + " output channels are not divisible by groups=" +
                       std::to_string(p.groups) + " (" + shapes + ")");
  if (p.C % p.groups != 0)
    fail_value(op, std::to_string(p.C) + " input channels are not divisible by groups=" +
                       std::to_string(p.groups) + " (" + shapes + ")");
}

void check_sizes(const py::array& a, const char* op, const char* arg, int first) {
  for (int i = first; i < a.ndim(); ++i)
    if (a.shape(i) < 1)
      fail_value(op, std::string(arg) + " must have positive sizes, got shape " + shape_str(a));
}

}  // namespace

Window2d conv_forward_geometry(const char* op, const py::array& x, const py::array& weight,
                               const py::array& bias, DType dt, const py::handle& stride,
                               const py::handle& padding, const py::handle& dilation,
                               int64_t groups) {
  check_array(x, op, "x", dt, 4);
  check_array(weight, op, "weight", dt, 4);
  check_sizes(x, op, "x", 1);
  check_sizes(weight, op, "weight", 0);
  Window2d p = make_params(conv_args(op, stride, padding, dilation, groups));
  p.N = dim(x, 0);
  p.C = dim(x, 1);
  p.H = dim(x, 2);
  p.W = dim(x, 3);
  p.K = dim(weight, 0);
  p.R = dim(weight, 2);
  p.S = dim(weight, 3);
  const std::string shapes = "input " + shape_str(x) + ", weight " + shape_str(weight);
  if (p.C != dim(weight, 1) * p.groups)
    fail_value(op, "input has " + std::to_string(p.C) + " channels but weight expects " +
                       std::to_string(dim(weight, 1) * p.groups) + " (" + shapes +
                       ", groups=" + std::to_string(p.groups) + ")");
  check_groups(p, op, shapes);
  if (bias) {
    check_array(bias, op, "bias", dt, 1);
    check_shape(bias, op, "bias", {p.K});
  }
  output_shape(p, op);
  return p;
}

ConvForwardArgs conv_forward_args(const char* op, const py::array& x, const py::array& weight,
                                  const py::object& bias, const py::handle& stride,
                                  const py::handle& padding, const py::handle& dilation,
                                  int64_t groups) {
  ConvForwardArgs a;
  a.dt = float_dtype(x, op, "x");
  a.bias = optional_array(bias, op, "bias");
  a.p = conv_forward_geometry(op, x, weight, a.bias, a.dt, stride, padding, dilation, groups);
  return a;
}

Window2d conv_backward_input_geometry(const char* op, const py::array& dy, const py::array& weight,
                                      const py::handle& input_hw, DType dt,
                                      const py::handle& stride, const py::handle& padding,
                                      const py::handle& dilation, int64_t groups) {
  check_array(dy, op, "dy", dt, 4);
  check_array(weight, op, "weight", dt, 4);
  check_sizes(dy, op, "dy", 1);
  check_sizes(weight, op, "weight", 0);
  const ConvArgs a = conv_args(op, stride, padding, dilation, groups);
  const auto hw = pair_arg(input_hw, op, "input_hw");
  check_pair(hw, op, "input_hw");
  Window2d p = make_params(a);
  p.N = dim(dy, 0);
  p.K = dim(weight, 0);
  p.C = dim(weight, 1) * p.groups;
  p.H = hw.first;
  p.W = hw.second;
  p.R = dim(weight, 2);
  p.S = dim(weight, 3);
  const std::string shapes = "dy " + shape_str(dy) + ", weight " + shape_str(weight);
  if (dim(dy, 1) != p.K)
    fail_value(op, "dy has " + std::to_string(dim(dy, 1)) + " channels but weight has " +
                       std::to_string(p.K) + " filters (" + shapes + ")");
  check_groups(p, op, shapes);
  output_shape(p, op);
  if (dim(dy, 2) != p.OH || dim(dy, 3) != p.OW)
    fail_value(op, "dy must have spatial size " + pair_str(p.OH, p.OW) + " for input " +
                       pair_str(p.H, p.W) + ", got " + shapes);
  return p;
}

Window2d conv_backward_weight_geometry(const char* op, const py::array& dy, const py::array& x,
                                       const py::handle& kernel_hw, DType dt,
                                       const py::handle& stride, const py::handle& padding,
                                       const py::handle& dilation, int64_t groups) {
  check_array(dy, op, "dy", dt, 4);
  check_array(x, op, "x", dt, 4);
  check_sizes(dy, op, "dy", 1);
  check_sizes(x, op, "x", 1);
  const ConvArgs a = conv_args(op, stride, padding, dilation, groups);
  const auto rs = pair_arg(kernel_hw, op, "kernel_hw");
  check_pair(rs, op, "kernel_hw");
  Window2d p = make_params(a);
  p.N = dim(x, 0);
  p.C = dim(x, 1);
  p.H = dim(x, 2);
  p.W = dim(x, 3);
  p.K = dim(dy, 1);
  p.R = rs.first;
  p.S = rs.second;
  const std::string shapes = "dy " + shape_str(dy) + ", x " + shape_str(x);
  if (dim(dy, 0) != p.N) fail_value(op, "dy and x must have the same batch size (" + shapes + ")");
  check_groups(p, op, shapes);
  output_shape(p, op);
  if (dim(dy, 2) != p.OH || dim(dy, 3) != p.OW)
    fail_value(op, "dy must have spatial size " + pair_str(p.OH, p.OW) + " for input " +
                       pair_str(p.H, p.W) + " and kernel " + pair_str(p.R, p.S) + ", got " +
                       shapes);
  return p;
}

BiasGradDims bias_grad_dims(const char* op, const py::array& dy, DType dt) {
  check_array(dy, op, "dy", dt);
  if (dy.ndim() < 2)
    fail_value(op, "dy must have at least 2 dimensions (N, K, ...), got shape " + shape_str(dy));
  BiasGradDims d{dim(dy, 0), dim(dy, 1), 1};
  for (int i = 2; i < dy.ndim(); ++i) d.P *= dim(dy, i);
  return d;
}

}  // namespace gradcore::bindings
