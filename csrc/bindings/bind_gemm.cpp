// gemm(a, b, c=None, trans_a=False, trans_b=False, alpha=1, beta=0) -> c
//   c = alpha * op(a) @ op(b) + beta * c; matrices may have a leading dimension larger
//   than their width (row slices of a wider array), but unit stride along rows.
#include <string>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_bf16.h"

namespace gradcore::bindings {
namespace {

// Leading dimension (in elements) of a 2-d matrix with unit inner stride.
int64_t leading_dim(const py::array& a, const char* op, const char* arg) {
  if (a.ndim() != 2)
    fail_value(op, std::string(arg) + " must be a 2-d matrix, got shape " + shape_str(a));
  const auto item = static_cast<int64_t>(a.itemsize());
  const int64_t rows = a.shape(0), cols = a.shape(1);
  const int64_t s0 = a.strides(0), s1 = a.strides(1);
  if (rows == 0 || cols == 0) return std::max<int64_t>(cols, 1);  // no element is read
  if (cols > 1 && s1 != item)
    fail_value(op, std::string(arg) + " must have unit stride along its rows (got strides (" +
                       std::to_string(s0) + ", " + std::to_string(s1) + "))");
  if (rows <= 1) return std::max<int64_t>(cols, 1);
  if (s0 % item != 0 || s0 / item < cols)
    fail_value(op, std::string(arg) + " has a row stride smaller than its width or not a " +
                       "multiple of its item size");
  return s0 / item;
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(gemm) {
  using namespace gradcore::bindings;
  m.def(
      "gemm",
      [](py::array a, py::array b, py::object c_obj, bool trans_a, bool trans_b, double alpha,
         double beta) {
        const char* op = "gemm";
        const DType dt = float_dtype(a, op, "a");
        if (float_dtype(b, op, "b") != dt)
          fail_type(op, std::string("a and b must have the same dtype, got ") + dtype_name(dt) +
                            " and " + dtype_name(float_dtype(b, op, "b")));
        const int64_t lda = leading_dim(a, op, "a"), ldb = leading_dim(b, op, "b");
        const int64_t M = trans_a ? dim(a, 1) : dim(a, 0), Ka = trans_a ? dim(a, 0) : dim(a, 1);
        const int64_t Kb = trans_b ? dim(b, 1) : dim(b, 0), N = trans_b ? dim(b, 0) : dim(b, 1);
        if (Ka != Kb)
          fail_value(op, "inner sizes differ: op(a) is " + std::to_string(M) + "x" +
                             std::to_string(Ka) + " but op(b) is " + std::to_string(Kb) + "x" +
                             std::to_string(N) + " (a " + shape_str(a) + ", b " + shape_str(b) +
                             ", trans_a=" + (trans_a ? "True" : "False") +
                             ", trans_b=" + (trans_b ? "True" : "False") + ")");
        py::array c;
        int64_t ldc = N;
        if (c_obj.is_none()) {
          c = new_array(dt, {M, N}, /*zero=*/false);
          beta = 0.0;
        } else {
          c = c_obj.cast<py::array>();
          if (float_dtype(c, op, "c") != dt) fail_type(op, "c must have the same dtype as a and b");
          if (!c.writeable()) fail_value(op, "c must be writable");
          ldc = leading_dim(c, op, "c");
          if (dim(c, 0) != M || dim(c, 1) != N)
            fail_value(op, "c must have shape (" + std::to_string(M) + ", " + std::to_string(N) +
                               "), got " + shape_str(c));
          check_no_overlap(c, a, op, "c", "a");
          check_no_overlap(c, b, op, "c", "b");
        }
        dispatch_float(dt, [&](auto tag) {
          using T = decltype(tag);
          const T* pa = data_ptr<T>(static_cast<const py::array&>(a));
          const T* pb = data_ptr<T>(static_cast<const py::array&>(b));
          T* pc = data_ptr<T>(c);
          run_kernel([&] {
            gradcore::gemm<T>(trans_a, trans_b, M, N, Ka, static_cast<T>(alpha), pa, lda, pb, ldb,
                              static_cast<T>(beta), pc, ldc);
          });
        });
        return c;
      },
      py::arg("a"), py::arg("b"), py::arg("c") = py::none(), py::arg("trans_a") = false,
      py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
      "c = alpha * op(a) @ op(b) + beta * c (float32/float64; c allocated when None).");
  m.def(
      "gemm_tile_for",
      [](int64_t m, int64_t n, const std::string& dtype) {
        if (m < 0 || n < 0) fail_value("gemm_tile_for", "m and n must be >= 0");
        gradcore::GemmTile t{};
        if (dtype == "float32")
          t = gradcore::gemm_tile_for<float>(m, n);
        else if (dtype == "float64")
          t = gradcore::gemm_tile_for<double>(m, n);
        else
          fail_value("gemm_tile_for", "dtype must be 'float32' or 'float64', got '" + dtype + "'");
        return py::make_tuple(std::string(t.path), t.mr, t.nr);
      },
      py::arg("m"), py::arg("n"), py::arg("dtype") = "float32",
      "(path, MR, NR) that multiply an m x n product (n = 0: wide) on the selected CPU path.");
  m.def("set_gemm_narrow_route", &gradcore::gemm_detail::set_narrow_route, py::arg("enabled"),
        "Tests: False makes every GEMM use the selected path's tiles, True (default) lets "
        "narrow products take a path with narrower tiles.");
  m.def(
      "gemm_bf16",
      [](py::array a, py::array b, bool trans_b) {
        const char* op = "gemm_bf16";
        for (const auto& [arr, name] : {std::pair{a, "a"}, std::pair{b, "b"}}) {
          if (arr.dtype().kind() != 'u' || arr.itemsize() != 2)
            fail_type(op, std::string(name) + " must hold bfloat16 bit patterns as uint16, got " +
                              std::string(py::str(arr.dtype())));
          if (arr.ndim() != 2)
            fail_value(op, std::string(name) + " must be 2-d, got shape " + shape_str(arr));
        }
        py::array_t<uint16_t, py::array::c_style> ac(a), bc(b);
        const int64_t M = ac.shape(0), K = ac.shape(1);
        const int64_t Kb = trans_b ? bc.shape(1) : bc.shape(0);
        const int64_t N = trans_b ? bc.shape(0) : bc.shape(1);
        if (K != Kb)
          fail_value(op, "inner sizes differ: a is " + shape_str(a) + ", b is " + shape_str(b) +
                             (trans_b ? " (trans_b)" : ""));
        py::array_t<float> c({M, N});
        const uint16_t* pa = ac.data();
        const uint16_t* pb = bc.data();
        float* pc = c.mutable_data();
        const int64_t ldb = bc.shape(1);
        run_kernel([&] { gradcore::gemm_bf16(trans_b, M, N, K, pa, K, pb, ldb, pc, N); });
        return c;
      },
      py::arg("a"), py::arg("b"), py::arg("trans_b") = false,
      "float32 a @ op(b) for bfloat16 a (M, K) and b (K, N), or b (N, K) with trans_b, given as "
      "uint16 bit patterns; float32 accumulation.");
  m.def(
      "gemm_bf16_route", [] { return std::string(gradcore::gemm_bf16_route()); },
      "'avx512_bf16' (vdpbf16ps) or 'float32' (widened operands): how gemm_bf16 runs here.");
}
