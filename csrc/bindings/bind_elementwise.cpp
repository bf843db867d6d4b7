// sum_rows: the bias gradient of linear layers (column sums, deterministic).
#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/elementwise.h"

GRADCORE_BINDINGS(elementwise) {
  using namespace gradcore::bindings;
  namespace gc = gradcore;
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
          run_elementwise_kernel(R * C, [&] { gc::sum_rows(px, po, R, C); });
        });
        return out;
      },
      py::arg("x"), "Column sums of x (R, C) -> (C,), deterministic.");
}
