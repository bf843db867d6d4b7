// Conv2d -> ReLU -> MaxPool2d(2) forward: each image's convolution output pooled in cache
// (see conv_relu_pool.h).
#include "cpu/conv_relu_pool.h"

#include <atomic>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "cpu/conv.h"
#include "cpu/conv_direct.h"
#include "cpu/pool.h"
#include "profiler/profiler.h"

namespace gradcore {

namespace {

template <typename T>
struct PoolImage {
  int64_t K, OH, OW, PP;  // PP: pooled outputs per plane
  T* y;
  uint8_t* cell;
};

// The sink of conv2d_forward_by_image: image n's K planes pooled into its rows of y and cell.
template <typename T>
void pool_image(const void* ctx, int64_t n, const T* conv_out) {
  const auto& q = *static_cast<const PoolImage<T>*>(ctx);
  max_pool2d_relu_forward_serial(q.K, q.OH, q.OW, conv_out, q.y + n * q.K * q.PP,
                                 q.cell + n * q.K * q.PP);
}

struct UnpoolImage {
  int64_t K, OH, OW, PP;
  const float* g;
  const uint8_t* cell;
  std::atomic<int64_t>* bad;
};

// The gradient source of conv2d_direct_backward_weight_by_image: image n's conv-output
// gradient unpooled from g and the cells.
void unpool_image(const void* ctx, int64_t n, float* dy_n) {
  const auto& q = *static_cast<const UnpoolImage*>(ctx);
  const int64_t nbad = max_pool2d_relu_backward_serial(q.K, q.OH, q.OW, q.g + n * q.K * q.PP,
                                                       q.cell + n * q.K * q.PP, dy_n);
  if (nbad) q.bad->fetch_add(nbad, std::memory_order_relaxed);
}

}  // namespace

template <typename T>
int64_t conv2d_relu_max_pool2d_backward_params(const Window2d& p, const T* g, const uint8_t* cell,
                                               const T* x, T* dw, T* db) {
  const int64_t Cg = p.C / p.groups, P = p.OH * p.OW, PP = (p.OH / 2) * (p.OW / 2);
  GC_PROFILE_SCOPE(
      "conv2d_relu_max_pool2d_backward_params", 2.0 * p.N * p.K * P * Cg * p.R * p.S,
      sizeof(T) * (p.N * p.C * p.H * p.W + p.K * Cg * p.R * p.S + p.N * p.K * PP) + p.N * p.K * PP,
      {p.N, p.K, p.OH / 2, p.OW / 2}, {p.N, p.C, p.H, p.W}, {p.K, Cg, p.R, p.S});
  if constexpr (std::is_same_v<T, float>)
    if (p.N * p.K * P > 0 && conv_direct_ok(p)) {
      std::atomic<int64_t> bad{0};
      const UnpoolImage q{p.K, p.OH, p.OW, PP, g, cell, &bad};
      std::vector<float> plane_sums(db ? static_cast<std::size_t>(p.N * p.K) : 0);
      conv2d_direct_backward_weight_by_image(p, x, &unpool_image, &q, dw,
                                             db ? plane_sums.data() : nullptr);
      if (db)  // conv2d_backward_bias's sums: planes in image order, in double
        for (int64_t k = 0; k < p.K; ++k) {
          double total = 0.0;
          for (int64_t n = 0; n < p.N; ++n)
            total += static_cast<double>(plane_sums[static_cast<std::size_t>(n * p.K + k)]);
          db[k] = static_cast<float>(total);
        }
      return bad.load();
    }
  std::vector<T> dc(static_cast<std::size_t>(p.N * p.K * P));  // the kernels in turn
  const int64_t bad = max_pool2d_relu_backward(p.N * p.K, p.OH, p.OW, g, cell, dc.data());
  conv2d_backward_weight(p, dc.data(), x, dw);
  if (db) conv2d_backward_bias(p.N, p.K, P, dc.data(), db);
  return bad;
}

template <typename T>
void conv2d_relu_max_pool2d_forward(const Window2d& p, const T* x, const T* w, const T* bias, T* y,
                                    uint8_t* cell) {
  const int64_t Cg = p.C / p.groups, P = p.OH * p.OW, PP = (p.OH / 2) * (p.OW / 2);
  GC_PROFILE_SCOPE(
      "conv2d_relu_max_pool2d_forward", 2.0 * p.N * p.K * P * Cg * p.R * p.S + 4.0 * p.N * p.K * PP,
      sizeof(T) * (p.N * p.C * p.H * p.W + p.K * Cg * p.R * p.S + p.N * p.K * PP) + p.N * p.K * PP,
      {p.N, p.C, p.H, p.W}, {p.K, Cg, p.R, p.S}, {p.N, p.K, p.OH / 2, p.OW / 2});
  if (p.N * p.K * PP == 0) return;
  const PoolImage<T> q{p.K, p.OH, p.OW, PP, y, cell};
  if (conv2d_forward_by_image(p, x, w, bias, ImageSink<T>{&pool_image<T>, &q})) return;
  std::vector<T> conv_out(static_cast<std::size_t>(p.N * p.K * P));  // the two kernels in turn
  conv2d_forward(p, x, w, bias, conv_out.data());
  max_pool2d_relu_forward(p.N * p.K, p.OH, p.OW, conv_out.data(), y, cell);
}

template void conv2d_relu_max_pool2d_forward<float>(const Window2d&, const float*, const float*,
                                                    const float*, float*, uint8_t*);
template void conv2d_relu_max_pool2d_forward<double>(const Window2d&, const double*, const double*,
                                                     const double*, double*, uint8_t*);
template int64_t conv2d_relu_max_pool2d_backward_params<float>(const Window2d&, const float*,
                                                               const uint8_t*, const float*, float*,
                                                               float*);
template int64_t conv2d_relu_max_pool2d_backward_params<double>(const Window2d&, const double*,
                                                                const uint8_t*, const double*,
                                                                double*, double*);

}  // namespace gradcore
