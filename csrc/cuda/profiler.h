// CUDA side of the profiler (gradcore._C_cuda): every kernel launch of launch.cuh and every
// sgemm (cublas.cpp) opens a KernelScope, which, while profiling is on, records a pair of
// cudaEvents around the launch on the current stream, with the kernel's name (the CPU op
// name) and its FLOPs and bytes. Nothing is synchronised while recording; collect()
// synchronises once and turns each pair into (start, duration) on the steady clock of the
// CPU profiler (csrc/profiler/profiler.h), relative to a base event recorded by start().
// When profiling is off a launch costs one relaxed atomic load.
//
// Python (gradcore.profiler.profile) calls start() on entry, stop() and collect() on exit.
// Events come from a per-device pool and go back to it in collect(): a profile of a loop
// creates events only for the first profile's launches, never per launch afterwards.
#pragma once
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <vector>

namespace gradcore::cuda::profiler {

extern std::atomic<bool> g_enabled;
inline bool enabled() {
  return g_enabled.load(std::memory_order_relaxed);
}

// One kernel (or one sgemm) as collect() returns it.
struct KernelRecord {
  const char* name;  // a string literal (the launch helpers' names)
  int64_t start_ns;  // steady clock, the CPU profiler's now_ns()
  int64_t dur_ns;
  double flops;
  double bytes;
  int32_t stream;  // small id of the (device, stream) pair, in order of first use per profile
  int32_t device;
};

// Turns recording on: records the base event on the current device's current stream and
// waits for it (once, before the profiled code runs) so that the GPU and CPU clocks line up;
// keeps a reserve of pooled events. Returns false, doing nothing, where no GPU is visible.
// Devices first used during the profile get a base event when first used (not waited for:
// their start times may be late by the work queued before it).
bool start();
// Turns recording off (launches already recorded stay pending until collect()).
void stop();
// Waits for the recorded events, returns their records sorted by start and returns the events
// to the pool. Throws CudaError when an event cannot be read (a kernel faulted).
std::vector<KernelRecord> collect();

// An open span: its begin event is recorded; end_span records the end and queues it.
struct Span {
  cudaEvent_t begin = nullptr;
  cudaEvent_t end = nullptr;
  cudaStream_t stream = nullptr;
  int device = -1;
};
Span begin_span() noexcept;  // an empty Span (begin == nullptr) when recording failed
void end_span(const Span& s, const char* name, double flops, double bytes) noexcept;

// RAII around one launch: `KernelScope scope(name, flops, bytes); kernel<<<...>>>(...);`
class KernelScope {
 public:
  KernelScope(const char* name, double flops, double bytes)
      : name_(name), flops_(flops), bytes_(bytes) {
    if (enabled()) span_ = begin_span();
  }
  ~KernelScope() {
    if (span_.begin) end_span(span_, name_, flops_, bytes_);
  }
  KernelScope(const KernelScope&) = delete;
  KernelScope& operator=(const KernelScope&) = delete;

 private:
  const char* name_;
  double flops_;
  double bytes_;
  Span span_;
};

}  // namespace gradcore::cuda::profiler
