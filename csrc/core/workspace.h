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
  kNumWorkspaceSlots = 4
};

// A 64-byte aligned buffer of at least `count` elements of T for the calling thread.
// Valid until the same thread asks for the same slot again.
void* thread_scratch_bytes(int slot, std::size_t bytes);

template <typename T>
T* thread_scratch(int slot, std::size_t count) {
  return static_cast<T*>(thread_scratch_bytes(slot, count * sizeof(T)));
}

}  // namespace gradcore
