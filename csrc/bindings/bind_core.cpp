// Build information, threads, SIMD path, denormal mode, and the native profiler's switch.
#include <string>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "core/cpu_features.h"
#include "core/fpmode.h"
#include "core/parallel.h"
#include "profiler/profiler.h"

#ifndef GRADCORE_VERSION
#define GRADCORE_VERSION "unknown"
#endif
#ifndef GRADCORE_COMPILER
#define GRADCORE_COMPILER "unknown"
#endif

namespace gradcore::bindings {
namespace {

py::list records_to_python(const std::vector<profiler::Record>& recs) {
  py::list out;
  for (const auto& r : recs) {
    py::list shapes;
    for (int i = 0; i < r.nshapes; ++i) {
      py::tuple s(r.ndim[i]);
      for (int d = 0; d < r.ndim[i]; ++d) s[d] = r.shape[i][d];
      shapes.append(s);
    }
    out.append(py::make_tuple(r.name, r.start_ns, r.dur_ns, r.thread, r.flops, r.bytes, shapes));
  }
  return out;
}

}  // namespace
}  // namespace gradcore::bindings

GRADCORE_BINDINGS(core) {
  using namespace gradcore;
  namespace py = pybind11;
  m.def("build_info", [] {
    py::dict d;
    d["version"] = GRADCORE_VERSION;
    d["compiler"] = GRADCORE_COMPILER;
    d["openmp"] = openmp_enabled();
    d["cuda_compiled"] = false;
    d["cpu_has_avx2_fma"] = cpu_has_avx2_fma();
    return d;
  });
  m.def("get_num_threads", &get_num_threads, "Threads used by native kernels.");
  m.def(
      "set_num_threads",
      [](int n) {
        if (n < 1)
          throw py::value_error("set_num_threads: n must be >= 1, got " + std::to_string(n));
        set_num_threads(n);
      },
      py::arg("n"));
  m.def("simd_path", [] { return std::string(simd_path_name(simd_path())); });
  m.def(
      "set_simd_path",
      [](const std::string& name) {
        if (name == "generic")
          set_simd_path(SimdPath::kGeneric);
        else if (name == "avx2_fma")
          set_simd_path(SimdPath::kAvx2Fma);
        else
          throw py::value_error("set_simd_path: expected 'generic' or 'avx2_fma', got '" + name +
                                "'");
        return std::string(simd_path_name(simd_path()));
      },
      py::arg("name"));
  m.def("flush_denormal_enabled", &flush_denormal_enabled);
  m.def("set_flush_denormal", &set_flush_denormal, py::arg("on"));
  m.def("profiler_set_enabled", &profiler::set_enabled, py::arg("on"));
  m.def("profiler_enabled", &profiler::enabled);
  m.def("profiler_now_ns", &profiler::now_ns);
  m.def(
      "profiler_take_records", [] { return bindings::records_to_python(profiler::take_records()); },
      "Drains native records: list of (name, start_ns, dur_ns, thread, flops, bytes, shapes).");
}
