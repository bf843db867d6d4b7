// Optimizer update bindings (in place, return None), PyTorch's single-tensor formulas:
//   sgd_step_(param, grad, momentum_buffer|None, lr, momentum, dampening, weight_decay,
//             nesterov, maximize, first_step)
//   adam_step_(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq|None, step, lr, beta1, beta2,
//              eps, weight_decay, decoupled_weight_decay, amsgrad, maximize)
//   rmsprop_step_(param, grad, square_avg, grad_avg|None, momentum_buffer|None, lr, alpha, eps,
//                 weight_decay, momentum, centered, maximize)
//   adagrad_step_(param, grad, state_sum, step, lr, lr_decay, weight_decay, eps, maximize)
//   sum_of_squares(x) -> float;  scale_(x, alpha);  clamp_(x, lo, hi)
#include <cmath>
#include <string>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "core/optim_args.h"
#include "cpu/optim.h"

namespace gradcore::bindings {
namespace {

// param: writable float array; grad: same dtype and shape, not sharing param's memory.
DType check_param_grad(py::array& param, const py::array& grad, const char* op) {
  const DType dt = float_dtype(param, op, "param");
  check_output(param, op, "param", dt);
  check_same_dtype(grad, dt, op, "grad", "param");
  check_array(grad, op, "grad", dt);
  check_same_shape(param, grad, op, "param", "grad");
  check_no_overlap(param, grad, op, "param", "grad");
  return dt;
}

// A state buffer: writable, same dtype and shape as param.
void check_state(const py::array& s, const py::array& param, DType dt, const char* op,
                 const char* arg) {
  check_same_dtype(s, dt, op, arg, "param");
  check_output(s, op, arg, dt);
  check_same_shape(s, param, op, arg, "param");
}

// A required-when state buffer given as an optional argument.
py::array state_arg(const py::object& obj, bool required, const char* why, const py::array& param,
                    DType dt, const char* op, const char* arg) {
  py::array a = optional_array(obj, op, arg);
  if (!a && required) fail_value(op, std::string(arg) + " is required when " + why);
  if (a) check_state(a, param, dt, op, arg);
  return a;
}

void sgd(py::array param, py::array grad, py::object buf_o, double lr, double momentum,
         double dampening, double weight_decay, bool nesterov, bool maximize, bool first_step) {
  const char* op = "sgd_step_";
  const DType dt = check_param_grad(param, grad, op);
  gradcore::argcheck::check_sgd_hyper(op, lr, momentum, dampening, weight_decay, nesterov);
  py::array buf =
      state_arg(buf_o, momentum != 0, "momentum != 0", param, dt, op, "momentum_buffer");
  check_no_aliasing(
      {{&param, "param", true}, {&grad, "grad", false}, {&buf, "momentum_buffer", true}}, op);
  const SgdHyper h{lr, momentum, dampening, weight_decay, nesterov, maximize, first_step};
  const int64_t n = numel(param);
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    T* p = data_ptr<T>(param);
    const T* g = data_ptr<T>(static_cast<const py::array&>(grad));
    T* b = momentum != 0 ? data_ptr<T>(buf) : nullptr;
    run_kernel([&] { sgd_step<T>(p, g, b, n, h); });
  });
}

void adam(py::array param, py::array grad, py::array exp_avg, py::array exp_avg_sq,
          py::object max_o, int64_t step, double lr, double beta1, double beta2, double eps,
          double weight_decay, bool decoupled_weight_decay, bool amsgrad, bool maximize) {
  const char* op = "adam_step_";
  const DType dt = check_param_grad(param, grad, op);
  check_state(exp_avg, param, dt, op, "exp_avg");
  check_state(exp_avg_sq, param, dt, op, "exp_avg_sq");
  py::array vmax = state_arg(max_o, amsgrad, "amsgrad=True", param, dt, op, "max_exp_avg_sq");
  check_no_aliasing({{&param, "param", true},
                     {&grad, "grad", false},
                     {&exp_avg, "exp_avg", true},
                     {&exp_avg_sq, "exp_avg_sq", true},
                     {&vmax, "max_exp_avg_sq", true}},
                    op);
  gradcore::argcheck::check_adam_hyper(op, step, lr, beta1, beta2, eps, weight_decay);
  const AdamHyper h{step,    lr,      beta1, beta2, eps, weight_decay, decoupled_weight_decay,
                    amsgrad, maximize};
  const int64_t n = numel(param);
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    T* p = data_ptr<T>(param);
    const T* g = data_ptr<T>(static_cast<const py::array&>(grad));
    T* m = data_ptr<T>(exp_avg);
    T* v = data_ptr<T>(exp_avg_sq);
    T* vm = amsgrad ? data_ptr<T>(vmax) : nullptr;
    run_kernel([&] { adam_step<T>(p, g, m, v, vm, n, h); });
  });
}

void rmsprop(py::array param, py::array grad, py::array square_avg, py::object grad_avg_o,
             py::object buf_o, double lr, double alpha, double eps, double weight_decay,
             double momentum, bool centered, bool maximize) {
  const char* op = "rmsprop_step_";
  const DType dt = check_param_grad(param, grad, op);
  check_state(square_avg, param, dt, op, "square_avg");
  gradcore::argcheck::check_rmsprop_hyper(op, lr, alpha, eps, weight_decay, momentum);
  py::array ga = state_arg(grad_avg_o, centered, "centered=True", param, dt, op, "grad_avg");
  py::array buf = state_arg(buf_o, momentum > 0, "momentum > 0", param, dt, op, "momentum_buffer");
  check_no_aliasing({{&param, "param", true},
                     {&grad, "grad", false},
                     {&square_avg, "square_avg", true},
                     {&ga, "grad_avg", true},
                     {&buf, "momentum_buffer", true}},
                    op);
  const RmspropHyper h{lr, alpha, eps, weight_decay, momentum, centered, maximize};
  const int64_t n = numel(param);
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    T* p = data_ptr<T>(param);
    const T* g = data_ptr<T>(static_cast<const py::array&>(grad));
    T* sq = data_ptr<T>(square_avg);
    T* pga = centered ? data_ptr<T>(ga) : nullptr;
    T* pb = momentum > 0 ? data_ptr<T>(buf) : nullptr;
    run_kernel([&] { rmsprop_step<T>(p, g, sq, pga, pb, n, h); });
  });
}

void adagrad(py::array param, py::array grad, py::array state_sum, int64_t step, double lr,
             double lr_decay, double weight_decay, double eps, bool maximize) {
  const char* op = "adagrad_step_";
  const DType dt = check_param_grad(param, grad, op);
  check_state(state_sum, param, dt, op, "state_sum");
  check_no_aliasing(
      {{&param, "param", true}, {&grad, "grad", false}, {&state_sum, "state_sum", true}}, op);
  gradcore::argcheck::check_adagrad_hyper(op, step, lr, lr_decay, weight_decay, eps);
  const AdagradHyper h{step, lr, lr_decay, weight_decay, eps, maximize};
  const int64_t n = numel(param);
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    T* p = data_ptr<T>(param);
    const T* g = data_ptr<T>(static_cast<const py::array&>(grad));
    T* s = data_ptr<T>(state_sum);
    run_kernel([&] { adagrad_step<T>(p, g, s, n, h); });
  });
}

double sum_sq(py::array x) {
  const char* op = "sum_of_squares";
  const DType dt = float_dtype(x, op, "x");
  check_array(x, op, "x", dt);
  const int64_t n = numel(x);
  double r = 0;
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = data_ptr<T>(static_cast<const py::array&>(x));
    run_kernel([&] { r = sum_of_squares<T>(px, n); });
  });
  return r;
}

void scale(py::array x, double alpha) {
  const char* op = "scale_";
  const DType dt = float_dtype(x, op, "x");
  check_output(x, op, "x", dt);
  const int64_t n = numel(x);
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    T* px = data_ptr<T>(x);
    run_kernel([&] { scale_inplace<T>(px, n, alpha); });
  });
}

void clamp(py::array x, double lo, double hi) {
  const char* op = "clamp_";
  const DType dt = float_dtype(x, op, "x");
  check_output(x, op, "x", dt);
  if (std::isnan(lo) || std::isnan(hi) || lo > hi)
    fail_value(op, "bounds must satisfy lo <= hi, got lo=" + num_str(lo) + ", hi=" + num_str(hi));
  const int64_t n = numel(x);
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    T* px = data_ptr<T>(x);
    run_kernel([&] { clamp_inplace<T>(px, n, lo, hi); });
  });
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(optim) {
  using namespace gradcore::bindings;
  // In-place arguments are .noconvert(): a list or another dtype would be converted to a copy
  // and the update lost.
  m.def("sgd_step_", &sgd, py::arg("param").noconvert(), py::arg("grad"),
        py::arg("momentum_buffer").none(true), py::arg("lr"), py::arg("momentum") = 0.0,
        py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0, py::arg("nesterov") = false,
        py::arg("maximize") = false, py::arg("first_step") = false,
        "Fused SGD step in place (torch.optim.SGD, foreach=False). first_step: the momentum "
        "buffer is set to the gradient (PyTorch's buffer-is-None case).");
  m.def("adam_step_", &adam, py::arg("param").noconvert(), py::arg("grad"),
        py::arg("exp_avg").noconvert(), py::arg("exp_avg_sq").noconvert(),
        py::arg("max_exp_avg_sq").none(true), py::arg("step"), py::arg("lr"),
        py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("eps") = 1e-8,
        py::arg("weight_decay") = 0.0, py::arg("decoupled_weight_decay") = false,
        py::arg("amsgrad") = false, py::arg("maximize") = false,
        "Fused Adam/AdamW step in place (torch.optim.Adam / AdamW, foreach=False); step is the "
        "step count after this update (1 on the first call).");
  m.def("rmsprop_step_", &rmsprop, py::arg("param").noconvert(), py::arg("grad"),
        py::arg("square_avg").noconvert(), py::arg("grad_avg").none(true),
        py::arg("momentum_buffer").none(true), py::arg("lr"), py::arg("alpha") = 0.99,
        py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0, py::arg("momentum") = 0.0,
        py::arg("centered") = false, py::arg("maximize") = false,
        "Fused RMSprop step in place (torch.optim.RMSprop, foreach=False).");
  m.def("adagrad_step_", &adagrad, py::arg("param").noconvert(), py::arg("grad"),
        py::arg("state_sum").noconvert(), py::arg("step"), py::arg("lr"), py::arg("lr_decay") = 0.0,
        py::arg("weight_decay") = 0.0, py::arg("eps") = 1e-10, py::arg("maximize") = false,
        "Fused Adagrad step in place (torch.optim.Adagrad, foreach=False); step counts from 1.");
  m.def("sum_of_squares", &sum_sq, py::arg("x"),
        "sum(x**2) accumulated in float64 over a fixed partition (deterministic).");
  m.def("scale_", &scale, py::arg("x").noconvert(), py::arg("alpha"), "x *= alpha in place.");
  m.def("clamp_", &clamp, py::arg("x").noconvert(), py::arg("lo"), py::arg("hi"),
        "x = min(max(x, lo), hi) in place (NaN stays NaN).");
}
