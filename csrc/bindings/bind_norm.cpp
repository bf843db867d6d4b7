// Batch normalisation bindings:
//   batch_norm_forward_train(x (N,C,*), weight|None, bias|None, running_mean|None,
//                            running_var|None, momentum=0.1, eps=1e-5) -> (y, save_mean,
//                            save_invstd)
//   batch_norm_forward_eval(x, weight|None, bias|None, running_mean, running_var, eps=1e-5) -> y
//   batch_norm_backward(dy, x, weight|None, mean, invstd, training, need_weight_grad=None,
//                       need_bias_grad=None) -> (dx, dweight|None, dbias|None)
#include <string>

#include "bindings/checks.h"
#include "bindings/norm_args.h"
#include "bindings/registry.h"
#include "cpu/norm.h"

namespace gradcore::bindings {
namespace {

py::tuple forward_train(py::array x, py::object weight_o, py::object bias_o, py::object rm_o,
                        py::object rv_o, double momentum, double eps) {
  const char* op = "batch_norm_forward_train";
  const DType dt = float_dtype(x, op, "x");
  const BnTrainArgs args = bn_train_args(op, x, dt, weight_o, bias_o, rm_o, rv_o, momentum, eps);
  const BatchNormShape sh{args.dims.N, args.dims.C, args.dims.S};
  py::array weight = args.weight, bias = args.bias, rm = args.running_mean, rv = args.running_var;
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
  const BnEvalArgs args = bn_eval_args(op, x, dt, weight_o, bias_o, rm, rv, eps);
  const BatchNormShape sh{args.dims.N, args.dims.C, args.dims.S};
  const py::array &weight = args.weight, &bias = args.bias;
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
  const BnBackwardArgs args =
      bn_backward_args(op, dy, x, dt, weight_o, mean, invstd, need_weight_grad, need_bias_grad);
  const BatchNormShape sh{args.dims.N, args.dims.C, args.dims.S};
  const py::array& weight = args.weight;
  const bool want_dw = args.want_dweight, want_db = args.want_dbias;
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
