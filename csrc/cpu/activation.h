// Activation functions, forward and backward, over n contiguous elements of any shape.
// Derivatives follow PyTorch's formulas; NaN inputs propagate to the outputs. Every kernel
// overwrites its output (y or dx).
#pragma once
#include <cstdint>

namespace gradcore {

// y = max(x, 0), NaN -> NaN. Overwrites y.
template <typename T>
void relu_forward(const T* x, T* y, int64_t n);
// dx = y > 0 ? dy : 0 (PyTorch's threshold_backward: y <= 0 ? 0 : dy, so y = NaN passes dy).
// Overwrites dx.
template <typename T>
void relu_backward(const T* dy, const T* y, T* dx, int64_t n);

// y = x > 0 ? x : slope * x. Overwrites y.
template <typename T>
void leaky_relu_forward(const T* x, T* y, int64_t n, T slope);
// dx = x > 0 ? dy : dy * slope. Overwrites dx.
template <typename T>
void leaky_relu_backward(const T* dy, const T* x, T* dx, int64_t n, T slope);

// y = 1 / (1 + exp(-x)), computed from exp(-|x|) so no overflow for large |x|. Overwrites y.
template <typename T>
void sigmoid_forward(const T* x, T* y, int64_t n);
// dx = dy * (1 - y) * y. Overwrites dx.
template <typename T>
void sigmoid_backward(const T* dy, const T* y, T* dx, int64_t n);

// y = tanh(x). Overwrites y.
template <typename T>
void tanh_forward(const T* x, T* y, int64_t n);
// dx = dy * (1 - y * y). Overwrites dx.
template <typename T>
void tanh_backward(const T* dy, const T* y, T* dx, int64_t n);

// approximate = false: y = x * 0.5 * (1 + erf(x / sqrt(2))) (float32 evaluates the CDF as
//   erfc(-x / sqrt(2)) / 2, accurate in the negative tail);
// approximate = true:  y = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).
// Overwrites y.
template <typename T>
void gelu_forward(const T* x, T* y, int64_t n, bool approximate);
// dx = dy * dgelu/dx(x) (PyTorch's GeluBackward formulas for both forms). Overwrites dx.
template <typename T>
void gelu_backward(const T* dy, const T* x, T* dx, int64_t n, bool approximate);

// y = x * sigmoid(x) (SiLU, "swish"); sigmoid from exp(-|x|) as above. Overwrites y.
template <typename T>
void silu_forward(const T* x, T* y, int64_t n);
// dx = dy * s * (1 + x * (1 - s)), s = sigmoid(x). Overwrites dx.
template <typename T>
void silu_backward(const T* dy, const T* x, T* dx, int64_t n);

}  // namespace gradcore
