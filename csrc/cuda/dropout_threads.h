// Per-element bodies of the dropout kernels (thread t handles element t), shared by dropout.cu
// and the CPU test driver. The mask comes from the counter-based generator of cpu/dropout.cpp,
// written here once more as GC_HD functions: element t is kept iff the 53-bit SplitMix64 hash
// of (seed, t) is >= ceil(p * 2^53). The draw of element t depends only on (seed, t), so the
// GPU, the host driver and _C's CPU kernels produce the same mask for any launch geometry.
#pragma once
#include <cmath>
#include <cstdint>

#include "cuda/host_device.h"

namespace gradcore::cuda {

GC_HD uint64_t dropout_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The stream key of a seed (hashing it decorrelates nearby seeds).
GC_HD uint64_t dropout_seed_key(uint64_t seed) {
  return dropout_mix64(seed + 0x9E3779B97F4A7C15ULL);
}

// 53 random bits for element i: element i of the SplitMix64 stream keyed by `key`.
GC_HD uint64_t dropout_bits53(uint64_t key, uint64_t i) {
  return dropout_mix64(key + (i + 1) * 0x9E3779B97F4A7C15ULL) >> 11;
}

// Keep iff bits53 >= threshold, i.e. u = bits53 * 2^-53 >= p (host side, p in [0, 1]).
inline uint64_t dropout_keep_threshold(double p) {
  return static_cast<uint64_t>(std::ceil(p * 9007199254740992.0));  // 2^53
}
// The factor of kept elements: 1/(1-p), or 0 when p == 1 (nothing is kept).
inline float dropout_keep_scale(double p) {
  return p >= 1.0 ? 0.f : static_cast<float>(1.0 / (1.0 - p));
}

// mask[t] = keep, y[t] = x[t] * (keep * scale): x * 0 where dropped, so NaN/Inf propagate.
GC_HD void dropout_forward_at(int64_t t, const float* x, float* y, uint8_t* mask, uint64_t key,
                              uint64_t threshold, float scale) {
  const bool keep = dropout_bits53(key, static_cast<uint64_t>(t)) >= threshold;
  mask[t] = static_cast<uint8_t>(keep);
  y[t] = x[t] * (static_cast<float>(keep) * scale);
}

// dx = dy * (mask != 0) * scale
GC_HD void dropout_backward_at(int64_t t, const float* dy, const uint8_t* mask, float* dx,
                               float scale) {
  dx[t] = dy[t] * (static_cast<float>(mask[t] != 0) * scale);
}

}  // namespace gradcore::cuda
