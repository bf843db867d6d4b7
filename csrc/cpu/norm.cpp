// Batch normalisation kernels (see norm.h for shapes and formulas).
//
// Memory order: x is (N, C, S) C-contiguous. A channel's values are N runs of S contiguous
// elements; for S > 1 each thread owns whole channels and walks n, then s. For S == 1
// ((N, C) inputs) a channel is a column, so threads own blocks of channels and walk the rows,
// keeping one double accumulator per channel: the summation order per channel (n ascending)
// is the same as in the S > 1 path with S == 1, and never depends on the thread count.
#include "cpu/norm.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

constexpr int64_t kMinWorkPerThread = 16384;  // elements worth a thread
constexpr int64_t kColumnBlock = 256;         // channels per block when S == 1

// Channels per thread so that a thread gets at least kMinWorkPerThread elements.
int64_t channel_grain(int64_t M) {
  return std::max<int64_t>(1, (kMinWorkPerThread + M - 1) / std::max<int64_t>(M, 1));
}

// sum over the channel's N*S values of f(v) in double, fixed order: four interleaved
// accumulators over s within each row, rows in order, combined as (a0+a1)+(a2+a3).
template <typename T, typename F>
double channel_sum(const T* x, const BatchNormShape& sh, int64_t c, F f) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (int64_t n = 0; n < sh.N; ++n) {
    const T* p = x + (n * sh.C + c) * sh.S;
    int64_t s = 0;
    for (; s + 4 <= sh.S; s += 4) {
      a0 += f(p[s]);
      a1 += f(p[s + 1]);
      a2 += f(p[s + 2]);
      a3 += f(p[s + 3]);
    }
    for (; s < sh.S; ++s) a0 += f(p[s]);
  }
  return (a0 + a1) + (a2 + a3);
}

// As channel_sum for two arrays: returns sum f(dy, x) with the same fixed order.
template <typename T, typename F>
double channel_sum2(const T* dy, const T* x, const BatchNormShape& sh, int64_t c, F f) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (int64_t n = 0; n < sh.N; ++n) {
    const int64_t off = (n * sh.C + c) * sh.S;
    const T* p = dy + off;
    const T* q = x + off;
    int64_t s = 0;
    for (; s + 4 <= sh.S; s += 4) {
      a0 += f(p[s], q[s]);
      a1 += f(p[s + 1], q[s + 1]);
      a2 += f(p[s + 2], q[s + 2]);
      a3 += f(p[s + 3], q[s + 3]);
    }
    for (; s < sh.S; ++s) a0 += f(p[s], q[s]);
  }
  return (a0 + a1) + (a2 + a3);
}

// Per-channel end of the training statistics from mean and sq = sum((x - mean)^2):
// save_mean/save_invstd, and the running stats' momentum update (unbiased variance).
template <typename T>
void finish_stats(int64_t c, double mean, double sq, int64_t M, double momentum, double eps,
                  T* running_mean, T* running_var, T* save_mean, T* save_invstd) {
  const double var = sq / static_cast<double>(M);
  const double invstd = 1.0 / std::sqrt(var + eps);
  save_mean[c] = static_cast<T>(mean);
  save_invstd[c] = static_cast<T>(invstd);
  if (running_mean)
    running_mean[c] =
        static_cast<T>(momentum * mean + (1.0 - momentum) * static_cast<double>(running_mean[c]));
  if (running_var) {
    const double unbiased = sq / static_cast<double>(M - 1);
    running_var[c] = static_cast<T>(momentum * unbiased +
                                    (1.0 - momentum) * static_cast<double>(running_var[c]));
  }
}

// y[n, c, s] = (x - m) * a + b for every n, s of channel c.
template <typename T>
void apply_channel(const T* x, T* y, const BatchNormShape& sh, int64_t c, T m, T a, T b) {
  for (int64_t n = 0; n < sh.N; ++n) {
    const int64_t off = (n * sh.C + c) * sh.S;
    const T* p = x + off;
    T* q = y + off;
    for (int64_t s = 0; s < sh.S; ++s) q[s] = (p[s] - m) * a + b;
  }
}

}  // namespace

template <typename T>
void batch_norm_forward_train(const T* x, const T* weight, const T* bias, T* running_mean,
                              T* running_var, T* y, T* save_mean, T* save_invstd, BatchNormShape sh,
                              double momentum, double eps) {
  const int64_t M = sh.N * sh.S;
  GC_PROFILE_SCOPE("batch_norm_forward_train", 7.0 * M * sh.C,
                   sizeof(T) * (4.0 * M * sh.C + 6.0 * sh.C), {sh.N, sh.C, sh.S});
  if (sh.C == 0 || M == 0) return;
  auto affine = [&](int64_t c, T& a, T& b) {
    const double w = weight ? static_cast<double>(weight[c]) : 1.0;
    a = static_cast<T>(static_cast<double>(save_invstd[c]) * w);
    b = bias ? bias[c] : T(0);
  };
  if (sh.S > 1) {
    parallel_for(sh.C, channel_grain(M), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const double sum = channel_sum(x, sh, c, [](T v) { return static_cast<double>(v); });
        const double mean = sum / static_cast<double>(M);
        const double sq = channel_sum(x, sh, c, [mean](T v) {
          const double d = static_cast<double>(v) - mean;
          return d * d;
        });
        finish_stats(c, mean, sq, M, momentum, eps, running_mean, running_var, save_mean,
                     save_invstd);
        T a, b;
        affine(c, a, b);
        apply_channel(x, y, sh, c, save_mean[c], a, b);
      }
    });
    return;
  }
  // S == 1: x is (N, C); blocks of channels, rows in order.
  parallel_for(sh.C, channel_grain(M), [&](int64_t c0, int64_t c1) {
    double acc[kColumnBlock], acc2[kColumnBlock], mean[kColumnBlock];
    T m[kColumnBlock], a[kColumnBlock], b[kColumnBlock];
    for (int64_t cb = c0; cb < c1; cb += kColumnBlock) {
      const int64_t w = std::min(kColumnBlock, c1 - cb);
      std::fill(acc, acc + w, 0.0);
      std::fill(acc2, acc2 + w, 0.0);
      for (int64_t n = 0; n < sh.N; ++n) {
        const T* p = x + n * sh.C + cb;
        for (int64_t j = 0; j < w; ++j) acc[j] += static_cast<double>(p[j]);
      }
      for (int64_t j = 0; j < w; ++j) mean[j] = acc[j] / static_cast<double>(M);
      for (int64_t n = 0; n < sh.N; ++n) {
        const T* p = x + n * sh.C + cb;
        for (int64_t j = 0; j < w; ++j) {
          const double d = static_cast<double>(p[j]) - mean[j];
          acc2[j] += d * d;
        }
      }
      for (int64_t j = 0; j < w; ++j) {
        finish_stats(cb + j, mean[j], acc2[j], M, momentum, eps, running_mean, running_var,
                     save_mean, save_invstd);
        m[j] = save_mean[cb + j];
        affine(cb + j, a[j], b[j]);
      }
      for (int64_t n = 0; n < sh.N; ++n) {
        const T* p = x + n * sh.C + cb;
        T* q = y + n * sh.C + cb;
        for (int64_t j = 0; j < w; ++j) q[j] = (p[j] - m[j]) * a[j] + b[j];
      }
    }
  });
}

template <typename T>
void batch_norm_forward_eval(const T* x, const T* weight, const T* bias, const T* running_mean,
                             const T* running_var, T* y, BatchNormShape sh, double eps) {
  const int64_t M = sh.N * sh.S;
  GC_PROFILE_SCOPE("batch_norm_forward_eval", 3.0 * M * sh.C,
                   sizeof(T) * (2.0 * M * sh.C + 4.0 * sh.C), {sh.N, sh.C, sh.S});
  if (sh.C == 0 || M == 0) return;
  // Per-channel constants (C is small next to N*C*S): m = rm, a = w / sqrt(rv + eps), b.
  auto consts = [&](int64_t c, T& m, T& a, T& b) {
    const double w = weight ? static_cast<double>(weight[c]) : 1.0;
    m = running_mean[c];
    a = static_cast<T>(w / std::sqrt(static_cast<double>(running_var[c]) + eps));
    b = bias ? bias[c] : T(0);
  };
  if (sh.S > 1) {
    const int64_t rows = sh.N * sh.C;
    const int64_t grain = std::max<int64_t>(1, kMinWorkPerThread / sh.S);
    parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        T m, a, b;
        consts(r % sh.C, m, a, b);
        const T* p = x + r * sh.S;
        T* q = y + r * sh.S;
        for (int64_t s = 0; s < sh.S; ++s) q[s] = (p[s] - m) * a + b;
      }
    });
    return;
  }
  parallel_for(sh.C, channel_grain(M), [&](int64_t c0, int64_t c1) {
    T m[kColumnBlock], a[kColumnBlock], b[kColumnBlock];
    for (int64_t cb = c0; cb < c1; cb += kColumnBlock) {
      const int64_t w = std::min(kColumnBlock, c1 - cb);
      for (int64_t j = 0; j < w; ++j) consts(cb + j, m[j], a[j], b[j]);
      for (int64_t n = 0; n < sh.N; ++n) {
        const T* p = x + n * sh.C + cb;
        T* q = y + n * sh.C + cb;
        for (int64_t j = 0; j < w; ++j) q[j] = (p[j] - m[j]) * a[j] + b[j];
      }
    }
  });
}

template <typename T>
void batch_norm_backward(const T* dy, const T* x, const T* weight, const T* mean, const T* invstd,
                         T* dx, T* dweight, T* dbias, BatchNormShape sh, bool training) {
  const int64_t M = sh.N * sh.S;
  GC_PROFILE_SCOPE("batch_norm_backward", (training ? 9.0 : 5.0) * M * sh.C,
                   sizeof(T) * (3.0 * M * sh.C + 5.0 * sh.C), {sh.N, sh.C, sh.S});
  if (sh.C == 0) return;
  if (M == 0) {
    for (int64_t c = 0; c < sh.C; ++c) {
      if (dweight) dweight[c] = T(0);
      if (dbias) dbias[c] = T(0);
    }
    return;
  }
  const bool need_sums = training || dweight || dbias;
  const double inv_m = 1.0 / static_cast<double>(M);
  // From the per-channel sums, the constants of dx = (dy - gm - (x - m) * k) * a.
  auto finish = [&](int64_t c, double sum_dy, double dot, T& m, T& gm, T& k, T& a) {
    const double is = static_cast<double>(invstd[c]);
    const double g = weight ? static_cast<double>(weight[c]) : 1.0;
    if (dweight) dweight[c] = static_cast<T>(dot * is);
    if (dbias) dbias[c] = static_cast<T>(sum_dy);
    m = mean[c];
    a = static_cast<T>(is * g);
    gm = training ? static_cast<T>(sum_dy * inv_m) : T(0);
    k = training ? static_cast<T>(dot * is * is * inv_m) : T(0);
  };
  if (sh.S > 1) {
    parallel_for(sh.C, channel_grain(M), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double sum_dy = 0, dot = 0;
        if (need_sums) {
          const double md = static_cast<double>(mean[c]);
          sum_dy = channel_sum(dy, sh, c, [](T v) { return static_cast<double>(v); });
          dot = channel_sum2(dy, x, sh, c, [md](T g, T v) {
            return static_cast<double>(g) * (static_cast<double>(v) - md);
          });
        }
        T m, gm, k, a;
        finish(c, sum_dy, dot, m, gm, k, a);
        for (int64_t n = 0; n < sh.N; ++n) {
          const int64_t off = (n * sh.C + c) * sh.S;
          const T* pg = dy + off;
          const T* px = x + off;
          T* q = dx + off;
          if (training) {
            for (int64_t s = 0; s < sh.S; ++s) q[s] = (pg[s] - gm - (px[s] - m) * k) * a;
          } else {
            for (int64_t s = 0; s < sh.S; ++s) q[s] = pg[s] * a;
          }
        }
      }
    });
    return;
  }
  parallel_for(sh.C, channel_grain(M), [&](int64_t c0, int64_t c1) {
    double sdy[kColumnBlock], sdot[kColumnBlock], md[kColumnBlock];
    T m[kColumnBlock], gm[kColumnBlock], k[kColumnBlock], a[kColumnBlock];
    for (int64_t cb = c0; cb < c1; cb += kColumnBlock) {
      const int64_t w = std::min(kColumnBlock, c1 - cb);
      std::fill(sdy, sdy + w, 0.0);
      std::fill(sdot, sdot + w, 0.0);
      if (need_sums) {
        for (int64_t j = 0; j < w; ++j) md[j] = static_cast<double>(mean[cb + j]);
        for (int64_t n = 0; n < sh.N; ++n) {
          const T* pg = dy + n * sh.C + cb;
          const T* px = x + n * sh.C + cb;
          for (int64_t j = 0; j < w; ++j) {
            const double g = static_cast<double>(pg[j]);
            sdy[j] += g;
            sdot[j] += g * (static_cast<double>(px[j]) - md[j]);
          }
        }
      }
      for (int64_t j = 0; j < w; ++j) finish(cb + j, sdy[j], sdot[j], m[j], gm[j], k[j], a[j]);
      for (int64_t n = 0; n < sh.N; ++n) {
        const T* pg = dy + n * sh.C + cb;
        const T* px = x + n * sh.C + cb;
        T* q = dx + n * sh.C + cb;
        if (training) {
          for (int64_t j = 0; j < w; ++j) q[j] = (pg[j] - gm[j] - (px[j] - m[j]) * k[j]) * a[j];
        } else {
          for (int64_t j = 0; j < w; ++j) q[j] = pg[j] * a[j];
        }
      }
    }
  });
}

#define GRADCORE_INSTANTIATE_NORM(T)                                                             \
  template void batch_norm_forward_train<T>(const T*, const T*, const T*, T*, T*, T*, T*, T*,    \
                                            BatchNormShape, double, double);                     \
  template void batch_norm_forward_eval<T>(const T*, const T*, const T*, const T*, const T*, T*, \
                                           BatchNormShape, double);                              \
  template void batch_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, \
                                       T*, BatchNormShape, bool);
GRADCORE_INSTANTIATE_NORM(float)
GRADCORE_INSTANTIATE_NORM(double)
#undef GRADCORE_INSTANTIATE_NORM

}  // namespace gradcore
