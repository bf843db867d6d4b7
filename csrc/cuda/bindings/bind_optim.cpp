// CUDA optimizer updates on DeviceArray (float32, in place, return None) and the
// gradient-clipping helpers: the names, arguments, defaults and checks of _C's
// (csrc/bindings/bind_optim.cpp). sum_of_squares returns a Python float (it waits for the GPU).
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bindings/registry.h"
#include "core/optim_args.h"
#include "cuda/bindings/device_checks.h"
#include "cuda/optim.h"

namespace py = pybind11;
namespace gc = gradcore::cuda;
using gc::DeviceArray;

namespace {

using namespace gradcore::cuda::bindings;

// A state buffer (or grad): float32, param's shape, on param's device.
void check_like(const DeviceArray& a, const DeviceArray& param, const char* op, const char* arg) {
  gc::bindings::check_float32(a, op, arg);
  gc::bindings::check_same_shape(a, param, op, arg, "param");
  gc::bindings::check_same_device(a, param, op, arg, "param");
}

// An optional DeviceArray argument: null for None; TypeError for anything else that is not a
// DeviceArray; ValueError when absent but required.
const DeviceArray* state_arg(const py::object& obj, bool required, const char* why,
                             const DeviceArray& param, const char* op, const char* arg) {
  const DeviceArray* a = optional_device_array(obj, op, arg);
  if (!a && required) fail_value(op, std::string(arg) + " is required when " + why);
  if (a) check_like(*a, param, op, arg);
  return a;
}

float* ptr_or_null(const DeviceArray* a) {
  return a ? a->ptr<float>() : nullptr;
}

void check_param_grad(const DeviceArray& param, const DeviceArray& grad, const char* op) {
  gc::bindings::check_float32(param, op, "param");
  check_like(grad, param, op, "grad");
}

void sgd(const DeviceArray& param, const DeviceArray& grad, const py::object& buf_o, double lr,
         double momentum, double dampening, double weight_decay, bool nesterov, bool maximize,
         bool first_step) {
  const char* op = "sgd_step_";
  check_param_grad(param, grad, op);
  gradcore::argcheck::check_sgd_hyper(op, lr, momentum, dampening, weight_decay, nesterov);
  const DeviceArray* buf =
      state_arg(buf_o, momentum != 0, "momentum != 0", param, op, "momentum_buffer");
  check_no_aliasing(
      {{&param, "param", true}, {&grad, "grad", false}, {buf, "momentum_buffer", true}}, op);
  const gc::SgdConsts c =
      gc::sgd_consts(lr, momentum, dampening, weight_decay, nesterov, maximize, first_step);
  gc::bindings::DeviceGuard guard(param.device());
  gc::sgd_step(param.ptr<float>(), grad.ptr<float>(), c.momentum ? ptr_or_null(buf) : nullptr,
               param.size(), c);
}

void adam(const DeviceArray& param, const DeviceArray& grad, const DeviceArray& exp_avg,
          const DeviceArray& exp_avg_sq, const py::object& max_o, int64_t step, double lr,
          double beta1, double beta2, double eps, double weight_decay, bool decoupled_weight_decay,
          bool amsgrad, bool maximize) {
  const char* op = "adam_step_";
  check_param_grad(param, grad, op);
  check_like(exp_avg, param, op, "exp_avg");
  check_like(exp_avg_sq, param, op, "exp_avg_sq");
  const DeviceArray* vmax = state_arg(max_o, amsgrad, "amsgrad=True", param, op, "max_exp_avg_sq");
  check_no_aliasing({{&param, "param", true},
                     {&grad, "grad", false},
                     {&exp_avg, "exp_avg", true},
                     {&exp_avg_sq, "exp_avg_sq", true},
                     {vmax, "max_exp_avg_sq", true}},
                    op);
  gradcore::argcheck::check_adam_hyper(op, step, lr, beta1, beta2, eps, weight_decay);
  const gc::AdamConsts c = gc::adam_consts(step, lr, beta1, beta2, eps, weight_decay,
                                           decoupled_weight_decay, amsgrad, maximize);
  gc::bindings::DeviceGuard guard(param.device());
  gc::adam_step(param.ptr<float>(), grad.ptr<float>(), exp_avg.ptr<float>(),
                exp_avg_sq.ptr<float>(), amsgrad ? ptr_or_null(vmax) : nullptr, param.size(), c);
}

void rmsprop(const DeviceArray& param, const DeviceArray& grad, const DeviceArray& square_avg,
             const py::object& grad_avg_o, const py::object& buf_o, double lr, double alpha,
             double eps, double weight_decay, double momentum, bool centered, bool maximize) {
  const char* op = "rmsprop_step_";
  check_param_grad(param, grad, op);
  check_like(square_avg, param, op, "square_avg");
  gradcore::argcheck::check_rmsprop_hyper(op, lr, alpha, eps, weight_decay, momentum);
  const DeviceArray* ga = state_arg(grad_avg_o, centered, "centered=True", param, op, "grad_avg");
  const DeviceArray* buf =
      state_arg(buf_o, momentum > 0, "momentum > 0", param, op, "momentum_buffer");
  check_no_aliasing({{&param, "param", true},
                     {&grad, "grad", false},
                     {&square_avg, "square_avg", true},
                     {ga, "grad_avg", true},
                     {buf, "momentum_buffer", true}},
                    op);
  const gc::RmspropConsts c =
      gc::rmsprop_consts(lr, alpha, eps, weight_decay, momentum, centered, maximize);
  gc::bindings::DeviceGuard guard(param.device());
  gc::rmsprop_step(param.ptr<float>(), grad.ptr<float>(), square_avg.ptr<float>(),
                   centered ? ptr_or_null(ga) : nullptr, c.momentum ? ptr_or_null(buf) : nullptr,
                   param.size(), c);
}

void adagrad(const DeviceArray& param, const DeviceArray& grad, const DeviceArray& state_sum,
             int64_t step, double lr, double lr_decay, double weight_decay, double eps,
             bool maximize) {
  const char* op = "adagrad_step_";
  check_param_grad(param, grad, op);
  check_like(state_sum, param, op, "state_sum");
  check_no_aliasing(
      {{&param, "param", true}, {&grad, "grad", false}, {&state_sum, "state_sum", true}}, op);
  gradcore::argcheck::check_adagrad_hyper(op, step, lr, lr_decay, weight_decay, eps);
  const gc::AdagradConsts c = gc::adagrad_consts(step, lr, lr_decay, weight_decay, eps, maximize);
  gc::bindings::DeviceGuard guard(param.device());
  gc::adagrad_step(param.ptr<float>(), grad.ptr<float>(), state_sum.ptr<float>(), param.size(), c);
}

double sum_sq(const DeviceArray& x) {
  const char* op = "sum_of_squares";
  gc::bindings::check_float32(x, op, "x");
  const int64_t n = x.size();
  if (n == 0) return 0.0;
  gc::bindings::DeviceGuard guard(x.device());
  // scratch: the chunk sums, then the total
  DeviceArray scratch({gc::sumsq_chunks(n) + 1}, gc::DType::kFloat32);
  float* sums = scratch.ptr<float>();
  float* out = sums + gc::sumsq_chunks(n);
  gc::sum_of_squares(x.ptr<float>(), n, sums, out);
  float total = 0.f;
  cudaStream_t s = gc::current_stream();
  {
    py::gil_scoped_release nogil;
    gc::check(cudaMemcpyAsync(&total, out, sizeof(float), cudaMemcpyDeviceToHost, s),
              "cudaMemcpyAsync (device to host)");
    gc::check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  }
  return static_cast<double>(total);
}

void scale(const DeviceArray& x, double alpha) {
  gc::bindings::check_float32(x, "scale_", "x");
  gc::bindings::DeviceGuard guard(x.device());
  gc::scale_inplace(x.ptr<float>(), x.size(), static_cast<float>(alpha));
}

void clamp(const DeviceArray& x, double lo, double hi) {
  const char* op = "clamp_";
  gc::bindings::check_float32(x, op, "x");
  if (std::isnan(lo) || std::isnan(hi) || lo > hi)
    fail_value(op, "bounds must satisfy lo <= hi, got lo=" + num_str(lo) + ", hi=" + num_str(hi));
  gc::bindings::DeviceGuard guard(x.device());
  gc::clamp_inplace(x.ptr<float>(), x.size(), static_cast<float>(lo), static_cast<float>(hi));
}

}  // namespace

GRADCORE_BINDINGS(optim) {
  m.def("sgd_step_", &sgd, py::arg("param"), py::arg("grad"), py::arg("momentum_buffer").none(true),
        py::arg("lr"), py::arg("momentum") = 0.0, py::arg("dampening") = 0.0,
        py::arg("weight_decay") = 0.0, py::arg("nesterov") = false, py::arg("maximize") = false,
        py::arg("first_step") = false,
        "Fused SGD step in place on DeviceArrays (float32); as gradcore._C.sgd_step_.");
  m.def("adam_step_", &adam, py::arg("param"), py::arg("grad"), py::arg("exp_avg"),
        py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq").none(true), py::arg("step"), py::arg("lr"),
        py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("eps") = 1e-8,
        py::arg("weight_decay") = 0.0, py::arg("decoupled_weight_decay") = false,
        py::arg("amsgrad") = false, py::arg("maximize") = false,
        "Fused Adam/AdamW step in place on DeviceArrays (float32); as gradcore._C.adam_step_.");
  m.def("rmsprop_step_", &rmsprop, py::arg("param"), py::arg("grad"), py::arg("square_avg"),
        py::arg("grad_avg").none(true), py::arg("momentum_buffer").none(true), py::arg("lr"),
        py::arg("alpha") = 0.99, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
        py::arg("momentum") = 0.0, py::arg("centered") = false, py::arg("maximize") = false,
        "Fused RMSprop step in place on DeviceArrays (float32); as gradcore._C.rmsprop_step_.");
  m.def("adagrad_step_", &adagrad, py::arg("param"), py::arg("grad"), py::arg("state_sum"),
        py::arg("step"), py::arg("lr"), py::arg("lr_decay") = 0.0, py::arg("weight_decay") = 0.0,
        py::arg("eps") = 1e-10, py::arg("maximize") = false,
        "Fused Adagrad step in place on DeviceArrays (float32); as gradcore._C.adagrad_step_.");
  m.def("sum_of_squares", &sum_sq, py::arg("x"),
        "sum(x**2) of a float32 DeviceArray: two fixed block-reduction passes, float32 "
        "accumulation (deterministic); waits for the GPU.");
  m.def("scale_", &scale, py::arg("x"), py::arg("alpha"), "x *= alpha in place.");
  m.def("clamp_", &clamp, py::arg("x"), py::arg("lo"), py::arg("hi"),
        "x = min(max(x, lo), hi) in place (NaN stays NaN).");
}
