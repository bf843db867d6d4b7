// Activation kernels: the loops are in activation_bodies.h (portable here, AVX2+FMA in
// activation_avx2_fma.cpp). They call the branch-free exp/tanh of cpu/vmath.h; without
// -ftrapping-math g++ may if-convert their selects and vectorise the loops. Values and
// NaN/Inf behaviour are unchanged (this only stops FP exceptions from pinning branches).
#pragma GCC optimize("no-trapping-math")
#include "cpu/activation.h"

#include "core/cpu_features.h"
#include "cpu/activation_bodies.h"
#include "cpu/elementwise.h"
#include "profiler/profiler.h"

namespace gradcore {
namespace {

// Runs loop k over [0, n), split over threads in chunks of >= kElementwiseGrain, with the
// AVX2+FMA build of the loop (activation_avx2_fma.cpp) when at_least(kAvx2Fma), else the
// portable one (activation_bodies.h).
template <typename T>
void run_loop(ActivationLoop k, const ActivationArgs<T>& a, int64_t n) {
#if GRADCORE_ISA_AVX2_FMA
  if (at_least(CpuCapability::kAvx2Fma)) {
    parallel_for(n, kElementwiseGrain,
                 [&](int64_t lo, int64_t hi) { avx2_fma::activation_loop(k, a, lo, hi); });
    return;
  }
#endif
  parallel_for(n, kElementwiseGrain,
               [&](int64_t lo, int64_t hi) { activation_loop_body(k, a, lo, hi); });
}

}  // namespace

template <typename T>
void relu_forward(const T* x, T* y, int64_t n) {
  GC_PROFILE_SCOPE("relu_forward", n, 2.0 * n * sizeof(T), {n});
  run_loop(ActivationLoop::kReluForward, ActivationArgs<T>{x, nullptr, nullptr, y, T(0)}, n);
}

template <typename T>
void relu_backward(const T* dy, const T* y, T* dx, int64_t n) {
  GC_PROFILE_SCOPE("relu_backward", n, 3.0 * n * sizeof(T), {n});
  run_loop(ActivationLoop::kReluBackward, ActivationArgs<T>{nullptr, y, dy, dx, T(0)}, n);
}

template <typename T>
void leaky_relu_forward(const T* x, T* y, int64_t n, T slope) {
  GC_PROFILE_SCOPE("leaky_relu_forward", 2.0 * n, 2.0 * n * sizeof(T), {n});
  run_loop(ActivationLoop::kLeakyReluForward, ActivationArgs<T>{x, nullptr, nullptr, y, slope}, n);
}

template <typename T>
void leaky_relu_backward(const T* dy, const T* x, T* dx, int64_t n, T slope) {
  GC_PROFILE_SCOPE("leaky_relu_backward", 2.0 * n, 3.0 * n * sizeof(T), {n});
  run_loop(ActivationLoop::kLeakyReluBackward, ActivationArgs<T>{x, nullptr, dy, dx, slope}, n);
}

template <typename T>
void sigmoid_forward(const T* x, T* y, int64_t n) {
  GC_PROFILE_SCOPE("sigmoid_forward", 4.0 * n, 2.0 * n * sizeof(T), {n});
  run_loop(ActivationLoop::kSigmoidForward, ActivationArgs<T>{x, nullptr, nullptr, y, T(0)}, n);
}

template <typename T>
void sigmoid_backward(const T* dy, const T* y, T* dx, int64_t n) {
  GC_PROFILE_SCOPE("sigmoid_backward", 3.0 * n, 3.0 * n * sizeof(T), {n});
  run_loop(ActivationLoop::kSigmoidBackward, ActivationArgs<T>{nullptr, y, dy, dx, T(0)}, n);
}

template <typename T>
void tanh_forward(const T* x, T* y, int64_t n) {
  GC_PROFILE_SCOPE("tanh_forward", 4.0 * n, 2.0 * n * sizeof(T), {n});
  run_loop(ActivationLoop::kTanhForward, ActivationArgs<T>{x, nullptr, nullptr, y, T(0)}, n);
}

template <typename T>
void tanh_backward(const T* dy, const T* y, T* dx, int64_t n) {
  GC_PROFILE_SCOPE("tanh_backward", 3.0 * n, 3.0 * n * sizeof(T), {n});
  run_loop(ActivationLoop::kTanhBackward, ActivationArgs<T>{nullptr, y, dy, dx, T(0)}, n);
}

template <typename T>
void gelu_forward(const T* x, T* y, int64_t n, bool approximate) {
  GC_PROFILE_SCOPE("gelu_forward", 8.0 * n, 2.0 * n * sizeof(T), {n});
  const ActivationLoop k =
      approximate ? ActivationLoop::kGeluTanhForward : ActivationLoop::kGeluErfForward;
  run_loop(k, ActivationArgs<T>{x, nullptr, nullptr, y, T(0)}, n);
}

template <typename T>
void gelu_backward(const T* dy, const T* x, T* dx, int64_t n, bool approximate) {
  GC_PROFILE_SCOPE("gelu_backward", 12.0 * n, 3.0 * n * sizeof(T), {n});
  const ActivationLoop k =
      approximate ? ActivationLoop::kGeluTanhBackward : ActivationLoop::kGeluErfBackward;
  run_loop(k, ActivationArgs<T>{x, nullptr, dy, dx, T(0)}, n);
}

template <typename T>
void silu_forward(const T* x, T* y, int64_t n) {
  GC_PROFILE_SCOPE("silu_forward", 5.0 * n, 2.0 * n * sizeof(T), {n});
  run_loop(ActivationLoop::kSiluForward, ActivationArgs<T>{x, nullptr, nullptr, y, T(0)}, n);
}

template <typename T>
void silu_backward(const T* dy, const T* x, T* dx, int64_t n) {
  GC_PROFILE_SCOPE("silu_backward", 9.0 * n, 3.0 * n * sizeof(T), {n});
  run_loop(ActivationLoop::kSiluBackward, ActivationArgs<T>{x, nullptr, dy, dx, T(0)}, n);
}

#define GC_INSTANTIATE(T)                                                   \
  template void relu_forward<T>(const T*, T*, int64_t);                     \
  template void relu_backward<T>(const T*, const T*, T*, int64_t);          \
  template void leaky_relu_forward<T>(const T*, T*, int64_t, T);            \
  template void leaky_relu_backward<T>(const T*, const T*, T*, int64_t, T); \
  template void sigmoid_forward<T>(const T*, T*, int64_t);                  \
  template void sigmoid_backward<T>(const T*, const T*, T*, int64_t);       \
  template void tanh_forward<T>(const T*, T*, int64_t);                     \
  template void tanh_backward<T>(const T*, const T*, T*, int64_t);          \
  template void gelu_forward<T>(const T*, T*, int64_t, bool);               \
  template void gelu_backward<T>(const T*, const T*, T*, int64_t, bool);    \
  template void silu_forward<T>(const T*, T*, int64_t);                     \
  template void silu_backward<T>(const T*, const T*, T*, int64_t);
GC_INSTANTIATE(float)
GC_INSTANTIATE(double)
#undef GC_INSTANTIATE

}  // namespace gradcore
