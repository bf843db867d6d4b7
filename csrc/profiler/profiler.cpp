#include "profiler/profiler.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>

namespace gradcore::profiler {

std::atomic<bool> g_enabled{false};

namespace {

// One buffer per thread that ever recorded. Buffers are owned by the registry and
// outlive their threads, so records of finished threads are not lost.
struct ThreadBuffer {
  std::mutex mu;  // uncontended except while take_records() drains this buffer
  std::vector<Record> records;
  int32_t id = 0;
};

struct Registry {
  std::mutex mu;
  std::vector<std::unique_ptr<ThreadBuffer>> buffers;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: threads may record during exit
  return *r;
}

ThreadBuffer* this_thread_buffer() {
  thread_local ThreadBuffer* buf = [] {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    r.buffers.push_back(std::make_unique<ThreadBuffer>());
    ThreadBuffer* b = r.buffers.back().get();
    b->id = static_cast<int32_t>(r.buffers.size() - 1);
    b->records.reserve(1024);
    return b;
  }();
  return buf;
}

}  // namespace

void set_enabled(bool on) {
  g_enabled.store(on, std::memory_order_relaxed);
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int32_t current_thread_id() {
  return this_thread_buffer()->id;
}

double measure_clock_ghz() {
#if defined(__x86_64__)
  constexpr int64_t kIters = 5'000'000;  // x 8 adds each
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    uint64_t x = 0;
    const int64_t t0 = now_ns();
    for (int64_t i = 0; i < kIters; ++i) {
      asm volatile(
          "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
          "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
          : "+r"(x));
    }
    const int64_t dt = now_ns() - t0;
    if (dt > 0) best = std::max(best, 8.0 * kIters / static_cast<double>(dt));
  }
  return best;
#else
  return 0.0;
#endif
}

void push(const Record& r) {
  ThreadBuffer* b = this_thread_buffer();
  std::lock_guard<std::mutex> lock(b->mu);
  b->records.push_back(r);
  b->records.back().thread = b->id;
}

std::vector<Record> take_records() {
  std::vector<Record> out;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (auto& b : r.buffers) {
    std::lock_guard<std::mutex> block(b->mu);
    out.insert(out.end(), b->records.begin(), b->records.end());
    b->records.clear();
  }
  std::sort(out.begin(), out.end(),
            [](const Record& a, const Record& b) { return a.start_ns < b.start_ns; });
  return out;
}

void Scope::set(double flops, double bytes,
                std::initializer_list<std::initializer_list<int64_t>> shapes) {
  rec_.flops = flops;
  rec_.bytes = bytes;
  int i = 0;
  for (const auto& s : shapes) {
    if (i == kMaxShapes) break;
    int d = 0;
    for (int64_t v : s) {
      if (d == kMaxDims) break;
      rec_.shape[i][d++] = v;
    }
    rec_.ndim[i++] = d;
  }
  rec_.nshapes = i;
}

}  // namespace gradcore::profiler
