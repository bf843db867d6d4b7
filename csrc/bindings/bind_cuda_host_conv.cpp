// CPU test driver of csrc/cuda/conv.cu (see cuda_host.h): conv2d_forward,
// conv2d_backward_input and conv2d_backward_weight with _C's names, arguments and checks
// (float32 only), running the CUDA plan itself (cuda/conv_plan.h) with host Ops: loops over
// the same per-thread bodies (im2col_threads.h, conv_threads.h), a host sgemm with cuBLAS's
// row-major strided-batched signature (gradcore::gemm per batch entry) and scratch filled with
// NaN (the GPU's scratch is uninitialised: a plan that reads scratch before writing it fails).
#include <limits>
#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/conv_args.h"
#include "bindings/cuda_host.h"
#include "bindings/registry.h"
#include "cpu/gemm/gemm.h"
#include "cuda/conv_plan.h"
#include "cuda/conv_threads.h"
#include "cuda/im2col_threads.h"

namespace gradcore::bindings {
namespace {

namespace gcu = gradcore::cuda;

// The host Ops of conv_plan.h.
struct HostOps {
  std::vector<std::vector<float>> bufs;
  float* scratch(int64_t n) {
    bufs.emplace_back(static_cast<size_t>(n), std::numeric_limits<float>::quiet_NaN());
    return bufs.back().data();
  }
  void im2col(const Window2d& g, const float* x, float* col) {
    for_each_index_host(g.N * g.C * g.R * g.S * g.OH * g.OW,
                        [&](int64_t t) { gcu::im2col_at(t, g, x, col); });
  }
  void im2col_cat(const Window2d& g, const float* x, float* col) {
    for_each_index_host(g.C * g.R * g.S * g.N * g.OH * g.OW,
                        [&](int64_t t) { gcu::im2col_cat_at(t, g, x, col); });
  }
  void col2im(const Window2d& g, const float* col, float* x) {
    for_each_index_host(g.N * g.C * g.H * g.W, [&](int64_t t) { gcu::col2im_at(t, g, col, x); });
  }
  void bias_fill(int64_t N, int64_t K, int64_t P, const float* bias, float* y) {
    for_each_index_host(N * K * P, [&](int64_t t) { gcu::conv_bias_fill_at(t, K, P, bias, y); });
  }
  void nkp_to_knp(int64_t N, int64_t K, int64_t P, const float* src, float* dst) {
    for_each_index_host(N * K * P,
                        [&](int64_t t) { gcu::conv_nkp_to_knp_at(t, N, K, P, src, dst); });
  }
  void zero(float* y, int64_t n) {
    for_each_index_host(n, [&](int64_t t) { gcu::conv_zero_at(t, y); });
  }
  // cuda::sgemm's contract (cublas.h) on the host: row-major, batch > 1 strided.
  void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
             int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
             int64_t batch, int64_t sa, int64_t sb, int64_t sc) {
    if (M == 0 || N == 0 || batch == 0) return;
    for (int64_t b = 0; b < batch; ++b)
      gradcore::gemm<float>(ta, tb, M, N, K, alpha, A + b * sa, lda, B + b * sb, ldb, beta,
                            C + b * sc, ldc);
  }
};

// The check the CUDA plan adds to conv_args.h's: it materialises the im2col columns.
void check_columns(const Window2d& p, const char* op) {
  checked_numel({p.N, p.C, p.R, p.S, p.OH, p.OW}, 8, op, "the columns (N, C, R, S, OH, OW) =");
}

// A new float32 array of `shape` filled with NaN (the GPU's outputs start uninitialised).
py::array nan_array(const std::vector<int64_t>& shape) {
  py::array a = new_array(DType::kFloat32, shape);
  float* p = data_ptr<float>(a);
  for (int64_t i = 0, n = numel(a); i < n; ++i) p[i] = std::numeric_limits<float>::quiet_NaN();
  return a;
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(cuda_host_conv) {
  using namespace gradcore::bindings;
  using gradcore::Window2d;
  namespace gcu = gradcore::cuda;
  py::module_ h = cuda_host_module(m);
  const DType f32 = DType::kFloat32;

  h.def(
      "conv2d_forward",
      [f32](py::array x, py::array weight, py::object bias, py::object stride, py::object padding,
            py::object dilation, int64_t groups) {
        const char* op = "conv2d_forward";
        const py::array b = optional_array(bias, op, "bias");
        const bool has_bias = static_cast<bool>(b);
        const Window2d p =
            conv_forward_geometry(op, x, weight, b, f32, stride, padding, dilation, groups);
        check_columns(p, op);
        py::array y = nan_array({p.N, p.K, p.OH, p.OW});
        HostOps ops;
        gcu::conv2d_forward_impl(
            ops, p, data_ptr<float>(static_cast<const py::array&>(x)),
            data_ptr<float>(static_cast<const py::array&>(weight)),
            has_bias ? data_ptr<float>(static_cast<const py::array&>(b)) : nullptr,
            data_ptr<float>(y));
        return y;
      },
      py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(),
      py::arg("stride") = py::make_tuple(1, 1), py::arg("padding") = py::make_tuple(0, 0),
      py::arg("dilation") = py::make_tuple(1, 1), py::arg("groups") = 1);

  h.def(
      "conv2d_backward_input",
      [f32](py::array dy, py::array weight, py::object input_hw, py::object stride,
            py::object padding, py::object dilation, int64_t groups) {
        const char* op = "conv2d_backward_input";
        const Window2d p = conv_backward_input_geometry(op, dy, weight, input_hw, f32, stride,
                                                        padding, dilation, groups);
        check_columns(p, op);
        py::array dx = nan_array({p.N, p.C, p.H, p.W});
        HostOps ops;
        gcu::conv2d_backward_input_impl(ops, p, data_ptr<float>(static_cast<const py::array&>(dy)),
                                        data_ptr<float>(static_cast<const py::array&>(weight)),
                                        data_ptr<float>(dx));
        return dx;
      },
      py::arg("dy"), py::arg("weight"), py::arg("input_hw"),
      py::arg("stride") = py::make_tuple(1, 1), py::arg("padding") = py::make_tuple(0, 0),
      py::arg("dilation") = py::make_tuple(1, 1), py::arg("groups") = 1);

  h.def(
      "conv2d_backward_weight",
      [f32](py::array dy, py::array x, py::object kernel_hw, py::object stride, py::object padding,
            py::object dilation, int64_t groups) {
        const char* op = "conv2d_backward_weight";
        const Window2d p = conv_backward_weight_geometry(op, dy, x, kernel_hw, f32, stride, padding,
                                                         dilation, groups);
        check_columns(p, op);
        py::array dw = nan_array({p.K, p.C / p.groups, p.R, p.S});
        HostOps ops;
        gcu::conv2d_backward_weight_impl(ops, p, data_ptr<float>(static_cast<const py::array&>(dy)),
                                         data_ptr<float>(static_cast<const py::array&>(x)),
                                         data_ptr<float>(dw));
        return dw;
      },
      py::arg("dy"), py::arg("x"), py::arg("kernel_hw"), py::arg("stride") = py::make_tuple(1, 1),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
      py::arg("groups") = 1);
}
