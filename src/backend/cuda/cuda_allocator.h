// The CUDA backend's caching allocator: device memory is taken from the driver (cudaMalloc) once
// and then recycled, so a forward pass after the first allocates nothing from the driver.
//
//   * Blocks come in size classes, four per power of two (≤ 25% slack): 512 B, …, 1 MiB,
//     1.25 MiB, 1.5 MiB, 1.75 MiB, 2 MiB, … A request takes a cached block of its class, or of
//     a class up to 1.5× larger, before it asks the driver.
//   * A tensor's storage hands its block back here when its last view goes (Storage::release);
//     the block is cached, not freed. The backend runs everything on ONE stream, so a block
//     reused by a later operation is only touched after the earlier work on it: no events needed.
//   * Pools (for CUDA graphs): a recorded forward pass replays into the very addresses it was
//     recorded with, so those blocks must stay its own. While a pool is open every allocation
//     joins it, and a block of the pool that is released goes to the pool's own free list (reused
//     inside the pool, in the same stream order the recording keeps), never to the shared cache.
//     The pool keeps its blocks until release_pool(). A block from outside that is released while
//     the pool is open joins the pool too (the captured work may have used it), and nothing is
//     given back to the driver while a pool is open (cudaFree would break the capture).
//   * When the driver has no memory left, the cache is emptied and the request tried again; then
//     the pressure handler (the backend drops its recordings, releasing their pools) gets one
//     chance; then it throws OutOfMemory, naming the sizes involved (the tiler retries with
//     a smaller tile on that phrase).
//   * A limit (set_limit; CudaOptions::memory_limit, MICROSR_CUDA_MEMORY_LIMIT) caps the bytes
//     reserved from the driver: a request past it fails as on a full device (cache flush,
//     pressure handler, OutOfMemory), and `available` counts no more than the limit leaves. For
//     sharing a GPU with other programs, and for driving the out-of-memory paths in tests.
//   * Statistics: bytes in tensors and pools now and at the peak, bytes reserved from the driver
//     now and at the peak, and the number of driver allocations (tests check that reuse happens).
//
// Where the memory comes from is a MemorySource: the CUDA driver in the backend, host memory in
// the tests that check all of the above on a machine without a GPU.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "microsr/backend.h"
#include "microsr/tensor.h"

namespace microsr {

struct MemorySource {
  // `bytes` of memory, or nullptr when the device has none left (other failures throw).
  std::function<void*(std::size_t bytes, const std::string& what)> allocate;
  std::function<void(void*)> free;
  // Free and total bytes of the device.
  std::function<void(std::size_t* free_bytes, std::size_t* total_bytes)> info;
  Device device = Device::cuda(0);
};
// cudaMalloc / cudaFree / cudaMemGetInfo on one device.
MemorySource cuda_memory_source(int device);

class CudaAllocator : public std::enable_shared_from_this<CudaAllocator> {
 public:
  // Create with std::make_shared: tensors keep the allocator alive until they are gone.
  explicit CudaAllocator(int device);
  explicit CudaAllocator(MemorySource source);
  ~CudaAllocator();
  CudaAllocator(const CudaAllocator&) = delete;
  CudaAllocator& operator=(const CudaAllocator&) = delete;

  // At least `bytes` of device memory, 256-byte aligned. `what` names the use in error messages.
  void* allocate(std::size_t bytes, const std::string& what);
  // Back into the cache (or its pool), not to the driver.
  void release(void* block);
  // An uninitialised tensor whose storage comes from here and returns here.
  Tensor tensor(const Shape& shape, DType dtype, Layout layout, const std::string& what);
  // Gives every cached (unused, pool-free) block back to the driver.
  void empty_cache();

  // Pools: begin_pool() opens a new pool (one at a time) and returns its id; end_pool() closes
  // it (its blocks stay its own); release_pool(id) hands its idle blocks to the shared cache, and
  // its blocks still in use go there when their tensors release them. While a pool is open, every
  // allocation and every released block joins it, and the cache is not given back to the driver.
  int begin_pool();
  void end_pool();
  void release_pool(int id);
  int64_t pool_bytes(int id) const;  // every block the pool holds, idle or not

  // Called when the driver is out of memory even after the cache was emptied; returns true when it
  // freed something (then the allocation is tried once more). Called without the lock held, and
  // never while a pool is open.
  void set_pressure_handler(std::function<bool()> handler);

  // At most `bytes` reserved from the driver from now on (0: no limit). Blocks already reserved
  // beyond it stay until the cache is next given back.
  void set_limit(std::size_t bytes);
  std::size_t limit() const;

  // in_use counts the blocks in tensors and every block a pool holds.
  DeviceMemoryStats stats() const;
  void reset_peaks();
  int64_t driver_allocations() const;  // driver allocations so far
  // The last kDriverLogSize driver allocations, oldest first: "<size> for <what>" (diagnostics:
  // which tensor made the reserved memory grow).
  static constexpr std::size_t kDriverLogSize = 256;
  std::vector<std::string> driver_allocation_log() const;

  // The size class of a request: the smallest of 512 B or (4..7)·2^k ≥ bytes.
  static std::size_t size_class(std::size_t bytes);

 private:
  struct Pool {
    std::vector<void*> blocks;               // every block it took
    std::multimap<std::size_t, void*> idle;  // size → released block, reusable within the pool
    int64_t bytes = 0;
  };
  // Both: caller holds mutex_.
  void* take_cached(std::size_t size);                                // from the shared cache, or nullptr
  void* take_from_driver(std::size_t size, const std::string& what);  // nullptr when out of memory
  void free_cached();
  [[noreturn]] void throw_out_of_memory(std::size_t size, const std::string& what);

  MemorySource source_;
  mutable std::mutex mutex_;
  std::unordered_map<void*, std::size_t> live_;  // block → its size: in a tensor, or held by a pool
  std::multimap<std::size_t, void*> cached_;     // size → unused block
  std::map<int, Pool> pools_;
  std::unordered_map<void*, int> pool_of_;  // block → the pool that holds it
  int open_pool_ = 0, next_pool_ = 1;       // 0: no pool open
  std::function<bool()> pressure_handler_;
  int64_t in_use_ = 0, peak_in_use_ = 0, reserved_ = 0, peak_reserved_ = 0, driver_allocations_ = 0;
  std::size_t limit_ = 0;               // 0: none
  std::deque<std::string> driver_log_;  // the last kDriverLogSize, oldest first
};

// "6G", "1536M", "512MiB", "2.5GB", "1000000": a byte count (K, M, G, T are powers of 1024), for
// CudaOptions::memory_limit from text (MICROSR_CUDA_MEMORY_LIMIT). `what` names the text's origin
// in the error that anything else gets.
std::size_t parse_memory_size(const std::string& text, const std::string& what);

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
