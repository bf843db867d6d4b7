// The fused optimizer updates' loop bodies, shared by optim.cpp (portable) and
// optim_avx2_fma.cpp (the same loops compiled for AVX2+FMA), and the AVX2 entry points.
//
// The *Args structs are plain data (the hyper-parameters rounded to T and the arrays); the
// *Body functors and their helpers have internal linkage (anonymous namespace) and use no
// STL, so the -mavx2 copies are never merged with the portable ones (ISA rule: CMakeLists.txt,
// "ISA files"). Both files compile with fp-contract off: fused multiply-adds exactly where the
// code says fmadd (see optim.cpp), so both paths give identical bits.
#pragma once
#include <cstdint>

namespace gradcore {

template <typename T>
struct SgdArgs {
  T* param;
  const T* grad;
  T* buf;
  T sign_, wd_, mom_, damp1_, neg_lr_;
  bool use_wd_, first_, nesterov_;
};

template <typename T>
struct AdamArgs {
  T* param;
  const T* grad;
  T *m, *v, *vmax;
  T sign_, decay_, wd_, w1_, beta2_, one_m_beta2_, bc2_sqrt_, eps_, neg_step_;
  bool coupled_wd_, small_;
};

template <typename T>
struct RmspropArgs {
  T* param;
  const T* grad;
  T *sq, *ga, *buf;
  T sign_, wd_, alpha_, one_m_alpha_, lerp_w_, eps_, mom_, neg_lr_;
  bool use_wd_, small_;
};

template <typename T>
struct AdagradArgs {
  T* param;
  const T* grad;
  T* sum;
  T sign_, wd_, eps_, neg_clr_;
  bool use_wd_;
};

namespace {

// sqrt, correctly rounded (as std::sqrt; a builtin, so no library inline is instantiated).
inline __attribute__((always_inline)) float sqrt_of(float x) {
  return __builtin_sqrtf(x);
}
inline __attribute__((always_inline)) double sqrt_of(double x) {
  return __builtin_sqrt(x);
}

// a * b + c with a single rounding.
inline __attribute__((always_inline)) float fmadd(float a, float b, float c) {
  return __builtin_fmaf(a, b, c);
}
inline __attribute__((always_inline)) double fmadd(double a, double b, double c) {
  return __builtin_fma(a, b, c);
}

// Loop-invariant options as bit masks: select() is a bitwise blend, which vectorizes where a
// `flag ? x : y` on a scalar bool may not.
template <int kBytes>
struct UIntOfSize;
template <>
struct UIntOfSize<4> {
  using type = uint32_t;
};
template <>
struct UIntOfSize<8> {
  using type = uint64_t;
};
template <typename T>
using UInt = typename UIntOfSize<sizeof(T)>::type;
template <typename T>
inline __attribute__((always_inline)) UInt<T> mask_of(bool b) {
  return b ? ~UInt<T>(0) : UInt<T>(0);
}
// a where mask is all ones, b where it is zero (bit-exact, NaN payloads included).
template <typename T>
inline __attribute__((always_inline)) T select(UInt<T> mask, T a, T b) {
  UInt<T> ua, ub;
  __builtin_memcpy(&ua, &a, sizeof(T));
  __builtin_memcpy(&ub, &b, sizeof(T));
  const UInt<T> r = (ua & mask) | (ub & ~mask);
  T out;
  __builtin_memcpy(&out, &r, sizeof(T));
  return out;
}

// torch.lerp(a, b, w) for a scalar weight, as its vectorized CPU kernel computes it:
// |w| < 0.5 ? fma(w, b - a, a) : fma(w - 1, b - a, b). The caller passes coef = w or w - 1
// and small = mask_of(|w| < 0.5); only values are selected, so the loop vectorizes.
template <typename T>
inline __attribute__((always_inline)) T lerp(T a, T b, T coef, UInt<T> small) {
  const T base = select(small, a, b);
  return fmadd(coef, b - a, base);
}

// torch.maximum: NaN in either argument gives NaN.
template <typename T>
inline __attribute__((always_inline)) T nan_max(T a, T b) {
  return (a != a || a > b) ? a : b;  // b when b is NaN (a > NaN is false)
}

// The loop bodies: functors whose call operator is always inlined into optim.cpp's portable
// loop and optim_avx2_fma.cpp's ranges, so each is compiled (and vectorized) for both targets.
// Which state arrays are written is a template parameter (a conditional store would stop
// vectorization); the other options are loop-invariant selects. The binding guarantees the arrays
// do not overlap.
template <typename T, bool kMomentum>
struct SgdBody : SgdArgs<T> {
  using Args = SgdArgs<T>;
  using Args::buf;
  using Args::damp1_;
  using Args::first_;
  using Args::grad;
  using Args::mom_;
  using Args::neg_lr_;
  using Args::nesterov_;
  using Args::param;
  using Args::sign_;
  using Args::use_wd_;
  using Args::wd_;
  inline __attribute__((always_inline)) void operator()(int64_t b, int64_t e) const {
    loop(b, e, param, grad, buf);
  }
  // restrict-qualified parameters: the arrays never overlap (checked by the binding).
  inline __attribute__((always_inline)) void loop(int64_t b, int64_t e, T* __restrict__ pp,
                                                  const T* __restrict__ pg,
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
struct AdamBody : AdamArgs<T> {
  using Args = AdamArgs<T>;
  using Args::bc2_sqrt_;
  using Args::beta2_;
  using Args::coupled_wd_;
  using Args::decay_;
  using Args::eps_;
  using Args::grad;
  using Args::m;
  using Args::neg_step_;
  using Args::one_m_beta2_;
  using Args::param;
  using Args::sign_;
  using Args::small_;
  using Args::v;
  using Args::vmax;
  using Args::w1_;
  using Args::wd_;
  inline __attribute__((always_inline)) void operator()(int64_t b, int64_t e) const {
    loop(b, e, param, grad, m, v, vmax);
  }
  // restrict-qualified parameters: the arrays never overlap (checked by the binding).
  inline __attribute__((always_inline)) void loop(int64_t b, int64_t e, T* __restrict__ pp,
                                                  const T* __restrict__ pg, T* __restrict__ pm,
                                                  T* __restrict__ pv, T* __restrict__ pvmax) const {
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
      const T denom = sqrt_of(vi) / bc2_sqrt + eps;  // (v.sqrt() / bc2_sqrt).add_(eps)
      pp[i] = p + (neg_step * mi) / denom;           // param.addcdiv_(m, denom, -step_size)
    }
  }
};

template <typename T, bool kCentered, bool kMomentum>
struct RmspropBody : RmspropArgs<T> {
  using Args = RmspropArgs<T>;
  using Args::alpha_;
  using Args::buf;
  using Args::eps_;
  using Args::ga;
  using Args::grad;
  using Args::lerp_w_;
  using Args::mom_;
  using Args::neg_lr_;
  using Args::one_m_alpha_;
  using Args::param;
  using Args::sign_;
  using Args::small_;
  using Args::sq;
  using Args::use_wd_;
  using Args::wd_;
  inline __attribute__((always_inline)) void operator()(int64_t b, int64_t e) const {
    loop(b, e, param, grad, sq, ga, buf);
  }
  // restrict-qualified parameters: the arrays never overlap (checked by the binding).
  inline __attribute__((always_inline)) void loop(int64_t b, int64_t e, T* __restrict__ pp,
                                                  const T* __restrict__ pg, T* __restrict__ psq,
                                                  T* __restrict__ pga, T* __restrict__ pb) const {
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
        avg = sqrt_of(fmadd(-a, a, s));  // square_avg.addcmul(ga, ga, value=-1).sqrt_()
      } else {
        avg = sqrt_of(s);
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
struct AdagradBody : AdagradArgs<T> {
  using Args = AdagradArgs<T>;
  using Args::eps_;
  using Args::grad;
  using Args::neg_clr_;
  using Args::param;
  using Args::sign_;
  using Args::sum;
  using Args::use_wd_;
  using Args::wd_;
  inline __attribute__((always_inline)) void operator()(int64_t b, int64_t e) const {
    loop(b, e, param, grad, sum);
  }
  // restrict-qualified parameters: the arrays never overlap (checked by the binding).
  inline __attribute__((always_inline)) void loop(int64_t b, int64_t e, T* __restrict__ pp,
                                                  const T* __restrict__ pg,
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
      pp[i] = p + (neg_clr * g) / (sqrt_of(s) + eps);  // addcdiv_(g, sqrt(s)+eps, -clr)
    }
  }
};

}  // namespace

namespace avx2_fma {
// body(b, e) of the matching *Body for elements [b, e), compiled for AVX2+FMA; the flags pick
// the body's template arguments.
void sgd_range(const SgdArgs<float>& a, bool momentum, int64_t b, int64_t e);
void sgd_range(const SgdArgs<double>& a, bool momentum, int64_t b, int64_t e);
void adam_range(const AdamArgs<float>& a, bool amsgrad, bool decoupled, int64_t b, int64_t e);
void adam_range(const AdamArgs<double>& a, bool amsgrad, bool decoupled, int64_t b, int64_t e);
void rmsprop_range(const RmspropArgs<float>& a, bool centered, bool momentum, int64_t b, int64_t e);
void rmsprop_range(const RmspropArgs<double>& a, bool centered, bool momentum, int64_t b,
                   int64_t e);
void adagrad_range(const AdagradArgs<float>& a, int64_t b, int64_t e);
void adagrad_range(const AdagradArgs<double>& a, int64_t b, int64_t e);
}  // namespace avx2_fma

}  // namespace gradcore
