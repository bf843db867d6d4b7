// DeviceArray: the storage of a Tensor on a CUDA device (what a numpy array is on the CPU).
// A C-contiguous block of device memory from the caching allocator, with a shape and a dtype;
// views (reshape) share the block, which returns to the cache when the last one is dropped.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gradcore::cuda {

enum class DType { kFloat32, kFloat64, kFloat16, kBFloat16, kInt64, kInt32, kUInt8, kBool };

// Bytes per element, and numpy's name ("float32", ..., "bfloat16"), of a dtype.
inline std::size_t itemsize(DType d) {
  switch (d) {
    case DType::kFloat32:
    case DType::kInt32:
      return 4;
    case DType::kFloat64:
    case DType::kInt64:
      return 8;
    case DType::kFloat16:
    case DType::kBFloat16:
      return 2;
    case DType::kUInt8:
    case DType::kBool:
      return 1;
  }
  return 1;
}

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kInt64:
      return "int64";
    case DType::kInt32:
      return "int32";
    case DType::kUInt8:
      return "uint8";
    case DType::kBool:
      return "bool";
  }
  return "?";
}

class DeviceArray {
 public:
  // Uninitialised storage for `shape` of `dtype` on the current device.
  DeviceArray(std::vector<int64_t> shape, DType dtype);

  const std::vector<int64_t>& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  int device() const { return device_; }
  int64_t size() const { return size_; }
  std::size_t nbytes() const { return static_cast<std::size_t>(size_) * itemsize(dtype_); }
  void* data() const { return static_cast<char*>(block_.get()) + offset_; }
  template <class T>
  T* ptr() const {
    return static_cast<T*>(data());
  }
  // The same storage seen with another shape of the same size.
  DeviceArray reshaped(std::vector<int64_t> shape) const;
  std::string shape_str() const;

 private:
  DeviceArray() = default;
  std::shared_ptr<void> block_;
  std::size_t offset_ = 0;
  std::vector<int64_t> shape_;
  int64_t size_ = 0;
  DType dtype_ = DType::kFloat32;
  int device_ = 0;
};

}  // namespace gradcore::cuda
