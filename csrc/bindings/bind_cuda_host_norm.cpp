// CPU test driver of csrc/cuda/norm.cu (see cuda_host.h): batch norm on float32 numpy arrays,
// the same launches in the same order as norm.cu; running stats are updated in place.
#include <cmath>
#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/cuda_host.h"
#include "bindings/norm_args.h"
#include "bindings/registry.h"
#include "cuda/norm_threads.h"

namespace gradcore::bindings {
namespace {

namespace gcu = gradcore::cuda;

py::tuple forward_train(py::array x, py::object weight_o, py::object bias_o, py::object rm_o,
                        py::object rv_o, double momentum, double eps) {
  const char* op = "batch_norm_forward_train";
  const BnTrainArgs args =
      bn_train_args(op, x, DType::kFloat32, weight_o, bias_o, rm_o, rv_o, momentum, eps);
  const gcu::BnShape sh{args.dims.N, args.dims.C, args.dims.S};
  py::array weight = args.weight, bias = args.bias, rm = args.running_mean, rv = args.running_var;
  const int64_t M = sh.N * sh.S;
  py::array y_a = new_array(DType::kFloat32, shape_of(x));
  py::array mean_a = new_array(DType::kFloat32, {sh.C});
  py::array invstd_a = new_array(DType::kFloat32, {sh.C});
  if (sh.C == 0) return py::make_tuple(y_a, mean_a, invstd_a);
  const float* px = data_ptr<float>(static_cast<const py::array&>(x));
  const float* pw = optional_cptr<float>(weight);
  const float* pb = optional_cptr<float>(bias);
  float* prm = optional_ptr<float>(rm);
  float* prv = optional_ptr<float>(rv);
  float* y = data_ptr<float>(y_a);
  float* save_mean = data_ptr<float>(mean_a);
  float* save_invstd = data_ptr<float>(invstd_a);
  std::vector<float> a(static_cast<size_t>(sh.C));
  float* pa = a.data();
  gcu::for_each_row_reduce_host(
      sh.C, [&](int64_t c, int t) { return gcu::bn_sum_partial(px, sh, c, t); },
      [&](int64_t c, float v) { gcu::bn_mean_finish(save_mean, c, v, M); });
  gcu::for_each_row_reduce_host(
      sh.C, [&](int64_t c, int t) { return gcu::bn_sq_partial(px, save_mean, sh, c, t); },
      [&](int64_t c, float v) {
        gcu::bn_stats_finish(c, v, M, momentum, eps, pw, save_mean, save_invstd, prm, prv, pa);
      });
  for_each_index_host(M * sh.C,
                      [&](int64_t k) { gcu::bn_apply_at(k, px, save_mean, pa, pb, sh, y); });
  return py::make_tuple(y_a, mean_a, invstd_a);
}

py::array forward_eval(py::array x, py::object weight_o, py::object bias_o, py::array rm,
                       py::array rv, double eps) {
  const char* op = "batch_norm_forward_eval";
  const BnEvalArgs args = bn_eval_args(op, x, DType::kFloat32, weight_o, bias_o, rm, rv, eps);
  const gcu::BnShape sh{args.dims.N, args.dims.C, args.dims.S};
  const py::array &weight = args.weight, &bias = args.bias;
  py::array y_a = new_array(DType::kFloat32, shape_of(x));
  const int64_t M = sh.N * sh.S;
  if (sh.C == 0 || M == 0) return y_a;
  const float* px = data_ptr<float>(static_cast<const py::array&>(x));
  const float* pw = optional_cptr<float>(weight);
  const float* pb = optional_cptr<float>(bias);
  const float* prm = data_ptr<float>(static_cast<const py::array&>(rm));
  const float* prv = data_ptr<float>(static_cast<const py::array&>(rv));
  float* y = data_ptr<float>(y_a);
  std::vector<float> a(static_cast<size_t>(sh.C));
  float* pa = a.data();
  for_each_index_host(sh.C, [&](int64_t c) { gcu::bn_eval_consts_at(c, pw, prv, eps, pa); });
  for_each_index_host(M * sh.C, [&](int64_t k) { gcu::bn_apply_at(k, px, prm, pa, pb, sh, y); });
  return y_a;
}

py::tuple batch_norm_bwd(py::array dy, py::array x, py::object weight_o, py::array mean,
                         py::array invstd, bool training, py::object need_weight_grad,
                         py::object need_bias_grad) {
  const char* op = "batch_norm_backward";
  const BnBackwardArgs args = bn_backward_args(op, dy, x, DType::kFloat32, weight_o, mean, invstd,
                                               need_weight_grad, need_bias_grad);
  const gcu::BnShape sh{args.dims.N, args.dims.C, args.dims.S};
  const py::array& weight = args.weight;
  const bool want_dw = args.want_dweight, want_db = args.want_dbias;
  py::array dx_a = new_array(DType::kFloat32, shape_of(x));
  py::object dweight = py::none(), dbias = py::none();
  py::array dw_arr, db_arr;
  if (want_dw) dweight = dw_arr = new_array(DType::kFloat32, {sh.C});
  if (want_db) dbias = db_arr = new_array(DType::kFloat32, {sh.C});
  if (sh.C == 0) return py::make_tuple(dx_a, dweight, dbias);
  const int64_t M = sh.N * sh.S;
  const float* pdy = data_ptr<float>(static_cast<const py::array&>(dy));
  const float* px = data_ptr<float>(static_cast<const py::array&>(x));
  const float* pw = optional_cptr<float>(weight);
  const float* pm = data_ptr<float>(static_cast<const py::array&>(mean));
  const float* pi = data_ptr<float>(static_cast<const py::array&>(invstd));
  float* dx = data_ptr<float>(dx_a);
  float* pdw = want_dw ? data_ptr<float>(dw_arr) : nullptr;
  float* pdb = want_db ? data_ptr<float>(db_arr) : nullptr;
  std::vector<float> scratch(static_cast<size_t>(4 * sh.C));
  float* sdy = scratch.data();
  float* gm = sdy + sh.C;
  float* kk = gm + sh.C;
  float* a = kk + sh.C;
  if (training || pdw || pdb) {
    gcu::for_each_row_reduce_host(
        sh.C, [&](int64_t c, int t) { return gcu::bn_sum_partial(pdy, sh, c, t); },
        [&](int64_t c, float v) { sdy[c] = v; });
    gcu::for_each_row_reduce_host(
        sh.C, [&](int64_t c, int t) { return gcu::bn_dot_partial(pdy, px, pm, sh, c, t); },
        [&](int64_t c, float v) {
          gcu::bn_backward_finish(c, sdy[c], v, M, training, pw, pi, pdw, pdb, gm, kk, a);
        });
  } else {
    for_each_index_host(sh.C, [&](int64_t c) {
      gcu::bn_backward_finish(c, 0.f, 0.f, M, training, pw, pi, pdw, pdb, gm, kk, a);
    });
  }
  for_each_index_host(M * sh.C, [&](int64_t k) {
    gcu::bn_backward_at(k, pdy, px, pm, gm, kk, a, training, sh, dx);
  });
  return py::make_tuple(dx_a, dweight, dbias);
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(cuda_host_norm) {
  using namespace gradcore::bindings;
  py::module_ h = cuda_host_module(m);
  h.def("batch_norm_forward_train", &forward_train, py::arg("x"), py::arg("weight") = py::none(),
        py::arg("bias") = py::none(), py::arg("running_mean") = py::none(),
        py::arg("running_var") = py::none(), py::arg("momentum") = 0.1, py::arg("eps") = 1e-5);
  h.def("batch_norm_forward_eval", &forward_eval, py::arg("x"), py::arg("weight") = py::none(),
        py::arg("bias") = py::none(), py::arg("running_mean"), py::arg("running_var"),
        py::arg("eps") = 1e-5);
  h.def("batch_norm_backward", &batch_norm_bwd, py::arg("dy"), py::arg("x"), py::arg("weight"),
        py::arg("mean"), py::arg("invstd"), py::arg("training"),
        py::arg("need_weight_grad") = py::none(), py::arg("need_bias_grad") = py::none());
}
