// float32 <-> bfloat16 conversion (gradcore.bfloat16 storage: uint16 bit patterns).
#include <algorithm>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "cpu/convert.h"

GRADCORE_BINDINGS(convert) {
  using namespace gradcore::bindings;
  namespace gc = gradcore;
  m.def(
      "float_to_bfloat16",
      [](py::array x) {
        const char* op = "float_to_bfloat16";
        if (!py::isinstance<py::array_t<float>>(x) || x.dtype().kind() != 'f' || x.itemsize() != 4)
          fail_type(op, "x must be a float32 array, got " + std::string(py::str(x.dtype())));
        py::array_t<float, py::array::c_style> xc(x);
        py::array_t<uint16_t> out(std::vector<py::ssize_t>(xc.shape(), xc.shape() + xc.ndim()));
        const float* px = xc.data();
        uint16_t* po = out.mutable_data();
        const int64_t n = xc.size();
        run_kernel([&] { gc::float_to_bfloat16(px, po, n); });
        return out;
      },
      py::arg("x"),
      "bfloat16 bit patterns (uint16, same shape) of float32 x, rounded to nearest even.");
  m.def(
      "bfloat16_to_float",
      [](py::array x) {
        const char* op = "bfloat16_to_float";
        if (x.dtype().kind() != 'u' || x.itemsize() != 2)
          fail_type(op, "x must hold bfloat16 bit patterns as uint16, got " +
                            std::string(py::str(x.dtype())));
        py::array_t<uint16_t, py::array::c_style> xc(x);
        py::array_t<float> out(std::vector<py::ssize_t>(xc.shape(), xc.shape() + xc.ndim()));
        const uint16_t* px = xc.data();
        float* po = out.mutable_data();
        const int64_t n = xc.size();
        run_kernel([&] { gc::bfloat16_to_float(px, po, n); });
        return out;
      },
      py::arg("x"), "float32 values (same shape) of bfloat16 bit patterns given as uint16.");
  m.def(
      "round_to_bfloat16",
      [](py::array x, py::object out) {
        const char* op = "round_to_bfloat16";
        check_array(x, op, "x", DType::kFloat32);
        py::array o = out.is_none() ? new_array(DType::kFloat32, shape_of(x))
                                    : optional_array(out, op, "out");
        if (!out.is_none()) {
          check_output(o, op, "out", DType::kFloat32);
          if (o.ndim() != x.ndim() || !std::equal(x.shape(), x.shape() + x.ndim(), o.shape()))
            fail_value(op, "out must have x's shape " + shape_str(x) + ", got " + shape_str(o));
          if (o.data() != x.data()) check_no_overlap(o, x, op, "out", "x");
        }
        const float* px = data_ptr<float>(static_cast<const py::array&>(x));
        float* po = data_ptr<float>(o);
        const int64_t n = x.size();
        run_kernel([&] { gc::round_to_bfloat16(px, po, n); });
        return o;
      },
      py::arg("x"), py::arg("out") = py::none(),
      "float32 x rounded to bfloat16 (nearest even), as float32: a new array, or written into "
      "`out` (x itself allowed: in place).");
}
