// Fused optimizer updates and gradient-clipping helpers (see optim.h).
//
// Each statement mirrors one PyTorch tensor op of torch/optim/*.py (_single_tensor_*), with
// the same association and the scalar rounded to T as PyTorch's CPU kernels do:
//   a.add(b, alpha=s)          -> a + T(s) * b
//   a.mul_(s)                  -> a * T(s)
//   a.addcmul_(b, c, value=s)  -> a + (T(s) * b) * c
//   a.addcdiv_(b, c, value=s)  -> a + (T(s) * b) / c
//   a.lerp_(b, w)              -> |w| < 0.5 ? a + T(w) * (b - a) : b - (b - a) * (1 - T(w))
// Scalars computed in Python (1 - beta1, lr / bias_correction1, ...) are computed in double.
#include "cpu/optim.h"

#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

constexpr int64_t kGrain = 1 << 15;      // elements worth a thread (memory-bound updates)
constexpr int64_t kSumChunk = 1 << 16;   // fixed reduction chunk of sum_of_squares
constexpr int64_t kStackPartials = 256;  // partial sums kept on the stack up to this many

template <typename T>
inline T lerp(T a, T b, T w, bool small) {
  return small ? a + w * (b - a) : b - (b - a) * (T(1) - w);
}

// torch.maximum: NaN in either argument gives NaN.
template <typename T>
inline T nan_max(T a, T b) {
  if (std::isnan(a)) return a;
  if (std::isnan(b)) return b;
  return a > b ? a : b;
}

}  // namespace

template <typename T>
void sgd_step(T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdHyper& h) {
  GC_PROFILE_SCOPE("sgd_step", 6.0 * n, sizeof(T) * (h.momentum != 0 ? 5.0 : 3.0) * n, {n});
  const bool wd = h.weight_decay != 0, mom = h.momentum != 0;
  const T t_wd = static_cast<T>(h.weight_decay), t_mom = static_cast<T>(h.momentum);
  const T t_damp = static_cast<T>(1.0 - h.dampening), t_neg_lr = static_cast<T>(-h.lr);
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T p = param[i];
      T g = h.maximize ? -grad[i] : grad[i];
      if (wd) g = g + t_wd * p;
      if (mom) {
        T buf;
        if (h.first_step) {
          buf = g;
        } else {
          buf = momentum_buffer[i] * t_mom;
          buf = buf + t_damp * g;
        }
        momentum_buffer[i] = buf;
        g = h.nesterov ? g + t_mom * buf : buf;
      }
      param[i] = p + t_neg_lr * g;
    }
  });
}

template <typename T>
void adam_step(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, int64_t n,
               const AdamHyper& h) {
  GC_PROFILE_SCOPE(h.decoupled_weight_decay ? "adamw_step" : "adam_step", 16.0 * n,
                   sizeof(T) * (h.amsgrad ? 9.0 : 7.0) * n, {n});
  const bool wd = h.weight_decay != 0;
  const double step = static_cast<double>(h.step);
  const double bias_correction1 = 1.0 - std::pow(h.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(h.beta2, step);
  const double step_size = h.lr / bias_correction1;
  const double bias_correction2_sqrt = std::pow(bias_correction2, 0.5);  // Python's ** 0.5
  const T t_decay = static_cast<T>(1.0 - h.lr * h.weight_decay);
  const T t_wd = static_cast<T>(h.weight_decay);
  const double w1 = 1.0 - h.beta1;
  const T t_w1 = static_cast<T>(w1);
  const bool small = std::abs(t_w1) < T(0.5);
  const T t_beta2 = static_cast<T>(h.beta2), t_1mb2 = static_cast<T>(1.0 - h.beta2);
  const T t_bc2s = static_cast<T>(bias_correction2_sqrt), t_eps = static_cast<T>(h.eps);
  const T t_neg_step = static_cast<T>(-step_size);
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T p = param[i];
      T g = h.maximize ? -grad[i] : grad[i];
      if (wd) {
        if (h.decoupled_weight_decay)
          p = p * t_decay;
        else
          g = g + t_wd * p;
      }
      const T m = lerp(exp_avg[i], g, t_w1, small);
      T v = exp_avg_sq[i] * t_beta2;
      v = v + (t_1mb2 * g) * g;
      exp_avg[i] = m;
      exp_avg_sq[i] = v;
      if (h.amsgrad) {
        v = nan_max(max_exp_avg_sq[i], v);
        max_exp_avg_sq[i] = v;
      }
      const T denom = std::sqrt(v) / t_bc2s + t_eps;
      param[i] = p + (t_neg_step * m) / denom;
    }
  });
}

template <typename T>
void rmsprop_step(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer,
                  int64_t n, const RmspropHyper& h) {
  GC_PROFILE_SCOPE("rmsprop_step", 12.0 * n,
                   sizeof(T) * (5.0 + (h.centered ? 2 : 0) + (h.momentum > 0 ? 2 : 0)) * n, {n});
  const bool wd = h.weight_decay != 0, mom = h.momentum > 0;
  const T t_wd = static_cast<T>(h.weight_decay), t_alpha = static_cast<T>(h.alpha);
  const T t_1ma = static_cast<T>(1.0 - h.alpha), t_eps = static_cast<T>(h.eps);
  const bool small = std::abs(t_1ma) < T(0.5);
  const T t_mom = static_cast<T>(h.momentum), t_neg_lr = static_cast<T>(-h.lr);
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T p = param[i];
      T g = h.maximize ? -grad[i] : grad[i];
      if (wd) g = g + t_wd * p;
      T sq = square_avg[i] * t_alpha;
      sq = sq + (t_1ma * g) * g;
      square_avg[i] = sq;
      T avg;
      if (h.centered) {
        const T ga = lerp(grad_avg[i], g, t_1ma, small);
        grad_avg[i] = ga;
        avg = std::sqrt(sq + (T(-1) * ga) * ga);
      } else {
        avg = std::sqrt(sq);
      }
      avg = avg + t_eps;
      if (mom) {
        T buf = momentum_buffer[i] * t_mom;
        buf = buf + (T(1) * g) / avg;
        momentum_buffer[i] = buf;
        param[i] = p + t_neg_lr * buf;
      } else {
        param[i] = p + (t_neg_lr * g) / avg;
      }
    }
  });
}

template <typename T>
void adagrad_step(T* param, const T* grad, T* state_sum, int64_t n, const AdagradHyper& h) {
  GC_PROFILE_SCOPE("adagrad_step", 8.0 * n, sizeof(T) * 5.0 * n, {n});
  const bool wd = h.weight_decay != 0;
  const double clr = h.lr / (1.0 + (static_cast<double>(h.step) - 1.0) * h.lr_decay);
  const T t_wd = static_cast<T>(h.weight_decay), t_eps = static_cast<T>(h.eps);
  const T t_neg_clr = static_cast<T>(-clr);
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T p = param[i];
      T g = h.maximize ? -grad[i] : grad[i];
      if (wd) g = g + t_wd * p;
      const T s = state_sum[i] + (T(1) * g) * g;
      state_sum[i] = s;
      const T std_ = std::sqrt(s) + t_eps;
      param[i] = p + (t_neg_clr * g) / std_;
    }
  });
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
