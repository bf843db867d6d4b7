// CUDA batch normalisation (float32), the CPU names of csrc/cpu/norm.h, launched on the current
// stream. Bodies: norm_threads.h. x is (N, C, S); pointers documented as optional may be null.
// Each call takes scratch per-channel constants from the caching allocator.
#pragma once
#include <cstdint>

#include "cuda/norm_threads.h"

namespace gradcore::cuda {

// Requires N * S > 1 (checked by the binding). Updates running_mean / running_var in place
// when not null; overwrites y, save_mean and save_invstd.
void batch_norm_forward_train(const float* x, const float* weight, const float* bias,
                              float* running_mean, float* running_var, float* y, float* save_mean,
                              float* save_invstd, BnShape sh, double momentum, double eps);
void batch_norm_forward_eval(const float* x, const float* weight, const float* bias,
                             const float* running_mean, const float* running_var, float* y,
                             BnShape sh, double eps);
// dweight / dbias may be null (not computed).
void batch_norm_backward(const float* dy, const float* x, const float* weight, const float* mean,
                         const float* invstd, float* dx, float* dweight, float* dbias, BnShape sh,
                         bool training);

}  // namespace gradcore::cuda
