// Loss functions, forward and backward, with PyTorch's semantics.
//
// Reductions: kNone gives one loss per sample (or per element), kSum their sum, kMean their
// mean (for the class-weighted losses: divided by the sum of the weights of the non-ignored
// targets, like PyTorch). Sums are deterministic (fixed order, double accumulation).
// Backward kernels take grad_out with one element (mean/sum) or one per loss (none).
// Targets are trusted: the bindings check that they lie in [0, C) or equal ignore_index.
// Every kernel overwrites its outputs (loss and lse, or the input gradient).
#pragma once
#include <cstdint>

namespace gradcore {

enum class Reduction { kNone = 0, kMean = 1, kSum = 2 };

// logits (N, C), target (N), weight (C) or nullptr; lse (N) = logsumexp of each row.
// Per sample (0 where target == ignore_index), with logp = logits - lse, w = weight or 1:
//   loss_i = (1 - ls) * (-w[t_i] logp[i, t_i]) + (ls / C) * sum_c (-w[c] logp[i, c]).
// loss: (N) for kNone, else one element (mean: sum_i loss_i / sum_{i not ignored} w[t_i]).
// Overwrites loss and lse.
template <typename T>
void cross_entropy_forward(const T* logits, const int64_t* target, const T* weight, int64_t N,
                           int64_t C, int64_t ignore_index, double label_smoothing,
                           Reduction reduction, T* loss, T* lse);
// dlogits[i, c] = g_i * ((1 - ls) w[t_i] (p[i, c] - [c == t_i]) + (ls / C)(W p[i, c] - w[c])),
// p = exp(logits - lse), W = sum_c w[c], g_i = grad_out (per sample, or / the mean's divisor).
// Overwrites dlogits.
template <typename T>
void cross_entropy_backward(const T* grad_out, const T* logits, const int64_t* target, const T* lse,
                            const T* weight, int64_t N, int64_t C, int64_t ignore_index,
                            double label_smoothing, Reduction reduction, T* dlogits);

// log_probs (N, C): loss_i = -w[t_i] log_probs[i, t_i] (0 when ignored). Overwrites loss.
template <typename T>
void nll_loss_forward(const T* log_probs, const int64_t* target, const T* weight, int64_t N,
                      int64_t C, int64_t ignore_index, Reduction reduction, T* loss);
// dlog_probs[i, c] = -g_i w[t_i] [c == t_i]. Overwrites dlog_probs (zeros elsewhere).
template <typename T>
void nll_loss_backward(const T* grad_out, const int64_t* target, const T* weight, int64_t N,
                       int64_t C, int64_t ignore_index, Reduction reduction, T* dlog_probs);

// n elements: loss_i = (x_i - t_i)^2;  dx_i = 2 (x_i - t_i) g_i (/ n for the mean).
// Overwrite loss / dinput.
template <typename T>
void mse_loss_forward(const T* input, const T* target, int64_t n, Reduction reduction, T* loss);
template <typename T>
void mse_loss_backward(const T* grad_out, const T* input, const T* target, int64_t n,
                       Reduction reduction, T* dinput);

// n elements: loss_i = |x_i - t_i|;  dx_i = sign(x_i - t_i) g_i (/ n), sign(0) = 0.
// Overwrite loss / dinput.
template <typename T>
void l1_loss_forward(const T* input, const T* target, int64_t n, Reduction reduction, T* loss);
template <typename T>
void l1_loss_backward(const T* grad_out, const T* input, const T* target, int64_t n,
                      Reduction reduction, T* dinput);

// n elements; weight and pos_weight (nullptr for none) hold `*_period` elements that repeat
// along the flat index (period n: same shape as the input; period L: the trailing dimensions;
// period 1: a scalar): w_i = weight[i % weight_period].
//   loss_i = w_i ((1 - t_i) x_i - (1 + (pw_i - 1) t_i) logsigmoid(x_i))
//   dx_i   = w_i g_i ((pw_i t_i + 1 - t_i) sigmoid(x_i) - pw_i t_i)  (/ n for the mean)
// Overwrite loss / dinput.
template <typename T>
void bce_with_logits_forward(const T* input, const T* target, const T* weight,
                             int64_t weight_period, const T* pos_weight, int64_t pos_period,
                             int64_t n, Reduction reduction, T* loss);
template <typename T>
void bce_with_logits_backward(const T* grad_out, const T* input, const T* target, const T* weight,
                              int64_t weight_period, const T* pos_weight, int64_t pos_period,
                              int64_t n, Reduction reduction, T* dinput);

}  // namespace gradcore
