// CUDA optimizer updates (float32, n contiguous elements, in place) and gradient-clipping
// helpers: the CPU names of csrc/cpu/optim.h, launched on the current stream. The
// hyper-parameters arrive rounded to float by the *_consts functions of optim_threads.h (the
// rounding of cpu/optim.cpp). Bodies: optim_threads.h.
#pragma once
#include <cstdint>

#include "cuda/optim_threads.h"

namespace gradcore::cuda {

// buf: null unless c.momentum. Updates param (and buf) in place.
void sgd_step(float* param, const float* grad, float* buf, int64_t n, const SgdConsts& c);
// vmax: null unless c.amsgrad. Updates param, m, v (and vmax) in place.
void adam_step(float* param, const float* grad, float* m, float* v, float* vmax, int64_t n,
               const AdamConsts& c);
// grad_avg: null unless c.centered; buf: null unless c.momentum.
void rmsprop_step(float* param, const float* grad, float* square_avg, float* grad_avg, float* buf,
                  int64_t n, const RmspropConsts& c);
void adagrad_step(float* param, const float* grad, float* state_sum, int64_t n,
                  const AdagradConsts& c);

// Writes sum(x^2) to *out (device memory); sums: sumsq_chunks(n) floats of device scratch.
// n > 0.
void sum_of_squares(const float* x, int64_t n, float* sums, float* out);

void scale_inplace(float* x, int64_t n, float alpha);
void clamp_inplace(float* x, int64_t n, float lo, float hi);

}  // namespace gradcore::cuda
