// The orchestration of the CUDA convolution, written once over an `Ops` policy: conv.cu
// instantiates it with the CUDA kernels, cuBLAS and DeviceArray scratch, and the CPU test
// driver (csrc/bindings/bind_cuda_host_conv.cpp) with host loops over the same per-thread
// bodies, a host sgemm of the same signature and std::vector scratch, so CI runs exactly the
// GPU's plan: the columns, every GEMM's transposes, leading dimensions, offsets and batch
// strides, the 1x1 shortcut and the bias step. No CUDA headers here.
//
// Layouts (as csrc/cpu/conv.h): x (N, C, H, W), w (K, C/groups, R, S), bias (K,),
// y / dy (N, K, OH, OW); P = OH*OW, Cg = C/groups, Kg = K/groups, CRSg = Cg*R*S.
// Group gi uses channels [gi*Cg, (gi+1)*Cg), filters [gi*Kg, (gi+1)*Kg), hence the rows
// [gi*CRSg, (gi+1)*CRSg) of an image's columns (im2col orders rows by channel first).
//
// Ops (an object; its scratch lives as long as it does):
//   float* scratch(int64_t n)                                 n floats, uninitialised
//   void im2col(const Window2d& g, const float* x, float* col)       col (N, C*R*S, P)
//   void im2col_cat(const Window2d& g, const float* x, float* col)   col (C*R*S, N*P)
//   void col2im(const Window2d& g, const float* col, float* x)       adjoint of im2col
//   void bias_fill(int64_t N, int64_t K, int64_t P, const float* bias, float* y)  y[n,k,p]=b[k]
//   void nkp_to_knp(int64_t N, int64_t K, int64_t P, const float* src, float* dst)
//   void zero(float* y, int64_t n)
//   void sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
//              batch, stride_a, stride_b, stride_c)            as cuda::sgemm (cublas.h)
#pragma once
#include <cstdint>

#include "core/shapes.h"

namespace gradcore::cuda {

// 1x1, stride 1, no padding: an image's planes (C, H*W) are its columns.
inline bool conv_is_pointwise(const Window2d& g) {
  return g.R == 1 && g.S == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

// A GEMM operand: base pointer, row-major leading dimension, and its offset (in elements) per
// image and per group.
struct ConvOperand {
  const float* p;
  int64_t ld, per_image, per_group;
};

// For every image n and group gi: C_{n,gi} (M x Nc) = op(A_{n,gi}) @ op(B_{n,gi}) + beta * C,
// as strided-batched GEMMs over the larger of (images, groups), looping over the other.
template <class Ops>
void conv_gemm_per_image_group(Ops& ops, const Window2d& g, bool trans_a, bool trans_b, int64_t M,
                               int64_t Nc, int64_t Kc, const ConvOperand& A, const ConvOperand& B,
                               float beta, float* C, int64_t ldc, int64_t c_per_image,
                               int64_t c_per_group) {
  if (g.N >= g.groups) {
    for (int64_t gi = 0; gi < g.groups; ++gi)
      ops.sgemm(trans_a, trans_b, M, Nc, Kc, 1.f, A.p + gi * A.per_group, A.ld,
                B.p + gi * B.per_group, B.ld, beta, C + gi * c_per_group, ldc, g.N, A.per_image,
                B.per_image, c_per_image);
  } else {
    for (int64_t n = 0; n < g.N; ++n)
      ops.sgemm(trans_a, trans_b, M, Nc, Kc, 1.f, A.p + n * A.per_image, A.ld,
                B.p + n * B.per_image, B.ld, beta, C + n * c_per_image, ldc, g.groups, A.per_group,
                B.per_group, c_per_group);
  }
}

// y (N, K, OH, OW) = conv2d(x, w) + bias (bias may be null). Per image and group:
// Y_{n,gi} (Kg x P) = W_gi (Kg x CRSg) @ col_{n,gi} (CRSg x P), after one im2col of the whole
// batch (none for a pointwise conv); with a bias, y is first filled with it and beta = 1.
template <class Ops>
void conv2d_forward_impl(Ops& ops, const Window2d& g, const float* x, const float* w,
                         const float* bias, float* y) {
  if (g.N == 0) return;
  const int64_t P = g.OH * g.OW, Cg = g.C / g.groups, Kg = g.K / g.groups;
  const int64_t CRSg = Cg * g.R * g.S, CRS = g.C * g.R * g.S;
  const float* col = x;
  if (!conv_is_pointwise(g)) {
    float* c = ops.scratch(g.N * CRS * P);
    ops.im2col(g, x, c);
    col = c;
  }
  float beta = 0.f;
  if (bias) {
    ops.bias_fill(g.N, g.K, P, bias, y);
    beta = 1.f;
  }
  conv_gemm_per_image_group(ops, g, /*trans_a=*/false, /*trans_b=*/false, Kg, P, CRSg,
                            ConvOperand{w, CRSg, 0, Kg * CRSg},
                            ConvOperand{col, P, CRS * P, CRSg * P}, beta, y, P, g.K * P, Kg * P);
}

// dx (N, C, H, W): dcol_{n,gi} (CRSg x P) = W_gi^T @ dY_{n,gi} (Kg x P), then col2im (a
// pointwise conv writes dcol straight into dx).
template <class Ops>
void conv2d_backward_input_impl(Ops& ops, const Window2d& g, const float* dy, const float* w,
                                float* dx) {
  if (g.N == 0) return;
  const int64_t P = g.OH * g.OW, Cg = g.C / g.groups, Kg = g.K / g.groups;
  const int64_t CRSg = Cg * g.R * g.S, CRS = g.C * g.R * g.S;
  const bool pointwise = conv_is_pointwise(g);
  float* dcol = pointwise ? dx : ops.scratch(g.N * CRS * P);
  conv_gemm_per_image_group(ops, g, /*trans_a=*/true, /*trans_b=*/false, CRSg, P, Kg,
                            ConvOperand{w, CRSg, 0, Kg * CRSg}, ConvOperand{dy, P, g.K * P, Kg * P},
                            0.f, dcol, P, CRS * P, CRSg * P);
  if (!pointwise) ops.col2im(g, dcol, dx);
}

// dw (K, C/groups, R, S) = sum_n dY_{n,gi} @ col_{n,gi}^T as ONE GEMM per group over the
// concatenated batch: dW_gi (Kg x CRSg) = dYcat_gi (Kg x N*P) @ colcat_gi^T (N*P x CRSg), with
// dYcat (K, N*P) = dy permuted (N, K, P) -> (K, N, P) and colcat (C*R*S, N*P) the columns of
// all images side by side (for one image both are the plain layouts); the groups are one
// strided-batched call. N == 0: dw = 0.
template <class Ops>
void conv2d_backward_weight_impl(Ops& ops, const Window2d& g, const float* dy, const float* x,
                                 float* dw) {
  const int64_t P = g.OH * g.OW, Cg = g.C / g.groups, Kg = g.K / g.groups;
  const int64_t CRSg = Cg * g.R * g.S, CRS = g.C * g.R * g.S;
  if (g.N == 0) {
    ops.zero(dw, g.K * CRSg);
    return;
  }
  const int64_t NP = g.N * P;
  const float* colcat = x;
  if (!conv_is_pointwise(g)) {
    float* c = ops.scratch(CRS * NP);
    if (g.N == 1)
      ops.im2col(g, x, c);
    else
      ops.im2col_cat(g, x, c);
    colcat = c;
  } else if (g.N > 1) {
    float* c = ops.scratch(CRS * NP);
    ops.nkp_to_knp(g.N, g.C, P, x, c);
    colcat = c;
  }
  const float* dycat = dy;
  if (g.N > 1) {
    float* d = ops.scratch(g.K * NP);
    ops.nkp_to_knp(g.N, g.K, P, dy, d);
    dycat = d;
  }
  ops.sgemm(/*trans_a=*/false, /*trans_b=*/true, Kg, CRSg, NP, 1.f, dycat, NP, colcat, NP, 0.f, dw,
            CRSg, g.groups, Kg * NP, CRSg * NP, Kg * CRSg);
}

}  // namespace gradcore::cuda
