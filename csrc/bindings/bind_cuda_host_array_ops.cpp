// CPU test driver of csrc/cuda/array_ops.cu (see cuda_host.h): the same names, arguments,
// planning (cuda/array_plan.h) and per-thread bodies (cuda/array_ops_threads.h) on numpy
// arrays of the same dtypes; float32 reductions emulate the GPU's block tree exactly.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings/cuda_host.h"
#include "bindings/registry.h"
#include "cuda/array_ops_threads.h"
#include "cuda/array_plan.h"
#include "cuda/bindings/array_args.h"

namespace gradcore::bindings {
namespace {

namespace py = pybind11;
namespace gcu = gradcore::cuda;
namespace plan = gradcore::cuda::plan;
namespace args = gradcore::cuda::args;
using gcu::Indexer;

// A numpy array as the kernels see a DeviceArray: C-contiguous (a strided view is copied),
// with its DType.
struct Arr {
  py::array a;
  gcu::DType dt;
  plan::Shape shape;
  int64_t size() const { return static_cast<int64_t>(a.size()); }
  const void* data() const { return a.data(); }
};
Arr arr(const py::handle& h, const std::string& fn, const std::string& arg) {
  if (!py::isinstance<py::array>(h))
    throw py::type_error(fn + ": " + arg + " must be a numpy array");
  py::array a = py::array::ensure(h, py::array::c_style);
  const gcu::DType dt = plan::dtype_from_str(py::str(a.dtype().attr("name")), fn, arg);
  return {a, dt, plan::Shape(a.shape(), a.shape() + a.ndim())};
}
py::array new_out(gcu::DType dt, const plan::Shape& shape) {
  return py::array(py::dtype(plan::dtype_name(dt)),
                   std::vector<py::ssize_t>(shape.begin(), shape.end()));
}

template <class T, class R>
void binary_typed(gcu::BinOp op, const T* a, const Indexer& ia, const T* b, const Indexer& ib,
                  R* out, int64_t n) {
  for_each_index_host(n, [&](int64_t t) { gcu::binary_at<T, R>(t, op, a, ia, b, ib, out); });
}

py::array broadcast_binary(const char* fn, const std::string& op_name, const Arr& a, const Arr& b) {
  const gcu::BinOp op = plan::binop_from_str(op_name, fn);
  const gcu::DType out_dt = plan::binary_result(fn, op, a.dt, b.dt);
  const plan::Shape s = plan::broadcast_shapes({{"a", a.shape}, {"b", b.shape}}, fn);
  py::array out = new_out(out_dt, s);
  const auto ix = plan::broadcast_indexers({a.shape, b.shape}, s);
  const Indexer ia = ix[0], ib = ix[1];
  const int64_t n = static_cast<int64_t>(out.size());
  plan::dispatch_cast_dtype(a.dt, fn, "a", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = static_cast<const T*>(a.data());
    const T* pb = static_cast<const T*>(b.data());
    if (out_dt == gcu::DType::kBool)
      binary_typed<T, bool>(op, pa, ia, pb, ib, static_cast<bool*>(out.mutable_data()), n);
    else
      binary_typed<T, T>(op, pa, ia, pb, ib, static_cast<T*>(out.mutable_data()), n);
  });
  return out;
}

py::array binary_scalar(const char* fn, const std::string& op_name, const Arr& a,
                        const plan::Scalar& s, bool left) {
  const gcu::BinOp op = plan::binop_from_str(op_name, fn);
  const gcu::DType out_dt = plan::binary_result(fn, op, a.dt, a.dt);
  plan::check_scalar(fn, op, a.dt, s, left ? "a" : "b");
  plan::check_rank(a.shape, fn, left ? "b" : "a");
  py::array out = new_out(out_dt, a.shape);
  const int64_t n = a.size();
  plan::dispatch_cast_dtype(a.dt, fn, "a", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = static_cast<const T*>(a.data());
    const T v = plan::scalar_as<T>(s);
    if (out_dt == gcu::DType::kBool) {
      bool* o = static_cast<bool*>(out.mutable_data());
      for_each_index_host(
          n, [&](int64_t t) { gcu::binary_scalar_at<T, bool>(t, op, pa, v, left, o); });
    } else {
      T* o = static_cast<T*>(out.mutable_data());
      for_each_index_host(n,
                          [&](int64_t t) { gcu::binary_scalar_at<T, T>(t, op, pa, v, left, o); });
    }
  });
  return out;
}

py::array reduce(const std::string& op, const Arr& a, const py::object& axes, bool keepdims) {
  const plan::ReducePlan p =
      plan::plan_reduce("reduce", op, a.dt, a.shape, args::axes_arg(axes, "reduce"), keepdims);
  py::array out = new_out(p.out_dtype, p.out_shape);
  if (p.nrows == 0) return out;
  const Indexer rows = p.rows, red = p.red;
  const int64_t len = p.len;
  if (a.dt == gcu::DType::kInt64) {
    const int64_t* x = static_cast<const int64_t*>(a.data());
    int64_t* o = static_cast<int64_t*>(out.mutable_data());
    for_each_index_host(p.nrows,
                        [&](int64_t r) { gcu::reduce_int_row_at(r, p.op, x, rows, red, len, o); });
  } else {
    const float* x = static_cast<const float*>(a.data());
    float* o = static_cast<float*>(out.mutable_data());
    gcu::for_each_row_reduce_with_host(
        p.nrows, gcu::ReduceStep{p.op},
        [&](int64_t r, int t) { return gcu::reduce_partial(p.op, x, rows, red, len, r, t); },
        [&](int64_t r, float v) { gcu::reduce_finish(p.op, o, len, r, v); });
  }
  return out;
}

py::array astype(const Arr& a, const py::object& dtype) {
  const gcu::DType to = plan::dtype_from_str(args::dtype_name_of(dtype), "astype", "dtype");
  plan::dispatch_cast_dtype(a.dt, "astype", "a", [](auto) {});
  plan::dispatch_cast_dtype(to, "astype", "dtype", [](auto) {});
  py::array out = new_out(to, a.shape);
  const int64_t n = a.size();
  plan::dispatch_cast_dtype(a.dt, "astype", "a", [&](auto src_tag) {
    using Src = decltype(src_tag);
    plan::dispatch_cast_dtype(to, "astype", "dtype", [&](auto dst_tag) {
      using Dst = decltype(dst_tag);
      const Src* pa = static_cast<const Src*>(a.data());
      Dst* o = static_cast<Dst*>(out.mutable_data());
      for_each_index_host(n, [&](int64_t t) { gcu::astype_at<Dst, Src>(t, pa, o); });
    });
  });
  return out;
}

void fill(const py::handle& h, const py::object& value) {
  if (!py::isinstance<py::array>(h)) throw py::type_error("fill_: a must be a numpy array");
  py::array a = py::reinterpret_borrow<py::array>(h);
  if (!(a.flags() & py::array::c_style) || !a.writeable())
    throw py::value_error("fill_: a must be a writable C-contiguous array");
  const plan::Scalar s = args::scalar_arg(value, "fill_", "value");
  const gcu::DType dt = plan::dtype_from_str(py::str(a.dtype().attr("name")), "fill_", "a");
  plan::dispatch_cast_dtype(dt, "fill_", "a", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(a.mutable_data());
    const T v = plan::fill_value<T>(s);
    for_each_index_host(static_cast<int64_t>(a.size()),
                        [&](int64_t t) { gcu::fill_at<T>(t, p, v); });
  });
}

py::array strided_copy(const Arr& a, const py::object& shape, const py::object& strides,
                       int64_t offset) {
  const plan::Shape sh = args::int_list(shape, "strided_copy", "shape");
  const Indexer ix = plan::plan_strided("strided_copy", a.size(), sh,
                                        args::int_list(strides, "strided_copy", "strides"), offset);
  py::array out(a.a.dtype(), std::vector<py::ssize_t>(sh.begin(), sh.end()));
  plan::dispatch_bytes(plan::itemsize(a.dt), [&](auto tag) {
    using E = decltype(tag);
    const E* pa = static_cast<const E*>(a.data());
    E* o = static_cast<E*>(out.mutable_data());
    for_each_index_host(static_cast<int64_t>(out.size()),
                        [&](int64_t t) { gcu::strided_copy_at<E>(t, pa, ix, o); });
  });
  return out;
}

py::array where(const Arr& c, const Arr& a, const Arr& b) {
  if (c.dt != gcu::DType::kBool)
    plan::fail_type("where", std::string("cond must be bool, got ") + plan::dtype_name(c.dt));
  if (a.dt != b.dt)
    plan::fail_type("where", std::string("a (") + plan::dtype_name(a.dt) + ") and b (" +
                                 plan::dtype_name(b.dt) + ") must have the same dtype on CUDA");
  const plan::Shape s =
      plan::broadcast_shapes({{"cond", c.shape}, {"a", a.shape}, {"b", b.shape}}, "where");
  py::array out(a.a.dtype(), std::vector<py::ssize_t>(s.begin(), s.end()));
  const auto ix = plan::broadcast_indexers({c.shape, a.shape, b.shape}, s);
  const Indexer ic = ix[0], ia = ix[1], ib = ix[2];
  const bool* pc = static_cast<const bool*>(c.data());
  plan::dispatch_bytes(plan::itemsize(a.dt), [&](auto tag) {
    using E = decltype(tag);
    const E* pa = static_cast<const E*>(a.data());
    const E* pb = static_cast<const E*>(b.data());
    E* o = static_cast<E*>(out.mutable_data());
    for_each_index_host(static_cast<int64_t>(out.size()),
                        [&](int64_t t) { gcu::where_at<E>(t, pc, ic, pa, ia, pb, ib, o); });
  });
  return out;
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(cuda_host_array_ops) {
  using namespace gradcore::bindings;
  namespace args = gradcore::cuda::args;
  py::module_ h = cuda_host_module(m);
  h.def(
      "binary_op",
      [](const std::string& op, const py::object& a, const py::object& b) {
        return args::planned([&] {
          const Arr x = arr(a, "binary_op", "a");
          if (py::isinstance<py::array>(b))
            return broadcast_binary("binary_op", op, x, arr(b, "binary_op", "b"));
          return binary_scalar("binary_op", op, x, args::scalar_arg(b, "binary_op", "b"), false);
        });
      },
      py::arg("op"), py::arg("a"), py::arg("b"));
  h.def(
      "binary_op_scalar_left",
      [](const std::string& op, const py::object& a, const py::object& b) {
        return args::planned([&] {
          const auto s = args::scalar_arg(a, "binary_op_scalar_left", "a");
          return binary_scalar("binary_op_scalar_left", op, arr(b, "binary_op_scalar_left", "b"), s,
                               true);
        });
      },
      py::arg("op"), py::arg("a"), py::arg("b"));
  h.def(
      "unary_op",
      [](const std::string& op_name, const py::object& a) {
        return args::planned([&] {
          const gradcore::cuda::UnOp op = gradcore::cuda::plan::unop_from_str(op_name, "unary_op");
          const Arr x = arr(a, "unary_op", "a");
          gradcore::cuda::plan::check_unary("unary_op", op, x.dt);
          py::array out = new_out(x.dt, x.shape);
          const float* px = static_cast<const float*>(x.data());
          float* o = static_cast<float*>(out.mutable_data());
          for_each_index_host(x.size(), [&](int64_t t) { gradcore::cuda::unary_at(t, op, px, o); });
          return out;
        });
      },
      py::arg("op"), py::arg("a"));
  h.def(
      "reduce",
      [](const std::string& op, const py::object& a, const py::object& axes, bool keepdims) {
        return args::planned([&] { return reduce(op, arr(a, "reduce", "a"), axes, keepdims); });
      },
      py::arg("op"), py::arg("a"), py::arg("axes") = py::none(), py::arg("keepdims") = false);
  h.def(
      "astype",
      [](const py::object& a, const py::object& dtype) {
        return args::planned([&] { return astype(arr(a, "astype", "a"), dtype); });
      },
      py::arg("a"), py::arg("dtype"));
  h.def(
      "fill_",
      [](const py::object& a, const py::object& value) { args::planned([&] { fill(a, value); }); },
      py::arg("a"), py::arg("value"));
  h.def(
      "strided_copy",
      [](const py::object& a, const py::object& shape, const py::object& strides, int64_t offset) {
        return args::planned(
            [&] { return strided_copy(arr(a, "strided_copy", "a"), shape, strides, offset); });
      },
      py::arg("a"), py::arg("shape"), py::arg("strides"), py::arg("offset") = 0);
  h.def(
      "where",
      [](const py::object& cond, const py::object& a, const py::object& b) {
        return args::planned([&] {
          return where(arr(cond, "where", "cond"), arr(a, "where", "a"), arr(b, "where", "b"));
        });
      },
      py::arg("cond"), py::arg("a"), py::arg("b"));
}
