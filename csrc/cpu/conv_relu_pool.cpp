// Conv2d -> ReLU -> MaxPool2d(2): each image's convolution output pooled in cache (forward),
// and each image's convolution-output gradient unpooled in cache and consumed there
// (backward); see conv_relu_pool.h.
#include "cpu/conv_relu_pool.h"

#include <atomic>
#include <cstddef>
#include <vector>

#include "cpu/bias_grad.h"
#include "cpu/conv.h"
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

template <typename T>
struct UnpoolImage {
  int64_t K, OH, OW, PP;
  const T* g;
  const uint8_t* cell;
  std::atomic<int64_t>* bad;
};

// The source of the by-image backward kernels: image n's conv-output gradient unpooled from
// g and the cells (cell values above 4 counted into *bad).
template <typename T>
void unpool_image(const void* ctx, int64_t n, T* dy_n) {
  const auto& q = *static_cast<const UnpoolImage<T>*>(ctx);
  const int64_t nbad = max_pool2d_relu_backward_serial(q.K, q.OH, q.OW, q.g + n * q.K * q.PP,
                                                       q.cell + n * q.K * q.PP, dy_n);
  if (nbad) q.bad->fetch_add(nbad, std::memory_order_relaxed);
}

}  // namespace

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

template <typename T>
int64_t conv2d_relu_max_pool2d_backward(const Window2d& p, const T* g, const uint8_t* cell,
                                        const T* x, const T* w, T* dx, T* dw, T* db) {
  const int64_t Cg = p.C / p.groups, P = p.OH * p.OW, PP = (p.OH / 2) * (p.OW / 2);
  GC_PROFILE_SCOPE(
      "conv2d_relu_max_pool2d_backward", (dx ? 4.0 : 2.0) * p.N * p.K * P * Cg * p.R * p.S,
      sizeof(T) * ((dx ? 2 : 1) * p.N * p.C * p.H * p.W + p.K * Cg * p.R * p.S + p.N * p.K * PP) +
          p.N * p.K * PP,
      {p.N, p.K, p.OH / 2, p.OW / 2}, {p.N, p.C, p.H, p.W}, {p.K, Cg, p.R, p.S});
  std::atomic<int64_t> bad{0};
  const UnpoolImage<T> q{p.K, p.OH, p.OW, PP, g, cell, &bad};
  std::vector<T> plane_sums(db ? static_cast<std::size_t>(p.N * p.K) : 0);
  T* sums = db ? plane_sums.data() : nullptr;
  if (conv2d_backward_by_image(p, x, w, ImageSource<T>{&unpool_image<T>, &q}, dx, dw, sums)) {
    if (db) bias_from_plane_sums(p.N, p.K, plane_sums.data(), db);
    return bad.load();
  }
  std::vector<T> dc(static_cast<std::size_t>(p.N * p.K * P));  // the kernels in turn
  const int64_t nbad = max_pool2d_relu_backward(p.N * p.K, p.OH, p.OW, g, cell, dc.data());
  if (dx) conv2d_backward_input(p, dc.data(), w, dx);
  conv2d_backward_weight(p, dc.data(), x, dw);
  if (db) conv2d_backward_bias(p.N, p.K, P, dc.data(), db);
  return nbad;
}

#define GRADCORE_INSTANTIATE_CONV_RELU_POOL(T)                                                   \
  template void conv2d_relu_max_pool2d_forward<T>(const Window2d&, const T*, const T*, const T*, \
                                                  T*, uint8_t*);                                 \
  template int64_t conv2d_relu_max_pool2d_backward<T>(const Window2d&, const T*, const uint8_t*, \
                                                      const T*, const T*, T*, T*, T*);
GRADCORE_INSTANTIATE_CONV_RELU_POOL(float)
GRADCORE_INSTANTIATE_CONV_RELU_POOL(double)
#undef GRADCORE_INSTANTIATE_CONV_RELU_POOL

}  // namespace gradcore
