// CPU test driver of csrc/cuda/im2col.cu (see cuda_host.h): im2col / col2im on float32 numpy
// NCHW batches (the CUDA binding's names and arguments) and conv2d_backward_bias (_C's name;
// per channel the kBlock partials, then the GPU's fixed tree, tree_reduce_host).
#include <string>

#include "bindings/checks.h"
#include "bindings/conv_args.h"
#include "bindings/cuda_host.h"
#include "bindings/registry.h"
#include "cuda/im2col_threads.h"

namespace gradcore::bindings {
namespace {

namespace gcu = gradcore::cuda;

// The window of im2col / col2im over input (N, C, H, W); the output has at least one pixel.
Window2d im2col_params(const char* op, int64_t N, int64_t C, int64_t H, int64_t W,
                       const py::handle& kernel_size, const py::handle& stride,
                       const py::handle& padding, const py::handle& dilation) {
  const auto k = pair_arg(kernel_size, op, "kernel_size");
  check_pair(k, op, "kernel_size");
  const auto s = pair_arg(stride, op, "stride");
  check_pair(s, op, "stride");
  const auto pd = pair_arg(padding, op, "padding");
  check_pair(pd, op, "padding", /*allow_zero=*/true);
  const auto d = pair_arg(dilation, op, "dilation");
  check_pair(d, op, "dilation");
  Window2d g;
  g.N = N;
  g.C = C;
  g.H = H;
  g.W = W;
  g.K = C;
  g.groups = C;
  g.R = k.first;
  g.S = k.second;
  g.sh = s.first;
  g.sw = s.second;
  g.ph = pd.first;
  g.pw = pd.second;
  g.dh = d.first;
  g.dw = d.second;
  set_window_output(g, /*ceil_mode=*/false, op, "kernel_size");
  if (g.OH < 1 || g.OW < 1)
    fail_value(op, "output size " + pair_str(g.OH, g.OW) + " is too small for input " +
                       pair_str(H, W) + " (kernel_size " + pair_str(g.R, g.S) + ", stride " +
                       pair_str(g.sh, g.sw) + ", padding " + pair_str(g.ph, g.pw) + ", dilation " +
                       pair_str(g.dh, g.dw) + ")");
  checked_numel({N, C, g.R, g.S, g.OH, g.OW}, 8, op, "the columns (N, C, kh, kw, OH, OW) =");
  return g;
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(cuda_host_im2col) {
  using namespace gradcore::bindings;
  using gradcore::Window2d;
  py::module_ h = cuda_host_module(m);

  h.def(
      "im2col",
      [](py::array x, py::object kernel_size, py::object stride, py::object padding,
         py::object dilation) {
        const char* op = "im2col";
        check_array(x, op, "x", DType::kFloat32, 4);
        if (dim(x, 2) < 1 || dim(x, 3) < 1)
          fail_value(op, "x must have positive H and W, got shape " + shape_str(x));
        const Window2d g = im2col_params(op, dim(x, 0), dim(x, 1), dim(x, 2), dim(x, 3),
                                         kernel_size, stride, padding, dilation);
        py::array col = new_array(DType::kFloat32, {g.N, g.C * g.R * g.S, g.OH * g.OW});
        const float* px = data_ptr<float>(static_cast<const py::array&>(x));
        float* pc = data_ptr<float>(col);
        for_each_index_host(g.N * g.C * g.R * g.S * g.OH * g.OW,
                            [&](int64_t t) { gcu::im2col_at(t, g, px, pc); });
        return col;
      },
      py::arg("x"), py::arg("kernel_size"), py::arg("stride") = py::make_tuple(1, 1),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1));

  h.def(
      "col2im",
      [](py::array col, py::object input_shape, py::object kernel_size, py::object stride,
         py::object padding, py::object dilation) {
        const char* op = "col2im";
        check_array(col, op, "col", DType::kFloat32, 3);
        const auto s = shape4_arg(input_shape, op, "input_shape");
        const Window2d g =
            im2col_params(op, s[0], s[1], s[2], s[3], kernel_size, stride, padding, dilation);
        check_shape(col, op, "col", {g.N, g.C * g.R * g.S, g.OH * g.OW});
        py::array x = new_array(DType::kFloat32, {s[0], s[1], s[2], s[3]});
        const float* pc = data_ptr<float>(static_cast<const py::array&>(col));
        float* px = data_ptr<float>(x);
        for_each_index_host(g.N * g.C * g.H * g.W,
                            [&](int64_t t) { gcu::col2im_at(t, g, pc, px); });
        return x;
      },
      py::arg("col"), py::arg("input_shape"), py::arg("kernel_size"),
      py::arg("stride") = py::make_tuple(1, 1), py::arg("padding") = py::make_tuple(0, 0),
      py::arg("dilation") = py::make_tuple(1, 1));

  h.def(
      "conv2d_backward_bias",
      [](py::array dy) {
        const char* op = "conv2d_backward_bias";
        const BiasGradDims d = bias_grad_dims(op, dy, DType::kFloat32);
        const int64_t N = d.N, K = d.K, P = d.P;
        py::array db = new_array(DType::kFloat32, {K});
        const float* pdy = data_ptr<float>(static_cast<const py::array&>(dy));
        float* pdb = data_ptr<float>(db);
        gcu::for_each_row_reduce_host(  // one block per row (channel)
            K, [&](int64_t k, int t) { return gcu::bias_grad_partial(k, t, N, K, P, pdy); },
            [&](int64_t k, float total) { gcu::bias_grad_finish(k, total, pdb); });
        return db;
      },
      py::arg("dy"));
}
