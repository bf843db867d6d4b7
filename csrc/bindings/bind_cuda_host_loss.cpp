// CPU test driver of csrc/cuda/loss.cu (see cuda_host.h): cross_entropy and mse_loss on
// float32 numpy arrays (int64 targets), the same launches in the same order as loss.cu.
#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/cuda_host.h"
#include "bindings/registry.h"
#include "cuda/loss_threads.h"

namespace gradcore::bindings {
namespace {

namespace gcu = gradcore::cuda;

int reduction_arg(const std::string& r, const char* op) {
  if (r == "none") return 0;
  if (r == "mean") return 1;
  if (r == "sum") return 2;
  fail_value(op, "reduction must be one of 'mean', 'sum', 'none', got '" + r + "'");
}

// loss.cu's staged_sum.
template <class Leaf, class Finish>
void staged_sum(int64_t n, Leaf leaf, Finish finish) {
  int64_t rows = gcu::sum_stage_rows(n);
  if (rows == 1) {
    gcu::for_each_row_reduce_host(1, leaf, [&](int64_t, float v) { finish(v); });
    return;
  }
  std::vector<float> scratch(static_cast<size_t>(gcu::staged_sum_scratch(n)));
  float* out = scratch.data();
  gcu::for_each_row_reduce_host(rows, leaf,
                                [&](int64_t r, float v) { gcu::store_row_value(out, r, v); });
  for (;;) {
    const gcu::SumLeaf prev{out, rows};
    rows = gcu::sum_stage_rows(prev.n);
    if (rows == 1) {
      gcu::for_each_row_reduce_host(1, prev, [&](int64_t, float v) { finish(v); });
      return;
    }
    out += prev.n;
    float* o = out;
    gcu::for_each_row_reduce_host(rows, prev,
                                  [&](int64_t r, float v) { gcu::store_row_value(o, r, v); });
  }
}

gcu::Smoothing smoothing(double ls, int64_t C) {
  return gcu::Smoothing{static_cast<float>(1.0 - ls),
                        C > 0 ? static_cast<float>(ls / static_cast<double>(C)) : 0.f, ls > 0};
}

void check_label_smoothing(double ls, const char* op) {
  if (!(ls >= 0.0 && ls <= 1.0))
    fail_value(op, "label_smoothing must be in [0, 1], got " + std::to_string(ls));
}

struct ClassArgs {
  int64_t N, C;
  py::array weight;
};

ClassArgs check_class_loss(const py::array& logits, const py::array& target,
                           const py::object& weight_o, int64_t ignore_index, const char* op) {
  check_array(logits, op, "logits", DType::kFloat32, 2);
  ClassArgs a{dim(logits, 0), dim(logits, 1), optional_array(weight_o, op, "weight")};
  if (a.weight) check_vector(a.weight, op, "weight", DType::kFloat32, a.C, false);
  check_array(target, op, "target", DType::kInt64, 1);
  if (dim(target, 0) != a.N)
    fail_value(op, "target has " + std::to_string(dim(target, 0)) + " entries but the input has " +
                       std::to_string(a.N) + " rows (target " + shape_str(target) + ")");
  const int64_t* t = data_ptr<int64_t>(target);
  for (int64_t i = 0; i < a.N; ++i)
    if (t[i] != ignore_index && (t[i] < 0 || t[i] >= a.C))
      fail_value(op, "target " + std::to_string(t[i]) + " at index " + std::to_string(i) +
                         " is out of range [0, " + std::to_string(a.C) +
                         ") (ignore_index=" + std::to_string(ignore_index) + ")");
  return a;
}

std::string dims_str(const std::vector<int64_t>& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

void check_grad_out(const py::array& g, int red, const std::vector<int64_t>& none_shape,
                    const char* op) {
  check_array(g, op, "grad_out", DType::kFloat32);
  if (red == 0) {
    if (shape_of(g) != none_shape)
      fail_value(op, "grad_out must have shape " + dims_str(none_shape) +
                         " for reduction='none', got " + shape_str(g));
  } else if (g.size() != 1) {
    fail_value(op, "grad_out must have one element for reduction='mean' or 'sum', got shape " +
                       shape_str(g));
  }
}

py::tuple ce_forward(py::array logits, py::array target, py::object weight_o, int64_t ignore_index,
                     double label_smoothing, const std::string& reduction) {
  const char* op = "cross_entropy_forward";
  const int red = reduction_arg(reduction, op);
  check_label_smoothing(label_smoothing, op);
  const ClassArgs a = check_class_loss(logits, target, weight_o, ignore_index, op);
  const int64_t N = a.N, C = a.C;
  py::array loss_a =
      new_array(DType::kFloat32, red == 0 ? std::vector<int64_t>{N} : std::vector<int64_t>{});
  py::array lse_a = new_array(DType::kFloat32, {N});
  const float* x = data_ptr<float>(static_cast<const py::array&>(logits));
  const int64_t* tg = data_ptr<int64_t>(static_cast<const py::array&>(target));
  const float* weight = optional_cptr<float>(a.weight);
  float* loss = data_ptr<float>(loss_a);
  float* lse = data_ptr<float>(lse_a);
  const gcu::Smoothing sc = smoothing(label_smoothing, C);
  std::vector<float> scratch(static_cast<size_t>(3 * N + 1));
  float* m = scratch.data();
  float* per = red == 0 ? loss : m + N;
  float* wt = m + 2 * N;
  float* div = m + 3 * N;
  gcu::for_each_row_reduce_with_host(
      N, gcu::MaxStep{}, [&](int64_t r, int t) { return gcu::row_max_partial(x, C, r, t); },
      [&](int64_t r, float v) { gcu::store_row_value(m, r, v); });
  gcu::for_each_row_reduce_host(
      N, [&](int64_t r, int t) { return gcu::row_sum_exp_partial(x, m, C, r, t); },
      [&](int64_t r, float v) { gcu::ce_lse_finish(m, lse, r, v); });
  if (sc.on) {
    gcu::for_each_row_reduce_host(
        N, [&](int64_t r, int t) { return gcu::ce_smooth_partial(x, weight, lse, C, r, t); },
        [&](int64_t r, float v) {
          gcu::ce_row_loss(r, x, tg, weight, lse, C, ignore_index, sc, v, per, wt);
        });
  } else {
    for_each_index_host(N, [&](int64_t i) {
      gcu::ce_row_loss(i, x, tg, weight, lse, C, ignore_index, sc, 0.f, per, wt);
    });
  }
  if (red != 0) {
    const bool mean = red == 1;
    if (mean) staged_sum(N, gcu::SumLeaf{wt, N}, gcu::StoreFinish{div});
    staged_sum(N, gcu::SumLeaf{per, N}, gcu::LossFinish{loss, div, mean});
  }
  return py::make_tuple(loss_a, lse_a);
}

py::array ce_backward(py::array grad_out, py::array logits, py::array target, py::array lse_a,
                      py::object weight_o, int64_t ignore_index, double label_smoothing,
                      const std::string& reduction) {
  const char* op = "cross_entropy_backward";
  const int red = reduction_arg(reduction, op);
  check_label_smoothing(label_smoothing, op);
  const ClassArgs a = check_class_loss(logits, target, weight_o, ignore_index, op);
  const int64_t N = a.N, C = a.C;
  check_array(lse_a, op, "lse", DType::kFloat32);
  check_shape(lse_a, op, "lse", {N});
  check_grad_out(grad_out, red, {N}, op);
  py::array dx_a = new_array(DType::kFloat32, {N, C});
  if (N == 0 || C == 0) return dx_a;
  const float* g = data_ptr<float>(static_cast<const py::array&>(grad_out));
  const float* x = data_ptr<float>(static_cast<const py::array&>(logits));
  const int64_t* tg = data_ptr<int64_t>(static_cast<const py::array&>(target));
  const float* lse = data_ptr<float>(static_cast<const py::array&>(lse_a));
  const float* weight = optional_cptr<float>(a.weight);
  float* dx = data_ptr<float>(dx_a);
  const gcu::Smoothing sc = smoothing(label_smoothing, C);
  std::vector<float> scratch(static_cast<size_t>(N + 2));
  float* wt = scratch.data();
  float* scale = wt + N;
  float* wsum = wt + N + 1;
  if (red == 1) {
    for_each_index_host(
        N, [&](int64_t i) { gcu::ce_target_weight_at(i, tg, weight, ignore_index, wt); });
    staged_sum(N, gcu::SumLeaf{wt, N}, gcu::InverseFinish{scale});
  }
  if (weight)
    staged_sum(C, gcu::SumLeaf{weight, C}, gcu::StoreFinish{wsum});
  else
    wsum[0] = static_cast<float>(C);
  for_each_index_host(N * C, [&](int64_t k) {
    gcu::ce_backward_at(k, g, x, tg, lse, weight, C, ignore_index, sc, red, scale, wsum, dx);
  });
  return dx_a;
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(cuda_host_loss) {
  using namespace gradcore::bindings;
  py::module_ h = cuda_host_module(m);
  h.def("cross_entropy_forward", &ce_forward, py::arg("logits"), py::arg("target"),
        py::arg("weight") = py::none(), py::arg("ignore_index") = -100,
        py::arg("label_smoothing") = 0.0, py::arg("reduction") = "mean");
  h.def("cross_entropy_backward", &ce_backward, py::arg("grad_out"), py::arg("logits"),
        py::arg("target"), py::arg("lse"), py::arg("weight") = py::none(),
        py::arg("ignore_index") = -100, py::arg("label_smoothing") = 0.0,
        py::arg("reduction") = "mean");
  h.def(
      "mse_loss_forward",
      [](py::array input, py::array target, const std::string& reduction) {
        const char* op = "mse_loss_forward";
        const int red = reduction_arg(reduction, op);
        check_array(input, op, "input", DType::kFloat32);
        check_array(target, op, "target", DType::kFloat32);
        check_same_shape(input, target, op, "input", "target");
        const int64_t n = numel(input);
        py::array loss_a =
            new_array(DType::kFloat32, red == 0 ? shape_of(input) : std::vector<int64_t>{});
        const float* x = data_ptr<float>(static_cast<const py::array&>(input));
        const float* t = data_ptr<float>(static_cast<const py::array&>(target));
        float* loss = data_ptr<float>(loss_a);
        if (red == 0)
          for_each_index_host(n, [&](int64_t i) { gcu::mse_forward_at(i, x, t, loss); });
        else
          staged_sum(n, gcu::MseLeaf{x, t, n}, gcu::MseFinish{loss, n, red == 1});
        return loss_a;
      },
      py::arg("input"), py::arg("target"), py::arg("reduction") = "mean");
  h.def(
      "mse_loss_backward",
      [](py::array grad_out, py::array input, py::array target, const std::string& reduction) {
        const char* op = "mse_loss_backward";
        const int red = reduction_arg(reduction, op);
        check_array(input, op, "input", DType::kFloat32);
        check_array(target, op, "target", DType::kFloat32);
        check_same_shape(input, target, op, "input", "target");
        check_grad_out(grad_out, red, shape_of(input), op);
        const int64_t n = numel(input);
        py::array dx_a = new_array(DType::kFloat32, shape_of(input));
        const float* g = data_ptr<float>(static_cast<const py::array&>(grad_out));
        const float* x = data_ptr<float>(static_cast<const py::array&>(input));
        const float* t = data_ptr<float>(static_cast<const py::array&>(target));
        float* dx = data_ptr<float>(dx_a);
        const float norm = static_cast<float>(red == 1 ? 2.0 / static_cast<double>(n) : 2.0);
        for_each_index_host(
            n, [&](int64_t i) { gcu::mse_backward_at(i, g, x, t, norm, red == 0, dx); });
        return dx_a;
      },
      py::arg("grad_out"), py::arg("input"), py::arg("target"), py::arg("reduction") = "mean");
}
