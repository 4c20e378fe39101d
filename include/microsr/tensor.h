// Tensor: a shape, an element type, a device and a view into storage.
//
// Storage is either owned (allocated here, freed when the last Tensor referring to it goes) or
// borrowed (a pointer into an arena or a caller's buffer, which must outlive the Tensor).
// Layout is always dense, row-major, NCHW for images and activations, [Cout][Cin][kh][kw] for
// convolution weights — the same as PyTorch, so a state_dict maps onto us without transposes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "microsr/error.h"

namespace microsr {

enum class DType : uint8_t { f32, f16, bf16 };
std::size_t dtype_size(DType t);
const char* dtype_name(DType t);

enum class DeviceKind : uint8_t { cpu, cuda };
struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;
  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceKind::cuda, i}; }
  bool operator==(const Device&) const = default;
  std::string str() const;
};

using Shape = std::vector<int64_t>;
int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[1, 64, 32, 32]"

// A block of bytes on a device. Owned storage frees itself; borrowed storage does not.
struct Storage {
  void* data = nullptr;
  std::size_t bytes = 0;
  Device device;
  bool owned = false;
  ~Storage();
};

class Tensor {
 public:
  Tensor() = default;

  // New owned, zero-filled CPU tensor (CUDA allocation goes through the CUDA backend).
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32);
  // Owned, uninitialised.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32);
  // A view of memory that belongs to someone else (an arena, a file mapping, a caller).
  static Tensor borrow(void* data, const Shape& shape, DType dtype = DType::f32,
                       Device device = Device::cpu());

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_.at(i < 0 ? shape_.size() + i : i); }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return shape_numel(shape_); }
  std::size_t bytes() const { return numel() * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device::cpu(); }

  void* raw() const { return static_cast<char*>(storage_->data) + offset_bytes_; }
  template <class T> T* data() const { return static_cast<T*>(raw()); }
  float* f32() const;  // checks dtype == f32 and device == cpu

  // Same storage, new shape with the same element count.
  Tensor reshaped(const Shape& shape) const;
  // Channels [c0, c0+count) of an NCHW tensor: a view, no copy. Each image of the view is
  // dense, but images are batch_stride() elements apart (the parent's C·H·W), so for N > 1 the
  // view is not contiguous. The dense block writes each conv's output into such a slice.
  Tensor channel_slice(int64_t c0, int64_t count) const;
  // Elements between consecutive images of an NCHW tensor (C·H·W unless this is a channel slice).
  int64_t batch_stride() const { return batch_stride_ ? batch_stride_ : (rank() ? numel() / dim(0) : 0); }
  bool is_contiguous() const { return batch_stride_ == 0 || dim(0) == 1; }
  // Pointer to image n of an NCHW float tensor.
  float* image(int64_t n) const { return f32() + n * batch_stride(); }
  // A deep, dense copy (owned, CPU).
  Tensor clone() const;

  std::string describe() const;  // "f32[1, 3, 64, 64] on cpu"

 private:
  std::shared_ptr<Storage> storage_;
  std::size_t offset_bytes_ = 0;
  Shape shape_;
  DType dtype_ = DType::f32;
  int64_t batch_stride_ = 0;  // 0: dense
};

// f16 <-> f32 conversion (IEEE half), used by the weight loaders.
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

}  // namespace microsr
