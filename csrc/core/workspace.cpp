#include "core/workspace.h"

#include <atomic>
#include <cstdlib>
#include <new>

#include "core/parallel.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define GC_POISON_SCRATCH 1
#endif

namespace gradcore {
namespace {

struct Buffer {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  ~Buffer() {
#ifdef GC_POISON_SCRATCH
    if (ptr) ASAN_UNPOISON_MEMORY_REGION(ptr, bytes);
#endif
    std::free(ptr);
  }
};

thread_local Buffer tls_buffers[kNumWorkspaceSlots];

std::atomic<int> failing_thread{-1};  // fail_scratch_in_thread

}  // namespace

void fail_scratch_in_thread(int thread) {
  failing_thread.store(thread < 0 ? -1 : thread, std::memory_order_relaxed);
}

void* thread_scratch_bytes(int slot, std::size_t bytes) {
  const int failing = failing_thread.load(std::memory_order_relaxed);
  if (failing >= 0 && in_parallel() && thread_index() == failing) throw std::bad_alloc();
  Buffer& b = tls_buffers[slot];
  if (b.bytes < bytes) {
#ifdef GC_POISON_SCRATCH
    if (b.ptr) ASAN_UNPOISON_MEMORY_REGION(b.ptr, b.bytes);
#endif
    std::free(b.ptr);
    b.ptr = nullptr;
    b.bytes = 0;
    // Grow by 1.5x so slowly growing requests do not reallocate every call.
    std::size_t want = ((bytes + bytes / 2) + 63) / 64 * 64;
    b.ptr = std::aligned_alloc(64, want);
    if (!b.ptr) throw std::bad_alloc();
    b.bytes = want;
  }
#ifdef GC_POISON_SCRATCH
  // Under AddressSanitizer the bytes past this request are poisoned, so that a kernel that
  // writes past what it asked for is caught inside the growth slack too.
  ASAN_UNPOISON_MEMORY_REGION(b.ptr, bytes);
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(b.ptr) + bytes, b.bytes - bytes);
#endif
  return b.ptr;
}

}  // namespace gradcore
