// The CUDA runtime as gradcore uses it: errors as exceptions, devices, the current stream,
// and a caching allocator over plain cudaMalloc (never managed memory).
//
// Allocator: sizes round up to 512 B (1 MiB and up: to 2 MiB); a freed block goes to a
// free list of its device and the stream it was last used on, and an allocation of that
// device and stream reuses the smallest free block that fits and is at most twice the
// request. Blocks are never split. When cudaMalloc fails, the free lists are returned to the
// driver and the call is retried once; then OutOfMemory is thrown (Python MemoryError).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace gradcore::cuda {

// A failed CUDA call or kernel launch; what() names the call or kernel and the CUDA error.
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Device memory exhausted even after the cache was emptied (Python MemoryError).
struct OutOfMemory : std::bad_alloc {
  explicit OutOfMemory(std::string msg) : msg_(std::move(msg)) {}
  const char* what() const noexcept override { return msg_.c_str(); }

 private:
  std::string msg_;
};

// Throws CudaError("<what>: <cudaGetErrorString(e)>") unless e == cudaSuccess.
void check(cudaError_t e, const char* what);
// After a kernel launch: the launch error (bad configuration, no device) as a CudaError
// naming `kernel`. Asynchronous faults surface at the next synchronising call.
void check_launch(const char* kernel);

// GPUs the runtime sees; 0 (not an error) when there is no driver or no device.
int device_count();
int current_device();
void set_device(int device);
std::string device_name(int device);
// (major, minor) compute capability.
std::pair<int, int> capability(int device);
void synchronize();

// gradcore's stream on the current device (nullptr = the legacy default stream until
// set_current_stream is called); every gradcore kernel and copy is issued on it.
cudaStream_t current_stream();
void set_current_stream(cudaStream_t s);

// Caching allocator.
void* allocate(std::size_t bytes);         // bytes > 0; on the current device and stream
void release(void* p);                     // p from allocate (nullptr is ignored)
std::size_t memory_allocated(int device);  // bytes in live blocks (rounded sizes)
std::size_t memory_reserved(int device);   // live + cached
void empty_cache();                        // return every cached block to the driver

// Launch geometry of the grid-stride kernels: blocks of kBlock threads, enough to cover n
// threads but at most 32 blocks per SM (each thread then loops).
unsigned grid_for(int64_t n);

}  // namespace gradcore::cuda
