#include "core/workspace.h"

#include <cstdlib>
#include <new>

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

}  // namespace

void* thread_scratch_bytes(int slot, std::size_t bytes) {
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
