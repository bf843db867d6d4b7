// CPU test driver of csrc/cuda/optim.cu (see cuda_host.h): float32 numpy arrays, updated in
// place as _C's optimizer steps update theirs; the same argument names, defaults and checks.
// sum_of_squares emulates the two block-reduction passes of the GPU (same partials, same tree).
#include <cmath>
#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/cuda_host.h"
#include "bindings/registry.h"
#include "core/optim_args.h"
#include "cuda/optim_threads.h"

namespace gradcore::bindings {
namespace {

namespace gcu = gradcore::cuda;

// param: writable float32; grad: float32, param's shape, not sharing param's memory.
void check_param_grad(py::array& param, const py::array& grad, const char* op) {
  check_output(param, op, "param", DType::kFloat32);
  check_array(grad, op, "grad", DType::kFloat32);
  check_same_shape(param, grad, op, "param", "grad");
  check_no_overlap(param, grad, op, "param", "grad");
}

void check_state(const py::array& s, const py::array& param, const char* op, const char* arg) {
  check_output(s, op, arg, DType::kFloat32);
  check_same_shape(s, param, op, arg, "param");
}

py::array state_arg(const py::object& obj, bool required, const char* why, const py::array& param,
                    const char* op, const char* arg) {
  py::array a = optional_array(obj, op, arg);
  if (!a && required) fail_value(op, std::string(arg) + " is required when " + why);
  if (a) check_state(a, param, op, arg);
  return a;
}

void sgd(py::array param, py::array grad, py::object buf_o, double lr, double momentum,
         double dampening, double weight_decay, bool nesterov, bool maximize, bool first_step) {
  const char* op = "sgd_step_";
  check_param_grad(param, grad, op);
  gradcore::argcheck::check_sgd_hyper(op, lr, momentum, dampening, weight_decay, nesterov);
  py::array buf = state_arg(buf_o, momentum != 0, "momentum != 0", param, op, "momentum_buffer");
  check_no_aliasing(
      {{&param, "param", true}, {&grad, "grad", false}, {&buf, "momentum_buffer", true}}, op);
  const gcu::SgdConsts c =
      gcu::sgd_consts(lr, momentum, dampening, weight_decay, nesterov, maximize, first_step);
  float* p = data_ptr<float>(param);
  const float* g = data_ptr<float>(static_cast<const py::array&>(grad));
  float* b = c.momentum ? data_ptr<float>(buf) : nullptr;
  for_each_index_host(numel(param), [&](int64_t t) { gcu::sgd_step_at(t, p, g, b, c); });
}

void adam(py::array param, py::array grad, py::array exp_avg, py::array exp_avg_sq,
          py::object max_o, int64_t step, double lr, double beta1, double beta2, double eps,
          double weight_decay, bool decoupled_weight_decay, bool amsgrad, bool maximize) {
  const char* op = "adam_step_";
  check_param_grad(param, grad, op);
  check_state(exp_avg, param, op, "exp_avg");
  check_state(exp_avg_sq, param, op, "exp_avg_sq");
  py::array vmax = state_arg(max_o, amsgrad, "amsgrad=True", param, op, "max_exp_avg_sq");
  check_no_aliasing({{&param, "param", true},
                     {&grad, "grad", false},
                     {&exp_avg, "exp_avg", true},
                     {&exp_avg_sq, "exp_avg_sq", true},
                     {&vmax, "max_exp_avg_sq", true}},
                    op);
  gradcore::argcheck::check_adam_hyper(op, step, lr, beta1, beta2, eps, weight_decay);
  const gcu::AdamConsts c = gcu::adam_consts(step, lr, beta1, beta2, eps, weight_decay,
                                             decoupled_weight_decay, amsgrad, maximize);
  float* p = data_ptr<float>(param);
  const float* g = data_ptr<float>(static_cast<const py::array&>(grad));
  float* m = data_ptr<float>(exp_avg);
  float* v = data_ptr<float>(exp_avg_sq);
  float* vm = amsgrad ? data_ptr<float>(vmax) : nullptr;
  for_each_index_host(numel(param), [&](int64_t t) { gcu::adam_step_at(t, p, g, m, v, vm, c); });
}

void rmsprop(py::array param, py::array grad, py::array square_avg, py::object grad_avg_o,
             py::object buf_o, double lr, double alpha, double eps, double weight_decay,
             double momentum, bool centered, bool maximize) {
  const char* op = "rmsprop_step_";
  check_param_grad(param, grad, op);
  check_state(square_avg, param, op, "square_avg");
  gradcore::argcheck::check_rmsprop_hyper(op, lr, alpha, eps, weight_decay, momentum);
  py::array ga = state_arg(grad_avg_o, centered, "centered=True", param, op, "grad_avg");
  py::array buf = state_arg(buf_o, momentum > 0, "momentum > 0", param, op, "momentum_buffer");
  check_no_aliasing({{&param, "param", true},
                     {&grad, "grad", false},
                     {&square_avg, "square_avg", true},
                     {&ga, "grad_avg", true},
                     {&buf, "momentum_buffer", true}},
                    op);
  const gcu::RmspropConsts c =
      gcu::rmsprop_consts(lr, alpha, eps, weight_decay, momentum, centered, maximize);
  float* p = data_ptr<float>(param);
  const float* g = data_ptr<float>(static_cast<const py::array&>(grad));
  float* sq = data_ptr<float>(square_avg);
  float* pga = centered ? data_ptr<float>(ga) : nullptr;
  float* pb = c.momentum ? data_ptr<float>(buf) : nullptr;
  for_each_index_host(numel(param),
                      [&](int64_t t) { gcu::rmsprop_step_at(t, p, g, sq, pga, pb, c); });
}

void adagrad(py::array param, py::array grad, py::array state_sum, int64_t step, double lr,
             double lr_decay, double weight_decay, double eps, bool maximize) {
  const char* op = "adagrad_step_";
  check_param_grad(param, grad, op);
  check_state(state_sum, param, op, "state_sum");
  check_no_aliasing(
      {{&param, "param", true}, {&grad, "grad", false}, {&state_sum, "state_sum", true}}, op);
  gradcore::argcheck::check_adagrad_hyper(op, step, lr, lr_decay, weight_decay, eps);
  const gcu::AdagradConsts c = gcu::adagrad_consts(step, lr, lr_decay, weight_decay, eps, maximize);
  float* p = data_ptr<float>(param);
  const float* g = data_ptr<float>(static_cast<const py::array&>(grad));
  float* s = data_ptr<float>(state_sum);
  for_each_index_host(numel(param), [&](int64_t t) { gcu::adagrad_step_at(t, p, g, s, c); });
}

double sum_sq(py::array x) {
  const char* op = "sum_of_squares";
  check_array(x, op, "x", DType::kFloat32);
  const int64_t n = numel(x);
  if (n == 0) return 0.0;
  const float* px = data_ptr<float>(static_cast<const py::array&>(x));
  const int64_t chunks = gcu::sumsq_chunks(n);
  std::vector<float> sums(static_cast<size_t>(chunks));
  float* ps = sums.data();
  gcu::for_each_row_reduce_host(
      chunks, [&](int64_t r, int t) { return gcu::sumsq_chunk_partial(r, t, px, n); },
      [&](int64_t r, float total) { gcu::sumsq_store(r, total, ps); });
  float out = 0.f;
  gcu::for_each_row_reduce_host(
      1, [&](int64_t, int t) { return gcu::sumsq_total_partial(t, ps, chunks); },
      [&](int64_t, float total) { out = total; });
  return static_cast<double>(out);
}

void scale(py::array x, double alpha) {
  check_output(x, "scale_", "x", DType::kFloat32);
  float* px = data_ptr<float>(x);
  const float a = static_cast<float>(alpha);
  for_each_index_host(numel(x), [&](int64_t t) { gcu::scale_at(t, px, a); });
}

void clamp(py::array x, double lo, double hi) {
  const char* op = "clamp_";
  check_output(x, op, "x", DType::kFloat32);
  if (std::isnan(lo) || std::isnan(hi) || lo > hi)
    fail_value(op, "bounds must satisfy lo <= hi, got lo=" + num_str(lo) + ", hi=" + num_str(hi));
  float* px = data_ptr<float>(x);
  const float l = static_cast<float>(lo), u = static_cast<float>(hi);
  for_each_index_host(numel(x), [&](int64_t t) { gcu::clamp_at(t, px, l, u); });
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(cuda_host_optim) {
  using namespace gradcore::bindings;
  py::module_ h = cuda_host_module(m);
  h.def("sgd_step_", &sgd, py::arg("param").noconvert(), py::arg("grad"),
        py::arg("momentum_buffer").none(true), py::arg("lr"), py::arg("momentum") = 0.0,
        py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0, py::arg("nesterov") = false,
        py::arg("maximize") = false, py::arg("first_step") = false);
  h.def("adam_step_", &adam, py::arg("param").noconvert(), py::arg("grad"),
        py::arg("exp_avg").noconvert(), py::arg("exp_avg_sq").noconvert(),
        py::arg("max_exp_avg_sq").none(true), py::arg("step"), py::arg("lr"),
        py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("eps") = 1e-8,
        py::arg("weight_decay") = 0.0, py::arg("decoupled_weight_decay") = false,
        py::arg("amsgrad") = false, py::arg("maximize") = false);
  h.def("rmsprop_step_", &rmsprop, py::arg("param").noconvert(), py::arg("grad"),
        py::arg("square_avg").noconvert(), py::arg("grad_avg").none(true),
        py::arg("momentum_buffer").none(true), py::arg("lr"), py::arg("alpha") = 0.99,
        py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0, py::arg("momentum") = 0.0,
        py::arg("centered") = false, py::arg("maximize") = false);
  h.def("adagrad_step_", &adagrad, py::arg("param").noconvert(), py::arg("grad"),
        py::arg("state_sum").noconvert(), py::arg("step"), py::arg("lr"), py::arg("lr_decay") = 0.0,
        py::arg("weight_decay") = 0.0, py::arg("eps") = 1e-10, py::arg("maximize") = false);
  h.def("sum_of_squares", &sum_sq, py::arg("x"));
  h.def("scale_", &scale, py::arg("x").noconvert(), py::arg("alpha"));
  h.def("clamp_", &clamp, py::arg("x").noconvert(), py::arg("lo"), py::arg("hi"));
}
