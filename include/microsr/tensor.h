// Tensor: a shape, an element type, a device and a view into storage.
//
// Storage is either owned (allocated here, freed when the last Tensor referring to it goes; device
// memory goes back to the allocator that made it) or borrowed (a pointer into an arena or a
// caller's buffer, which must outlive the Tensor).
// Layout is dense, row-major, NCHW for images and activations, [Cout][Cin][kh][kw] for
// convolution weights — the same as PyTorch, so a state_dict maps onto us without transposes.
// The one exception: the CUDA backend's fp16 activations are NHWC in memory (see Layout); their
// shape, channel_slice() and every Backend op still speak NCHW.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
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

// How the elements of a rank-4 [N][C][H][W] tensor sit in memory. nchw: planes of H×W (the
// default, and all the CPU uses). nhwc: the C values of a pixel side by side (tensor cores read
// fp16 activations fastest this way); element (n, c, h, w) is at ((n·H + h)·W + w)·C' + c, with
// C' the channel count of the tensor it was sliced from.
enum class Layout : uint8_t { nchw, nhwc };

// A block of bytes on a device. Owned storage frees itself: CPU memory with free(), anything else
// through `release` (set by the allocator that made it). Borrowed storage does neither.
struct Storage {
  void* data = nullptr;
  std::size_t bytes = 0;
  Device device;
  bool owned = false;
  std::function<void(void*)> release;  // device memory: hands `data` back to its allocator
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
  static Tensor borrow(void* data, const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  // A tensor over storage made elsewhere (a device allocator), in the given layout.
  static Tensor from_storage(std::shared_ptr<Storage> storage, const Shape& shape, DType dtype,
                             Layout layout = Layout::nchw);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_.at(i < 0 ? shape_.size() + i : i); }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return shape_numel(shape_); }
  std::size_t bytes() const { return numel() * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device::cpu(); }
  Layout layout() const { return layout_; }

  void* raw() const { return static_cast<char*>(storage_->data) + offset_bytes_; }
  template <class T>
  T* data() const {
    return static_cast<T*>(raw());
  }
  float* f32() const;  // checks dtype == f32 (a device pointer for device tensors: never dereference it here)

  // Same storage, new shape with the same element count.
  Tensor reshaped(const Shape& shape) const;
  // Channels [c0, c0+count) of an NCHW tensor: a view, no copy. Each image of the view is
  // dense, but images are batch_stride() elements apart (the parent's C·H·W), so for N > 1 the
  // view is not contiguous. The dense block writes each conv's output into such a slice.
  Tensor channel_slice(int64_t c0, int64_t count) const;
  // Elements between consecutive images of an NCHW tensor (C·H·W unless this is a channel slice).
  int64_t batch_stride() const { return batch_stride_ ? batch_stride_ : (rank() && dim(0) ? numel() / dim(0) : 0); }
  // An NHWC channel slice is never contiguous unless it keeps every channel.
  bool is_contiguous() const {
    if (batch_stride_ == 0) return true;
    if (layout_ == Layout::nchw) return dim(0) == 1;
    return dim(0) > 0 && batch_stride_ == numel() / dim(0);
  }
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
  Layout layout_ = Layout::nchw;
};

// The NaN or infinite values of a dense host tensor (f32, or f16/bf16 judged by their bits: an
// all-ones exponent): how many, and the index of the first (-1 when there are none). The weight
// loaders and the tiler refuse such values instead of letting them become a black image.
struct NonFinite {
  int64_t count = 0, first = -1;
};
NonFinite find_non_finite(const Tensor& t);

// f16 <-> f32 conversion (IEEE half), used by the weight loaders and the CPU's fp16 storage
// (kernels/cpu/conv/fp16.h): round to nearest even, overflow to infinity, NaN stays a quiet NaN
// keeping its payload's top bits — F16C's bits (tests/test_conv_fp16.cpp checks every pattern).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

}  // namespace microsr
