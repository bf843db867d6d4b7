// Batch normalisation over the channel axis of x (N, C, *), viewed as (N, C, S) with S the
// product of the trailing sizes (S = 1 for a 2-d (N, C) input).
//
// Statistics are per channel over M = N * S values, accumulated in double whatever T is.
// Each channel's reduction runs serially in a fixed order (n, then contiguous s) and
// threads split the channels, so results are bitwise identical for any thread count.
#pragma once
#include <cstdint>

namespace gradcore {

struct BatchNormShape {
  int64_t N, C, S;
};

// Training forward: mean = sum(x)/M, var = sum((x-mean)^2)/M (biased),
// invstd = 1/sqrt(var + eps), y = (x - mean) * invstd * weight + bias.
// save_mean, save_invstd (C,) receive mean and invstd. When given, running stats are
// updated in place like PyTorch: rm = (1-momentum)*rm + momentum*mean,
// rv = (1-momentum)*rv + momentum*var*M/(M-1). weight/bias/running_* may be null.
// Requires M > 1 (checked by the binding). Overwrites y, save_mean and save_invstd.
template <typename T>
void batch_norm_forward_train(const T* x, const T* weight, const T* bias, T* running_mean,
                              T* running_var, T* y, T* save_mean, T* save_invstd, BatchNormShape sh,
                              double momentum, double eps);

// Inference forward: y = (x - rm) / sqrt(rv + eps) * weight + bias (weight/bias may be null).
// Overwrites y.
template <typename T>
void batch_norm_forward_eval(const T* x, const T* weight, const T* bias, const T* running_mean,
                             const T* running_var, T* y, BatchNormShape sh, double eps);

// Backward. xhat = (x - mean) * invstd, g = weight (1 when null).
//   training: dx = invstd * g * (dy - sum(dy)/M - xhat * sum(dy*xhat)/M)
//   eval (mean/invstd are constants from the running stats): dx = dy * g * invstd
// dweight = sum(dy * xhat), dbias = sum(dy) per channel (skipped when the pointer is null).
// Overwrites dx, dweight and dbias (gradients are not accumulated into them).
template <typename T>
void batch_norm_backward(const T* dy, const T* x, const T* weight, const T* mean, const T* invstd,
                         T* dx, T* dweight, T* dbias, BatchNormShape sh, bool training);

}  // namespace gradcore
