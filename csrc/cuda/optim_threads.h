// Per-element bodies of the fused optimizer kernels (thread t updates element t) and the
// per-thread parts of sum_of_squares, shared by optim.cu and the CPU test driver. Formulas and
// rounding as csrc/cpu/optim_bodies.h (float32): the hyper-parameters are rounded to float on
// the host exactly as cpu/optim.cpp does (the *_consts functions), multiply-adds are fused
// exactly where the CPU kernels fuse (fmaf) and nowhere else: products that feed an addition
// are written mul_rn(), which nvcc cannot contract into an FMA. sqrtf and '/' are correctly
// rounded on both sides (nvcc's defaults, no fast math), so the host driver and the GPU agree
// with _C's CPU kernels to the bit (up to flush-to-zero of subnormals, which _C's kernels do).
#pragma once
#include <math.h>

#include <cmath>
#include <cstdint>

#include "cuda/host_device.h"

namespace gradcore::cuda {

// a * b rounded on its own (never contracted with a following addition).
GC_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

// torch.maximum: NaN in either argument gives NaN.
GC_HD float optim_nan_max(float a, float b) {
  return (a != a || a > b) ? a : b;
}

// torch.lerp(a, b, w) as its CPU kernel: |w| < 0.5 ? fma(w, b - a, a) : fma(w - 1, b - a, b);
// coef = w or w - 1 (computed on the host), small = |w| < 0.5.
GC_HD float optim_lerp(float a, float b, float coef, bool small) {
  return fmaf(coef, b - a, small ? a : b);
}

// ---- SGD ----------------------------------------------------------------------------------
struct SgdConsts {
  float sign, wd, mom, damp1, neg_lr;
  bool use_wd, first, nesterov, momentum;
};
inline SgdConsts sgd_consts(double lr, double momentum, double dampening, double weight_decay,
                            bool nesterov, bool maximize, bool first_step) {
  return SgdConsts{maximize ? -1.f : 1.f,
                   static_cast<float>(weight_decay),
                   static_cast<float>(momentum),
                   static_cast<float>(1.0 - dampening),
                   static_cast<float>(-lr),
                   weight_decay != 0,
                   first_step,
                   nesterov,
                   momentum != 0};
}
// buf may be null when !c.momentum.
GC_HD void sgd_step_at(int64_t t, float* param, const float* grad, float* buf, const SgdConsts& c) {
  const float p = param[t];
  float g = grad[t] * c.sign;
  if (c.use_wd) g = fmaf(p, c.wd, g);  // grad.add(param, alpha=weight_decay)
  if (c.momentum) {
    // first step: buf = clone(grad); else buf.mul_(momentum).add_(grad, alpha=1-dampening)
    const float m = c.first ? g : fmaf(g, c.damp1, mul_rn(buf[t], c.mom));
    buf[t] = m;
    g = c.nesterov ? fmaf(m, c.mom, g) : m;
  }
  param[t] = fmaf(g, c.neg_lr, p);  // param.add_(grad, alpha=-lr)
}

// ---- Adam / AdamW -------------------------------------------------------------------------
struct AdamConsts {
  float sign, decay, wd, w1, beta2, one_m_beta2, bc2_sqrt, eps, neg_step;
  bool coupled_wd, decoupled, small, amsgrad;
};
inline AdamConsts adam_consts(int64_t step, double lr, double beta1, double beta2, double eps,
                              double weight_decay, bool decoupled_weight_decay, bool amsgrad,
                              bool maximize) {
  const double s = static_cast<double>(step);
  const double bias_correction1 = 1.0 - std::pow(beta1, s);
  const double bias_correction2 = 1.0 - std::pow(beta2, s);
  const double step_size = lr / bias_correction1;
  const double bias_correction2_sqrt = std::pow(bias_correction2, 0.5);
  const float w1 = static_cast<float>(1.0 - beta1);
  const bool small = std::fabs(w1) < 0.5f;
  const bool wd = weight_decay != 0;
  return AdamConsts{maximize ? -1.f : 1.f,
                    static_cast<float>(1.0 - lr * weight_decay),
                    static_cast<float>(weight_decay),
                    small ? w1 : w1 - 1.f,
                    static_cast<float>(beta2),
                    static_cast<float>(1.0 - beta2),
                    static_cast<float>(bias_correction2_sqrt),
                    static_cast<float>(eps),
                    static_cast<float>(-step_size),
                    wd && !decoupled_weight_decay,
                    wd && decoupled_weight_decay,
                    small,
                    amsgrad};
}
// vmax may be null when !c.amsgrad.
GC_HD void adam_step_at(int64_t t, float* param, const float* grad, float* m, float* v, float* vmax,
                        const AdamConsts& c) {
  float p = param[t];
  float g = grad[t] * c.sign;
  if (c.decoupled) p = p * c.decay;                     // param.mul_(1 - lr * weight_decay)
  if (c.coupled_wd) g = fmaf(p, c.wd, g);               // grad.add(param, alpha=weight_decay)
  const float mi = optim_lerp(m[t], g, c.w1, c.small);  // exp_avg.lerp_(grad, 1 - beta1)
  float vi = fmaf(c.one_m_beta2 * g, g, mul_rn(v[t], c.beta2));
  m[t] = mi;
  v[t] = vi;
  if (c.amsgrad) {
    vi = optim_nan_max(vmax[t], vi);
    vmax[t] = vi;
  }
  const float denom = sqrtf(vi) / c.bc2_sqrt + c.eps;  // (v.sqrt() / bc2_sqrt).add_(eps)
  param[t] = p + (c.neg_step * mi) / denom;            // param.addcdiv_(m, denom, -step_size)
}

// ---- RMSprop ------------------------------------------------------------------------------
struct RmspropConsts {
  float sign, wd, alpha, one_m_alpha, lerp_w, eps, mom, neg_lr;
  bool use_wd, small, centered, momentum;
};
inline RmspropConsts rmsprop_consts(double lr, double alpha, double eps, double weight_decay,
                                    double momentum, bool centered, bool maximize) {
  const float one_m_alpha = static_cast<float>(1.0 - alpha);
  const bool small = std::fabs(one_m_alpha) < 0.5f;
  return RmspropConsts{maximize ? -1.f : 1.f,
                       static_cast<float>(weight_decay),
                       static_cast<float>(alpha),
                       one_m_alpha,
                       small ? one_m_alpha : one_m_alpha - 1.f,
                       static_cast<float>(eps),
                       static_cast<float>(momentum),
                       static_cast<float>(-lr),
                       weight_decay != 0,
                       small,
                       centered,
                       momentum > 0};
}
// grad_avg may be null when !c.centered, buf when !c.momentum.
GC_HD void rmsprop_step_at(int64_t t, float* param, const float* grad, float* square_avg,
                           float* grad_avg, float* buf, const RmspropConsts& c) {
  const float p = param[t];
  float g = grad[t] * c.sign;
  if (c.use_wd) g = fmaf(p, c.wd, g);
  const float s = fmaf(c.one_m_alpha * g, g, mul_rn(square_avg[t], c.alpha));
  square_avg[t] = s;
  float avg;
  if (c.centered) {
    const float a = optim_lerp(grad_avg[t], g, c.lerp_w, c.small);  // grad_avg.lerp_(g, 1-a)
    grad_avg[t] = a;
    avg = sqrtf(fmaf(-a, a, s));  // square_avg.addcmul(ga, ga, value=-1).sqrt_()
  } else {
    avg = sqrtf(s);
  }
  avg = avg + c.eps;
  if (c.momentum) {
    const float bb = mul_rn(buf[t], c.mom) + g / avg;  // buf.mul_(momentum).addcdiv_(g, avg)
    buf[t] = bb;
    param[t] = fmaf(bb, c.neg_lr, p);  // param.add_(buf, alpha=-lr)
  } else {
    param[t] = p + (c.neg_lr * g) / avg;  // param.addcdiv_(grad, avg, value=-lr)
  }
}

// ---- Adagrad ------------------------------------------------------------------------------
struct AdagradConsts {
  float sign, wd, eps, neg_clr;
  bool use_wd;
};
inline AdagradConsts adagrad_consts(int64_t step, double lr, double lr_decay, double weight_decay,
                                    double eps, bool maximize) {
  const double clr = lr / (1.0 + (static_cast<double>(step) - 1.0) * lr_decay);
  return AdagradConsts{maximize ? -1.f : 1.f, static_cast<float>(weight_decay),
                       static_cast<float>(eps), static_cast<float>(-clr), weight_decay != 0};
}
GC_HD void adagrad_step_at(int64_t t, float* param, const float* grad, float* state_sum,
                           const AdagradConsts& c) {
  const float p = param[t];
  float g = grad[t] * c.sign;
  if (c.use_wd) g = fmaf(p, c.wd, g);
  const float s = fmaf(g, g, state_sum[t]);  // state_sum.addcmul_(grad, grad, value=1)
  state_sum[t] = s;
  param[t] = p + (c.neg_clr * g) / (sqrtf(s) + c.eps);
}

// ---- scale_ / clamp_ ----------------------------------------------------------------------
GC_HD void scale_at(int64_t t, float* x, float alpha) {
  x[t] = x[t] * alpha;
}
// NaN passes through (comparisons with NaN are false)
GC_HD void clamp_at(int64_t t, float* x, float lo, float hi) {
  float v = x[t];
  v = v < lo ? lo : v;
  v = v > hi ? hi : v;
  x[t] = v;
}

// ---- sum_of_squares -----------------------------------------------------------------------
// Two block-reduction passes, the order fixed by n alone (deterministic): pass 1 has one row
// per chunk of kSumsqChunk elements; thread t of row r accumulates (fmaf, float) the squares of
// elements r * kSumsqChunk + t + k * kBlock of its chunk, the block tree sums the kBlock
// partials and thread 0 stores the chunk's sum. Pass 2 is one row over the chunk sums: thread
// t adds sums t, t + kBlock, ..., then the tree. Float accumulation throughout (the CPU kernel
// accumulates in double): results agree to ~1e-6 relative; sums above FLT_MAX become inf.
constexpr int64_t kSumsqChunk = 64 * kBlock;

GC_HD int64_t sumsq_chunks(int64_t n) {
  return (n + kSumsqChunk - 1) / kSumsqChunk;
}

GC_HD float sumsq_chunk_partial(int64_t r, int t, const float* x, int64_t n) {
  const int64_t b = r * kSumsqChunk;
  const int64_t e = n < b + kSumsqChunk ? n : b + kSumsqChunk;
  float a = 0.f;
  for (int64_t i = b + t; i < e; i += kBlock) a = fmaf(x[i], x[i], a);
  return a;
}
GC_HD void sumsq_store(int64_t r, float total, float* sums) {
  sums[r] = total;
}

GC_HD float sumsq_total_partial(int t, const float* sums, int64_t chunks) {
  float a = 0.f;
  for (int64_t i = t; i < chunks; i += kBlock) a = a + sums[i];
  return a;
}

}  // namespace gradcore::cuda
