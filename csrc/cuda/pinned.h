// Pinned (page-locked) host memory: buffers from cudaHostAlloc that the GPU copies from
// asynchronously (gradcore.cuda.pinned_empty, Tensor.pin_memory, DataLoader(pin_memory=True)),
// and the bookkeeping that keeps the source of an asynchronous host-to-device copy alive
// until the copy is done (DeviceArray.from_numpy(..., non_blocking=True)).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

namespace gradcore::cuda {

// `bytes` of page-locked host memory, usable by every device (cudaHostAllocPortable). At
// least one byte is allocated, so an empty buffer still has a pinned address. CudaError
// when cudaHostAlloc fails.
void* pinned_alloc(std::size_t bytes);
// Returns memory from pinned_alloc (nullptr is ignored). Never throws (it runs from
// destructors): an error, e.g. at interpreter exit after the runtime has unloaded, is dropped.
void pinned_free(void* p) noexcept;
// Whether `p` points into page-locked host memory that CUDA knows (cudaHostAlloc or
// cudaHostRegister): cudaPointerGetAttributes says cudaMemoryTypeHost. Pageable, device and
// managed memory are not pinned. CudaError when the query itself fails.
bool is_pinned(const void* p);

// Keeps `owner` alive until the work queued so far on `stream` (a stream of the current
// device) is done: records an event there; release_finished() drops `owner` once the event
// has completed. For the source of an asynchronous copy, which must neither be freed nor
// overwritten while the copy may still read it.
void hold_until_done(std::shared_ptr<void> owner, cudaStream_t stream);
// Drops the owners whose work is done (their deleters run outside the internal lock, in the
// calling thread); returns how many are still held. CudaError when an event reports a
// failure (its owner is dropped too: the failed copy reads nothing more).
std::size_t release_finished();

}  // namespace gradcore::cuda
