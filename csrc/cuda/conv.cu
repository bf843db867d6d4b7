// CUDA convolution: the plan of conv_plan.h with the CUDA kernels (im2col.cu and the small
// kernels below, bodies in conv_threads.h), cuBLAS (cublas.h) and scratch DeviceArrays from
// the caching allocator (freed in stream order on the current stream).
#include <vector>

#include "cuda/conv.h"
#include "cuda/conv_plan.h"
#include "cuda/conv_threads.h"
#include "cuda/cublas.h"
#include "cuda/device_array.h"
#include "cuda/im2col.h"
#include "cuda/launch.cuh"

namespace gradcore::cuda {

void conv_im2col_cat(const Window2d& g, const float* x, float* col) {
  const Window2d w = g;
  for_each_index("im2col", g.C * g.R * g.S * g.N * g.OH * g.OW,
                 [=] __device__(int64_t t) { im2col_cat_at(t, w, x, col); });
}
void conv_bias_fill(int64_t N, int64_t K, int64_t P, const float* bias, float* y) {
  for_each_index("conv2d_bias_fill", N * K * P,
                 [=] __device__(int64_t t) { conv_bias_fill_at(t, K, P, bias, y); });
}
void conv_nkp_to_knp(int64_t N, int64_t K, int64_t P, const float* src, float* dst) {
  for_each_index("conv2d_nkp_to_knp", N * K * P,
                 [=] __device__(int64_t t) { conv_nkp_to_knp_at(t, N, K, P, src, dst); });
}
void conv_zero(float* y, int64_t n) {
  for_each_index("conv2d_zero", n, [=] __device__(int64_t t) { conv_zero_at(t, y); });
}

namespace {

// The CUDA Ops of conv_plan.h.
struct DeviceOps {
  explicit DeviceOps(const char* gemm) : gemm_name(gemm) {}
  const char* gemm_name;  // the profiler's name of this op's GEMMs
  std::vector<DeviceArray> scratch_;
  float* scratch(int64_t n) {
    scratch_.emplace_back(std::vector<int64_t>{n}, DType::kFloat32);
    return scratch_.back().ptr<float>();
  }
  void im2col(const Window2d& g, const float* x, float* col) { cuda::im2col(g, x, col); }
  void im2col_cat(const Window2d& g, const float* x, float* col) { conv_im2col_cat(g, x, col); }
  void col2im(const Window2d& g, const float* col, float* x) { cuda::col2im(g, col, x); }
  void bias_fill(int64_t N, int64_t K, int64_t P, const float* bias, float* y) {
    conv_bias_fill(N, K, P, bias, y);
  }
  void nkp_to_knp(int64_t N, int64_t K, int64_t P, const float* src, float* dst) {
    conv_nkp_to_knp(N, K, P, src, dst);
  }
  void zero(float* y, int64_t n) { conv_zero(y, n); }
  void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
             int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
             int64_t batch, int64_t sa, int64_t sb, int64_t sc) {
    cuda::sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, batch, sa, sb, sc, gemm_name);
  }
};

}  // namespace

void conv2d_forward(const Window2d& g, const float* x, const float* w, const float* bias,
                    float* y) {
  DeviceOps ops("conv2d_forward_gemm");
  conv2d_forward_impl(ops, g, x, w, bias, y);
}
void conv2d_backward_input(const Window2d& g, const float* dy, const float* w, float* dx) {
  DeviceOps ops("conv2d_backward_input_gemm");
  conv2d_backward_input_impl(ops, g, dy, w, dx);
}
void conv2d_backward_weight(const Window2d& g, const float* dy, const float* x, float* dw) {
  DeviceOps ops("conv2d_backward_weight_gemm");
  conv2d_backward_weight_impl(ops, g, dy, x, dw);
}

}  // namespace gradcore::cuda
