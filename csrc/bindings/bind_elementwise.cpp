// Elementwise helpers for autograd: add_, axpy_ (in place), sum_rows, sum_channels.
#include <string>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/elementwise.h"

namespace gradcore::bindings {
namespace {

// `out` (written in place) and `in` are the same array or do not overlap at all.
void check_inplace_pair(const py::array& out, const py::array& in, const char* op,
                        const char* out_arg, const char* in_arg) {
  if (out.data() != in.data()) check_no_overlap(out, in, op, out_arg, in_arg);
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(elementwise) {
  using namespace gradcore::bindings;
  namespace gc = gradcore;
  m.def(
      "add_",
      [](py::array a, py::array b) {
        const char* op = "add_";
        const DType dt = float_dtype(a, op, "a");
        check_output(a, op, "a", dt);
        same_float(b, dt, op, "b", "a");
        check_same_shape(a, b, op, "a", "b");
        check_inplace_pair(a, b, op, "a", "b");
        const int64_t n = a.size();
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          T* pa = data_ptr<T>(a);
          const T* pb = data_ptr<T>(static_cast<const py::array&>(b));
          run_kernel([&] { gc::add_inplace(pa, pb, n); });
        });
      },
      py::arg("a"), py::arg("b"), "a += b in place (same shape and dtype).");
  m.def(
      "axpy_",
      [](py::array y, py::object alpha_obj, py::array x) {
        const char* op = "axpy_";
        const double alpha = number_arg(alpha_obj, op, "alpha");
        const DType dt = float_dtype(y, op, "y");
        check_output(y, op, "y", dt);
        same_float(x, dt, op, "x", "y");
        check_same_shape(y, x, op, "y", "x");
        check_inplace_pair(y, x, op, "y", "x");
        const int64_t n = y.size();
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          T* py_ = data_ptr<T>(y);
          const T* px = data_ptr<T>(static_cast<const py::array&>(x));
          run_kernel([&] { gc::axpy_inplace(py_, static_cast<T>(alpha), px, n); });
        });
      },
      py::arg("y"), py::arg("alpha"), py::arg("x"), "y += alpha * x in place.");
  m.def(
      "sum_rows",
      [](py::array x) {
        const char* op = "sum_rows";
        const DType dt = float_input(x, op, "x", 2);
        const int64_t R = dim(x, 0), C = dim(x, 1);
        py::array out = new_array(dt, {C});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* px = data_ptr<T>(static_cast<const py::array&>(x));
          T* po = data_ptr<T>(out);
          run_kernel([&] { gc::sum_rows(px, po, R, C); });
        });
        return out;
      },
      py::arg("x"), "Column sums of x (R, C) -> (C,), deterministic.");
  m.def(
      "sum_channels",
      [](py::array x) {
        const char* op = "sum_channels";
        const DType dt = float_input(x, op, "x");
        if (x.ndim() < 2)
          fail_value(op, "x must have at least 2 dimensions (N, C, *), got shape " + shape_str(x));
        const int64_t N = dim(x, 0), C = dim(x, 1);
        int64_t S = 1;
        for (int d = 2; d < x.ndim(); ++d) S *= dim(x, d);
        py::array out = new_array(dt, {C});
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* px = data_ptr<T>(static_cast<const py::array&>(x));
          T* po = data_ptr<T>(out);
          run_kernel([&] { gc::sum_channels(px, po, N, C, S); });
        });
        return out;
      },
      py::arg("x"), "Sum of x (N, C, *) over every axis but 1 -> (C,), deterministic.");
}
