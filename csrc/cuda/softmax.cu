// CUDA softmax kernels: row reductions of softmax_threads.h into per-row scratch values, then
// one elementwise pass.
#include "cuda/device_array.h"
#include "cuda/launch.cuh"
#include "cuda/softmax.h"
#include "cuda/softmax_threads.h"

namespace gradcore::cuda {
namespace {

// m[r] = max of row r, then out[r] = store(sum_c exp(x[r, c] - m[r])).
template <class Store>
void max_and_sum_exp(const char* name, const float* x, float* m, float* out, int64_t rows,
                     int64_t cols, Store store) {
  for_each_row_reduce_with(
      name, rows, MaxStep{},
      [=] __device__(int64_t r, int t) { return row_max_partial(x, cols, r, t); },
      [=] __device__(int64_t r, float v) { store_row_value(m, r, v); });
  for_each_row_reduce(
      name, rows,
      [=] __device__(int64_t r, int t) { return row_sum_exp_partial(x, m, cols, r, t); },
      [=] __device__(int64_t r, float v) { store(out, r, v); });
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  DeviceArray scratch({2 * rows}, DType::kFloat32);
  float* m = scratch.ptr<float>();
  float* inv = m + rows;
  max_and_sum_exp("softmax_forward", x, m, inv, rows, cols,
                  [] __device__(float* o, int64_t r, float v) { store_row_inverse(o, r, v); });
  for_each_index("softmax_forward", rows * cols,
                 [=] __device__(int64_t t) { softmax_forward_at(t, x, m, inv, y, cols); });
}

void log_softmax_forward(const float* x, float* y, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  DeviceArray scratch({2 * rows}, DType::kFloat32);
  float* m = scratch.ptr<float>();
  float* logs = m + rows;
  max_and_sum_exp("log_softmax_forward", x, m, logs, rows, cols,
                  [] __device__(float* o, int64_t r, float v) { store_row_log(o, r, v); });
  for_each_index("log_softmax_forward", rows * cols,
                 [=] __device__(int64_t t) { log_softmax_forward_at(t, x, m, logs, y, cols); });
}

void softmax_backward(const float* dy, const float* y, float* dx, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  DeviceArray scratch({rows}, DType::kFloat32);
  float* dot = scratch.ptr<float>();
  for_each_row_reduce(
      "softmax_backward", rows,
      [=] __device__(int64_t r, int t) { return row_dot_partial(dy, y, cols, r, t); },
      [=] __device__(int64_t r, float v) { store_row_value(dot, r, v); });
  for_each_index("softmax_backward", rows * cols,
                 [=] __device__(int64_t t) { softmax_backward_at(t, dy, y, dot, dx, cols); });
}

void log_softmax_backward(const float* dy, const float* y, float* dx, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0) return;
  DeviceArray scratch({rows}, DType::kFloat32);
  float* s = scratch.ptr<float>();
  for_each_row_reduce(
      "log_softmax_backward", rows,
      [=] __device__(int64_t r, int t) { return row_sum_partial(dy, cols, r, t); },
      [=] __device__(int64_t r, float v) { store_row_value(s, r, v); });
  for_each_index("log_softmax_backward", rows * cols,
                 [=] __device__(int64_t t) { log_softmax_backward_at(t, dy, y, s, dx, cols); });
}

}  // namespace gradcore::cuda
