// CUDA batch normalisation on DeviceArray (float32): the names, arguments, defaults and outputs
// of _C's (csrc/bindings/bind_norm.cpp). running_mean / running_var DeviceArrays are updated in
// place, as the CPU binding updates its numpy arrays.
#include <pybind11/pybind11.h>

#include <cmath>
#include <string>
#include <vector>

#include "bindings/registry.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/norm.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
using gc::DeviceArray;

namespace {

using namespace gradcore::cuda::bindings;

// float32 x (N, C, *) as (N, C, S).
gc::BnShape bn_shape(const DeviceArray& x, const char* op) {
  gc::bindings::check_float32(x, op, "x");
  if (x.shape().size() < 2)
    fail_value(op, "x must have at least 2 dimensions (N, C, *), got shape " + x.shape_str());
  gc::BnShape sh{x.shape()[0], x.shape()[1], 1};
  for (size_t i = 2; i < x.shape().size(); ++i) sh.S *= x.shape()[i];
  return sh;
}

// A (C,) float32 DeviceArray on the device of x.
void check_channel_vector(const DeviceArray& a, const DeviceArray& x, int64_t C, const char* op,
                          const char* arg) {
  gc::bindings::check_float32(a, op, arg);
  gc::bindings::check_same_device(x, a, op, "x", arg);
  if (a.shape() != std::vector<int64_t>{C})
    fail_value(op, std::string(arg) + " must have shape (" + std::to_string(C) + ",), got " +
                       a.shape_str());
}

// An optional (C,) DeviceArray argument (None -> nullptr).
const DeviceArray* optional_vector(const py::object& o, const DeviceArray& x, int64_t C,
                                   const char* op, const char* arg) {
  const DeviceArray* a = optional_device_array(o, op, arg);
  if (a) check_channel_vector(*a, x, C, op, arg);
  return a;
}

const float* cptr(const DeviceArray* a) {
  return a ? a->ptr<float>() : nullptr;
}

py::tuple forward_train(const DeviceArray& x, py::object weight_o, py::object bias_o,
                        py::object rm_o, py::object rv_o, double momentum, double eps) {
  const char* op = "batch_norm_forward_train";
  const gc::BnShape sh = bn_shape(x, op);
  const DeviceArray* weight = optional_vector(weight_o, x, sh.C, op, "weight");
  const DeviceArray* bias = optional_vector(bias_o, x, sh.C, op, "bias");
  const DeviceArray* rm = optional_vector(rm_o, x, sh.C, op, "running_mean");
  const DeviceArray* rv = optional_vector(rv_o, x, sh.C, op, "running_var");
  check_no_aliasing({{&x, "x", false},
                     {weight, "weight", false},
                     {bias, "bias", false},
                     {rm, "running_mean", true},
                     {rv, "running_var", true}},
                    op);
  check_range(momentum, op, "momentum", 0.0, 1.0, false);
  check_range(eps, op, "eps", 0.0, INFINITY, true);
  if (sh.N * sh.S <= 1)
    fail_value(op, "expected more than 1 value per channel when training, got input shape " +
                       x.shape_str());
  gc::bindings::DeviceGuard guard(x.device());
  DeviceArray y(x.shape(), gc::DType::kFloat32);
  DeviceArray save_mean({sh.C}, gc::DType::kFloat32);
  DeviceArray save_invstd({sh.C}, gc::DType::kFloat32);
  gc::batch_norm_forward_train(x.ptr<float>(), cptr(weight), cptr(bias),
                               rm ? rm->ptr<float>() : nullptr, rv ? rv->ptr<float>() : nullptr,
                               y.ptr<float>(), save_mean.ptr<float>(), save_invstd.ptr<float>(), sh,
                               momentum, eps);
  return py::make_tuple(y, save_mean, save_invstd);
}

DeviceArray forward_eval(const DeviceArray& x, py::object weight_o, py::object bias_o,
                         const DeviceArray& rm, const DeviceArray& rv, double eps) {
  const char* op = "batch_norm_forward_eval";
  const gc::BnShape sh = bn_shape(x, op);
  const DeviceArray* weight = optional_vector(weight_o, x, sh.C, op, "weight");
  const DeviceArray* bias = optional_vector(bias_o, x, sh.C, op, "bias");
  check_channel_vector(rm, x, sh.C, op, "running_mean");
  check_channel_vector(rv, x, sh.C, op, "running_var");
  check_range(eps, op, "eps", 0.0, INFINITY, true);
  gc::bindings::DeviceGuard guard(x.device());
  DeviceArray y(x.shape(), gc::DType::kFloat32);
  gc::batch_norm_forward_eval(x.ptr<float>(), cptr(weight), cptr(bias), rm.ptr<float>(),
                              rv.ptr<float>(), y.ptr<float>(), sh, eps);
  return y;
}

py::tuple batch_norm_bwd(const DeviceArray& dy, const DeviceArray& x, py::object weight_o,
                         const DeviceArray& mean, const DeviceArray& invstd, bool training,
                         py::object need_weight_grad, py::object need_bias_grad) {
  const char* op = "batch_norm_backward";
  const gc::BnShape sh = bn_shape(x, op);
  gc::bindings::check_float32(dy, op, "dy");
  gc::bindings::check_same_shape(dy, x, op, "dy", "x");
  gc::bindings::check_same_device(x, dy, op, "x", "dy");
  const DeviceArray* weight = optional_vector(weight_o, x, sh.C, op, "weight");
  check_channel_vector(mean, x, sh.C, op, "mean");
  check_channel_vector(invstd, x, sh.C, op, "invstd");
  const bool affine = weight != nullptr;
  const bool want_dw = need_weight_grad.is_none() ? affine : need_weight_grad.cast<bool>();
  const bool want_db = need_bias_grad.is_none() ? affine : need_bias_grad.cast<bool>();
  gc::bindings::DeviceGuard guard(x.device());
  DeviceArray dx(x.shape(), gc::DType::kFloat32);
  py::object dweight = py::none(), dbias = py::none();
  float* pdw = nullptr;
  float* pdb = nullptr;
  if (want_dw) {
    DeviceArray d({sh.C}, gc::DType::kFloat32);
    pdw = d.ptr<float>();
    dweight = py::cast(d);
  }
  if (want_db) {
    DeviceArray d({sh.C}, gc::DType::kFloat32);
    pdb = d.ptr<float>();
    dbias = py::cast(d);
  }
  gc::batch_norm_backward(dy.ptr<float>(), x.ptr<float>(), cptr(weight), mean.ptr<float>(),
                          invstd.ptr<float>(), dx.ptr<float>(), pdw, pdb, sh, training);
  return py::make_tuple(dx, dweight, dbias);
}

}  // namespace

GRADCORE_BINDINGS(norm) {
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
