// Native profiler: every kernel entry point opens a GC_PROFILE_SCOPE, which, when
// profiling is on, records name, shapes, start/duration (steady clock, ns), thread,
// FLOPs and bytes moved into a per-thread buffer (no lock shared between threads on
// the hot path). When profiling is off it costs one relaxed atomic load.
//
//   GC_PROFILE_SCOPE("conv2d_forward", flops, bytes, {N, C, H, W}, {K, C, R, S});
//
// The FLOP and byte expressions and the shapes are evaluated only when profiling is on.
#pragma once
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace gradcore::profiler {

constexpr int kMaxShapes = 4;
constexpr int kMaxDims = 6;

struct Record {
  const char* name;  // a string literal: kernel names live for the whole program
  int64_t start_ns;
  int64_t dur_ns;
  int32_t thread;  // small sequential id of the recording thread (0 = first seen)
  int32_t nshapes;
  double flops;
  double bytes;
  int32_t ndim[kMaxShapes];
  int64_t shape[kMaxShapes][kMaxDims];
};

extern std::atomic<bool> g_enabled;
inline bool enabled() {
  return g_enabled.load(std::memory_order_relaxed);
}
void set_enabled(bool on);

// Nanoseconds on the steady clock; Python-side spans use the same clock.
int64_t now_ns();

// Moves every thread's records out (in no particular order) and clears the buffers.
std::vector<Record> take_records();

void push(const Record& r);

// The calling thread's small sequential id, as stored in Record::thread.
int32_t current_thread_id();

// Measures the core clock (GHz) with a chain of dependent integer adds, which retire
// one per cycle on x86-64; used to estimate the machine's peak FLOP rate.
double measure_clock_ghz();

class Scope {
 public:
  explicit Scope(const char* name) : active_(enabled()) {
    if (active_) {
      rec_.name = name;
      rec_.nshapes = 0;
      rec_.flops = 0;
      rec_.bytes = 0;
      rec_.start_ns = now_ns();
    }
  }
  ~Scope() {
    if (active_) {
      rec_.dur_ns = now_ns() - rec_.start_ns;
      push(rec_);
    }
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

  bool active() const { return active_; }
  void set(double flops, double bytes,
           std::initializer_list<std::initializer_list<int64_t>> shapes);

 private:
  bool active_;
  Record rec_;
};

}  // namespace gradcore::profiler

#define GC_PROFILE_CONCAT2(a, b) a##b
#define GC_PROFILE_CONCAT(a, b) GC_PROFILE_CONCAT2(a, b)
#define GC_PROFILE_SCOPE(NAME, FLOPS, BYTES, ...)                          \
  ::gradcore::profiler::Scope GC_PROFILE_CONCAT(gc_prof_, __LINE__)(NAME); \
  if (GC_PROFILE_CONCAT(gc_prof_, __LINE__).active())                      \
  GC_PROFILE_CONCAT(gc_prof_, __LINE__)                                    \
      .set(static_cast<double>(FLOPS), static_cast<double>(BYTES), {__VA_ARGS__})
