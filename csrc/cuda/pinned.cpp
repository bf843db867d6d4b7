#include "cuda/pinned.h"

#include <mutex>
#include <utility>
#include <vector>

#include "cuda/runtime.h"

namespace gradcore::cuda {

void* pinned_alloc(std::size_t bytes) {
  void* p = nullptr;
  check(cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocPortable), "cudaHostAlloc");
  return p;
}

void pinned_free(void* p) noexcept {
  if (p && cudaFreeHost(p) != cudaSuccess) cudaGetLastError();
}

bool is_pinned(const void* p) {
  if (!p) return false;
  cudaPointerAttributes attr{};
  const cudaError_t e = cudaPointerGetAttributes(&attr, p);
  if (e == cudaErrorInvalidValue) {  // runtimes before 11.0: memory CUDA does not know
    cudaGetLastError();
    return false;
  }
  check(e, "cudaPointerGetAttributes");
  return attr.type == cudaMemoryTypeHost;
}

namespace {

struct Hold {
  cudaEvent_t event = nullptr;
  std::shared_ptr<void> owner;
};

// Never destroyed: an owner's deleter may need the Python interpreter, which is gone when
// static destructors run.
std::mutex& holds_mutex() {
  static auto* m = new std::mutex;
  return *m;
}
std::vector<Hold>& holds() {
  static auto* v = new std::vector<Hold>;
  return *v;
}

}  // namespace

void hold_until_done(std::shared_ptr<void> owner, cudaStream_t stream) {
  cudaEvent_t e = nullptr;
  check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreateWithFlags");
  const cudaError_t r = cudaEventRecord(e, stream);
  if (r != cudaSuccess) {
    cudaEventDestroy(e);
    check(r, "cudaEventRecord");
  }
  std::lock_guard<std::mutex> lock(holds_mutex());
  holds().push_back({e, std::move(owner)});
}

std::size_t release_finished() {
  std::vector<Hold> done;
  cudaError_t failure = cudaSuccess;
  std::size_t left = 0;
  {
    std::lock_guard<std::mutex> lock(holds_mutex());
    std::vector<Hold>& h = holds();
    if (h.empty()) return 0;
    std::vector<Hold> keep;
    for (Hold& x : h) {
      const cudaError_t q = cudaEventQuery(x.event);
      if (q == cudaErrorNotReady) {
        cudaGetLastError();  // not an error: the copy is still running
        keep.push_back(std::move(x));
        continue;
      }
      if (q != cudaSuccess && failure == cudaSuccess) failure = q;
      done.push_back(std::move(x));
    }
    h.swap(keep);
    left = h.size();
  }
  for (Hold& x : done) {
    if (cudaEventDestroy(x.event) != cudaSuccess) cudaGetLastError();
    x.owner.reset();
  }
  check(failure, "cudaEventQuery (an asynchronous host-to-device copy)");
  return left;
}

}  // namespace gradcore::cuda
