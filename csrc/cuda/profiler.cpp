#include "cuda/profiler.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "cuda/runtime.h"

namespace gradcore::cuda::profiler {

std::atomic<bool> g_enabled{false};

namespace {

constexpr std::size_t kReserve = 256;  // pooled events kept ready on the start device

// The CPU profiler's clock (csrc/profiler/profiler.cpp): the steady clock, in ns.
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Base {
  cudaEvent_t event = nullptr;  // created once per device, re-recorded by each profile
  int64_t cpu_ns = 0;           // the steady clock when the GPU reached (start device) or
                                // the CPU recorded (other devices) the event
  bool valid = false;           // recorded during the current profile
};

struct Pending {
  Span span;
  const char* name;
  double flops;
  double bytes;
  int32_t stream;
};

struct State {
  std::mutex mu;
  std::map<int, std::vector<cudaEvent_t>> pool;  // device -> free events
  std::map<int, Base> bases;
  std::vector<Pending> pending;
  std::map<std::pair<int, cudaStream_t>, int32_t> stream_ids;
};

State& state() {
  static State* s = new State();  // never destroyed: the events outlive static destruction
  return *s;
}

// A timing event of the current device: from the pool, or created.
cudaEvent_t pop_event(State& s, int device) {
  auto& free = s.pool[device];
  if (!free.empty()) {
    cudaEvent_t e = free.back();
    free.pop_back();
    return e;
  }
  cudaEvent_t e = nullptr;
  if (cudaEventCreate(&e) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return e;
}

void recycle(State& s, const Span& span) {
  auto& free = s.pool[span.device];
  if (span.begin) free.push_back(span.begin);
  if (span.end) free.push_back(span.end);
}

}  // namespace

bool start() {
  if (device_count() == 0) return false;
  State& s = state();
  const int device = current_device();
  const cudaStream_t stream = current_stream();
  cudaEvent_t base_event = nullptr;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    for (const Pending& p : s.pending) recycle(s, p.span);  // never collected: drop
    s.pending.clear();
    s.stream_ids.clear();
    for (auto& [dev, base] : s.bases) base.valid = false;
    auto& free = s.pool[device];
    while (free.size() < kReserve) {
      cudaEvent_t e = nullptr;
      check(cudaEventCreate(&e), "cudaEventCreate (profiler)");
      free.push_back(e);
    }
    Base& base = s.bases[device];
    if (!base.event) check(cudaEventCreate(&base.event), "cudaEventCreate (profiler)");
    check(cudaEventRecord(base.event, stream), "cudaEventRecord (profiler)");
    base_event = base.event;
  }
  // Wait for the work queued before the profile, so the base event's GPU time is now.
  check(cudaEventSynchronize(base_event), "cudaEventSynchronize (profiler)");
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.bases[device].cpu_ns = now_ns();
    s.bases[device].valid = true;
  }
  g_enabled.store(true, std::memory_order_relaxed);
  return true;
}

void stop() {
  g_enabled.store(false, std::memory_order_relaxed);
}

Span begin_span() noexcept {
  Span span;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();
    return span;
  }
  cudaStream_t stream = nullptr;
  try {
    stream = current_stream();
  } catch (...) {
    return span;
  }
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  Base& base = s.bases[device];
  if (!base.valid) {  // first use of this device in this profile
    if (!base.event && cudaEventCreate(&base.event) != cudaSuccess) {
      cudaGetLastError();
      base.event = nullptr;
      return span;
    }
    if (cudaEventRecord(base.event, stream) != cudaSuccess) {
      cudaGetLastError();
      return span;
    }
    base.cpu_ns = now_ns();
    base.valid = true;
  }
  span.device = device;
  span.stream = stream;
  span.begin = pop_event(s, device);
  span.end = pop_event(s, device);
  if (!span.begin || !span.end || cudaEventRecord(span.begin, stream) != cudaSuccess) {
    cudaGetLastError();
    recycle(s, span);
    return Span{};
  }
  return span;
}

void end_span(const Span& span, const char* name, double flops, double bytes) noexcept {
  State& s = state();
  const bool recorded = cudaEventRecord(span.end, span.stream) == cudaSuccess;
  if (!recorded) cudaGetLastError();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!recorded) {
    recycle(s, span);
    return;
  }
  try {
    auto key = std::make_pair(span.device, span.stream);
    auto it = s.stream_ids.find(key);
    if (it == s.stream_ids.end())
      it = s.stream_ids.emplace(key, static_cast<int32_t>(s.stream_ids.size())).first;
    s.pending.push_back(Pending{span, name, flops, bytes, it->second});
  } catch (...) {  // out of host memory: drop the record
    recycle(s, span);
  }
}

std::vector<KernelRecord> collect() {
  State& s = state();
  std::vector<Pending> pending;
  std::map<int, Base> bases;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    pending.swap(s.pending);
    bases = s.bases;
  }
  std::vector<KernelRecord> out;
  out.reserve(pending.size());
  // Start times chain from event to event on each device (base, then each begin in record
  // order): each step is a short interval, so float milliseconds keep sub-microsecond
  // precision however long the profile ran.
  std::map<int, std::pair<cudaEvent_t, double>> last;  // device -> (event, its time in ns)
  cudaError_t err = cudaSuccess;
  const char* what = "";
  for (const Pending& p : pending) {
    auto b = bases.find(p.span.device);
    if (b == bases.end() || !b->second.valid) continue;
    auto it = last.find(p.span.device);
    if (it == last.end())
      it = last.emplace(p.span.device,
                        std::make_pair(b->second.event, static_cast<double>(b->second.cpu_ns)))
               .first;
    float since = 0.f, dur = 0.f;
    if ((err = cudaEventSynchronize(p.span.end)) != cudaSuccess) {
      what = "cudaEventSynchronize (profiler)";
      break;
    }
    if ((err = cudaEventElapsedTime(&since, it->second.first, p.span.begin)) != cudaSuccess ||
        (err = cudaEventElapsedTime(&dur, p.span.begin, p.span.end)) != cudaSuccess) {
      what = "cudaEventElapsedTime (profiler)";
      break;
    }
    const double start = it->second.second + 1e6 * static_cast<double>(since);
    it->second = {p.span.begin, start};
    out.push_back(KernelRecord{p.name, static_cast<int64_t>(start),
                               static_cast<int64_t>(1e6 * static_cast<double>(dur)), p.flops,
                               p.bytes, p.stream, p.span.device});
  }
  {
    std::lock_guard<std::mutex> lock(s.mu);
    for (const Pending& p : pending) recycle(s, p.span);
  }
  if (err != cudaSuccess) check(err, what);
  std::sort(out.begin(), out.end(),
            [](const KernelRecord& a, const KernelRecord& b) { return a.start_ns < b.start_ns; });
  return out;
}

}  // namespace gradcore::cuda::profiler
