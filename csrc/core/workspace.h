// Per-thread scratch memory (im2col columns, packed GEMM panels), reused across calls
// so that hot loops never allocate. Each thread owns its buffers; `slot` separates
// buffers that are live at the same time inside one thread.
#pragma once
#include <cstddef>

namespace gradcore {

enum WorkspaceSlot : int {
  kSlotGemmPackA = 0,
  kSlotGemmPackB = 1,
  kSlotColumns = 2,
  kSlotScratch = 3,
  kSlotImageOut = 4,  // one image's output handed to a consumer (conv2d_forward_by_image)
  kNumWorkspaceSlots = 5
};

// A 64-byte aligned buffer of at least `count` elements of T for the calling thread.
// Valid until the same thread asks for the same slot again. Throws std::bad_alloc when the
// memory cannot be had (inside a parallel region too: core/parallel.h carries it out).
void* thread_scratch_bytes(int slot, std::size_t bytes);

// Test hook: while thread >= 0, every request made by OpenMP thread `thread` of a parallel
// region throws std::bad_alloc (as an allocation failure would); -1 turns it off.
void fail_scratch_in_thread(int thread);

template <typename T>
T* thread_scratch(int slot, std::size_t count) {
  return static_cast<T*>(thread_scratch_bytes(slot, count * sizeof(T)));
}

}  // namespace gradcore
