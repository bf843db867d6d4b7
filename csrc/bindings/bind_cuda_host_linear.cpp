// CPU test driver of csrc/cuda/linear.cu (see cuda_host.h): sum_rows with _C's name and
// argument (float32): per column the kBlock partials of bias_grad_partial (x as dy with
// N = R, K = C, P = 1), then the GPU's fixed tree (tree_reduce_host) and the same finish.
#include "bindings/checks.h"
#include "bindings/cuda_host.h"
#include "bindings/registry.h"
#include "cuda/im2col_threads.h"

GRADCORE_BINDINGS(cuda_host_linear) {
  using namespace gradcore::bindings;
  namespace gcu = gradcore::cuda;
  py::module_ h = cuda_host_module(m);
  h.def(
      "sum_rows",
      [](py::array x) {
        const char* op = "sum_rows";
        check_array(x, op, "x", DType::kFloat32, 2);
        const int64_t R = dim(x, 0), C = dim(x, 1);
        py::array out = new_array(DType::kFloat32, {C});
        const float* px = data_ptr<float>(static_cast<const py::array&>(x));
        float* po = data_ptr<float>(out);
        gcu::for_each_row_reduce_host(  // one block per column
            C, [&](int64_t c, int t) { return gcu::bias_grad_partial(c, t, R, C, 1, px); },
            [&](int64_t c, float total) { gcu::bias_grad_finish(c, total, po); });
        return out;
      },
      py::arg("x"));
}
