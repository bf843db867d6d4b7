// CPU test driver of csrc/cuda/softmax.cu (see cuda_host.h): float32 numpy arrays, the same
// launches in the same order (row reductions into per-row scratch, then elementwise).
#include <vector>

#include "bindings/checks.h"
#include "bindings/cuda_host.h"
#include "bindings/registry.h"
#include "cuda/softmax_threads.h"

namespace gradcore::bindings {
namespace {

namespace gcu = gradcore::cuda;

// m[r] = row max, out[r] = store(sum_c exp(x - m[r])): softmax.cu's max_and_sum_exp.
template <class Store>
void max_and_sum_exp(const float* x, float* m, float* out, int64_t rows, int64_t cols,
                     Store store) {
  gcu::for_each_row_reduce_with_host(
      rows, gcu::MaxStep{}, [&](int64_t r, int t) { return gcu::row_max_partial(x, cols, r, t); },
      [&](int64_t r, float v) { gcu::store_row_value(m, r, v); });
  gcu::for_each_row_reduce_host(
      rows, [&](int64_t r, int t) { return gcu::row_sum_exp_partial(x, m, cols, r, t); },
      [&](int64_t r, float v) { store(out, r, v); });
}

py::array softmax_fwd(const py::array& x, const char* op, bool log) {
  check_array(x, op, "x", DType::kFloat32, 2);
  py::array y = new_array(DType::kFloat32, shape_of(x));
  const int64_t rows = dim(x, 0), cols = dim(x, 1);
  if (rows == 0 || cols == 0) return y;
  const float* px = data_ptr<float>(x);
  float* py_ = data_ptr<float>(y);
  std::vector<float> scratch(static_cast<size_t>(2 * rows));
  float* m = scratch.data();
  float* s = m + rows;
  if (log) {
    max_and_sum_exp(px, m, s, rows, cols, gcu::store_row_log);
    for_each_index_host(rows * cols,
                        [&](int64_t t) { gcu::log_softmax_forward_at(t, px, m, s, py_, cols); });
  } else {
    max_and_sum_exp(px, m, s, rows, cols, gcu::store_row_inverse);
    for_each_index_host(rows * cols,
                        [&](int64_t t) { gcu::softmax_forward_at(t, px, m, s, py_, cols); });
  }
  return y;
}

py::array softmax_bwd(const py::array& dy, const py::array& y, const char* op, bool log) {
  check_array(dy, op, "dy", DType::kFloat32, 2);
  check_array(y, op, "y", DType::kFloat32, 2);
  check_same_shape(dy, y, op, "dy", "y");
  py::array dx = new_array(DType::kFloat32, shape_of(dy));
  const int64_t rows = dim(dy, 0), cols = dim(dy, 1);
  if (rows == 0 || cols == 0) return dx;
  const float* pdy = data_ptr<float>(dy);
  const float* py_ = data_ptr<float>(y);
  float* pdx = data_ptr<float>(dx);
  std::vector<float> scratch(static_cast<size_t>(rows));
  float* s = scratch.data();
  if (log) {
    gcu::for_each_row_reduce_host(
        rows, [&](int64_t r, int t) { return gcu::row_sum_partial(pdy, cols, r, t); },
        [&](int64_t r, float v) { gcu::store_row_value(s, r, v); });
    for_each_index_host(
        rows * cols, [&](int64_t t) { gcu::log_softmax_backward_at(t, pdy, py_, s, pdx, cols); });
  } else {
    gcu::for_each_row_reduce_host(
        rows, [&](int64_t r, int t) { return gcu::row_dot_partial(pdy, py_, cols, r, t); },
        [&](int64_t r, float v) { gcu::store_row_value(s, r, v); });
    for_each_index_host(rows * cols,
                        [&](int64_t t) { gcu::softmax_backward_at(t, pdy, py_, s, pdx, cols); });
  }
  return dx;
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(cuda_host_softmax) {
  using namespace gradcore::bindings;
  py::module_ h = cuda_host_module(m);
  h.def(
      "softmax_forward", [](py::array x) { return softmax_fwd(x, "softmax_forward", false); },
      py::arg("x"));
  h.def(
      "softmax_backward",
      [](py::array dy, py::array y) { return softmax_bwd(dy, y, "softmax_backward", false); },
      py::arg("dy"), py::arg("y"));
  h.def(
      "log_softmax_forward",
      [](py::array x) { return softmax_fwd(x, "log_softmax_forward", true); }, py::arg("x"));
  h.def(
      "log_softmax_backward",
      [](py::array dy, py::array y) { return softmax_bwd(dy, y, "log_softmax_backward", true); },
      py::arg("dy"), py::arg("y"));
}
