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
// AVX2 path, the C library's exact fma otherwise), so both paths give identical bits, and a
// float32 step equals PyTorch's float32 step (foreach=False) up to rare last-bit differences.
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
#include <vector>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "profiler/profiler.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define GC_OPTIM_HAVE_AVX2 1
#define GC_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define GC_OPTIM_HAVE_AVX2 0
#define GC_TARGET_AVX2
#endif
#define GC_ALWAYS_INLINE inline __attribute__((always_inline))

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

// torch.lerp(a, b, w) for a scalar weight, as its vectorized CPU kernel computes it.
template <typename T>
GC_ALWAYS_INLINE T lerp(T a, T b, T w, bool small) {
  return small ? fmadd(w, b - a, a) : fmadd(w - T(1), b - a, b);
}

// torch.maximum: NaN in either argument gives NaN.
template <typename T>
GC_ALWAYS_INLINE T nan_max(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}

// Runs body(b, e) over [0, n) in parallel, compiled for AVX2+FMA when the CPU has it.
// Both instantiations compute the same operations, so they give identical results.
template <typename Body>
void run_generic(const Body& body, int64_t b, int64_t e) {
  body(b, e);
}
#if GC_OPTIM_HAVE_AVX2
template <typename Body>
GC_TARGET_AVX2 void run_avx2(const Body& body, int64_t b, int64_t e) {
  body(b, e);
}
#endif
template <typename Body>
void dispatch_elementwise(int64_t n, const Body& body) {
#if GC_OPTIM_HAVE_AVX2
  if (simd_path() == SimdPath::kAvx2Fma) {
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) { run_avx2(body, b, e); });
    return;
  }
#endif
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { run_generic(body, b, e); });
}

// The loop bodies: functors whose call operator is always inlined into run_generic /
// run_avx2, so each is compiled (and vectorized) for both targets.
template <typename T>
struct SgdBody {
  T* param;
  const T* grad;
  T* buf;
  T wd, mom, damp1, neg_lr;
  bool use_wd, use_mom, first, nesterov, maximize;
  GC_ALWAYS_INLINE void operator()(int64_t b, int64_t e) const {
    for (int64_t i = b; i < e; ++i) {
      const T p = param[i];
      T g = maximize ? -grad[i] : grad[i];
      if (use_wd) g = fmadd(p, wd, g);  // grad.add(param, alpha=weight_decay)
      if (use_mom) {
        // first step: buf = clone(grad); else buf.mul_(momentum).add_(grad, alpha=1-dampening)
        const T m = first ? g : fmadd(g, damp1, buf[i] * mom);
        buf[i] = m;
        g = nesterov ? fmadd(m, mom, g) : m;  // grad.add(buf, alpha=momentum) or buf
      }
      param[i] = fmadd(g, neg_lr, p);  // param.add_(grad, alpha=-lr)
    }
  }
};

template <typename T>
struct AdamBody {
  T* param;
  const T* grad;
  T *m, *v, *vmax;
  T decay, wd, w1, beta2, one_m_beta2, bc2_sqrt, eps, neg_step;
  bool use_wd, decoupled, small, amsgrad, maximize;
  GC_ALWAYS_INLINE void operator()(int64_t b, int64_t e) const {
    for (int64_t i = b; i < e; ++i) {
      T p = param[i];
      T g = maximize ? -grad[i] : grad[i];
      if (use_wd) {
        if (decoupled)
          p = p * decay;  // param.mul_(1 - lr * weight_decay)
        else
          g = fmadd(p, wd, g);  // grad.add(param, alpha=weight_decay)
      }
      const T mi = lerp(m[i], g, w1, small);           // exp_avg.lerp_(grad, 1 - beta1)
      T vi = fmadd(one_m_beta2 * g, g, v[i] * beta2);  // exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2)
      m[i] = mi;
      v[i] = vi;
      if (amsgrad) {
        vi = nan_max(vmax[i], vi);  // torch.maximum(max_exp_avg_sq, exp_avg_sq, out=...)
        vmax[i] = vi;
      }
      const T denom = std::sqrt(vi) / bc2_sqrt + eps;  // (v.sqrt() / bc2_sqrt).add_(eps)
      param[i] = p + (neg_step * mi) / denom;          // param.addcdiv_(m, denom, -step_size)
    }
  }
};

template <typename T>
struct RmspropBody {
  T* param;
  const T* grad;
  T *sq, *ga, *buf;
  T wd, alpha, one_m_alpha, eps, mom, neg_lr;
  bool use_wd, small, centered, use_mom, maximize;
  GC_ALWAYS_INLINE void operator()(int64_t b, int64_t e) const {
    for (int64_t i = b; i < e; ++i) {
      const T p = param[i];
      T g = maximize ? -grad[i] : grad[i];
      if (use_wd) g = fmadd(p, wd, g);
      const T s = fmadd(one_m_alpha * g, g, sq[i] * alpha);  // mul_(alpha).addcmul_(g, g, 1-a)
      sq[i] = s;
      T avg;
      if (centered) {
        const T a = lerp(ga[i], g, one_m_alpha, small);  // grad_avg.lerp_(grad, 1 - alpha)
        ga[i] = a;
        avg = std::sqrt(fmadd(-a, a, s));  // square_avg.addcmul(ga, ga, value=-1).sqrt_()
      } else {
        avg = std::sqrt(s);
      }
      avg = avg + eps;
      if (use_mom) {
        const T bb = buf[i] * mom + g / avg;  // buf.mul_(momentum).addcdiv_(grad, avg)
        buf[i] = bb;
        param[i] = fmadd(bb, neg_lr, p);  // param.add_(buf, alpha=-lr)
      } else {
        param[i] = p + (neg_lr * g) / avg;  // param.addcdiv_(grad, avg, value=-lr)
      }
    }
  }
};

template <typename T>
struct AdagradBody {
  T* param;
  const T* grad;
  T* sum;
  T wd, eps, neg_clr;
  bool use_wd, maximize;
  GC_ALWAYS_INLINE void operator()(int64_t b, int64_t e) const {
    for (int64_t i = b; i < e; ++i) {
      const T p = param[i];
      T g = maximize ? -grad[i] : grad[i];
      if (use_wd) g = fmadd(p, wd, g);
      const T s = fmadd(g, g, sum[i]);  // state_sum.addcmul_(grad, grad, value=1)
      sum[i] = s;
      param[i] = p + (neg_clr * g) / (std::sqrt(s) + eps);  // addcdiv_(g, sqrt(s)+eps, -clr)
    }
  }
};

}  // namespace

template <typename T>
void sgd_step(T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdHyper& h) {
  GC_PROFILE_SCOPE("sgd_step", 6.0 * n, sizeof(T) * (h.momentum != 0 ? 5.0 : 3.0) * n, {n});
  const SgdBody<T> body{param,
                        grad,
                        momentum_buffer,
                        static_cast<T>(h.weight_decay),
                        static_cast<T>(h.momentum),
                        static_cast<T>(1.0 - h.dampening),
                        static_cast<T>(-h.lr),
                        h.weight_decay != 0,
                        h.momentum != 0,
                        h.first_step,
                        h.nesterov,
                        h.maximize};
  dispatch_elementwise(n, body);
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
  const AdamBody<T> body{param,
                         grad,
                         exp_avg,
                         exp_avg_sq,
                         max_exp_avg_sq,
                         static_cast<T>(1.0 - h.lr * h.weight_decay),
                         static_cast<T>(h.weight_decay),
                         w1,
                         static_cast<T>(h.beta2),
                         static_cast<T>(1.0 - h.beta2),
                         static_cast<T>(bias_correction2_sqrt),
                         static_cast<T>(h.eps),
                         static_cast<T>(-step_size),
                         h.weight_decay != 0,
                         h.decoupled_weight_decay,
                         std::abs(w1) < T(0.5),
                         h.amsgrad,
                         h.maximize};
  dispatch_elementwise(n, body);
}

template <typename T>
void rmsprop_step(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer,
                  int64_t n, const RmspropHyper& h) {
  GC_PROFILE_SCOPE("rmsprop_step", 12.0 * n,
                   sizeof(T) * (5.0 + (h.centered ? 2 : 0) + (h.momentum > 0 ? 2 : 0)) * n, {n});
  const T one_m_alpha = static_cast<T>(1.0 - h.alpha);
  const RmspropBody<T> body{param,
                            grad,
                            square_avg,
                            grad_avg,
                            momentum_buffer,
                            static_cast<T>(h.weight_decay),
                            static_cast<T>(h.alpha),
                            one_m_alpha,
                            static_cast<T>(h.eps),
                            static_cast<T>(h.momentum),
                            static_cast<T>(-h.lr),
                            h.weight_decay != 0,
                            std::abs(one_m_alpha) < T(0.5),
                            h.centered,
                            h.momentum > 0,
                            h.maximize};
  dispatch_elementwise(n, body);
}

template <typename T>
void adagrad_step(T* param, const T* grad, T* state_sum, int64_t n, const AdagradHyper& h) {
  GC_PROFILE_SCOPE("adagrad_step", 8.0 * n, sizeof(T) * 5.0 * n, {n});
  const double clr = h.lr / (1.0 + (static_cast<double>(h.step) - 1.0) * h.lr_decay);
  const AdagradBody<T> body{param,
                            grad,
                            state_sum,
                            static_cast<T>(h.weight_decay),
                            static_cast<T>(h.eps),
                            static_cast<T>(-clr),
                            h.weight_decay != 0,
                            h.maximize};
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
