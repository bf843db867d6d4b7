#include "cuda/runtime.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/host_device.h"

namespace gradcore::cuda {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a sticky non-fatal error so the next call starts clean
    throw CudaError(std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) +
                    ")");
  }
}

void check_launch(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw CudaError(std::string("CUDA kernel ") + kernel + " failed to launch: " +
                    cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

int device_count() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return 0;  // no driver, no device, driver too old: no usable GPU
  }
  return n;
}

int current_device() {
  int d = 0;
  check(cudaGetDevice(&d), "cudaGetDevice");
  return d;
}

void set_device(int device) {
  const int n = device_count();
  if (device < 0 || device >= n)
    throw std::out_of_range("CUDA device " + std::to_string(device) + " does not exist (" +
                            std::to_string(n) + " visible)");
  check(cudaSetDevice(device), "cudaSetDevice");
}

std::string device_name(int device) {
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  return p.name;
}

std::pair<int, int> capability(int device) {
  int major = 0, minor = 0;
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device),
        "cudaDeviceGetAttribute");
  check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device),
        "cudaDeviceGetAttribute");
  return {major, minor};
}

void synchronize() {
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

namespace {

thread_local std::unordered_map<int, cudaStream_t> tls_streams;  // device -> stream

struct Block {
  std::size_t bytes;
  int device;
  cudaStream_t stream;
};

struct Cache {
  std::mutex mu;
  std::unordered_map<void*, Block> live;
  // (device, stream) -> size -> free pointers
  std::map<std::pair<int, cudaStream_t>, std::multimap<std::size_t, void*>> free;
  std::unordered_map<int, std::size_t> allocated, reserved;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: blocks may be freed during exit
  return *c;
}

std::size_t round_size(std::size_t bytes) {
  const std::size_t q = bytes >= (1u << 20) ? (2u << 20) : 512;
  return (bytes + q - 1) / q * q;
}

void empty_cache_locked(Cache& c) {
  for (auto& [key, blocks] : c.free) {
    for (auto& [bytes, p] : blocks) {
      cudaFree(p);
      c.reserved[key.first] -= bytes;
    }
  }
  c.free.clear();
}

}  // namespace

cudaStream_t current_stream() {
  auto it = tls_streams.find(current_device());
  return it == tls_streams.end() ? nullptr : it->second;
}

void set_current_stream(cudaStream_t s) {
  tls_streams[current_device()] = s;
}

void* allocate(std::size_t bytes) {
  const std::size_t size = round_size(std::max<std::size_t>(bytes, 1));
  const int device = current_device();
  cudaStream_t stream = current_stream();
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto& blocks = c.free[{device, stream}];
  auto it = blocks.lower_bound(size);
  if (it != blocks.end() && it->first <= 2 * size) {
    void* p = it->second;
    const std::size_t got = it->first;
    blocks.erase(it);
    c.live[p] = Block{got, device, stream};
    c.allocated[device] += got;
    return p;
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, size);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    empty_cache_locked(c);
    e = cudaMalloc(&p, size);
  }
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw OutOfMemory("CUDA out of memory: could not allocate " + std::to_string(size) +
                      " bytes on device " + std::to_string(device) + " (" +
                      std::to_string(c.allocated[device]) + " bytes in use by gradcore)");
  }
  check(e, "cudaMalloc");
  c.live[p] = Block{size, device, stream};
  c.allocated[device] += size;
  c.reserved[device] += size;
  return p;
}

void release(void* p) {
  if (p == nullptr) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.live.find(p);
  if (it == c.live.end()) return;  // not ours: never happens through DeviceArray
  const Block b = it->second;
  c.live.erase(it);
  c.allocated[b.device] -= b.bytes;
  c.free[{b.device, b.stream}].emplace(b.bytes, p);
}

std::size_t memory_allocated(int device) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.allocated[device];
}

std::size_t memory_reserved(int device) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.reserved[device];
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  empty_cache_locked(c);
}

unsigned grid_for(int64_t n) {
  static int sms = [] {
    int v = 0;
    if (cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, current_device()) !=
        cudaSuccess) {
      cudaGetLastError();
      v = 80;
    }
    return v;
  }();
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks, 32LL * sms)));
}

}  // namespace gradcore::cuda
