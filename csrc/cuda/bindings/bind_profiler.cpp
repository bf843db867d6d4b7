// The CUDA side of gradcore.profiler: start/stop recording kernel launches with CUDA events
// and collect them (csrc/cuda/profiler.h).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <tuple>
#include <vector>

#include "bindings/registry.h"
#include "cuda/profiler.h"

namespace py = pybind11;
namespace gp = gradcore::cuda::profiler;

GRADCORE_BINDINGS(cuda_profiler) {
  m.def("profiler_start", &gp::start,
        "Start recording CUDA kernels with events (waits once for the queued work); False, "
        "doing nothing, where no GPU is visible.");
  m.def("profiler_stop", &gp::stop, "Stop recording (recorded kernels stay until collected).");
  m.def("profiler_enabled", &gp::enabled);
  m.def(
      "profiler_collect",
      [] {
        std::vector<gp::KernelRecord> recs;
        {
          py::gil_scoped_release release;
          recs = gp::collect();
        }
        std::vector<std::tuple<std::string, int64_t, int64_t, double, double, int32_t, int32_t>>
            out;
        out.reserve(recs.size());
        for (const auto& r : recs)
          out.emplace_back(r.name, r.start_ns, r.dur_ns, r.flops, r.bytes, r.stream, r.device);
        return out;
      },
      "Wait for the recorded kernels; a list of (name, start_ns, duration_ns, flops, bytes, "
      "stream, device), start on the CPU profiler's steady clock, sorted by start.");
}
