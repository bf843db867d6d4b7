// Per-element bodies of the activation kernels (thread t handles element t), shared by
// activation.cu and the CPU test driver. Formulas as in csrc/cpu/activation.h.
#pragma once
#include <math.h>

#include "cuda/host_device.h"

namespace gradcore::cuda {

// y = max(x, 0), NaN -> NaN
GC_HD void relu_forward_at(int64_t t, const float* x, float* y) {
  const float v = x[t];
  y[t] = v > 0.f ? v : (v == v ? 0.f : v);
}
// dx = y <= 0 ? 0 : dy (y = NaN passes dy, as PyTorch's threshold_backward)
GC_HD void relu_backward_at(int64_t t, const float* dy, const float* y, float* dx) {
  dx[t] = y[t] <= 0.f ? 0.f : dy[t];
}

GC_HD void leaky_relu_forward_at(int64_t t, const float* x, float* y, float slope) {
  const float v = x[t];
  y[t] = v > 0.f ? v : v * slope;
}
GC_HD void leaky_relu_backward_at(int64_t t, const float* dy, const float* x, float* dx,
                                  float slope) {
  dx[t] = x[t] > 0.f ? dy[t] : dy[t] * slope;
}

// sigmoid from z = exp(-|x|): 1 / (1 + z) for x >= 0, z / (1 + z) below (no overflow)
GC_HD float sigmoid_of(float v) {
  const float z = expf(-fabsf(v));
  return v >= 0.f ? 1.f / (1.f + z) : z / (1.f + z);
}
GC_HD void sigmoid_forward_at(int64_t t, const float* x, float* y) {
  y[t] = sigmoid_of(x[t]);
}
// dx = dy * (1 - y) * y
GC_HD void sigmoid_backward_at(int64_t t, const float* dy, const float* y, float* dx) {
  dx[t] = dy[t] * (1.f - y[t]) * y[t];
}

GC_HD void tanh_forward_at(int64_t t, const float* x, float* y) {
  y[t] = tanhf(x[t]);
}
// dx = dy * (1 - y^2)
GC_HD void tanh_backward_at(int64_t t, const float* dy, const float* y, float* dx) {
  dx[t] = dy[t] * (1.f - y[t] * y[t]);
}

// y = x * sigmoid(x)
GC_HD void silu_forward_at(int64_t t, const float* x, float* y) {
  y[t] = x[t] * sigmoid_of(x[t]);
}
// dx = dy * s * (1 + x (1 - s)), s = sigmoid(x)
GC_HD void silu_backward_at(int64_t t, const float* dy, const float* x, float* dx) {
  const float s = sigmoid_of(x[t]);
  dx[t] = dy[t] * s * (1.f + x[t] * (1.f - s));
}

constexpr float kSqrt1_2 = 0.70710678118654752f;     // 1 / sqrt(2)
constexpr float kInvSqrt2Pi = 0.39894228040143268f;  // 1 / sqrt(2 pi)
constexpr float kSqrt2_Pi = 0.79788456080286536f;    // sqrt(2 / pi)
constexpr float kGeluCubic = 0.044715f;

// exact: y = x * erfc(-x / sqrt 2) / 2; tanh form: y = x (1 + tanh(sqrt(2/pi)(x + c x^3))) / 2
GC_HD void gelu_forward_at(int64_t t, const float* x, float* y, bool approximate) {
  const float v = x[t];
  if (approximate) {
    const float inner = kSqrt2_Pi * (v + kGeluCubic * v * v * v);
    y[t] = 0.5f * v * (1.f + tanhf(inner));
  } else {
    y[t] = v * 0.5f * erfcf(-v * kSqrt1_2);
  }
}
// exact: dx = dy (Phi(x) + x phi(x)); tanh form: PyTorch's GeluBackward formula
GC_HD void gelu_backward_at(int64_t t, const float* dy, const float* x, float* dx,
                            bool approximate) {
  const float v = x[t];
  if (approximate) {
    const float inner = kSqrt2_Pi * (v + kGeluCubic * v * v * v);
    const float th = tanhf(inner);
    const float dinner = kSqrt2_Pi * (1.f + 3.f * kGeluCubic * v * v);
    dx[t] = dy[t] * (0.5f * (1.f + th) + 0.5f * v * (1.f - th * th) * dinner);
  } else {
    const float cdf = 0.5f * erfcf(-v * kSqrt1_2);
    const float pdf = kInvSqrt2Pi * expf(-0.5f * v * v);
    dx[t] = dy[t] * (cdf + v * pdf);
  }
}

}  // namespace gradcore::cuda
