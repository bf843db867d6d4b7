#include "core/workspace.h"

#include <cstdlib>
#include <new>

namespace gradcore {
namespace {

struct Buffer {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  ~Buffer() { std::free(ptr); }
};

thread_local Buffer tls_buffers[kNumWorkspaceSlots];

}  // namespace

void* thread_scratch_bytes(int slot, std::size_t bytes) {
  Buffer& b = tls_buffers[slot];
  if (b.bytes < bytes) {
    std::free(b.ptr);
    b.ptr = nullptr;
    b.bytes = 0;
    // Grow by 1.5x so slowly growing requests do not reallocate every call.
    std::size_t want = ((bytes + bytes / 2) + 63) / 64 * 64;
    b.ptr = std::aligned_alloc(64, want);
    if (!b.ptr) throw std::bad_alloc();
    b.bytes = want;
  }
  return b.ptr;
}

}  // namespace gradcore
