// Per-thread bodies of the batch-norm kernels (norm.cu), shared with the CPU test driver.
// Formulas as in csrc/cpu/norm.h: x (N, C, S) C-contiguous, statistics per channel c over its
// M = N * S values. Per-channel sums: one block per channel (for_each_row_reduce, row = c),
// thread t taking the channel's values j = t, t + kBlock, ... (j = n * S + s); per-channel
// constants go to scratch arrays of C floats; then one thread per element k of x.
// The per-channel finishes compute in double where the CPU kernel does.
#pragma once
#include <math.h>

#include "cuda/host_device.h"

namespace gradcore::cuda {

struct BnShape {
  int64_t N, C, S;
};

// Offset in x of value j (= n * S + s) of channel c.
GC_HD int64_t bn_offset(BnShape sh, int64_t c, int64_t j) {
  const int64_t n = j / sh.S;
  return (n * sh.C + c) * sh.S + (j - n * sh.S);
}
// Channel of element k of x.
GC_HD int64_t bn_channel(BnShape sh, int64_t k) {
  return (k / sh.S) % sh.C;
}

// ---- per-channel partials (channel c, thread t) ----

// sum of x
GC_HD float bn_sum_partial(const float* x, BnShape sh, int64_t c, int t) {
  const int64_t M = sh.N * sh.S;
  float s = 0.f;
  for (int64_t j = t; j < M; j += kBlock) s += x[bn_offset(sh, c, j)];
  return s;
}
// sum of (x - mean[c])^2
GC_HD float bn_sq_partial(const float* x, const float* mean, BnShape sh, int64_t c, int t) {
  const int64_t M = sh.N * sh.S;
  const float m = mean[c];
  float s = 0.f;
  for (int64_t j = t; j < M; j += kBlock) {
    const float d = x[bn_offset(sh, c, j)] - m;
    s = fmaf(d, d, s);
  }
  return s;
}
// sum of dy * (x - mean[c])
GC_HD float bn_dot_partial(const float* dy, const float* x, const float* mean, BnShape sh,
                           int64_t c, int t) {
  const int64_t M = sh.N * sh.S;
  const float m = mean[c];
  float s = 0.f;
  for (int64_t j = t; j < M; j += kBlock) {
    const int64_t o = bn_offset(sh, c, j);
    s = fmaf(dy[o], x[o] - m, s);
  }
  return s;
}

// ---- per-channel finishes ----

// save_mean[c] = sum / M
GC_HD void bn_mean_finish(float* save_mean, int64_t c, float total, int64_t M) {
  save_mean[c] = total / static_cast<float>(M);
}
// From sq = sum (x - mean)^2: save_invstd = 1 / sqrt(sq / M + eps), the running stats'
// momentum update (unbiased variance sq / (M - 1)), and a[c] = invstd * weight[c] (or invstd).
GC_HD void bn_stats_finish(int64_t c, float sq, int64_t M, double momentum, double eps,
                           const float* weight, const float* save_mean, float* save_invstd,
                           float* running_mean, float* running_var, float* a) {
  const double var = static_cast<double>(sq) / static_cast<double>(M);
  const double invstd = 1.0 / sqrt(var + eps);
  save_invstd[c] = static_cast<float>(invstd);
  if (running_mean)
    running_mean[c] = static_cast<float>(momentum * static_cast<double>(save_mean[c]) +
                                         (1.0 - momentum) * static_cast<double>(running_mean[c]));
  if (running_var) {
    const double unbiased = static_cast<double>(sq) / static_cast<double>(M - 1);
    running_var[c] = static_cast<float>(momentum * unbiased +
                                        (1.0 - momentum) * static_cast<double>(running_var[c]));
  }
  const double w = weight ? static_cast<double>(weight[c]) : 1.0;
  a[c] = static_cast<float>(static_cast<double>(save_invstd[c]) * w);
}
// Eval: a[c] = weight[c] / sqrt(running_var[c] + eps) (weight 1 when null).
GC_HD void bn_eval_consts_at(int64_t c, const float* weight, const float* running_var, double eps,
                             float* a) {
  const double w = weight ? static_cast<double>(weight[c]) : 1.0;
  a[c] = static_cast<float>(w / sqrt(static_cast<double>(running_var[c]) + eps));
}
// Backward, from sum_dy and dot = sum dy (x - mean): dweight = dot * invstd, dbias = sum_dy
// (each when not null; 0 when M == 0), a = invstd * weight, and in training gm = sum_dy / M,
// kk = dot * invstd^2 / M (0 otherwise), so that dx = (dy - gm - (x - mean) kk) a.
GC_HD void bn_backward_finish(int64_t c, float sum_dy, float dot, int64_t M, bool training,
                              const float* weight, const float* invstd, float* dweight,
                              float* dbias, float* gm, float* kk, float* a) {
  const double is = static_cast<double>(invstd[c]);
  const double g = weight ? static_cast<double>(weight[c]) : 1.0;
  const double inv_m = M > 0 ? 1.0 / static_cast<double>(M) : 0.0;
  if (dweight) dweight[c] = M > 0 ? static_cast<float>(static_cast<double>(dot) * is) : 0.f;
  if (dbias) dbias[c] = M > 0 ? sum_dy : 0.f;
  a[c] = static_cast<float>(is * g);
  gm[c] = training ? static_cast<float>(static_cast<double>(sum_dy) * inv_m) : 0.f;
  kk[c] = training ? static_cast<float>(static_cast<double>(dot) * is * is * inv_m) : 0.f;
}

// ---- elementwise (element k of x) ----

// y = (x - m[c]) * a[c] + bias[c] (bias 0 when null)
GC_HD void bn_apply_at(int64_t k, const float* x, const float* m, const float* a, const float* bias,
                       BnShape sh, float* y) {
  const int64_t c = bn_channel(sh, k);
  y[k] = (x[k] - m[c]) * a[c] + (bias ? bias[c] : 0.f);
}
// training: dx = (dy - gm[c] - (x - mean[c]) kk[c]) a[c]; eval: dx = dy a[c]
GC_HD void bn_backward_at(int64_t k, const float* dy, const float* x, const float* mean,
                          const float* gm, const float* kk, const float* a, bool training,
                          BnShape sh, float* dx) {
  const int64_t c = bn_channel(sh, k);
  dx[k] = training ? (dy[k] - gm[c] - (x[k] - mean[c]) * kk[c]) * a[c] : dy[k] * a[c];
}

}  // namespace gradcore::cuda
