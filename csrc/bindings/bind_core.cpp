// Build information, threads, SIMD path, denormal mode, and the native profiler's switch.
#include <algorithm>
#include <string>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "core/cpu_features.h"
#include "core/fpmode.h"
#include "core/malloc_tuning.h"
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
    d["malloc_tuned"] = tune_malloc();
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
  m.def("profiler_thread_id", &profiler::current_thread_id,
        "The calling thread's id as used in native records.");
  m.def("measure_clock_ghz", &profiler::measure_clock_ghz,
        "Core clock in GHz, measured with a dependent add chain (0 where unsupported).");
  m.def(
      "profiler_scope_cost_ns",
      [](int64_t iterations, bool enabled) {
        // Mean cost of one GC_PROFILE_SCOPE with profiling off or on (records are dropped).
        const bool before = profiler::enabled();
        profiler::set_enabled(enabled);
        const int64_t t0 = profiler::now_ns();
        for (int64_t i = 0; i < iterations; ++i) {
          GC_PROFILE_SCOPE("profiler_scope_cost", i, i, {i});
        }
        const int64_t dt = profiler::now_ns() - t0;
        profiler::set_enabled(before);
        if (enabled) profiler::take_records();
        return static_cast<double>(dt) / static_cast<double>(std::max<int64_t>(iterations, 1));
      },
      py::arg("iterations"), py::arg("enabled"));
  m.def(
      "profiler_take_records", [] { return bindings::records_to_python(profiler::take_records()); },
      "Drains native records: list of (name, start_ns, dur_ns, thread, flops, bytes, shapes).");
}
