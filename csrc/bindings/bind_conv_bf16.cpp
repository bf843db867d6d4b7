// conv2d_forward_bf16, conv2d_backward_input_bf16, conv2d_backward_weight_bf16: gradcore.amp's
// convolutions (cpu/conv_bf16.h). x, weight and dy are bfloat16 bit patterns (uint16), the bias
// and every output float32. The geometry checks are conv2d's (conv_args.h).

#include "bindings/checks.h"
#include "bindings/conv_args.h"
#include "bindings/registry.h"
#include "cpu/conv_bf16.h"

GRADCORE_BINDINGS(conv_bf16) {
  using namespace gradcore::bindings;
  using gradcore::Window2d;
  constexpr DType bits = DType::kBFloat16Bits;

  m.def(
      "conv2d_forward_bf16",
      [](py::array x, py::array weight, py::object bias, py::object stride, py::object padding,
         py::object dilation, int64_t groups) {
        const char* op = "conv2d_forward_bf16";
        const py::array b = optional_array(bias, op, "bias");
        const py::array no_bias = py::reinterpret_steal<py::array>(py::handle());
        const Window2d p =
            conv_forward_geometry(op, x, weight, no_bias, bits, stride, padding, dilation, groups);
        if (b) {  // float32, unlike x and weight
          check_array(b, op, "bias", DType::kFloat32, 1);
          check_shape(b, op, "bias", {p.K});
        }
        py::array y = new_array(DType::kFloat32, {p.N, p.K, p.OH, p.OW});
        const uint16_t* px = data_ptr<uint16_t>(static_cast<const py::array&>(x));
        const uint16_t* pw = data_ptr<uint16_t>(static_cast<const py::array&>(weight));
        const float* pb = b ? data_ptr<float>(static_cast<const py::array&>(b)) : nullptr;
        float* py_ = data_ptr<float>(y);
        run_kernel([&] { gradcore::conv2d_forward_bf16(p, px, pw, pb, py_); });
        return y;
      },
      py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(),
      py::arg("stride") = py::make_tuple(1, 1), py::arg("padding") = py::make_tuple(0, 0),
      py::arg("dilation") = py::make_tuple(1, 1), py::arg("groups") = 1,
      "float32 y (N, K, OH, OW) = conv2d(x, weight) + bias for bfloat16 bits x (N, C, H, W) and "
      "weight (K, C/groups, R, S), float32 bias (K,); float32 accumulation.");

  m.def(
      "conv2d_backward_input_bf16",
      [](py::array dy, py::array weight, py::object input_hw, py::object stride, py::object padding,
         py::object dilation, int64_t groups) {
        const char* op = "conv2d_backward_input_bf16";
        const Window2d p = conv_backward_input_geometry(op, dy, weight, input_hw, bits, stride,
                                                        padding, dilation, groups);
        py::array dx = new_array(DType::kFloat32, {p.N, p.C, p.H, p.W});
        const uint16_t* pdy = data_ptr<uint16_t>(static_cast<const py::array&>(dy));
        const uint16_t* pw = data_ptr<uint16_t>(static_cast<const py::array&>(weight));
        float* pdx = data_ptr<float>(dx);
        run_kernel([&] { gradcore::conv2d_backward_input_bf16(p, pdy, pw, pdx); });
        return dx;
      },
      py::arg("dy"), py::arg("weight"), py::arg("input_hw"),
      py::arg("stride") = py::make_tuple(1, 1), py::arg("padding") = py::make_tuple(0, 0),
      py::arg("dilation") = py::make_tuple(1, 1), py::arg("groups") = 1,
      "float32 dx (N, C, H, W): gradient of conv2d_forward_bf16 with respect to its input.");

  m.def(
      "conv2d_backward_weight_bf16",
      [](py::array dy, py::array x, py::object kernel_hw, py::object stride, py::object padding,
         py::object dilation, int64_t groups) {
        const char* op = "conv2d_backward_weight_bf16";
        const Window2d p = conv_backward_weight_geometry(op, dy, x, kernel_hw, bits, stride,
                                                         padding, dilation, groups);
        py::array dw = new_array(DType::kFloat32, {p.K, p.C / p.groups, p.R, p.S});
        const uint16_t* pdy = data_ptr<uint16_t>(static_cast<const py::array&>(dy));
        const uint16_t* px = data_ptr<uint16_t>(static_cast<const py::array&>(x));
        float* pdw = data_ptr<float>(dw);
        run_kernel([&] { gradcore::conv2d_backward_weight_bf16(p, pdy, px, pdw); });
        return dw;
      },
      py::arg("dy"), py::arg("x"), py::arg("kernel_hw"), py::arg("stride") = py::make_tuple(1, 1),
      py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
      py::arg("groups") = 1,
      "float32 dw (K, C/groups, R, S): gradient of conv2d_forward_bf16 with respect to its "
      "weight.");

  m.def(
      "conv2d_backward_bias_bf16",
      [](py::array dy) {
        const char* op = "conv2d_backward_bias_bf16";
        const BiasGradDims d = bias_grad_dims(op, dy, bits);
        const int64_t N = d.N, K = d.K, P = d.P;
        py::array db = new_array(DType::kFloat32, {K});
        const uint16_t* pdy = data_ptr<uint16_t>(static_cast<const py::array&>(dy));
        float* pdb = data_ptr<float>(db);
        run_kernel([&] { gradcore::conv2d_backward_bias_bf16(N, K, P, pdy, pdb); });
        return db;
      },
      py::arg("dy"), "float32 db (K,) = bfloat16 bits dy summed over every axis but 1.");

  m.def(
      "conv_bf16_native",
      [](py::object x_shape, py::object w_shape, int64_t groups, py::object stride,
         py::object padding, py::object dilation) {
        const char* op = "conv_bf16_native";
        const auto xs = x_shape.cast<std::vector<int64_t>>();
        const auto ws = w_shape.cast<std::vector<int64_t>>();
        if (xs.size() != 4 || ws.size() != 4 || groups < 1)
          fail_value(op, "needs 4-d input and weight shapes and groups >= 1");
        const auto st = pair_arg(stride, op, "stride"), pd = pair_arg(padding, op, "padding");
        const auto dl = pair_arg(dilation, op, "dilation");
        check_pair(st, op, "stride");
        check_pair(pd, op, "padding", true);
        check_pair(dl, op, "dilation");
        Window2d p;
        p.N = xs[0], p.C = xs[1], p.H = xs[2], p.W = xs[3];
        p.K = ws[0], p.groups = groups, p.R = ws[2], p.S = ws[3];
        p.sh = st.first, p.sw = st.second, p.ph = pd.first, p.pw = pd.second;
        p.dh = dl.first, p.dw = dl.second;
        set_window_output(p, false, op, "weight");
        return gradcore::conv_bf16_autocast_native(p);
      },
      py::arg("x_shape"), py::arg("w_shape"), py::arg("groups") = 1,
      py::arg("stride") = py::make_tuple(1, 1), py::arg("padding") = py::make_tuple(0, 0),
      py::arg("dilation") = py::make_tuple(1, 1),
      "True where autocast runs this layer on the bfloat16 kernels, which multiply on gemm_bf16 "
      "(else it runs the float32 kernels, Winograd included, on the rounded values).");
}
