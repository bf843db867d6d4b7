// Fused optimizer updates: one pass over a parameter and its state per step, following
// torch.optim's single-tensor (foreach=False) formulas operation by operation, in the
// parameter's dtype (hyper-parameters rounded to T where PyTorch rounds its scalars, fused
// multiply-adds where PyTorch's CPU kernels fuse), so a float32 step agrees with PyTorch's
// float32 step to the last bit or so (see optim.cpp). Elementwise, so the result does not
// depend on the thread count or the SIMD path. Plus the gradient-clipping helpers. Every
// step updates param and its state buffers in place (reads and overwrites them).
#pragma once
#include <cstdint>

namespace gradcore {

struct SgdHyper {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize, first_step;
};
// g = (maximize ? -grad : grad) + weight_decay * p        (when weight_decay != 0)
// momentum != 0: buf = g on the first step, else buf = momentum * buf + (1 - dampening) * g;
//                g = nesterov ? g + momentum * buf : buf
// p = p - lr * g.                         param, grad, momentum_buffer (null if momentum == 0):
// (n,). Updates param and momentum_buffer in place.
template <typename T>
void sgd_step(T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdHyper& h);

struct AdamHyper {
  int64_t step;  // after increment: 1 on the first step
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled_weight_decay, amsgrad, maximize;
};
// g = maximize ? -grad : grad; weight decay: p *= 1 - lr*wd (decoupled, AdamW) or g += wd*p;
// m = lerp(m, g, 1 - beta1); v = beta2 * v + (1 - beta2) * g * g;
// amsgrad: vmax = max(vmax, v), v' = vmax else v' = v;
// denom = sqrt(v') / sqrt(1 - beta2^step) + eps;  p -= (lr / (1 - beta1^step)) * m / denom.
// Updates param, exp_avg, exp_avg_sq (and max_exp_avg_sq) in place.
template <typename T>
void adam_step(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, int64_t n,
               const AdamHyper& h);

struct RmspropHyper {
  double lr, alpha, eps, weight_decay, momentum;
  bool centered, maximize;
};
// g = (maximize ? -grad : grad) + wd * p; sq = alpha * sq + (1 - alpha) * g * g;
// centered: ga = lerp(ga, g, 1 - alpha), avg = sqrt(sq - ga * ga) + eps, else sqrt(sq) + eps;
// momentum > 0: buf = momentum * buf + g / avg, p -= lr * buf;  else p -= lr * g / avg.
// Updates param and the state buffers in place.
template <typename T>
void rmsprop_step(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer,
                  int64_t n, const RmspropHyper& h);

struct AdagradHyper {
  int64_t step;  // after increment: 1 on the first step
  double lr, lr_decay, weight_decay, eps;
  bool maximize;
};
// g = (maximize ? -grad : grad) + wd * p; clr = lr / (1 + (step - 1) * lr_decay);
// state_sum += g * g; p -= clr * g / (sqrt(state_sum) + eps). Updates param and state_sum
// in place.
template <typename T>
void adagrad_step(T* param, const T* grad, T* state_sum, int64_t n, const AdagradHyper& h);

// sum(x^2) accumulated in double over fixed chunks summed in order: deterministic. Returns it.
template <typename T>
double sum_of_squares(const T* x, int64_t n);

// x *= alpha, in place.
template <typename T>
void scale_inplace(T* x, int64_t n, double alpha);

// x = min(max(x, lo), hi), in place; NaN stays NaN.
template <typename T>
void clamp_inplace(T* x, int64_t n, double lo, double hi);

}  // namespace gradcore
