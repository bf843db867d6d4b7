// Conv2d -> ReLU -> MaxPool2d(2) forward: each image's convolution output pooled in cache
// (see conv_relu_pool.h).
#include "cpu/conv_relu_pool.h"

#include <cstddef>
#include <vector>

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

template void conv2d_relu_max_pool2d_forward<float>(const Window2d&, const float*, const float*,
                                                    const float*, float*, uint8_t*);
template void conv2d_relu_max_pool2d_forward<double>(const Window2d&, const double*, const double*,
                                                     const double*, double*, uint8_t*);

}  // namespace gradcore
