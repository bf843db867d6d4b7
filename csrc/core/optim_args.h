// Hyperparameter checks of the fused optimizer steps, written once for the three modules
// that bind them: _C (bindings/bind_optim.cpp), its CUDA test driver
// (bindings/bind_cuda_host_optim.cpp) and _C_cuda (cuda/bindings/bind_optim.cpp). The ranges
// are torch.optim's; eps = 0 is allowed, as there. Each throws std::invalid_argument
// ("<op>: <what>", a ValueError in Python); the array checks stay with each module's arrays.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>

#include "core/arg_checks.h"

namespace gradcore::argcheck {

// step: the count after this update (Adam's and Adagrad's bias corrections and decay).
inline void check_step(int64_t step, const char* op) {
  if (step < 1)
    fail_invalid(op,
                 "step must be >= 1 (the count after this update), got " + std::to_string(step));
}

inline void check_sgd_hyper(const char* op, double lr, double momentum, double dampening,
                            double weight_decay, bool nesterov) {
  check_range(lr, op, "lr", 0.0, INFINITY);
  check_range(momentum, op, "momentum", 0.0, 1.0);
  check_range(weight_decay, op, "weight_decay", 0.0, INFINITY);
  if (!std::isfinite(dampening)) fail_invalid(op, "dampening must be finite");
  if (nesterov && (momentum <= 0 || dampening != 0))
    fail_invalid(op, "nesterov momentum requires a momentum and zero dampening (momentum=" +
                         num_str(momentum) + ", dampening=" + num_str(dampening) + ")");
}

inline void check_adam_hyper(const char* op, int64_t step, double lr, double beta1, double beta2,
                             double eps, double weight_decay) {
  check_step(step, op);
  check_range(lr, op, "lr", 0.0, INFINITY);
  check_range(beta1, op, "beta1", 0.0, 1.0, false, /*hi_open=*/true);
  check_range(beta2, op, "beta2", 0.0, 1.0, false, /*hi_open=*/true);
  check_range(eps, op, "eps", 0.0, INFINITY);
  check_range(weight_decay, op, "weight_decay", 0.0, INFINITY);
}

inline void check_rmsprop_hyper(const char* op, double lr, double alpha, double eps,
                                double weight_decay, double momentum) {
  check_range(lr, op, "lr", 0.0, INFINITY);
  check_range(alpha, op, "alpha", 0.0, 1.0);
  check_range(eps, op, "eps", 0.0, INFINITY);
  check_range(weight_decay, op, "weight_decay", 0.0, INFINITY);
  check_range(momentum, op, "momentum", 0.0, 1.0);
}

inline void check_adagrad_hyper(const char* op, int64_t step, double lr, double lr_decay,
                                double weight_decay, double eps) {
  check_step(step, op);
  check_range(lr, op, "lr", 0.0, INFINITY);
  check_range(lr_decay, op, "lr_decay", 0.0, INFINITY);
  check_range(weight_decay, op, "weight_decay", 0.0, INFINITY);
  check_range(eps, op, "eps", 0.0, INFINITY);
}

}  // namespace gradcore::argcheck
