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
#include "cpu/optim_bodies.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

constexpr int64_t kGrain = 1 << 15;      // elements worth a thread (memory-bound updates)
constexpr int64_t kSumChunk = 1 << 16;   // fixed reduction chunk of sum_of_squares
constexpr int64_t kStackPartials = 256;  // partial sums kept on the stack up to this many

// The lerp coefficient for weight w (in T): w when |w| < 0.5, else w - 1.
template <typename T>
T lerp_coef(T w) {
  return std::abs(w) < T(0.5) ? w : w - T(1);
}

// Runs body(b, e) over [0, n) in parallel with the portable build of the loop (the AVX2+FMA
// build is optim_avx2_fma.cpp's). Both compute the same operations: identical results.
template <typename Body>
void run_generic(const Body& body, int64_t b, int64_t e) {
  body(b, e);
}
template <typename Body>
void run_portable(int64_t n, const Body& body) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { run_generic(body, b, e); });
}

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
  const SgdArgs<T> args{param,
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
  const bool momentum = h.momentum != 0;
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma))
    return parallel_for(n, kGrain,
                        [&](int64_t b, int64_t e) { avx2_fma::sgd_range(args, momentum, b, e); });
#endif
  with_flag(momentum, [&](auto mom) { run_portable(n, SgdBody<T, decltype(mom)::value>{args}); });
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
  const AdamArgs<T> args{param,
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
  const bool decoupled = wd && h.decoupled_weight_decay;
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma))
    return parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
      avx2_fma::adam_range(args, h.amsgrad, decoupled, b, e);
    });
#endif
  with_flag(h.amsgrad, [&](auto ams) {
    with_flag(decoupled, [&](auto dec) {
      run_portable(n, AdamBody<T, decltype(ams)::value, decltype(dec)::value>{args});
    });
  });
}

template <typename T>
void rmsprop_step(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer,
                  int64_t n, const RmspropHyper& h) {
  GC_PROFILE_SCOPE("rmsprop_step", 12.0 * n,
                   sizeof(T) * (5.0 + (h.centered ? 2 : 0) + (h.momentum > 0 ? 2 : 0)) * n, {n});
  const T one_m_alpha = static_cast<T>(1.0 - h.alpha);
  const RmspropArgs<T> args{param,
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
  const bool momentum = h.momentum > 0;
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma))
    return parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
      avx2_fma::rmsprop_range(args, h.centered, momentum, b, e);
    });
#endif
  with_flag(h.centered, [&](auto centered) {
    with_flag(momentum, [&](auto mom) {
      run_portable(n, RmspropBody<T, decltype(centered)::value, decltype(mom)::value>{args});
    });
  });
}

template <typename T>
void adagrad_step(T* param, const T* grad, T* state_sum, int64_t n, const AdagradHyper& h) {
  GC_PROFILE_SCOPE("adagrad_step", 8.0 * n, sizeof(T) * 5.0 * n, {n});
  const double clr = h.lr / (1.0 + (static_cast<double>(h.step) - 1.0) * h.lr_decay);
  const AdagradArgs<T> args{param,
                            grad,
                            state_sum,
                            h.maximize ? T(-1) : T(1),
                            static_cast<T>(h.weight_decay),
                            static_cast<T>(h.eps),
                            static_cast<T>(-clr),
                            h.weight_decay != 0};
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma))
    return parallel_for(n, kGrain,
                        [&](int64_t b, int64_t e) { avx2_fma::adagrad_range(args, b, e); });
#endif
  run_portable(n, AdagradBody<T>{args});
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
