// Per-thread bodies of the loss kernels (loss.cu), shared with the CPU test driver. Formulas
// as in csrc/cpu/loss.h (PyTorch's semantics), in float32:
//
// cross_entropy_forward, logits (N, C), one block per row i:
//   m[i] = max_c x (softmax_threads.h), lse[i] = m + log(sum_c exp(x - m)) (m when m = +-inf),
//   then (label smoothing ls > 0) a row sum of w[c] (lse - x[c]) whose finish is the row's
//   loss (one thread per row when ls == 0). mean/sum: a staged sum over the rows' losses (and
//   the mean's divisor, the sum of the non-ignored targets' weights).
// Staged sums (deterministic, no atomics): stage k reduces blocks of kSumChunk values to one
// each with for_each_row_reduce, until one value is left (at least one stage: n = 0 sums to 0).
#pragma once
#include <math.h>

#include "cuda/host_device.h"
#include "cuda/softmax_threads.h"

namespace gradcore::cuda {

// Values per row of a staged sum (16 per thread).
constexpr int64_t kSumChunk = static_cast<int64_t>(kBlock) * 16;

// Rows of the stage that reduces n values (at least 1).
GC_HD int64_t sum_stage_rows(int64_t n) {
  return n <= kSumChunk ? 1 : (n + kSumChunk - 1) / kSumChunk;
}
// Partial of thread t in chunk r of a staged sum: sum of f(i) for the chunk's indices
// i = r * kSumChunk + t + k * kBlock below n, in k order.
template <class F>
GC_HD float chunk_partial(int64_t n, int64_t r, int t, F f) {
  const int64_t b = r * kSumChunk;
  const int64_t e = b + kSumChunk < n ? b + kSumChunk : n;
  float s = 0.f;
  for (int64_t i = b + t; i < e; i += kBlock) s += f(i);
  return s;
}
GC_HD float chunk_sum_partial(const float* v, int64_t n, int64_t r, int t) {
  return chunk_partial(n, r, t, [v](int64_t i) { return v[i]; });
}

// ---- cross entropy ----

// The float coefficients of a label smoothing ls over C classes: (1 - ls) and ls / C.
struct Smoothing {
  float keep;   // 1 - ls
  float share;  // ls / C
  bool on;      // ls > 0
};

// lse[i] from the row maximum m[i] and total = sum_c exp(x - m[i]).
GC_HD void ce_lse_finish(const float* m, float* lse, int64_t i, float total) {
  const float mi = m[i];
  lse[i] = fabsf(mi) == INFINITY ? mi : mi + logf(total);
}
// Smoothing sum of row i: sum_c w[c] (lse[i] - x[i, c]) (w = 1 when null), thread t's columns.
GC_HD float ce_smooth_partial(const float* x, const float* weight, const float* lse, int64_t C,
                              int64_t i, int t) {
  const float* xr = x + i * C;
  const float l = lse[i];
  float s = 0.f;
  if (weight) {
    for (int64_t c = t; c < C; c += kBlock) s = fmaf(weight[c], l - xr[c], s);
  } else {
    for (int64_t c = t; c < C; c += kBlock) s += l - xr[c];
  }
  return s;
}
// Loss of row i with its smoothing sum `sm` (0 when ls == 0):
//   (1 - ls) w[t] (lse - x[i, t]) + (ls / C) sm, 0 when t == ignore_index.
// out[i] = the loss; wt[i] = w[t] (1 without weights; 0 when ignored): the mean's divisor terms.
GC_HD void ce_row_loss(int64_t i, const float* x, const int64_t* target, const float* weight,
                       const float* lse, int64_t C, int64_t ignore_index, Smoothing sm_c, float sm,
                       float* out, float* wt) {
  const int64_t t = target[i];
  if (t == ignore_index) {
    out[i] = 0.f;
    wt[i] = 0.f;
    return;
  }
  const float w = weight ? weight[t] : 1.f;
  float v = sm_c.keep * w * (lse[i] - x[i * C + t]);
  if (sm_c.on) v += sm_c.share * sm;
  out[i] = v;
  wt[i] = w;
}
// Final value of a reduced loss: total / *divisor for the mean, total for the sum.
GC_HD void loss_reduce_finish(float* loss, float total, const float* divisor, bool mean) {
  loss[0] = mean ? total / divisor[0] : total;
}
// Weight of sample i's target (0 when ignored): the terms of the mean's divisor.
GC_HD void ce_target_weight_at(int64_t i, const int64_t* target, const float* weight,
                               int64_t ignore_index, float* wt) {
  const int64_t t = target[i];
  wt[i] = t == ignore_index ? 0.f : (weight ? weight[t] : 1.f);
}
// scale[0] = 1 / total (the mean's gradient factor).
GC_HD void store_inverse(float* out, float total) {
  out[0] = 1.f / total;
}

// dlogits element k = i * C + c:
//   g ((1 - ls) w_t + (ls / C) W) p - g (ls / C) w'[c] - [c == t] g (1 - ls) w_t,
// p = exp(x - lse[i]), W = sum_c w[c] (C without weights) at *wsum, w'[c] = w[c] when weighted
// and ls > 0, else 1; g = grad_out[i] (none) or grad_out[0] * *scale (mean) or grad_out[0]
// (sum); 0 for ignored rows. As the CPU kernel: dx = a p - b w', then dx[t] -= g (1 - ls) w_t.
GC_HD void ce_backward_at(int64_t k, const float* grad_out, const float* x, const int64_t* target,
                          const float* lse, const float* weight, int64_t C, int64_t ignore_index,
                          Smoothing sm_c, int reduction, const float* scale, const float* wsum,
                          float* dx) {
  const int64_t i = k / C;
  const int64_t c = k - i * C;
  const int64_t t = target[i];
  if (t == ignore_index) {
    dx[k] = 0.f;
    return;
  }
  // reduction: 0 none, 1 mean, 2 sum (cpu/loss.h Reduction)
  const float g =
      reduction == 0 ? grad_out[i] : (reduction == 1 ? grad_out[0] * scale[0] : grad_out[0]);
  const float w = weight ? weight[t] : 1.f;
  const float a = g * (sm_c.keep * w + sm_c.share * wsum[0]);
  const float b = g * sm_c.share;
  const float wc = weight && sm_c.on ? weight[c] : 1.f;
  float v = a * expf(x[k] - lse[i]) - b * wc;
  if (c == t) v -= g * sm_c.keep * w;
  dx[k] = v;
}

// ---- mse ----

GC_HD float mse_partial(const float* input, const float* target, int64_t n, int64_t r, int t) {
  return chunk_partial(n, r, t, [=](int64_t i) {
    const float d = input[i] - target[i];
    return d * d;
  });
}
GC_HD void mse_forward_at(int64_t i, const float* input, const float* target, float* loss) {
  const float d = input[i] - target[i];
  loss[i] = d * d;
}
// loss[0] = total / n (mean) or total (sum).
GC_HD void mse_reduce_finish(float* loss, float total, int64_t n, bool mean) {
  loss[0] = mean ? total / static_cast<float>(n) : total;
}
// dx = norm (x - t) g, norm = 2 / n (mean) or 2, g = grad_out[i] (none) or grad_out[0].
GC_HD void mse_backward_at(int64_t i, const float* grad_out, const float* input,
                           const float* target, float norm, bool per_element, float* dx) {
  dx[i] = norm * (input[i] - target[i]) * (per_element ? grad_out[i] : grad_out[0]);
}

// ---- the leaves and finishes of the staged sums (namespace-scope functors, so that the
// launchers' lambdas may capture them) ----

// Stage partials over an array of n floats.
struct SumLeaf {
  const float* v;
  int64_t n;
  GC_HD float operator()(int64_t r, int t) const { return chunk_sum_partial(v, n, r, t); }
};
// First-stage partials of mse_loss_forward: (input - target)^2.
struct MseLeaf {
  const float* input;
  const float* target;
  int64_t n;
  GC_HD float operator()(int64_t r, int t) const { return mse_partial(input, target, n, r, t); }
};
// out[0] = total.
struct StoreFinish {
  float* out;
  GC_HD void operator()(float total) const { out[0] = total; }
};
// out[0] = 1 / total.
struct InverseFinish {
  float* out;
  GC_HD void operator()(float total) const { store_inverse(out, total); }
};
// loss[0] = total / divisor[0] (mean) or total (sum).
struct LossFinish {
  float* loss;
  const float* divisor;
  bool mean;
  GC_HD void operator()(float total) const { loss_reduce_finish(loss, total, divisor, mean); }
};
// loss[0] = total / n (mean) or total (sum).
struct MseFinish {
  float* loss;
  int64_t n;
  bool mean;
  GC_HD void operator()(float total) const { mse_reduce_finish(loss, total, n, mean); }
};

// Floats of scratch a staged sum of n values needs for its intermediate stages.
GC_HD int64_t staged_sum_scratch(int64_t n) {
  int64_t total = 0;
  for (int64_t k = sum_stage_rows(n); k > 1; k = sum_stage_rows(k)) total += k;
  return total;
}

}  // namespace gradcore::cuda
