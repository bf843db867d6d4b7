// The batch-norm bindings' argument checks (norm_args.h).
#include "bindings/norm_args.h"

#include <cmath>
#include <string>

namespace gradcore::bindings {
namespace {

NormDims norm_dims(const py::array& x, const char* op, const char* arg, DType dt) {
  check_array(x, op, arg, dt);
  if (x.ndim() < 2)
    fail_value(op, std::string(arg) + " must have at least 2 dimensions (N, C, *), got shape " +
                       shape_str(x));
  NormDims d{dim(x, 0), dim(x, 1), 1};
  for (py::ssize_t i = 2; i < x.ndim(); ++i) d.S *= dim(x, static_cast<int>(i));
  return d;
}

}  // namespace

BnTrainArgs bn_train_args(const char* op, const py::array& x, DType dt, const py::object& weight,
                          const py::object& bias, const py::object& running_mean,
                          const py::object& running_var, double momentum, double eps) {
  BnTrainArgs a{norm_dims(x, op, "x", dt), optional_array(weight, op, "weight"),
                optional_array(bias, op, "bias"), optional_array(running_mean, op, "running_mean"),
                optional_array(running_var, op, "running_var")};
  const int64_t C = a.dims.C;
  if (a.weight) check_vector(a.weight, op, "weight", dt, C, false);
  if (a.bias) check_vector(a.bias, op, "bias", dt, C, false);
  if (a.running_mean) check_vector(a.running_mean, op, "running_mean", dt, C, true);
  if (a.running_var) check_vector(a.running_var, op, "running_var", dt, C, true);
  check_no_aliasing({{&x, "x", false},
                     {&a.weight, "weight", false},
                     {&a.bias, "bias", false},
                     {&a.running_mean, "running_mean", true},
                     {&a.running_var, "running_var", true}},
                    op);
  check_range(momentum, op, "momentum", 0.0, 1.0);
  check_range(eps, op, "eps", 0.0, INFINITY, /*lo_open=*/true);
  if (a.dims.N * a.dims.S <= 1)
    fail_value(op, "expected more than 1 value per channel when training, got input shape " +
                       shape_str(x));
  return a;
}

BnEvalArgs bn_eval_args(const char* op, const py::array& x, DType dt, const py::object& weight,
                        const py::object& bias, const py::array& running_mean,
                        const py::array& running_var, double eps) {
  BnEvalArgs a{norm_dims(x, op, "x", dt), optional_array(weight, op, "weight"),
               optional_array(bias, op, "bias")};
  const int64_t C = a.dims.C;
  if (a.weight) check_vector(a.weight, op, "weight", dt, C, false);
  if (a.bias) check_vector(a.bias, op, "bias", dt, C, false);
  check_vector(running_mean, op, "running_mean", dt, C, false);
  check_vector(running_var, op, "running_var", dt, C, false);
  check_range(eps, op, "eps", 0.0, INFINITY, /*lo_open=*/true);
  return a;
}

BnBackwardArgs bn_backward_args(const char* op, const py::array& dy, const py::array& x, DType dt,
                                const py::object& weight, const py::array& mean,
                                const py::array& invstd, const py::object& need_weight_grad,
                                const py::object& need_bias_grad) {
  const NormDims d = norm_dims(x, op, "x", dt);
  check_array(dy, op, "dy", dt);
  check_same_shape(dy, x, op, "dy", "x");
  py::array w = optional_array(weight, op, "weight");
  if (w) check_vector(w, op, "weight", dt, d.C, false);
  check_vector(mean, op, "mean", dt, d.C, false);
  check_vector(invstd, op, "invstd", dt, d.C, false);
  const bool affine = static_cast<bool>(w);
  const bool want_dw = need_weight_grad.is_none() ? affine : need_weight_grad.cast<bool>();
  const bool want_db = need_bias_grad.is_none() ? affine : need_bias_grad.cast<bool>();
  return BnBackwardArgs{d, w, want_dw, want_db};
}

}  // namespace gradcore::bindings
