// CUDA batch normalisation: per-channel block reductions (one block per channel) into
// per-channel constants, then one thread per element. Bodies: norm_threads.h.
#include "cuda/device_array.h"
#include "cuda/launch.cuh"
#include "cuda/norm.h"

namespace gradcore::cuda {

void batch_norm_forward_train(const float* x, const float* weight, const float* bias,
                              float* running_mean, float* running_var, float* y, float* save_mean,
                              float* save_invstd, BnShape sh, double momentum, double eps) {
  const char* name = "batch_norm_forward_train";
  const int64_t M = sh.N * sh.S;
  if (sh.C == 0 || M == 0) return;
  DeviceArray scratch({sh.C}, DType::kFloat32);
  float* a = scratch.ptr<float>();
  for_each_row_reduce(
      name, sh.C, [=] __device__(int64_t c, int t) { return bn_sum_partial(x, sh, c, t); },
      [=] __device__(int64_t c, float v) { bn_mean_finish(save_mean, c, v, M); });
  for_each_row_reduce(
      name, sh.C,
      [=] __device__(int64_t c, int t) { return bn_sq_partial(x, save_mean, sh, c, t); },
      [=] __device__(int64_t c, float v) {
        bn_stats_finish(c, v, M, momentum, eps, weight, save_mean, save_invstd, running_mean,
                        running_var, a);
      });
  for_each_index(name, M * sh.C,
                 [=] __device__(int64_t k) { bn_apply_at(k, x, save_mean, a, bias, sh, y); });
}

void batch_norm_forward_eval(const float* x, const float* weight, const float* bias,
                             const float* running_mean, const float* running_var, float* y,
                             BnShape sh, double eps) {
  const char* name = "batch_norm_forward_eval";
  const int64_t M = sh.N * sh.S;
  if (sh.C == 0 || M == 0) return;
  DeviceArray scratch({sh.C}, DType::kFloat32);
  float* a = scratch.ptr<float>();
  for_each_index(name, sh.C,
                 [=] __device__(int64_t c) { bn_eval_consts_at(c, weight, running_var, eps, a); });
  for_each_index(name, M * sh.C,
                 [=] __device__(int64_t k) { bn_apply_at(k, x, running_mean, a, bias, sh, y); });
}

void batch_norm_backward(const float* dy, const float* x, const float* weight, const float* mean,
                         const float* invstd, float* dx, float* dweight, float* dbias, BnShape sh,
                         bool training) {
  const char* name = "batch_norm_backward";
  const int64_t M = sh.N * sh.S;
  if (sh.C == 0) return;
  // scratch: sum_dy, gm, kk, a (C each)
  DeviceArray scratch({4 * sh.C}, DType::kFloat32);
  float* sdy = scratch.ptr<float>();
  float* gm = sdy + sh.C;
  float* kk = gm + sh.C;
  float* a = kk + sh.C;
  if (training || dweight || dbias) {
    for_each_row_reduce(
        name, sh.C, [=] __device__(int64_t c, int t) { return bn_sum_partial(dy, sh, c, t); },
        [=] __device__(int64_t c, float v) { sdy[c] = v; });
    for_each_row_reduce(
        name, sh.C,
        [=] __device__(int64_t c, int t) { return bn_dot_partial(dy, x, mean, sh, c, t); },
        [=] __device__(int64_t c, float v) {
          bn_backward_finish(c, sdy[c], v, M, training, weight, invstd, dweight, dbias, gm, kk, a);
        });
  } else {
    for_each_index(name, sh.C, [=] __device__(int64_t c) {
      bn_backward_finish(c, 0.f, 0.f, M, training, weight, invstd, dweight, dbias, gm, kk, a);
    });
  }
  for_each_index(name, M * sh.C, [=] __device__(int64_t k) {
    bn_backward_at(k, dy, x, mean, gm, kk, a, training, sh, dx);
  });
}

}  // namespace gradcore::cuda
