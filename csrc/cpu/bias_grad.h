// db[k] = sum_{n, p} dy[n, k, p] for dy (N, K, P): the bias gradient of a convolution, for
// float32 / float64 dy (conv.cpp) and for bfloat16 bits widened as they are read
// (conv_bf16.cpp). Planes are summed in order into a double, each plane in 16 fixed lanes,
// so the result does not depend on the thread count.
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/parallel.h"

namespace gradcore {

// The sum of one plane of P values in 16 fixed lanes (vectorised), the lanes then folded in a
// fixed order: the per-plane step of bias_grad_sum, shared with the fused block's backward
// (conv_direct.cpp), which must give the same bits.
template <typename In, typename Out, class Value>
inline Out bias_plane_sum(const In* src, int64_t P, const Value& value) {
  Out acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= P; i += 16)
    for (int l = 0; l < 16; ++l) acc[l] += value(src + i + l);
  for (int l = 0; i < P; ++i, ++l) acc[l] += value(src + i);
  for (int w = 8; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) acc[l] += acc[l + w];
  return acc[0];
}

// The plane sum of bias_grad_sum for dy of the output type itself (conv2d_backward_bias).
template <typename T>
inline T plane_sum(const T* src, int64_t P) {
  return bias_plane_sum<T, T>(src, P, [](const T* v) { return *v; });
}

// `value(const In*)` gives the Out value of one element of dy. Each thread takes a range of
// channels and reads it image by image, kChunk planes at a time: one contiguous run of dy per
// image (the planes of one channel lie K*P apart, and a plane can be short).
template <typename In, typename Out, class Value>
void bias_grad_sum(int64_t N, int64_t K, int64_t P, const In* dy, Out* db, const Value& value) {
  constexpr int64_t kChunk = 64;
  parallel_for(K, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(N * P, 1)),
               [&](int64_t k0, int64_t k1) {
                 for (int64_t kb = k0; kb < k1; kb += kChunk) {
                   const int64_t ke = std::min(k1, kb + kChunk);
                   double total[kChunk] = {};  // per channel: planes summed in order, in double
                   for (int64_t n = 0; n < N; ++n)
                     for (int64_t k = kb; k < ke; ++k)
                       total[k - kb] += static_cast<double>(
                           bias_plane_sum<In, Out>(dy + (n * K + k) * P, P, value));
                   for (int64_t k = kb; k < ke; ++k) db[k] = static_cast<Out>(total[k - kb]);
                 }
               });
}

// db[k] = the sums of channel k's planes (plane_sums[n*K + k], each a plane_sum) added in image
// order in double: bias_grad_sum's totals, for a caller that summed the planes image by image.
template <typename T>
void bias_from_plane_sums(int64_t N, int64_t K, const T* plane_sums, T* db) {
  for (int64_t k = 0; k < K; ++k) {
    double total = 0.0;
    for (int64_t n = 0; n < N; ++n) total += static_cast<double>(plane_sums[n * K + k]);
    db[k] = static_cast<T>(total);
  }
}

}  // namespace gradcore
