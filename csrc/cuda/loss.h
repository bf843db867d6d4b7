// CUDA losses (float32), the CPU names of csrc/cpu/loss.h, launched on the current stream.
// Bodies: loss_threads.h. Reductions as cpu/loss.h (0 none, 1 mean, 2 sum); every final sum
// is a staged block reduction (deterministic). Targets are trusted (the bindings check them).
#pragma once
#include <cstdint>

namespace gradcore::cuda {

// logits (N, C), target (N) int64, weight (C) or nullptr; lse (N); loss (N) for none, else 1.
void cross_entropy_forward(const float* logits, const int64_t* target, const float* weight,
                           int64_t N, int64_t C, int64_t ignore_index, double label_smoothing,
                           int reduction, float* loss, float* lse);
// grad_out: N elements (none) or 1. Overwrites dlogits (N, C).
void cross_entropy_backward(const float* grad_out, const float* logits, const int64_t* target,
                            const float* lse, const float* weight, int64_t N, int64_t C,
                            int64_t ignore_index, double label_smoothing, int reduction,
                            float* dlogits);

// n elements: loss (n) for none, else 1 element.
void mse_loss_forward(const float* input, const float* target, int64_t n, int reduction,
                      float* loss);
void mse_loss_backward(const float* grad_out, const float* input, const float* target, int64_t n,
                       int reduction, float* dinput);

}  // namespace gradcore::cuda
