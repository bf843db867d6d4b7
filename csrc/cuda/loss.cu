// CUDA losses: per-row block reductions of loss_threads.h / softmax_threads.h, staged sums for
// the mean and sum reductions, elementwise gradients.
#include "cuda/device_array.h"
#include "cuda/launch.cuh"
#include "cuda/loss.h"
#include "cuda/loss_threads.h"

namespace gradcore::cuda {
namespace {

// Sum of n values whose first-stage partials are leaf(r, t) (r < sum_stage_rows(n)), then
// chunk sums of the previous stage's results until one is left; finish(total) at the end.
template <class Leaf, class Finish>
void staged_sum(const char* name, int64_t n, Leaf leaf, Finish finish) {
  int64_t rows = sum_stage_rows(n);
  if (rows == 1) {
    for_each_row_reduce(
        name, 1, [=] __device__(int64_t r, int t) { return leaf(r, t); },
        [=] __device__(int64_t, float v) { finish(v); });
    return;
  }
  DeviceArray scratch({staged_sum_scratch(n)}, DType::kFloat32);
  float* out = scratch.ptr<float>();
  for_each_row_reduce(
      name, rows, [=] __device__(int64_t r, int t) { return leaf(r, t); },
      [=] __device__(int64_t r, float v) { store_row_value(out, r, v); });
  for (;;) {
    const SumLeaf prev{out, rows};
    rows = sum_stage_rows(prev.n);
    if (rows == 1) {
      for_each_row_reduce(
          name, 1, [=] __device__(int64_t r, int t) { return prev(r, t); },
          [=] __device__(int64_t, float v) { finish(v); });
      return;
    }
    out += prev.n;
    float* o = out;
    for_each_row_reduce(
        name, rows, [=] __device__(int64_t r, int t) { return prev(r, t); },
        [=] __device__(int64_t r, float v) { store_row_value(o, r, v); });
  }
}

Smoothing smoothing(double ls, int64_t C) {
  return Smoothing{static_cast<float>(1.0 - ls),
                   C > 0 ? static_cast<float>(ls / static_cast<double>(C)) : 0.f, ls > 0};
}

}  // namespace

void cross_entropy_forward(const float* logits, const int64_t* target, const float* weight,
                           int64_t N, int64_t C, int64_t ignore_index, double label_smoothing,
                           int reduction, float* loss, float* lse) {
  const char* name = "cross_entropy_forward";
  const Smoothing sc = smoothing(label_smoothing, C);
  // scratch: row maxima (N), per-row losses (N, mean/sum), target weights (N), divisor (1)
  DeviceArray scratch({3 * N + 1}, DType::kFloat32);
  float* m = scratch.ptr<float>();
  float* per = reduction == 0 ? loss : m + N;
  float* wt = m + 2 * N;
  float* div = m + 3 * N;
  const float* x = logits;
  for_each_row_reduce_with(
      name, N, MaxStep{}, [=] __device__(int64_t r, int t) { return row_max_partial(x, C, r, t); },
      [=] __device__(int64_t r, float v) { store_row_value(m, r, v); });
  for_each_row_reduce(
      name, N, [=] __device__(int64_t r, int t) { return row_sum_exp_partial(x, m, C, r, t); },
      [=] __device__(int64_t r, float v) { ce_lse_finish(m, lse, r, v); });
  if (sc.on) {
    for_each_row_reduce(
        name, N,
        [=] __device__(int64_t r, int t) { return ce_smooth_partial(x, weight, lse, C, r, t); },
        [=] __device__(int64_t r, float v) {
          ce_row_loss(r, x, target, weight, lse, C, ignore_index, sc, v, per, wt);
        });
  } else {
    for_each_index(name, N, [=] __device__(int64_t i) {
      ce_row_loss(i, x, target, weight, lse, C, ignore_index, sc, 0.f, per, wt);
    });
  }
  if (reduction == 0) return;
  const bool mean = reduction == 1;
  if (mean) staged_sum(name, N, SumLeaf{wt, N}, StoreFinish{div});
  staged_sum(name, N, SumLeaf{per, N}, LossFinish{loss, div, mean});
}

void cross_entropy_backward(const float* grad_out, const float* logits, const int64_t* target,
                            const float* lse, const float* weight, int64_t N, int64_t C,
                            int64_t ignore_index, double label_smoothing, int reduction,
                            float* dlogits) {
  const char* name = "cross_entropy_backward";
  if (N == 0 || C == 0) return;
  const Smoothing sc = smoothing(label_smoothing, C);
  // scratch: target weights (N), the mean's scale (1), the weights' sum W (1)
  DeviceArray scratch({N + 2}, DType::kFloat32);
  float* wt = scratch.ptr<float>();
  float* scale = wt + N;
  float* wsum = wt + N + 1;
  if (reduction == 1) {
    for_each_index(name, N, [=] __device__(int64_t i) {
      ce_target_weight_at(i, target, weight, ignore_index, wt);
    });
    staged_sum(name, N, SumLeaf{wt, N}, InverseFinish{scale});
  }
  if (weight) {
    staged_sum(name, C, SumLeaf{weight, C}, StoreFinish{wsum});
  } else {
    const float fc = static_cast<float>(C);
    for_each_index(name, 1, [=] __device__(int64_t) { wsum[0] = fc; });
  }
  const float* x = logits;
  for_each_index(name, N * C, [=] __device__(int64_t k) {
    ce_backward_at(k, grad_out, x, target, lse, weight, C, ignore_index, sc, reduction, scale, wsum,
                   dlogits);
  });
}

void mse_loss_forward(const float* input, const float* target, int64_t n, int reduction,
                      float* loss) {
  const char* name = "mse_loss_forward";
  if (reduction == 0) {
    for_each_index(name, n, [=] __device__(int64_t i) { mse_forward_at(i, input, target, loss); });
    return;
  }
  staged_sum(name, n, MseLeaf{input, target, n}, MseFinish{loss, n, reduction == 1});
}

void mse_loss_backward(const float* grad_out, const float* input, const float* target, int64_t n,
                       int reduction, float* dinput) {
  const float norm = static_cast<float>(reduction == 1 ? 2.0 / static_cast<double>(n) : 2.0);
  const bool per_element = reduction == 0;
  for_each_index("mse_loss_backward", n, [=] __device__(int64_t i) {
    mse_backward_at(i, grad_out, input, target, norm, per_element, dinput);
  });
}

}  // namespace gradcore::cuda
