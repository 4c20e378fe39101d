#include "cuda_allocator.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <bit>

#include "cuda_check.h"

namespace microsr {

namespace {
std::string mib(int64_t bytes) { return std::to_string((bytes + (1 << 19)) >> 20) + " MiB"; }
}  // namespace

CudaAllocator::CudaAllocator(int device) : device_(device) {}

CudaAllocator::~CudaAllocator() {
  // Tensors hold a shared_ptr to us, so no block is live any more: all are cached.
  std::lock_guard<std::mutex> lock(mutex_);
  cudaSetDevice(device_);
  free_cached();
}

std::size_t CudaAllocator::size_class(std::size_t bytes) {
  if (bytes <= 512) return 512;
  const int top = std::bit_width(bytes) - 1;   // 2^top ≤ bytes < 2^(top+1)
  const std::size_t step = std::size_t(1) << (top - 2);  // quarter of the power of two
  return (bytes + step - 1) / step * step;
}

void* CudaAllocator::take_cached(std::size_t size) {
  auto it = cached_.lower_bound(size);
  if (it == cached_.end() || it->first > size + size / 2) return nullptr;
  void* block = it->second;
  live_[block] = it->first;
  in_use_ += int64_t(it->first);
  cached_.erase(it);
  return block;
}

void CudaAllocator::free_cached() {
  for (const auto& [size, block] : cached_) {
    cudaFree(block);
    reserved_ -= int64_t(size);
  }
  cached_.clear();
}

void* CudaAllocator::allocate(std::size_t bytes, const std::string& what) {
  const std::size_t size = size_class(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  void* block = take_cached(size);
  if (!block) {
    MICROSR_CUDA_CHECK(cudaSetDevice(device_), "selecting cuda:" + std::to_string(device_));
    cudaError_t status = cudaMalloc(&block, size);
    if (status == cudaErrorMemoryAllocation) {  // give the cache back to the driver and retry once
      cudaGetLastError();
      free_cached();
      status = cudaMalloc(&block, size);
    }
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      std::size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      throw Error("CUDA out of memory: cannot allocate " + mib(int64_t(size)) + " for " + what + " on cuda:" +
                  std::to_string(device_) + " (device: " + mib(int64_t(free_bytes)) + " free of " +
                  mib(int64_t(total_bytes)) + "; this process holds " + mib(reserved_) + ", " + mib(in_use_) +
                  " of it in use). Use a smaller --tile or --batch");
    }
    MICROSR_CUDA_CHECK(status, "cudaMalloc of " + mib(int64_t(size)) + " for " + what);
    ++driver_allocations_;
    reserved_ += int64_t(size);
    peak_reserved_ = std::max(peak_reserved_, reserved_);
    live_[block] = size;
    in_use_ += int64_t(size);
  }
  peak_in_use_ = std::max(peak_in_use_, in_use_);
  return block;
}

void CudaAllocator::release(void* block) {
  if (!block) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = live_.find(block);
  if (it == live_.end()) return;  // not ours: nothing sensible to do in a destructor
  in_use_ -= int64_t(it->second);
  cached_.emplace(it->second, block);
  live_.erase(it);
}

Tensor CudaAllocator::tensor(const Shape& shape, DType dtype, Layout layout, const std::string& what) {
  int64_t numel = 1;
  for (int64_t d : shape) {
    require(d >= 0, "tensor shape " + shape_str(shape) + " has a negative dimension");
    numel *= d;
  }
  const std::size_t bytes = std::size_t(numel) * dtype_size(dtype);
  auto storage = std::make_shared<Storage>();
  storage->data = allocate(bytes, what + " " + dtype_name(dtype) + shape_str(shape));
  storage->bytes = bytes;
  storage->device = Device::cuda(device_);
  storage->owned = true;
  storage->release = [self = shared_from_this()](void* block) { self->release(block); };
  return Tensor::from_storage(std::move(storage), shape, dtype, layout);
}

void CudaAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  cudaSetDevice(device_);
  free_cached();
}

DeviceMemoryStats CudaAllocator::stats() const {
  std::size_t free_bytes = 0, total_bytes = 0;
  cudaMemGetInfo(&free_bytes, &total_bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  DeviceMemoryStats s;
  s.in_use = in_use_, s.peak_in_use = peak_in_use_;
  s.reserved = reserved_, s.peak_reserved = peak_reserved_;
  s.available = int64_t(free_bytes) + (reserved_ - in_use_);
  return s;
}

void CudaAllocator::reset_peaks() {
  std::lock_guard<std::mutex> lock(mutex_);
  peak_in_use_ = in_use_;
  peak_reserved_ = reserved_;
}

int64_t CudaAllocator::driver_allocations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return driver_allocations_;
}

}  // namespace microsr
