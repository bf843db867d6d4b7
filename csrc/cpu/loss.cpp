// Loss kernels. The loops with an AVX2+FMA build are in loss_bodies.h and softmax_bodies.h
// (compiled for AVX2+FMA in loss_avx2_fma.cpp and softmax_avx2_fma.cpp). Elementwise loops
// call the branch-free exp of cpu/vmath.h; without -ftrapping-math g++ may if-convert their
// selects and vectorise the loops. Values and NaN/Inf behaviour are unchanged (this only
// stops FP exceptions from pinning branches).
#pragma GCC optimize("no-trapping-math")
#include "cpu/loss.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/cpu_features.h"
#include "core/workspace.h"
#include "cpu/elementwise.h"
#include "cpu/loss_bodies.h"
#include "cpu/softmax_bodies.h"
#include "cpu/vmath.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

inline int64_t row_grain(int64_t cols) {
  return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(cols, 1));
}

// Sum of the per-sample values in index order (deterministic), then the reduction.
inline double reduce_samples(const std::vector<double>& v, Reduction r, double divisor) {
  double s = 0;
  for (double x : v) s += x;
  return r == Reduction::kMean ? s / divisor : s;
}

// Sum over non-ignored samples of w[t_i] (their count without weights): the mean's divisor.
template <typename T>
double target_weight_sum(const int64_t* target, const T* weight, int64_t N, int64_t ignore) {
  double s = 0;
  for (int64_t i = 0; i < N; ++i)
    if (target[i] != ignore) s += weight ? static_cast<double>(weight[target[i]]) : 1.0;
  return s;
}

// Per-sample gradient factor g_i.
template <typename T>
inline T grad_at(const T* grad_out, int64_t i, Reduction r, T mean_scale) {
  return r == Reduction::kNone ? grad_out[i] : grad_out[0] * mean_scale;
}

// e[c] = exp(x[c] - m), c in [0, C): softmax_bodies.h's loop, its AVX2+FMA build when `avx2`.
template <typename T>
inline void exp_shifted(bool avx2, const T* x, T m, T* e, int64_t C) {
#if GRADCORE_ISA_AVX2_FMA
  if (avx2) return avx2_fma::exp_shifted(x, m, e, C);
#endif
  exp_shifted_body(x, m, e, C);
}

// cross_entropy_grad_row_body (loss_bodies.h), its AVX2+FMA build when `avx2`.
template <typename T>
inline void grad_row(bool avx2, const T* x, T l, T a, T b, const T* w, T* dx, int64_t C) {
#if GRADCORE_ISA_AVX2_FMA
  if (avx2) return avx2_fma::cross_entropy_grad_row(x, l, a, b, w, dx, C);
#endif
  cross_entropy_grad_row_body(x, l, a, b, w, dx, C);
}

}  // namespace

template <typename T>
void cross_entropy_forward(const T* logits, const int64_t* target, const T* weight, int64_t N,
                           int64_t C, int64_t ignore_index, double label_smoothing,
                           Reduction reduction, T* loss, T* lse) {
  GC_PROFILE_SCOPE("cross_entropy_forward", 6.0 * N * C, (1.0 * N * C + 2.0 * N) * sizeof(T),
                   {N, C});
  const double ls = label_smoothing;
  std::vector<double> per(reduction == Reduction::kNone ? 0 : static_cast<size_t>(N));
  const bool avx2 = at_least(CpuCapability::kAvx2Fma);
  parallel_for(N, row_grain(C), [&](int64_t rb, int64_t re) {
    for (int64_t i = rb; i < re; ++i) {
      const T* x = logits + i * C;
      const T m = row_max(x, C);
      double l;
      if (std::isinf(m)) {
        l = double(m);
      } else {
        T* e = thread_scratch<T>(kSlotScratch, static_cast<size_t>(C));
        exp_shifted(avx2, x, m, e, C);
        const double s = lane_sum(0, C, [=](int64_t c) { return double(e[c]); });
        l = double(m) + std::log(s);
      }
      lse[i] = static_cast<T>(l);
      double v = 0;
      const int64_t t = target[i];
      if (t != ignore_index) {
        const double wt = weight ? double(weight[t]) : 1.0;
        v = (1.0 - ls) * wt * (l - double(x[t]));
        if (ls > 0) {
          const double sm =
              weight ? lane_sum(0, C, [=](int64_t c) { return double(weight[c]) * (l - x[c]); })
                     : lane_sum(0, C, [=](int64_t c) { return l - double(x[c]); });
          v += ls / double(C) * sm;
        }
      }
      if (reduction == Reduction::kNone)
        loss[i] = static_cast<T>(v);
      else
        per[i] = v;
    }
  });
  if (reduction != Reduction::kNone) {
    const double div =
        reduction == Reduction::kMean ? target_weight_sum(target, weight, N, ignore_index) : 1.0;
    loss[0] = static_cast<T>(reduce_samples(per, reduction, div));
  }
}

template <typename T>
void cross_entropy_backward(const T* grad_out, const T* logits, const int64_t* target, const T* lse,
                            const T* weight, int64_t N, int64_t C, int64_t ignore_index,
                            double label_smoothing, Reduction reduction, T* dlogits) {
  GC_PROFILE_SCOPE("cross_entropy_backward", 5.0 * N * C, (2.0 * N * C + 2.0 * N) * sizeof(T),
                   {N, C});
  const double ls = label_smoothing;
  const T mean_scale =
      reduction == Reduction::kMean
          ? static_cast<T>(1.0 / target_weight_sum(target, weight, N, ignore_index))
          : T(1);
  const double wsum =
      weight ? lane_sum(0, C, [=](int64_t c) { return double(weight[c]); }) : double(C);
  const bool avx2 = at_least(CpuCapability::kAvx2Fma);
  parallel_for(N, row_grain(C), [&](int64_t rb, int64_t re) {
    for (int64_t i = rb; i < re; ++i) {
      T* dx = dlogits + i * C;
      const int64_t t = target[i];
      if (t == ignore_index) {
        std::fill(dx, dx + C, T(0));
        continue;
      }
      const T* x = logits + i * C;
      const T g = grad_at(grad_out, i, reduction, mean_scale);
      const double wt = weight ? double(weight[t]) : 1.0;
      // dx_c = a p_c - b w_c, then dx_t -= g (1 - ls) w_t.
      const T a = static_cast<T>(double(g) * ((1.0 - ls) * wt + ls / double(C) * wsum));
      const T b = static_cast<T>(double(g) * ls / double(C));
      const T l = lse[i];
      grad_row(avx2, x, l, a, b, weight && ls > 0 ? weight : nullptr, dx, C);
      dx[t] -= static_cast<T>(double(g) * (1.0 - ls) * wt);
    }
  });
}

template <typename T>
void nll_loss_forward(const T* log_probs, const int64_t* target, const T* weight, int64_t N,
                      int64_t C, int64_t ignore_index, Reduction reduction, T* loss) {
  GC_PROFILE_SCOPE("nll_loss_forward", 2.0 * N, 3.0 * N * sizeof(T), {N, C});
  double s = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int64_t t = target[i];
    double v = 0;
    if (t != ignore_index) v = -(weight ? double(weight[t]) : 1.0) * double(log_probs[i * C + t]);
    if (reduction == Reduction::kNone)
      loss[i] = static_cast<T>(v);
    else
      s += v;
  }
  if (reduction == Reduction::kMean) s /= target_weight_sum(target, weight, N, ignore_index);
  if (reduction != Reduction::kNone) loss[0] = static_cast<T>(s);
}

template <typename T>
void nll_loss_backward(const T* grad_out, const int64_t* target, const T* weight, int64_t N,
                       int64_t C, int64_t ignore_index, Reduction reduction, T* dlog_probs) {
  GC_PROFILE_SCOPE("nll_loss_backward", 2.0 * N, (1.0 * N * C + 2.0 * N) * sizeof(T), {N, C});
  const T mean_scale =
      reduction == Reduction::kMean
          ? static_cast<T>(1.0 / target_weight_sum(target, weight, N, ignore_index))
          : T(1);
  parallel_for(N, row_grain(C), [&](int64_t rb, int64_t re) {
    for (int64_t i = rb; i < re; ++i) {
      T* d = dlog_probs + i * C;
      std::fill(d, d + C, T(0));
      const int64_t t = target[i];
      if (t != ignore_index)
        d[t] = -(weight ? weight[t] : T(1)) * grad_at(grad_out, i, reduction, mean_scale);
    }
  });
}

// Shared driver for the elementwise losses: loss_i = f(i).
template <typename T, class F>
void elementwise_loss(int64_t n, Reduction reduction, T* loss, const F& f) {
  if (reduction == Reduction::kNone) {
    parallel_for(n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) loss[i] = static_cast<T>(f(i));
    });
    return;
  }
  const double s = fixed_sum(n, f);
  loss[0] = static_cast<T>(reduction == Reduction::kMean ? s / double(n) : s);
}

template <typename T>
void mse_loss_forward(const T* input, const T* target, int64_t n, Reduction reduction, T* loss) {
  GC_PROFILE_SCOPE("mse_loss_forward", 3.0 * n, 2.0 * n * sizeof(T), {n});
  elementwise_loss(n, reduction, loss, [=](int64_t i) {
    const double d = double(input[i]) - double(target[i]);
    return d * d;
  });
}

template <typename T>
void mse_loss_backward(const T* grad_out, const T* input, const T* target, int64_t n,
                       Reduction reduction, T* dinput) {
  GC_PROFILE_SCOPE("mse_loss_backward", 3.0 * n, 3.0 * n * sizeof(T), {n});
  const T norm = static_cast<T>(reduction == Reduction::kMean ? 2.0 / double(n) : 2.0);
  parallel_for(n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    if (reduction == Reduction::kNone) {
      for (int64_t i = lo; i < hi; ++i) dinput[i] = norm * (input[i] - target[i]) * grad_out[i];
    } else {
      const T g = grad_out[0];
      for (int64_t i = lo; i < hi; ++i) dinput[i] = norm * (input[i] - target[i]) * g;
    }
  });
}

template <typename T>
void l1_loss_forward(const T* input, const T* target, int64_t n, Reduction reduction, T* loss) {
  GC_PROFILE_SCOPE("l1_loss_forward", 2.0 * n, 2.0 * n * sizeof(T), {n});
  elementwise_loss(n, reduction, loss,
                   [=](int64_t i) { return std::fabs(double(input[i]) - double(target[i])); });
}

template <typename T>
void l1_loss_backward(const T* grad_out, const T* input, const T* target, int64_t n,
                      Reduction reduction, T* dinput) {
  GC_PROFILE_SCOPE("l1_loss_backward", 3.0 * n, 3.0 * n * sizeof(T), {n});
  const T scale = static_cast<T>(reduction == Reduction::kMean ? 1.0 / double(n) : 1.0);
  parallel_for(n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const T d = input[i] - target[i];
      const T sgn = T(d > T(0)) - T(d < T(0));  // sign(0) = 0 (and sign(NaN) = 0, like PyTorch)
      const T g = reduction == Reduction::kNone ? grad_out[i] : grad_out[0] * scale;
      dinput[i] = g * sgn;
    }
  });
}

namespace {
// Index of element i into a weight of `period` elements repeated along the flat index.
inline int64_t bcast(int64_t i, int64_t period, int64_t n) {
  return period == n ? i : i % period;
}
}  // namespace

template <typename T>
void bce_with_logits_forward(const T* input, const T* target, const T* weight,
                             int64_t weight_period, const T* pos_weight, int64_t pos_period,
                             int64_t n, Reduction reduction, T* loss) {
  GC_PROFILE_SCOPE("bce_with_logits_forward", 10.0 * n, 2.0 * n * sizeof(T), {n});
  elementwise_loss(n, reduction, loss, [=](int64_t i) {
    const double x = input[i], t = target[i];
    // logsigmoid(x) = min(x, 0) - log1p(exp(-|x|)), stable for any x.
    const double logsig = std::min(x, 0.0) - std::log1p(std::exp(-std::fabs(x)));
    const double lw =
        pos_weight ? 1.0 + (double(pos_weight[bcast(i, pos_period, n)]) - 1.0) * t : 1.0;
    double v = (1.0 - t) * x - lw * logsig;
    if (weight) v *= double(weight[bcast(i, weight_period, n)]);
    return v;
  });
}

template <typename T>
void bce_with_logits_backward(const T* grad_out, const T* input, const T* target, const T* weight,
                              int64_t weight_period, const T* pos_weight, int64_t pos_period,
                              int64_t n, Reduction reduction, T* dinput) {
  GC_PROFILE_SCOPE("bce_with_logits_backward", 10.0 * n, 3.0 * n * sizeof(T), {n});
  const T scale = static_cast<T>(reduction == Reduction::kMean ? 1.0 / double(n) : 1.0);
  parallel_for(n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const T x = input[i], t = target[i];
      const T e = vexp(-std::fabs(x));
      const T s1 = T(1) / (T(1) + e);
      const T sig = x >= T(0) ? s1 : e * s1;
      T d;
      if (pos_weight) {
        const T pt = pos_weight[bcast(i, pos_period, n)] * t;
        d = (pt + T(1) - t) * sig - pt;
      } else {
        d = sig - t;
      }
      d *= reduction == Reduction::kNone ? grad_out[i] : grad_out[0];
      if (weight) d *= weight[bcast(i, weight_period, n)];
      dinput[i] = d * scale;
    }
  });
}

#define GC_INSTANTIATE(T)                                                                          \
  template void cross_entropy_forward<T>(const T*, const int64_t*, const T*, int64_t, int64_t,     \
                                         int64_t, double, Reduction, T*, T*);                      \
  template void cross_entropy_backward<T>(const T*, const T*, const int64_t*, const T*, const T*,  \
                                          int64_t, int64_t, int64_t, double, Reduction, T*);       \
  template void nll_loss_forward<T>(const T*, const int64_t*, const T*, int64_t, int64_t, int64_t, \
                                    Reduction, T*);                                                \
  template void nll_loss_backward<T>(const T*, const int64_t*, const T*, int64_t, int64_t,         \
                                     int64_t, Reduction, T*);                                      \
  template void mse_loss_forward<T>(const T*, const T*, int64_t, Reduction, T*);                   \
  template void mse_loss_backward<T>(const T*, const T*, const T*, int64_t, Reduction, T*);        \
  template void l1_loss_forward<T>(const T*, const T*, int64_t, Reduction, T*);                    \
  template void l1_loss_backward<T>(const T*, const T*, const T*, int64_t, Reduction, T*);         \
  template void bce_with_logits_forward<T>(const T*, const T*, const T*, int64_t, const T*,        \
                                           int64_t, int64_t, Reduction, T*);                       \
  template void bce_with_logits_backward<T>(const T*, const T*, const T*, const T*, int64_t,       \
                                            const T*, int64_t, int64_t, Reduction, T*);
GC_INSTANTIATE(float)
GC_INSTANTIATE(double)
#undef GC_INSTANTIATE

}  // namespace gradcore
