// Fused optimizer updates and gradient-clipping helpers (see optim.h).
//
// Each statement mirrors one PyTorch tensor op of torch/optim/*.py (_single_tensor_*) with
// the rounding of PyTorch's CPU kernels, which fuse some multiply-adds (vec::fmadd):
//   a.add(b, alpha=s)          -> fma(b, T(s), a)
//   a.mul_(s)                  -> a * T(s)
//   a.addcmul_(b, c, value=s)  -> fma(T(s) * b, c, a)
//   a.addcdiv_(b, c, value=s)  -> a + (T(s) * b) / c            (no fusion through a division)
//   a.lerp_(b, w)              -> |w| < 0.5 ? fma(w, b - a, a) : fma(w - 1, b - a, b)
// Scalars that PyTorch computes in Python (1 - beta1, lr / bias_correction1, ...) are
// computed in double and rounded to T. fma rounds once on every CPU (hardware FMA on the
// AVX2 path, the C library's exact fma otherwise), so both paths give identical bits. Measured
// against torch 2.13 (AVX2 CPU kernels): SGD and every optimizer state buffer match bitwise;
// parameters differ in the last bit where PyTorch's float32 sqrt (not correctly rounded, within
// 1 ulp) differs from std::sqrt.
// PyTorch's rounding needs fused multiply-adds exactly where the code says fmadd and nowhere
// else: the compiler must not contract a * b + c by itself in the AVX2 clones (GCC's default
// is -ffp-contract=fast). Set before any include so every function of this file agrees.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "cpu/optim.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "core/simd_target.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

constexpr int64_t kGrain = 1 << 15;      // elements worth a thread (memory-bound updates)
constexpr int64_t kSumChunk = 1 << 16;   // fixed reduction chunk of sum_of_squares
constexpr int64_t kStackPartials = 256;  // partial sums kept on the stack up to this many

// a * b + c with a single rounding.
GC_ALWAYS_INLINE float fmadd(float a, float b, float c) {
  return __builtin_fmaf(a, b, c);
}
GC_ALWAYS_INLINE double fmadd(double a, double b, double c) {
  return __builtin_fma(a, b, c);
}

// Loop-invariant options as bit masks: select() is a bitwise blend, which vectorizes where a
// `flag ? x : y` on a scalar bool may not.
template <typename T>
using UInt = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
template <typename T>
GC_ALWAYS_INLINE UInt<T> mask_of(bool b) {
  return b ? ~UInt<T>(0) : UInt<T>(0);
}
// a where mask is all ones, b where it is zero (bit-exact, NaN payloads included).
template <typename T>
GC_ALWAYS_INLINE T select(UInt<T> mask, T a, T b) {
  UInt<T> ua, ub;
  std::memcpy(&ua, &a, sizeof(T));
  std::memcpy(&ub, &b, sizeof(T));
  const UInt<T> r = (ua & mask) | (ub & ~mask);
  T out;
  std::memcpy(&out, &r, sizeof(T));
  return out;
}

// torch.lerp(a, b, w) for a scalar weight, as its vectorized CPU kernel computes it:
// |w| < 0.5 ? fma(w, b - a, a) : fma(w - 1, b - a, b). The caller passes coef = w or w - 1
// and small = mask_of(|w| < 0.5); only values are selected, so the loop vectorizes.
template <typename T>
GC_ALWAYS_INLINE T lerp(T a, T b, T coef, UInt<T> small) {
  const T base = select(small, a, b);
  return fmadd(coef, b - a, base);
}

// The lerp coefficient for weight w (in T): w when |w| < 0.5, else w - 1.
template <typename T>
T lerp_coef(T w) {
  return std::abs(w) < T(0.5) ? w : w - T(1);
}

// torch.maximum: NaN in either argument gives NaN.
template <typename T>
GC_ALWAYS_INLINE T nan_max(T a, T b) {
  return (a != a || a > b) ? a : b;  // b when b is NaN (a > NaN is false)
}

// Runs body(b, e) over [0, n) in parallel, compiled for AVX2+FMA when the CPU has it.
// Both instantiations compute the same operations, so they give identical results.
template <typename Body>
void run_generic(const Body& body, int64_t b, int64_t e) {
  body(b, e);
}
#if GC_HAVE_AVX2_TARGET
template <typename Body>
GC_TARGET_AVX2 void run_avx2(const Body& body, int64_t b, int64_t e) {
  body(b, e);
}
#endif
template <typename Body>
void dispatch_elementwise(int64_t n, const Body& body) {
#if GC_HAVE_AVX2_TARGET
  if (at_least(CpuCapability::kAvx2Fma)) {
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) { run_avx2(body, b, e); });
    return;
  }
#endif
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { run_generic(body, b, e); });
}

// The loop bodies: functors whose call operator is always inlined into run_generic /
// run_avx2, so each is compiled (and vectorized) for both targets. Which state arrays are
// written is a template parameter (a conditional store would stop vectorization); the other
// options are loop-invariant selects. The binding guarantees the arrays do not overlap.
template <typename T, bool kMomentum>
struct SgdBody {
  T* param;
  const T* grad;
  T* buf;
  T sign_, wd_, mom_, damp1_, neg_lr_;
  bool use_wd_, first_, nesterov_;
  GC_ALWAYS_INLINE void operator()(int64_t b, int64_t e) const { loop(b, e, param, grad, buf); }
  // restrict-qualified parameters: the arrays never overlap (checked by the binding).
  GC_ALWAYS_INLINE void loop(int64_t b, int64_t e, T* __restrict__ pp, const T* __restrict__ pg,
                             T* __restrict__ pb) const {
    // Members copied to locals: the compiler need not reload them after each store.
    const T sign = sign_, wd = wd_, mom = mom_, damp1 = damp1_, neg_lr = neg_lr_;
    const UInt<T> use_wd = mask_of<T>(use_wd_), first = mask_of<T>(first_),
                  nesterov = mask_of<T>(nesterov_);
    for (int64_t i = b; i < e; ++i) {
      const T p = pp[i];
      T g = pg[i] * sign;  // maximize: -grad
      const T gw = fmadd(p, wd, g);
      g = select(use_wd, gw, g);  // grad.add(param, alpha=weight_decay)
      if constexpr (kMomentum) {
        // first step: buf = clone(grad); else buf.mul_(momentum).add_(grad, alpha=1-dampening)
        const T upd = fmadd(g, damp1, pb[i] * mom);
        const T m = select(first, g, upd);
        pb[i] = m;
        const T gn = fmadd(m, mom, g);
        g = select(nesterov, gn, m);  // grad.add(buf, alpha=momentum) or buf
      }
      pp[i] = fmadd(g, neg_lr, p);  // param.add_(grad, alpha=-lr)
    }
  }
};

template <typename T, bool kAmsgrad, bool kDecoupled>
struct AdamBody {
  T* param;
  const T* grad;
  T *m, *v, *vmax;
  T sign_, decay_, wd_, w1_, beta2_, one_m_beta2_, bc2_sqrt_, eps_, neg_step_;
  bool coupled_wd_, small_;
  GC_ALWAYS_INLINE void operator()(int64_t b, int64_t e) const {
    loop(b, e, param, grad, m, v, vmax);
  }
  // restrict-qualified parameters: the arrays never overlap (checked by the binding).
  GC_ALWAYS_INLINE void loop(int64_t b, int64_t e, T* __restrict__ pp, const T* __restrict__ pg,
                             T* __restrict__ pm, T* __restrict__ pv, T* __restrict__ pvmax) const {
    // Members copied to locals: the compiler need not reload them after each store.
    const T sign = sign_, decay = decay_, wd = wd_, w1 = w1_, beta2 = beta2_,
            one_m_beta2 = one_m_beta2_, bc2_sqrt = bc2_sqrt_, eps = eps_, neg_step = neg_step_;
    const UInt<T> coupled_wd = mask_of<T>(coupled_wd_), small = mask_of<T>(small_);
    for (int64_t i = b; i < e; ++i) {
      T p = pp[i];
      T g = pg[i] * sign;
      if constexpr (kDecoupled) p = p * decay;  // param.mul_(1 - lr * weight_decay)
      const T gw = fmadd(p, wd, g);
      g = select(coupled_wd, gw, g);                    // grad.add(param, alpha=weight_decay)
      const T mi = lerp(pm[i], g, w1, small);           // exp_avg.lerp_(grad, 1 - beta1)
      T vi = fmadd(one_m_beta2 * g, g, pv[i] * beta2);  // exp_avg_sq.mul_(b2).addcmul_(g,g,1-b2)
      pm[i] = mi;
      pv[i] = vi;
      if constexpr (kAmsgrad) {
        vi = nan_max(pvmax[i], vi);  // torch.maximum(max_exp_avg_sq, exp_avg_sq, out=...)
        pvmax[i] = vi;
      }
      const T denom = std::sqrt(vi) / bc2_sqrt + eps;  // (v.sqrt() / bc2_sqrt).add_(eps)
      pp[i] = p + (neg_step * mi) / denom;             // param.addcdiv_(m, denom, -step_size)
    }
  }
};

template <typename T, bool kCentered, bool kMomentum>
struct RmspropBody {
  T* param;
  const T* grad;
  T *sq, *ga, *buf;
  T sign_, wd_, alpha_, one_m_alpha_, lerp_w_, eps_, mom_, neg_lr_;
  bool use_wd_, small_;
  GC_ALWAYS_INLINE void operator()(int64_t b, int64_t e) const {
    loop(b, e, param, grad, sq, ga, buf);
  }
  // restrict-qualified parameters: the arrays never overlap (checked by the binding).
  GC_ALWAYS_INLINE void loop(int64_t b, int64_t e, T* __restrict__ pp, const T* __restrict__ pg,
                             T* __restrict__ psq, T* __restrict__ pga, T* __restrict__ pb) const {
    // Members copied to locals: the compiler need not reload them after each store.
    const T sign = sign_, wd = wd_, alpha = alpha_, one_m_alpha = one_m_alpha_, lerp_w = lerp_w_,
            eps = eps_, mom = mom_, neg_lr = neg_lr_;
    const UInt<T> use_wd = mask_of<T>(use_wd_), small = mask_of<T>(small_);
    for (int64_t i = b; i < e; ++i) {
      const T p = pp[i];
      T g = pg[i] * sign;
      const T gw = fmadd(p, wd, g);
      g = select(use_wd, gw, g);
      const T s = fmadd(one_m_alpha * g, g, psq[i] * alpha);  // mul_(alpha).addcmul_(g,g,1-a)
      psq[i] = s;
      T avg;
      if constexpr (kCentered) {
        const T a = lerp(pga[i], g, lerp_w, small);  // grad_avg.lerp_(grad, 1 - alpha)
        pga[i] = a;
        avg = std::sqrt(fmadd(-a, a, s));  // square_avg.addcmul(ga, ga, value=-1).sqrt_()
      } else {
        avg = std::sqrt(s);
      }
      avg = avg + eps;
      if constexpr (kMomentum) {
        const T bb = pb[i] * mom + g / avg;  // buf.mul_(momentum).addcdiv_(grad, avg)
        pb[i] = bb;
        pp[i] = fmadd(bb, neg_lr, p);  // param.add_(buf, alpha=-lr)
      } else {
        pp[i] = p + (neg_lr * g) / avg;  // param.addcdiv_(grad, avg, value=-lr)
      }
    }
  }
};

template <typename T>
struct AdagradBody {
  T* param;
  const T* grad;
  T* sum;
  T sign_, wd_, eps_, neg_clr_;
  bool use_wd_;
  GC_ALWAYS_INLINE void operator()(int64_t b, int64_t e) const { loop(b, e, param, grad, sum); }
  // restrict-qualified parameters: the arrays never overlap (checked by the binding).
  GC_ALWAYS_INLINE void loop(int64_t b, int64_t e, T* __restrict__ pp, const T* __restrict__ pg,
                             T* __restrict__ ps) const {
    // Members copied to locals: the compiler need not reload them after each store.
    const T sign = sign_, wd = wd_, eps = eps_, neg_clr = neg_clr_;
    const UInt<T> use_wd = mask_of<T>(use_wd_);
    for (int64_t i = b; i < e; ++i) {
      const T p = pp[i];
      T g = pg[i] * sign;
      const T gw = fmadd(p, wd, g);
      g = select(use_wd, gw, g);
      const T s = fmadd(g, g, ps[i]);  // state_sum.addcmul_(grad, grad, value=1)
      ps[i] = s;
      pp[i] = p + (neg_clr * g) / (std::sqrt(s) + eps);  // addcdiv_(g, sqrt(s)+eps, -clr)
    }
  }
};

template <bool B>
using Bool = std::integral_constant<bool, B>;

// Calls f(Bool<b>{}) for the run-time flag b.
template <typename F>
void with_flag(bool b, const F& f) {
  if (b)
    f(Bool<true>{});
  else
    f(Bool<false>{});
}

}  // namespace

template <typename T>
void sgd_step(T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdHyper& h) {
  GC_PROFILE_SCOPE("sgd_step", 6.0 * n, sizeof(T) * (h.momentum != 0 ? 5.0 : 3.0) * n, {n});
  with_flag(h.momentum != 0, [&](auto mom) {
    const SgdBody<T, decltype(mom)::value> body{param,
                                                grad,
                                                momentum_buffer,
                                                h.maximize ? T(-1) : T(1),
                                                static_cast<T>(h.weight_decay),
                                                static_cast<T>(h.momentum),
                                                static_cast<T>(1.0 - h.dampening),
                                                static_cast<T>(-h.lr),
                                                h.weight_decay != 0,
                                                h.first_step,
                                                h.nesterov};
    dispatch_elementwise(n, body);
  });
}

template <typename T>
void adam_step(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, int64_t n,
               const AdamHyper& h) {
  GC_PROFILE_SCOPE(h.decoupled_weight_decay ? "adamw_step" : "adam_step", 16.0 * n,
                   sizeof(T) * (h.amsgrad ? 9.0 : 7.0) * n, {n});
  const double step = static_cast<double>(h.step);
  const double bias_correction1 = 1.0 - std::pow(h.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(h.beta2, step);
  const double step_size = h.lr / bias_correction1;
  const double bias_correction2_sqrt = std::pow(bias_correction2, 0.5);  // Python's ** 0.5
  const T w1 = static_cast<T>(1.0 - h.beta1);
  const bool wd = h.weight_decay != 0;
  with_flag(h.amsgrad, [&](auto ams) {
    with_flag(wd && h.decoupled_weight_decay, [&](auto decoupled) {
      const AdamBody<T, decltype(ams)::value, decltype(decoupled)::value> body{
          param,
          grad,
          exp_avg,
          exp_avg_sq,
          max_exp_avg_sq,
          h.maximize ? T(-1) : T(1),
          static_cast<T>(1.0 - h.lr * h.weight_decay),
          static_cast<T>(h.weight_decay),
          lerp_coef(w1),
          static_cast<T>(h.beta2),
          static_cast<T>(1.0 - h.beta2),
          static_cast<T>(bias_correction2_sqrt),
          static_cast<T>(h.eps),
          static_cast<T>(-step_size),
          wd && !h.decoupled_weight_decay,
          std::abs(w1) < T(0.5)};
      dispatch_elementwise(n, body);
    });
  });
}

template <typename T>
void rmsprop_step(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer,
                  int64_t n, const RmspropHyper& h) {
  GC_PROFILE_SCOPE("rmsprop_step", 12.0 * n,
                   sizeof(T) * (5.0 + (h.centered ? 2 : 0) + (h.momentum > 0 ? 2 : 0)) * n, {n});
  const T one_m_alpha = static_cast<T>(1.0 - h.alpha);
  with_flag(h.centered, [&](auto centered) {
    with_flag(h.momentum > 0, [&](auto mom) {
      const RmspropBody<T, decltype(centered)::value, decltype(mom)::value> body{
          param,
          grad,
          square_avg,
          grad_avg,
          momentum_buffer,
          h.maximize ? T(-1) : T(1),
          static_cast<T>(h.weight_decay),
          static_cast<T>(h.alpha),
          one_m_alpha,
          lerp_coef(one_m_alpha),
          static_cast<T>(h.eps),
          static_cast<T>(h.momentum),
          static_cast<T>(-h.lr),
          h.weight_decay != 0,
          std::abs(one_m_alpha) < T(0.5)};
      dispatch_elementwise(n, body);
    });
  });
}

template <typename T>
void adagrad_step(T* param, const T* grad, T* state_sum, int64_t n, const AdagradHyper& h) {
  GC_PROFILE_SCOPE("adagrad_step", 8.0 * n, sizeof(T) * 5.0 * n, {n});
  const double clr = h.lr / (1.0 + (static_cast<double>(h.step) - 1.0) * h.lr_decay);
  const AdagradBody<T> body{param,
                            grad,
                            state_sum,
                            h.maximize ? T(-1) : T(1),
                            static_cast<T>(h.weight_decay),
                            static_cast<T>(h.eps),
                            static_cast<T>(-clr),
                            h.weight_decay != 0};
  dispatch_elementwise(n, body);
}

template <typename T>
double sum_of_squares(const T* x, int64_t n) {
  GC_PROFILE_SCOPE("sum_of_squares", 2.0 * n, sizeof(T) * 1.0 * n, {n});
  const int64_t chunks = fixed_chunks(n, kSumChunk);
  if (chunks == 0) return 0.0;
  double stack_partials[kStackPartials];
  std::vector<double> heap_partials;
  double* partials = stack_partials;
  if (chunks > kStackPartials) {
    heap_partials.resize(static_cast<size_t>(chunks));
    partials = heap_partials.data();
  }
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t b = c * kSumChunk, e = std::min(n, b + kSumChunk);
      double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      int64_t i = b;
      for (; i + 4 <= e; i += 4) {
        const double v0 = x[i], v1 = x[i + 1], v2 = x[i + 2], v3 = x[i + 3];
        a0 += v0 * v0;
        a1 += v1 * v1;
        a2 += v2 * v2;
        a3 += v3 * v3;
      }
      for (; i < e; ++i) {
        const double v = x[i];
        a0 += v * v;
      }
      partials[c] = (a0 + a1) + (a2 + a3);
    }
  });
  double total = 0;
  for (int64_t c = 0; c < chunks; ++c) total += partials[c];
  return total;
}

template <typename T>
void scale_inplace(T* x, int64_t n, double alpha) {
  GC_PROFILE_SCOPE("scale_", 1.0 * n, sizeof(T) * 2.0 * n, {n});
  const T a = static_cast<T>(alpha);
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] = x[i] * a;
  });
}

template <typename T>
void clamp_inplace(T* x, int64_t n, double lo, double hi) {
  GC_PROFILE_SCOPE("clamp_", 2.0 * n, sizeof(T) * 2.0 * n, {n});
  const T l = static_cast<T>(lo), u = static_cast<T>(hi);
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T v = x[i];
      v = v < l ? l : v;  // comparisons with NaN are false: NaN passes through
      v = v > u ? u : v;
      x[i] = v;
    }
  });
}

#define GRADCORE_INSTANTIATE_OPTIM(T)                                                    \
  template void sgd_step<T>(T*, const T*, T*, int64_t, const SgdHyper&);                 \
  template void adam_step<T>(T*, const T*, T*, T*, T*, int64_t, const AdamHyper&);       \
  template void rmsprop_step<T>(T*, const T*, T*, T*, T*, int64_t, const RmspropHyper&); \
  template void adagrad_step<T>(T*, const T*, T*, int64_t, const AdagradHyper&);         \
  template double sum_of_squares<T>(const T*, int64_t);                                  \
  template void scale_inplace<T>(T*, int64_t, double);                                   \
  template void clamp_inplace<T>(T*, int64_t, double, double);
GRADCORE_INSTANTIATE_OPTIM(float)
GRADCORE_INSTANTIATE_OPTIM(double)
#undef GRADCORE_INSTANTIATE_OPTIM

}  // namespace gradcore
