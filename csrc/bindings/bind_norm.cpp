// Batch normalisation bindings:
//   batch_norm_forward_train(x (N,C,*), weight|None, bias|None, running_mean|None,
//                            running_var|None, momentum=0.1, eps=1e-5) -> (y, save_mean,
//                            save_invstd)
//   batch_norm_forward_eval(x, weight|None, bias|None, running_mean, running_var, eps=1e-5) -> y
//   batch_norm_backward(dy, x, weight|None, mean, invstd, training, need_weight_grad=None,
//                       need_bias_grad=None) -> (dx, dweight|None, dbias|None)
#include <string>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/norm.h"

namespace gradcore::bindings {
namespace {

// Checks x (N, C, *) and returns its (N, C, S) view.
BatchNormShape bn_shape(const py::array& x, const char* op, const char* arg, DType dt) {
  check_array(x, op, arg, dt);
  if (x.ndim() < 2)
    fail_value(op, std::string(arg) + " must have at least 2 dimensions (N, C, *), got shape " +
                       shape_str(x));
  BatchNormShape sh{dim(x, 0), dim(x, 1), 1};
  for (py::ssize_t i = 2; i < x.ndim(); ++i) sh.S *= dim(x, static_cast<int>(i));
  return sh;
}

py::tuple forward_train(py::array x, py::object weight_o, py::object bias_o, py::object rm_o,
                        py::object rv_o, double momentum, double eps) {
  const char* op = "batch_norm_forward_train";
  const DType dt = float_dtype(x, op, "x");
  const BatchNormShape sh = bn_shape(x, op, "x", dt);
  py::array weight = optional_array(weight_o, op, "weight");
  py::array bias = optional_array(bias_o, op, "bias");
  py::array rm = optional_array(rm_o, op, "running_mean");
  py::array rv = optional_array(rv_o, op, "running_var");
  if (weight) check_vector(weight, op, "weight", dt, sh.C, false);
  if (bias) check_vector(bias, op, "bias", dt, sh.C, false);
  if (rm) check_vector(rm, op, "running_mean", dt, sh.C, true);
  if (rv) check_vector(rv, op, "running_var", dt, sh.C, true);
  check_no_aliasing({{&x, "x", false},
                     {&weight, "weight", false},
                     {&bias, "bias", false},
                     {&rm, "running_mean", true},
                     {&rv, "running_var", true}},
                    op);
  check_range(momentum, op, "momentum", 0.0, 1.0);
  check_range(eps, op, "eps", 0.0, INFINITY, /*lo_open=*/true);
  if (sh.N * sh.S <= 1)
    fail_value(op, "expected more than 1 value per channel when training, got input shape " +
                       shape_str(x));
  py::array y = new_array(dt, shape_of(x));
  py::array save_mean = new_array(dt, {sh.C});
  py::array save_invstd = new_array(dt, {sh.C});
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = data_ptr<T>(static_cast<const py::array&>(x));
    const T* pw = optional_cptr<T>(weight);
    const T* pb = optional_cptr<T>(bias);
    T* prm = optional_ptr<T>(rm);
    T* prv = optional_ptr<T>(rv);
    T* py_ = data_ptr<T>(y);
    T* pm = data_ptr<T>(save_mean);
    T* pi = data_ptr<T>(save_invstd);
    run_kernel(
        [&] { batch_norm_forward_train<T>(px, pw, pb, prm, prv, py_, pm, pi, sh, momentum, eps); });
  });
  return py::make_tuple(y, save_mean, save_invstd);
}

py::array forward_eval(py::array x, py::object weight_o, py::object bias_o, py::array rm,
                       py::array rv, double eps) {
  const char* op = "batch_norm_forward_eval";
  const DType dt = float_dtype(x, op, "x");
  const BatchNormShape sh = bn_shape(x, op, "x", dt);
  py::array weight = optional_array(weight_o, op, "weight");
  py::array bias = optional_array(bias_o, op, "bias");
  if (weight) check_vector(weight, op, "weight", dt, sh.C, false);
  if (bias) check_vector(bias, op, "bias", dt, sh.C, false);
  check_vector(rm, op, "running_mean", dt, sh.C, false);
  check_vector(rv, op, "running_var", dt, sh.C, false);
  check_range(eps, op, "eps", 0.0, INFINITY, /*lo_open=*/true);
  py::array y = new_array(dt, shape_of(x));
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = data_ptr<T>(static_cast<const py::array&>(x));
    const T* pw = optional_cptr<T>(weight);
    const T* pb = optional_cptr<T>(bias);
    const T* prm = data_ptr<T>(static_cast<const py::array&>(rm));
    const T* prv = data_ptr<T>(static_cast<const py::array&>(rv));
    T* py_ = data_ptr<T>(y);
    run_kernel([&] { batch_norm_forward_eval<T>(px, pw, pb, prm, prv, py_, sh, eps); });
  });
  return y;
}

py::tuple batch_norm_bwd(py::array dy, py::array x, py::object weight_o, py::array mean,
                         py::array invstd, bool training, py::object need_weight_grad,
                         py::object need_bias_grad) {
  const char* op = "batch_norm_backward";
  const DType dt = float_dtype(x, op, "x");
  check_same_dtype(dy, dt, op, "dy", "x");
  const BatchNormShape sh = bn_shape(x, op, "x", dt);
  check_array(dy, op, "dy", dt);
  check_same_shape(dy, x, op, "dy", "x");
  py::array weight = optional_array(weight_o, op, "weight");
  if (weight) check_vector(weight, op, "weight", dt, sh.C, false);
  check_vector(mean, op, "mean", dt, sh.C, false);
  check_vector(invstd, op, "invstd", dt, sh.C, false);
  const bool affine = static_cast<bool>(weight);
  const bool want_dw = need_weight_grad.is_none() ? affine : need_weight_grad.cast<bool>();
  const bool want_db = need_bias_grad.is_none() ? affine : need_bias_grad.cast<bool>();
  py::array dx = new_array(dt, shape_of(x));
  py::object dweight = py::none(), dbias = py::none();
  py::array dw_arr, db_arr;
  if (want_dw) dweight = dw_arr = new_array(dt, {sh.C});
  if (want_db) dbias = db_arr = new_array(dt, {sh.C});
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* pdy = data_ptr<T>(static_cast<const py::array&>(dy));
    const T* px = data_ptr<T>(static_cast<const py::array&>(x));
    const T* pw = optional_cptr<T>(weight);
    const T* pm = data_ptr<T>(static_cast<const py::array&>(mean));
    const T* pi = data_ptr<T>(static_cast<const py::array&>(invstd));
    T* pdx = data_ptr<T>(dx);
    T* pdw = want_dw ? data_ptr<T>(dw_arr) : nullptr;
    T* pdb = want_db ? data_ptr<T>(db_arr) : nullptr;
    run_kernel([&] { batch_norm_backward<T>(pdy, px, pw, pm, pi, pdx, pdw, pdb, sh, training); });
  });
  return py::make_tuple(dx, dweight, dbias);
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(norm) {
  using namespace gradcore::bindings;
  m.def("batch_norm_forward_train", &forward_train, py::arg("x"), py::arg("weight") = py::none(),
        py::arg("bias") = py::none(), py::arg("running_mean") = py::none(),
        py::arg("running_var") = py::none(), py::arg("momentum") = 0.1, py::arg("eps") = 1e-5,
        "Batch norm training forward over axis 1 of x (N, C, *): returns (y, save_mean, "
        "save_invstd); running_mean/running_var (C,) are updated in place like PyTorch "
        "(running_var with the unbiased variance).");
  m.def("batch_norm_forward_eval", &forward_eval, py::arg("x"), py::arg("weight") = py::none(),
        py::arg("bias") = py::none(), py::arg("running_mean"), py::arg("running_var"),
        py::arg("eps") = 1e-5,
        "Batch norm inference forward with the running statistics: y = (x - rm) / sqrt(rv + eps) "
        "* weight + bias.");
  m.def("batch_norm_backward", &batch_norm_bwd, py::arg("dy"), py::arg("x"), py::arg("weight"),
        py::arg("mean"), py::arg("invstd"), py::arg("training"),
        py::arg("need_weight_grad") = py::none(), py::arg("need_bias_grad") = py::none(),
        "Batch norm backward -> (dx, dweight, dbias). training=False treats mean/invstd (from "
        "the running stats) as constants. dweight/dbias are returned when need_weight_grad / "
        "need_bias_grad (default: weight is not None), else None.");
}
