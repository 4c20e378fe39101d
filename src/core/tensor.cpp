#include "microsr/tensor.h"

#include "core/host_memory.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <sstream>

namespace microsr {

std::size_t dtype_size(DType t) { return t == DType::f32 ? 4 : 2; }

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "f32";
    case DType::f16:
      return "f16";
    case DType::bf16:
      return "bf16";
  }
  return "?";
}

std::string Device::str() const { return kind == DeviceKind::cpu ? "cpu" : "cuda:" + std::to_string(index); }

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

Storage::~Storage() {
  // CPU storage is created here; device storage comes from a backend's allocator, which sets
  // `release` to take the block back.
  if (!owned) return;
  if (release)
    release(data);
  else if (device.kind == DeviceKind::cpu)
    detail::host_free(data, bytes);
}

static std::shared_ptr<Storage> allocate_cpu(std::size_t bytes, const Shape& shape) {
  auto s = std::make_shared<Storage>();
  // 64-byte alignment (one cache line, what AVX-512 loads want); large blocks come from a cache of
  // huge-page mappings that repeated passes reuse (core/host_memory.h).
  s->data = detail::host_allocate(bytes);
  // OutOfMemory: the tiler retries with smaller tiles; the commands name the file being processed.
  if (!s->data)
    throw OutOfMemory("out of memory: cannot allocate " + std::to_string(bytes >> 20) + " MiB of host memory for a " +
                      shape_str(shape) + " tensor");
  s->bytes = bytes;
  s->owned = true;
  return s;
}

static void check_shape(const Shape& shape) {
  for (int64_t d : shape) require(d >= 0, "tensor shape " + shape_str(shape) + " has a negative dimension");
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  check_shape(shape);
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.storage_ = allocate_cpu(shape_numel(shape) * dtype_size(dtype), shape);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.raw(), 0, t.bytes());
  return t;
}

Tensor Tensor::borrow(void* data, const Shape& shape, DType dtype, Device device) {
  check_shape(shape);
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<Storage>();
  t.storage_->data = data;
  t.storage_->bytes = shape_numel(shape) * dtype_size(dtype);
  t.storage_->device = device;
  return t;
}

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, const Shape& shape, DType dtype, Layout layout) {
  check_shape(shape);
  require(storage != nullptr, "from_storage: no storage");
  require(shape_numel(shape) * dtype_size(dtype) <= storage->bytes,
          "from_storage: " + shape_str(shape) + " does not fit in " + std::to_string(storage->bytes) + " bytes");
  require(layout == Layout::nchw || shape.size() == 4, "an NHWC tensor must have rank 4, got " + shape_str(shape));
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.layout_ = layout;
  t.storage_ = std::move(storage);
  return t;
}

float* Tensor::f32() const {
  // Called in loops: the message is only built when the check fails.
  if (!defined()) [[unlikely]]
    throw Error("use of an undefined tensor");
  if (dtype_ != DType::f32) [[unlikely]]
    throw Error("expected an f32 tensor, found " + describe());
  return static_cast<float*>(raw());
}

Tensor Tensor::reshaped(const Shape& shape) const {
  require(shape_numel(shape) == numel(),
          "cannot reshape " + describe() + " to " + shape_str(shape) + ": element counts differ");
  require(is_contiguous(), "cannot reshape a non-contiguous channel slice " + describe());
  require(layout_ == Layout::nchw || shape == shape_, "cannot reshape the NHWC tensor " + describe());
  Tensor t = *this;
  t.shape_ = shape;
  t.batch_stride_ = 0;
  return t;
}

Tensor Tensor::channel_slice(int64_t c0, int64_t count) const {
  require(rank() == 4, "channel_slice needs an NCHW tensor, got " + describe());
  require(c0 >= 0 && count >= 0 && c0 + count <= dim(1),
          "channel_slice [" + std::to_string(c0) + ", " + std::to_string(c0 + count) + ") is outside " + describe());
  Tensor t = *this;
  const int64_t plane = dim(2) * dim(3);
  t.batch_stride_ = batch_stride();
  // NCHW: skip c0 planes; NHWC: skip c0 values inside each pixel (the pixel stride stays the
  // parent's channel count, which batch_stride / (H·W) recovers).
  t.offset_bytes_ += (layout_ == Layout::nhwc ? c0 : c0 * plane) * dtype_size(dtype_);
  t.shape_[1] = count;
  return t;
}

Tensor Tensor::clone() const {
  require(device().kind == DeviceKind::cpu, "clone() copies CPU tensors; use the backend for " + describe());
  require(layout_ == Layout::nchw || is_contiguous(), "clone() of a non-contiguous NHWC slice " + describe());
  Tensor t = empty(shape_, dtype_);
  if (is_contiguous()) {
    std::memcpy(t.raw(), raw(), bytes());
  } else {
    const std::size_t image_bytes = bytes() / dim(0);
    for (int64_t n = 0; n < dim(0); ++n)
      std::memcpy(static_cast<char*>(t.raw()) + n * image_bytes,
                  static_cast<char*>(raw()) + n * batch_stride() * dtype_size(dtype_), image_bytes);
  }
  return t;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype_)) + shape_str(shape_) + (layout_ == Layout::nhwc ? " nhwc" : "") + " on " +
         device().str();
}

// IEEE 754 binary16 <-> binary32, bit by bit (subnormals, inf and NaN included).
float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal half: renormalise
      int e = -1;
      do {
        ++e;
        mantissa <<= 1;
      } while (!(mantissa & 0x400u));
      bits = sign | (uint32_t(127 - 15 - e) << 23) | ((mantissa & 0x3ffu) << 13);
    }
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = (x >> 16) & 0x8000u;
  const int32_t exponent = int32_t((x >> 23) & 0xff) - 127 + 15;
  uint32_t mantissa = x & 0x7fffffu;
  // inf; NaN quiet, its payload's top bits kept (as F16C's vcvtps2ph does: the same bits)
  if (((x >> 23) & 0xff) == 0xff) return sign | 0x7c00u | (mantissa ? 0x200u | (mantissa >> 13) : 0);
  if (exponent >= 31) return sign | 0x7c00u;  // overflow
  if (exponent <= 0) {                        // subnormal
    if (exponent < -10) return sign;
    mantissa |= 0x800000u;
    const int shift = 14 - exponent;
    uint32_t half_m = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half_m & 1))) ++half_m;  // round to nearest even
    return sign | half_m;
  }
  uint32_t h = sign | (uint32_t(exponent) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) ++h;  // may carry into the exponent: correct
  return h;
}

namespace {

// How many of v[0, n) satisfy bad(v[i]): a branch-free sum that the compiler vectorises, over
// the cores for large tensors (a 6400×4800 RGB output is 92 M values, checked for every image).
template <class T, class IsBad>
int64_t count_where(const T* v, int64_t n, IsBad bad) {
  constexpr int64_t kParallelMin = int64_t(1) << 20;
  int64_t count = 0;
#pragma omp parallel for simd reduction(+ : count) schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) count += bad(v[i]) ? 1 : 0;
  return count;
}

template <class T, class IsBad>
NonFinite find_where(const T* v, int64_t n, IsBad bad) {
  NonFinite found;
  found.count = count_where(v, n, bad);
  if (found.count > 0)  // rare: only then is the first one looked for
    for (int64_t i = 0; found.first < 0; ++i)
      if (bad(v[i])) found.first = i;
  return found;
}

}  // namespace

NonFinite find_non_finite(const Tensor& t) {
  const int64_t n = t.numel();
  if (t.dtype() == DType::f32)  // NaN fails every comparison, ±Inf this one
    return find_where(t.f32(), n, [](float f) { return !(std::fabs(f) <= std::numeric_limits<float>::max()); });
  // Half and bfloat16: all exponent bits set.
  const uint16_t exponent = t.dtype() == DType::f16 ? 0x7C00 : 0x7F80;
  return find_where(t.data<uint16_t>(), n, [exponent](uint16_t h) { return (h & exponent) == exponent; });
}

}  // namespace microsr
