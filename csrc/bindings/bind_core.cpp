// Build information, threads, CPU capability and path tuning, denormal mode, and the native
// profiler's switch.
#include <algorithm>
#include <string>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "core/cpu_features.h"
#include "core/cpu_path_tuning.h"
#include "core/fpmode.h"
#include "core/malloc_tuning.h"
#include "core/parallel.h"
#include "core/workspace.h"
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
    d["cpu_has_avx2_fma"] =
        static_cast<int>(cpu_detected_capability()) >= static_cast<int>(CpuCapability::kAvx2Fma);
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
  m.def("threads_disabled_by_fork", &threads_disabled_by_fork,
        "True in a process forked after OpenMP threads had started: kernels use one thread.");
  m.def("fail_scratch_in_thread", &fail_scratch_in_thread, py::arg("thread"),
        "Test hook: per-thread scratch requests of OpenMP thread `thread` inside a parallel "
        "region raise std::bad_alloc (MemoryError) until called with -1.");
  // GRADCORE_CPU_CAPABILITY is applied once, here, when gradcore._C is imported; a level
  // this CPU or build cannot run fails the import (pybind11 raises it as ImportError).
  if (const std::string err = apply_cpu_capability_env(); !err.empty())
    throw py::import_error("gradcore: " + err);
  m.def(
      "cpu_capability", [] { return std::string(capability_name(cpu_capability())); },
      "The CPU capability level the kernels use now: 'generic', 'avx2_fma' or 'avx512'.");
  m.def(
      "cpu_default_capability",
      [] { return std::string(capability_name(cpu_default_capability())); },
      "The level selected when GRADCORE_CPU_CAPABILITY is unset (cpu_features.h, "
      "kDefaultCeiling: the best level the CPU and build support).");
  m.def(
      "cpu_detected_capability",
      [] { return std::string(capability_name(cpu_detected_capability())); },
      "The highest level the CPU and OS support, whatever this build implements.");
  m.def(
      "supported_cpu_capabilities",
      [] {
        py::list out;
        for (CpuCapability c : supported_cpu_capabilities()) out.append(capability_name(c));
        return out;
      },
      "Every level this CPU and build can run, lowest first.");
  m.def(
      "set_cpu_capability",
      [](const std::string& name) {
        CpuCapability c;
        std::string available;
        for (CpuCapability s : supported_cpu_capabilities())
          available += std::string(available.empty() ? "" : ", ") + capability_name(s);
        if (!parse_capability(name, &c))
          throw py::value_error(
              "set_cpu_capability: unknown level '" + name +
              "' (known: generic, avx2_fma, avx512; available here: " + available + ")");
        if (!set_cpu_capability(c))
          throw py::value_error(
              "set_cpu_capability: level '" + name +
              "' is not available on this CPU and build (available here: " + available + ")");
        return std::string(capability_name(cpu_capability()));
      },
      py::arg("name"), "Selects a capability level (for tests and benchmarks); returns it.");
  m.def(
      "cpu_path_tuning",
      [](const std::string& name) {
        CpuCapability c = cpu_capability();
        if (!name.empty() && !parse_capability(name, &c))
          throw py::value_error("cpu_path_tuning: unknown level '" + name + "'");
        const CpuPathTuning& t = cpu_path_tuning(c);
        auto blocking = [](const GemmBlocking& b) {
          py::dict d;
          d["mr"] = b.mr;
          d["nr"] = b.nr;
          d["mc"] = b.mc;
          d["kc"] = b.kc;
          d["nc"] = b.nc;
          return d;
        };
        py::dict d;
        d["name"] = t.name;
        d["gemm_f32"] = blocking(t.gemm_f32);
        d["gemm_f64"] = blocking(t.gemm_f64);
        d["l1d_bytes"] = t.l1d_bytes;
        d["l2_bytes"] = t.l2_bytes;
        d["flops_per_cycle_f32"] = t.flops_per_cycle_f32;
        d["flops_per_cycle_f64"] = t.flops_per_cycle_f64;
        d["winograd_min_channels"] = t.winograd_min_channels;
        return d;
      },
      py::arg("name") = "",
      "The tuning of a path (default: the selected one): GEMM blocking, the caches it was tuned "
      "for, peak FLOPs per cycle per core, and the least channel count of its Winograd "
      "convolutions (0: none).");
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
