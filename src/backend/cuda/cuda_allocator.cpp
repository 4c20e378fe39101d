#include "cuda_allocator.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "cuda_check.h"

namespace microsr {

namespace {
// "2.0 KiB", "37.5 MiB", "1930 MiB": what a person reads in an out-of-memory message.
std::string mib(int64_t bytes) {
  char text[32];
  if (bytes < (int64_t(1) << 20))
    std::snprintf(text, sizeof text, "%.1f KiB", double(bytes) / 1024);
  else if (bytes < (int64_t(100) << 20))
    std::snprintf(text, sizeof text, "%.1f MiB", double(bytes) / (1 << 20));
  else
    std::snprintf(text, sizeof text, "%lld MiB", static_cast<long long>((bytes + (1 << 19)) >> 20));
  return text;
}
}  // namespace

MemorySource cuda_memory_source(int device) {
  MemorySource s;
  s.device = Device::cuda(device);
  s.allocate = [device](std::size_t bytes, const std::string& what) -> void* {
    MICROSR_CUDA_CHECK(cudaSetDevice(device), "selecting cuda:" + std::to_string(device));
    void* block = nullptr;
    const cudaError_t status = cudaMalloc(&block, bytes);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // not sticky: clear it
      return nullptr;
    }
    MICROSR_CUDA_CHECK(status, "cudaMalloc of " + mib(int64_t(bytes)) + " for " + what);
    return block;
  };
  s.free = [device](void* block) {
    cudaSetDevice(device);
    // Nothing sensible to do about a failure here (a destructor may be calling), but it must not
    // linger in the runtime's last-error slot: the next kernel launch's cudaGetLastError would
    // report it as its own.
    if (cudaFree(block) != cudaSuccess) cudaGetLastError();
  };
  s.info = [device](std::size_t* free_bytes, std::size_t* total_bytes) {
    cudaSetDevice(device);
    if (cudaMemGetInfo(free_bytes, total_bytes) != cudaSuccess) {
      cudaGetLastError();
      *free_bytes = *total_bytes = 0;
    }
  };
  return s;
}

CudaAllocator::CudaAllocator(int device) : CudaAllocator(cuda_memory_source(device)) {}
CudaAllocator::CudaAllocator(MemorySource source) : source_(std::move(source)) {}

CudaAllocator::~CudaAllocator() {
  // Tensors hold a shared_ptr to us, so no block is in a tensor any more; pools may remain.
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, pool] : pools_)
    for (void* block : pool.blocks) cached_.emplace(live_.at(block), block);
  free_cached();
}

std::size_t CudaAllocator::size_class(std::size_t bytes) {
  if (bytes <= 512) return 512;
  const int top = std::bit_width(bytes) - 1;             // 2^top ≤ bytes < 2^(top+1)
  const std::size_t step = std::size_t(1) << (top - 2);  // quarter of the power of two
  return (bytes + step - 1) / step * step;
}

// A block of `size` or of a class up to 1.5× larger from `from`, or nullptr.
static void* take_fitting(std::multimap<std::size_t, void*>& from, std::size_t size, std::size_t* taken_size) {
  auto it = from.lower_bound(size);
  if (it == from.end() || it->first > size + size / 2) return nullptr;
  void* block = it->second;
  *taken_size = it->first;
  from.erase(it);
  return block;
}

void* CudaAllocator::take_cached(std::size_t size) {
  std::size_t got = 0;
  void* block = take_fitting(cached_, size, &got);
  if (!block) return nullptr;
  live_[block] = got;
  in_use_ += int64_t(got);
  return block;
}

void* CudaAllocator::take_from_driver(std::size_t size, const std::string& what) {
  if (limit_ && reserved_ + int64_t(size) > int64_t(limit_)) return nullptr;  // as a full device
  void* block = source_.allocate(size, what);
  if (!block) return nullptr;
  driver_log_.push_back(std::to_string(size) + " B for " + what);
  if (driver_log_.size() > kDriverLogSize) driver_log_.pop_front();
  ++driver_allocations_;
  reserved_ += int64_t(size);
  peak_reserved_ = std::max(peak_reserved_, reserved_);
  live_[block] = size;
  in_use_ += int64_t(size);
  return block;
}

void CudaAllocator::free_cached() {
  for (const auto& [size, block] : cached_) {
    source_.free(block);
    reserved_ -= int64_t(size);
  }
  cached_.clear();
}

void CudaAllocator::throw_out_of_memory(std::size_t size, const std::string& what) {
  std::size_t free_bytes = 0, total_bytes = 0;
  source_.info(&free_bytes, &total_bytes);
  throw OutOfMemory("CUDA out of memory: cannot allocate " + mib(int64_t(size)) + " for " + what + " on " +
                    source_.device.str() + " (device: " + mib(int64_t(free_bytes)) + " free of " +
                    mib(int64_t(total_bytes)) + "; this process holds " + mib(reserved_) + ", " + mib(in_use_) +
                    " of it in use" + (limit_ ? ", and may hold " + mib(int64_t(limit_)) + ": its memory limit" : "") +
                    "). Use a smaller --tile or --batch");
}

void* CudaAllocator::allocate(std::size_t bytes, const std::string& what) {
  const std::size_t size = size_class(bytes);
  std::unique_lock<std::mutex> lock(mutex_);
  void* block = nullptr;
  if (open_pool_) {  // the open pool's own idle blocks first (they are already counted in use)
    std::size_t got = 0;
    block = take_fitting(pools_.at(open_pool_).idle, size, &got);
    if (block) return block;
  }
  block = take_cached(size);
  if (!block) block = take_from_driver(size, what);
  // Give the cache back to the driver and retry — but not while a pool is open: the pool is a
  // CUDA graph being captured, and cudaFree synchronises the device, which a capture forbids
  // (the capture would be invalidated). The capture then fails with OutOfMemory and the
  // pass runs uncaptured, where the cache and the pressure handler can free memory.
  if (!block && !open_pool_) {
    free_cached();
    block = take_from_driver(size, what);
  }
  if (!block && pressure_handler_ && !open_pool_) {  // let the backend drop its recordings
    auto handler = pressure_handler_;
    lock.unlock();
    const bool freed = handler();
    lock.lock();
    if (freed) {
      free_cached();
      block = take_from_driver(size, what);
    }
  }
  if (!block) throw_out_of_memory(size, what);
  if (open_pool_) {
    Pool& pool = pools_.at(open_pool_);
    pool.blocks.push_back(block);
    pool.bytes += int64_t(live_.at(block));
    pool_of_[block] = open_pool_;
  }
  peak_in_use_ = std::max(peak_in_use_, in_use_);
  return block;
}

void CudaAllocator::release(void* block) {
  if (!block) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = live_.find(block);
  if (it == live_.end()) return;  // not ours: nothing sensible to do in a destructor
  if (const auto p = pool_of_.find(block); p != pool_of_.end()) {
    pools_.at(p->second).idle.emplace(it->second, block);  // stays the pool's, still counted in use
    return;
  }
  if (open_pool_) {
    // A block from outside the pool let go while it is open (during a capture): the captured work
    // may have used it, and every replay will again, so it must not go to the shared cache, where
    // it could be handed to someone else (or freed) while the recording lives. The pool adopts it.
    Pool& pool = pools_.at(open_pool_);
    pool.blocks.push_back(block);
    pool.bytes += int64_t(it->second);
    pool_of_[block] = open_pool_;
    pool.idle.emplace(it->second, block);
    return;
  }
  in_use_ -= int64_t(it->second);
  cached_.emplace(it->second, block);
  live_.erase(it);
}

int CudaAllocator::begin_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  require(open_pool_ == 0, "CudaAllocator: a memory pool is already open");
  open_pool_ = next_pool_++;
  pools_[open_pool_];
  return open_pool_;
}

void CudaAllocator::end_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  open_pool_ = 0;
}

void CudaAllocator::release_pool(int id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = pools_.find(id);
  if (it == pools_.end()) return;
  if (open_pool_ == id) open_pool_ = 0;
  for (const auto& [size, block] : it->second.idle) {
    in_use_ -= int64_t(size);
    cached_.emplace(size, block);
    live_.erase(block);
  }
  // The rest are in tensors: they come back through release() as ordinary blocks.
  for (void* block : it->second.blocks) pool_of_.erase(block);
  pools_.erase(it);
}

int64_t CudaAllocator::pool_bytes(int id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = pools_.find(id);
  return it == pools_.end() ? 0 : it->second.bytes;
}

void CudaAllocator::set_pressure_handler(std::function<bool()> handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  pressure_handler_ = std::move(handler);
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
  storage->device = source_.device;
  storage->owned = true;
  storage->release = [self = shared_from_this()](void* block) { self->release(block); };
  return Tensor::from_storage(std::move(storage), shape, dtype, layout);
}

void CudaAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  free_cached();
}

DeviceMemoryStats CudaAllocator::stats() const {
  std::size_t free_bytes = 0, total_bytes = 0;
  source_.info(&free_bytes, &total_bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  DeviceMemoryStats s;
  s.in_use = in_use_, s.peak_in_use = peak_in_use_;
  s.reserved = reserved_, s.peak_reserved = peak_reserved_;
  int64_t obtainable = int64_t(free_bytes);  // from the driver
  if (limit_) obtainable = std::clamp<int64_t>(int64_t(limit_) - reserved_, 0, obtainable);
  s.available = obtainable + (reserved_ - in_use_);
  return s;
}

void CudaAllocator::set_limit(std::size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  limit_ = bytes;
}

std::size_t CudaAllocator::limit() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return limit_;
}

std::vector<std::string> CudaAllocator::driver_allocation_log() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {driver_log_.begin(), driver_log_.end()};
}

std::size_t parse_memory_size(const std::string& text, const std::string& what) {
  const auto bad = [&] {
    return Error(what + " = \"" + text + "\" is not a memory size: write bytes, or a number with K, M, G or T " +
                 "(powers of 1024), e.g. 6G or 1536M");
  };
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw bad();
  }
  std::string unit = text.substr(used);
  for (const char* suffix : {"iB", "B"})  // 6GiB, 6GB and 6G are all 6·2^30
    if (unit.ends_with(suffix)) {
      unit.resize(unit.size() - std::strlen(suffix));
      break;
    }
  static const std::map<std::string, double> scale = {{"", 1},       {"K", 0x1p10}, {"k", 0x1p10},
                                                      {"M", 0x1p20}, {"m", 0x1p20}, {"G", 0x1p30},
                                                      {"g", 0x1p30}, {"T", 0x1p40}, {"t", 0x1p40}};
  const auto it = scale.find(unit);
  if (it == scale.end() || !std::isfinite(value) || value <= 0) throw bad();
  const double bytes = value * it->second;
  if (bytes < 1 || bytes > 0x1p62) throw bad();
  return std::size_t(bytes);
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
