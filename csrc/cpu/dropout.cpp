// Dropout kernels (see dropout.h).
#include "cpu/dropout.h"

#include <cmath>

#include "core/parallel.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

constexpr int64_t kGrain = 1 << 15;  // elements worth a thread

inline uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The stream key of a seed: hashing it first decorrelates nearby seeds (0, 1, 2, ...).
inline uint64_t seed_key(uint64_t seed) {
  return splitmix64_mix(seed + 0x9E3779B97F4A7C15ULL);
}

// 53 random bits for element i: element i of the SplitMix64 stream keyed by `key`.
inline uint64_t bits53(uint64_t key, uint64_t i) {
  return splitmix64_mix(key + (i + 1) * 0x9E3779B97F4A7C15ULL) >> 11;
}

// Keep iff bits53 >= threshold, i.e. u = bits53 * 2^-53 >= p; threshold = ceil(p * 2^53).
inline uint64_t keep_threshold(double p) {
  return static_cast<uint64_t>(std::ceil(p * 9007199254740992.0));  // 2^53
}

// The factor applied to kept elements: 1/(1-p), or 0 when p == 1 (nothing is kept).
template <typename T>
T keep_scale(double p) {
  return p >= 1.0 ? T(0) : static_cast<T>(1.0 / (1.0 - p));
}

}  // namespace

bool dropout_keep(uint64_t seed, int64_t index, double p) {
  return bits53(seed_key(seed), static_cast<uint64_t>(index)) >= keep_threshold(p);
}

// One thread's range of the forward pass; restrict: x, y and mask never overlap (the binding
// allocates y and mask), so the compiler keeps key/threshold/scale in registers.
template <typename T>
void dropout_forward_range(const T* __restrict__ x, T* __restrict__ y, uint8_t* __restrict__ mask,
                           int64_t b, int64_t e, uint64_t key, uint64_t thr, T scale) {
  for (int64_t i = b; i < e; ++i) {
    const bool keep = bits53(key, static_cast<uint64_t>(i)) >= thr;
    mask[i] = static_cast<uint8_t>(keep);
    // x * 0, not 0, where dropped: NaN/Inf propagate like PyTorch. keep * scale (0 or scale)
    // rather than keep ? scale : 0 avoids a branch that mispredicts half the time.
    y[i] = x[i] * (static_cast<T>(keep) * scale);
  }
}

template <typename T>
void dropout_forward(const T* x, T* y, uint8_t* mask, int64_t n, double p, uint64_t seed) {
  GC_PROFILE_SCOPE("dropout_forward", 2.0 * n, (2.0 * sizeof(T) + 1.0) * n, {n});
  const uint64_t key = seed_key(seed), thr = keep_threshold(p);
  const T scale = keep_scale<T>(p);
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    dropout_forward_range(x, y, mask, b, e, key, thr, scale);
  });
}

template <typename T>
void dropout_backward_range(const T* __restrict__ dy, const uint8_t* __restrict__ mask,
                            T* __restrict__ dx, int64_t b, int64_t e, T scale) {
  for (int64_t i = b; i < e; ++i) dx[i] = dy[i] * (static_cast<T>(mask[i] != 0) * scale);
}

template <typename T>
void dropout_backward(const T* dy, const uint8_t* mask, T* dx, int64_t n, double p) {
  GC_PROFILE_SCOPE("dropout_backward", 1.0 * n, (2.0 * sizeof(T) + 1.0) * n, {n});
  const T scale = keep_scale<T>(p);
  parallel_for(n, kGrain,
               [&](int64_t b, int64_t e) { dropout_backward_range(dy, mask, dx, b, e, scale); });
}

template void dropout_forward<float>(const float*, float*, uint8_t*, int64_t, double, uint64_t);
template void dropout_forward<double>(const double*, double*, uint8_t*, int64_t, double, uint64_t);
template void dropout_backward<float>(const float*, const uint8_t*, float*, int64_t, double);
template void dropout_backward<double>(const double*, const uint8_t*, double*, int64_t, double);

}  // namespace gradcore
