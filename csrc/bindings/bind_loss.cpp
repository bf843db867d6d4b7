// Losses: cross_entropy (fused log-softmax + NLL), nll_loss, mse_loss, l1_loss,
// bce_with_logits; forward returns a 0-d array for mean/sum, per-sample losses for none.
#include <algorithm>
#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/loss.h"

namespace gradcore::bindings {
namespace {

Reduction parse_reduction(const std::string& r, const char* op) {
  if (r == "mean") return Reduction::kMean;
  if (r == "sum") return Reduction::kSum;
  if (r == "none") return Reduction::kNone;
  fail_value(op, "reduction must be one of 'mean', 'sum', 'none', got '" + r + "'");
}

// int64 class targets (N,) with every value in [0, C) or equal to ignore_index.
void check_targets(const py::array& target, int64_t N, int64_t C, int64_t ignore_index,
                   const char* op) {
  check_array(target, op, "target", DType::kInt64, 1);
  if (dim(target, 0) != N)
    fail_value(op, "target has " + std::to_string(dim(target, 0)) + " entries but the input has " +
                       std::to_string(N) + " rows (target " + shape_str(target) + ")");
  const auto* t = static_cast<const int64_t*>(target.data());
  for (int64_t i = 0; i < N; ++i) {
    if (t[i] != ignore_index && (t[i] < 0 || t[i] >= C))
      fail_value(op, "target " + std::to_string(t[i]) + " at index " + std::to_string(i) +
                         " is out of range [0, " + std::to_string(C) +
                         ") (ignore_index=" + std::to_string(ignore_index) + ")");
  }
}

// grad_out of a loss: one element for mean/sum, `none_shape` for none.
void check_grad_out(const py::array& g, DType dt, Reduction r,
                    const std::vector<int64_t>& none_shape, const char* op) {
  same_float(g, dt, op, "grad_out", "the input");
  if (r == Reduction::kNone) {
    bool ok = static_cast<size_t>(g.ndim()) == none_shape.size();
    for (size_t i = 0; ok && i < none_shape.size(); ++i)
      ok = dim(g, static_cast<int>(i)) == none_shape[i];
    if (!ok) {
      std::string want = "(";
      for (size_t i = 0; i < none_shape.size(); ++i)
        want += (i ? ", " : "") + std::to_string(none_shape[i]);
      want += none_shape.size() == 1 ? ",)" : ")";
      fail_value(op,
                 "grad_out must have shape " + want + " for reduction='none', got " + shape_str(g));
    }
  } else if (g.size() != 1) {
    fail_value(op, "grad_out must have one element for reduction='mean' or 'sum', got shape " +
                       shape_str(g));
  }
}

// Output array for a loss: 0-d for mean/sum, `none_shape` for none.
py::array loss_output(DType dt, Reduction r, const std::vector<int64_t>& none_shape) {
  return new_array(dt, r == Reduction::kNone ? none_shape : std::vector<int64_t>{});
}

struct ClassArgs {
  DType dt;
  int64_t N, C;
  const void* weight;
};

// Checks input (N, C), target (N,) int64 in range, optional weight (C,).
ClassArgs check_class_loss(const py::array& input, const char* input_name, const py::array& target,
                           const py::object& weight, int64_t ignore_index, const char* op) {
  ClassArgs a;
  a.dt = float_input(input, op, input_name, 2);
  a.N = dim(input, 0);
  a.C = dim(input, 1);
  const py::array w = optional_array(weight, op, "weight");
  if (w) {
    same_float(w, a.dt, op, "weight", input_name);
    check_shape(w, op, "weight", {a.C});
  }
  a.weight = optional_cptr<void>(w);
  check_targets(target, a.N, a.C, ignore_index, op);
  return a;
}

void check_label_smoothing(double ls, const char* op) {
  if (!(ls >= 0.0 && ls <= 1.0))
    fail_value(op, "label_smoothing must be in [0, 1], got " + std::to_string(ls));
}

// input and target of the same shape and dtype (elementwise losses).
DType check_input_target(const py::array& input, const py::array& target, const char* op) {
  const DType dt = float_input(input, op, "input");
  same_float(target, dt, op, "target", "input");
  check_same_shape(input, target, op, "input", "target");
  return dt;
}

// Optional weight of bce_with_logits, broadcast against the input like PyTorch does for
// a weight whose shape (leading 1s aside) equals the input's trailing dimensions, or a single
// element. Returns the data and sets *period (elements after which the weight repeats).
const void* bce_weight(const py::object& o, const py::array& input, DType dt, const char* op,
                       const char* arg, int64_t* period) {
  *period = 1;
  const py::array w = optional_array(o, op, arg);
  if (!w) return nullptr;
  same_float(w, dt, op, arg, "input");
  int lead = 0;  // leading size-1 dimensions of w
  while (lead < w.ndim() && dim(w, lead) == 1) ++lead;
  const int rest = static_cast<int>(w.ndim()) - lead;
  bool ok = w.ndim() <= input.ndim();
  for (int d = 0; ok && d < rest; ++d)
    ok = dim(w, lead + d) == dim(input, static_cast<int>(input.ndim()) - rest + d);
  if (!ok)
    fail_value(op, std::string(arg) + " of shape " + shape_str(w) +
                       " does not broadcast to the input's shape " + shape_str(input) +
                       " (it must match the input's trailing dimensions)");
  *period = std::max<int64_t>(static_cast<int64_t>(w.size()), 1);
  return w.data();
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(loss) {
  using namespace gradcore::bindings;
  using gradcore::Reduction;
  namespace gc = gradcore;

  m.def(
      "cross_entropy_forward",
      [](py::array logits, py::array target, py::object weight, int64_t ignore_index,
         double label_smoothing, const std::string& reduction) {
        const char* op = "cross_entropy_forward";
        const Reduction red = parse_reduction(reduction, op);
        check_label_smoothing(label_smoothing, op);
        const ClassArgs a = check_class_loss(logits, "logits", target, weight, ignore_index, op);
        py::array loss = loss_output(a.dt, red, {a.N});
        py::array lse = new_array(a.dt, {a.N});
        dispatch_float(a.dt, [&](auto tag) {
          using T = decltype(tag);
          const T* px = data_ptr<T>(static_cast<const py::array&>(logits));
          const int64_t* pt = data_ptr<int64_t>(static_cast<const py::array&>(target));
          const T* pw = static_cast<const T*>(a.weight);
          T* pl = data_ptr<T>(loss);
          T* plse = data_ptr<T>(lse);
          run_kernel([&] {
            gc::cross_entropy_forward(px, pt, pw, a.N, a.C, ignore_index, label_smoothing, red, pl,
                                      plse);
          });
        });
        return py::make_tuple(loss, lse);
      },
      py::arg("logits"), py::arg("target"), py::arg("weight") = py::none(),
      py::arg("ignore_index") = -100, py::arg("label_smoothing") = 0.0,
      py::arg("reduction") = "mean",
      "Fused log-softmax + NLL over logits (N, C); returns (loss, lse (N,)).");
  m.def(
      "cross_entropy_backward",
      [](py::array grad_out, py::array logits, py::array target, py::array lse, py::object weight,
         int64_t ignore_index, double label_smoothing, const std::string& reduction) {
        const char* op = "cross_entropy_backward";
        const Reduction red = parse_reduction(reduction, op);
        check_label_smoothing(label_smoothing, op);
        const ClassArgs a = check_class_loss(logits, "logits", target, weight, ignore_index, op);
        same_float(lse, a.dt, op, "lse", "logits");
        check_shape(lse, op, "lse", {a.N});
        check_grad_out(grad_out, a.dt, red, {a.N}, op);
        py::array dx = new_array(a.dt, {a.N, a.C});
        dispatch_float(a.dt, [&](auto tag) {
          using T = decltype(tag);
          const T* pg = data_ptr<T>(static_cast<const py::array&>(grad_out));
          const T* px = data_ptr<T>(static_cast<const py::array&>(logits));
          const int64_t* pt = data_ptr<int64_t>(static_cast<const py::array&>(target));
          const T* plse = data_ptr<T>(static_cast<const py::array&>(lse));
          const T* pw = static_cast<const T*>(a.weight);
          T* pdx = data_ptr<T>(dx);
          run_kernel([&] {
            gc::cross_entropy_backward(pg, px, pt, plse, pw, a.N, a.C, ignore_index,
                                       label_smoothing, red, pdx);
          });
        });
        return dx;
      },
      py::arg("grad_out"), py::arg("logits"), py::arg("target"), py::arg("lse"),
      py::arg("weight") = py::none(), py::arg("ignore_index") = -100,
      py::arg("label_smoothing") = 0.0, py::arg("reduction") = "mean",
      "Gradient of cross_entropy_forward with respect to the logits.");

  m.def(
      "nll_loss_forward",
      [](py::array log_probs, py::array target, py::object weight, int64_t ignore_index,
         const std::string& reduction) {
        const char* op = "nll_loss_forward";
        const Reduction red = parse_reduction(reduction, op);
        const ClassArgs a =
            check_class_loss(log_probs, "log_probs", target, weight, ignore_index, op);
        py::array loss = loss_output(a.dt, red, {a.N});
        dispatch_float(a.dt, [&](auto tag) {
          using T = decltype(tag);
          const T* px = data_ptr<T>(static_cast<const py::array&>(log_probs));
          const int64_t* pt = data_ptr<int64_t>(static_cast<const py::array&>(target));
          const T* pw = static_cast<const T*>(a.weight);
          T* pl = data_ptr<T>(loss);
          run_kernel([&] { gc::nll_loss_forward(px, pt, pw, a.N, a.C, ignore_index, red, pl); });
        });
        return loss;
      },
      py::arg("log_probs"), py::arg("target"), py::arg("weight") = py::none(),
      py::arg("ignore_index") = -100, py::arg("reduction") = "mean",
      "Negative log-likelihood of log_probs (N, C) at the targets.");
  m.def(
      "nll_loss_backward",
      [](py::array grad_out, py::array log_probs, py::array target, py::object weight,
         int64_t ignore_index, const std::string& reduction) {
        const char* op = "nll_loss_backward";
        const Reduction red = parse_reduction(reduction, op);
        const ClassArgs a =
            check_class_loss(log_probs, "log_probs", target, weight, ignore_index, op);
        check_grad_out(grad_out, a.dt, red, {a.N}, op);
        py::array dx = new_array(a.dt, {a.N, a.C});
        dispatch_float(a.dt, [&](auto tag) {
          using T = decltype(tag);
          const T* pg = data_ptr<T>(static_cast<const py::array&>(grad_out));
          const int64_t* pt = data_ptr<int64_t>(static_cast<const py::array&>(target));
          const T* pw = static_cast<const T*>(a.weight);
          T* pdx = data_ptr<T>(dx);
          run_kernel([&] { gc::nll_loss_backward(pg, pt, pw, a.N, a.C, ignore_index, red, pdx); });
        });
        return dx;
      },
      py::arg("grad_out"), py::arg("log_probs"), py::arg("target"), py::arg("weight") = py::none(),
      py::arg("ignore_index") = -100, py::arg("reduction") = "mean",
      "Gradient of nll_loss_forward with respect to log_probs.");

  // mse_loss / l1_loss share their binding shape.
  auto def_pair_loss = [&m](const char* fwd_name, const char* bwd_name, auto fwd, auto bwd,
                            const char* doc) {
    m.def(
        fwd_name,
        [fwd_name, fwd](py::array input, py::array target, const std::string& reduction) {
          const Reduction red = parse_reduction(reduction, fwd_name);
          const DType dt = check_input_target(input, target, fwd_name);
          py::array loss = loss_output(dt, red, shape_of(input));
          const int64_t n = input.size();
          dispatch_float(dt, [&](auto tag) {
            using T = decltype(tag);
            const T* px = data_ptr<T>(static_cast<const py::array&>(input));
            const T* pt = data_ptr<T>(static_cast<const py::array&>(target));
            T* pl = data_ptr<T>(loss);
            run_kernel([&] { fwd(px, pt, n, red, pl); });
          });
          return loss;
        },
        py::arg("input"), py::arg("target"), py::arg("reduction") = "mean", doc);
    m.def(
        bwd_name,
        [bwd_name, bwd](py::array grad_out, py::array input, py::array target,
                        const std::string& reduction) {
          const Reduction red = parse_reduction(reduction, bwd_name);
          const DType dt = check_input_target(input, target, bwd_name);
          check_grad_out(grad_out, dt, red, shape_of(input), bwd_name);
          py::array dx = new_array(dt, shape_of(input));
          const int64_t n = input.size();
          dispatch_float(dt, [&](auto tag) {
            using T = decltype(tag);
            const T* pg = data_ptr<T>(static_cast<const py::array&>(grad_out));
            const T* px = data_ptr<T>(static_cast<const py::array&>(input));
            const T* pt = data_ptr<T>(static_cast<const py::array&>(target));
            T* pdx = data_ptr<T>(dx);
            run_kernel([&] { bwd(pg, px, pt, n, red, pdx); });
          });
          return dx;
        },
        py::arg("grad_out"), py::arg("input"), py::arg("target"), py::arg("reduction") = "mean",
        "Gradient with respect to the input (the target's gradient is its negative).");
  };
  def_pair_loss(
      "mse_loss_forward", "mse_loss_backward",
      [](auto* x, auto* t, int64_t n, Reduction r, auto* l) {
        gc::mse_loss_forward(x, t, n, r, l);
      },
      [](auto* g, auto* x, auto* t, int64_t n, Reduction r, auto* d) {
        gc::mse_loss_backward(g, x, t, n, r, d);
      },
      "Squared error (input - target)^2 with a reduction.");
  def_pair_loss(
      "l1_loss_forward", "l1_loss_backward",
      [](auto* x, auto* t, int64_t n, Reduction r, auto* l) { gc::l1_loss_forward(x, t, n, r, l); },
      [](auto* g, auto* x, auto* t, int64_t n, Reduction r, auto* d) {
        gc::l1_loss_backward(g, x, t, n, r, d);
      },
      "Absolute error |input - target| with a reduction.");

  m.def(
      "bce_with_logits_forward",
      [](py::array input, py::array target, py::object weight, py::object pos_weight,
         const std::string& reduction) {
        const char* op = "bce_with_logits_forward";
        const Reduction red = parse_reduction(reduction, op);
        const DType dt = check_input_target(input, target, op);
        const int64_t n = input.size();
        int64_t fw = 1, fp = 1;
        const void* w = bce_weight(weight, input, dt, op, "weight", &fw);
        const void* pw = bce_weight(pos_weight, input, dt, op, "pos_weight", &fp);
        py::array loss = loss_output(dt, red, shape_of(input));
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* px = data_ptr<T>(static_cast<const py::array&>(input));
          const T* pt = data_ptr<T>(static_cast<const py::array&>(target));
          T* pl = data_ptr<T>(loss);
          run_kernel([&] {
            gc::bce_with_logits_forward(px, pt, static_cast<const T*>(w), fw,
                                        static_cast<const T*>(pw), fp, n, red, pl);
          });
        });
        return loss;
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = py::none(),
      py::arg("pos_weight") = py::none(), py::arg("reduction") = "mean",
      "Binary cross-entropy on logits (stable); weight and pos_weight broadcast over the "
      "input's trailing dimensions.");
  m.def(
      "bce_with_logits_backward",
      [](py::array grad_out, py::array input, py::array target, py::object weight,
         py::object pos_weight, const std::string& reduction) {
        const char* op = "bce_with_logits_backward";
        const Reduction red = parse_reduction(reduction, op);
        const DType dt = check_input_target(input, target, op);
        const int64_t n = input.size();
        int64_t fw = 1, fp = 1;
        const void* w = bce_weight(weight, input, dt, op, "weight", &fw);
        const void* pw = bce_weight(pos_weight, input, dt, op, "pos_weight", &fp);
        check_grad_out(grad_out, dt, red, shape_of(input), op);
        py::array dx = new_array(dt, shape_of(input));
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* pg = data_ptr<T>(static_cast<const py::array&>(grad_out));
          const T* px = data_ptr<T>(static_cast<const py::array&>(input));
          const T* pt = data_ptr<T>(static_cast<const py::array&>(target));
          T* pdx = data_ptr<T>(dx);
          run_kernel([&] {
            gc::bce_with_logits_backward(pg, px, pt, static_cast<const T*>(w), fw,
                                         static_cast<const T*>(pw), fp, n, red, pdx);
          });
        });
        return dx;
      },
      py::arg("grad_out"), py::arg("input"), py::arg("target"), py::arg("weight") = py::none(),
      py::arg("pos_weight") = py::none(), py::arg("reduction") = "mean",
      "Gradient of bce_with_logits_forward with respect to the input.");
}
