// The CUDA backend's caching allocator: device memory is taken from the driver (cudaMalloc) once
// and then recycled, so a forward pass after the first allocates nothing from the driver.
//
//   * Blocks come in size classes, four per power of two (≤ 25% slack): 512 B, …, 1 MiB,
//     1.25 MiB, 1.5 MiB, 1.75 MiB, 2 MiB, … A request takes a cached block of its class, or of
//     a class up to 1.5× larger, before it asks the driver.
//   * A tensor's storage hands its block back here when its last view goes (Storage::release);
//     the block is cached, not freed. The backend runs everything on ONE stream, so a block
//     reused by a later operation is only touched after the earlier work on it: no events needed.
//   * When the driver has no memory left, the cache is emptied (cudaFree) and the request tried
//     once more; then the Error says "out of memory" with the sizes involved (the tiler retries
//     with a smaller tile on that phrase).
//   * Statistics: bytes in tensors now and at the peak, bytes reserved from the driver now and
//     at the peak, and the number of driver allocations (tests check that reuse happens).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "microsr/backend.h"
#include "microsr/tensor.h"

namespace microsr {

class CudaAllocator : public std::enable_shared_from_this<CudaAllocator> {
 public:
  // Create with std::make_shared: tensors keep the allocator alive until they are gone.
  explicit CudaAllocator(int device);
  ~CudaAllocator();
  CudaAllocator(const CudaAllocator&) = delete;
  CudaAllocator& operator=(const CudaAllocator&) = delete;

  // At least `bytes` of device memory, 256-byte aligned. `what` names the use in error messages.
  void* allocate(std::size_t bytes, const std::string& what);
  // Back into the cache (not to the driver).
  void release(void* block);
  // An uninitialised tensor whose storage comes from here and returns here.
  Tensor tensor(const Shape& shape, DType dtype, Layout layout, const std::string& what);
  // Gives every cached (unused) block back to the driver.
  void empty_cache();

  DeviceMemoryStats stats() const;
  void reset_peaks();
  int64_t driver_allocations() const;  // cudaMalloc calls so far

  // The size class of a request: the smallest of 512 B or (4..7)·2^k ≥ bytes.
  static std::size_t size_class(std::size_t bytes);

 private:
  void* take_cached(std::size_t size_class);  // caller holds mutex_
  void free_cached();                         // caller holds mutex_

  int device_;
  mutable std::mutex mutex_;
  std::unordered_map<void*, std::size_t> live_;  // block → its size
  std::multimap<std::size_t, void*> cached_;     // size → unused block
  int64_t in_use_ = 0, peak_in_use_ = 0, reserved_ = 0, peak_reserved_ = 0, driver_allocations_ = 0;
};

// Device memory from an allocator for the duration of one call (a cuDNN workspace, a packed
// copy). The backend runs on one stream, so handing the block back as soon as the work using it
// is enqueued is safe: whoever gets it next is ordered after that work.
class DeviceScratch {
 public:
  DeviceScratch(CudaAllocator* allocator, std::size_t bytes, const std::string& what) : allocator_(allocator) {
    if (bytes) ptr = allocator->allocate(bytes, what);
  }
  ~DeviceScratch() { allocator_->release(ptr); }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  void* ptr = nullptr;

 private:
  CudaAllocator* allocator_;
};

}  // namespace microsr
