#include "cuda/device_array.h"

#include <stdexcept>

#include "cuda/runtime.h"

namespace gradcore::cuda {

namespace {
int64_t checked_size(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("DeviceArray: negative dimension in shape");
    if (d != 0 && n > INT64_MAX / d) throw std::invalid_argument("DeviceArray: shape overflows");
    n *= d;
  }
  return n;
}
}  // namespace

DeviceArray::DeviceArray(std::vector<int64_t> shape, DType dtype)
    : shape_(std::move(shape)), size_(checked_size(shape_)), dtype_(dtype) {
  device_ = current_device();
  const std::size_t bytes = nbytes();
  void* p = allocate(bytes == 0 ? 1 : bytes);
  block_ = std::shared_ptr<void>(p, [](void* q) { release(q); });
}

DeviceArray DeviceArray::reshaped(std::vector<int64_t> shape) const {
  // one -1 is inferred from the other dimensions, as numpy does
  int infer = -1;
  int64_t known = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1 && infer < 0) {
      infer = static_cast<int>(i);
    } else {
      known *= shape[i] < 0 ? 1 : shape[i];
    }
  }
  if (infer >= 0) shape[infer] = known == 0 ? 0 : size_ / known;
  const int64_t n = checked_size(shape);
  if (n != size_)
    throw std::invalid_argument("DeviceArray: cannot reshape " + shape_str() + " (" +
                                std::to_string(size_) + " elements) to " + std::to_string(n) +
                                " elements");
  DeviceArray v = *this;
  v.shape_ = std::move(shape);
  return v;
}

std::string DeviceArray::shape_str() const {
  std::string s = "(";
  for (std::size_t i = 0; i < shape_.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape_[i]);
  }
  if (shape_.size() == 1) s += ",";
  return s + ")";
}

}  // namespace gradcore::cuda
