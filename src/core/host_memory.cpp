// Host memory behind CPU tensors: the C heap for small blocks, a bounded cache of huge-page
// mappings for large ones (host_memory.h says why and what bounds it).
#include "core/host_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <map>
#include <mutex>

namespace microsr::detail {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t mapped_size(std::size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }

// A fresh mapping of `size` bytes (a multiple of 2 MiB), marked for huge pages. (Linux 6.7 and
// later place anonymous mappings of 2 MiB and more on 2 MiB boundaries by themselves; on older
// kernels only the aligned middle can get huge pages. Mapping more to align by hand would cost
// address space that a tight `ulimit -v` may not have.)
void* map_for_huge_pages(std::size_t size) {
  void* block = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (block == MAP_FAILED) return nullptr;
  madvise(block, size, MADV_HUGEPAGE);  // advice only: without THP the pages are 4 KiB, still correct
  return block;
}

class LargeBlockCache {
 public:
  void* acquire(std::size_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    // A cached block of the same size, or up to 1/8 larger (an edge tile's slightly smaller shape).
    auto it = free_.lower_bound(size);
    if (it != free_.end() && it->first <= size + size / 8) {
      void* block = it->second;
      stats_.cached_bytes -= static_cast<int64_t>(it->first);
      stats_.live_bytes += static_cast<int64_t>(it->first);
      sizes_[block] = it->first;
      free_.erase(it);
      ++stats_.reuses;
      return block;
    }
    // A miss: unmap cached blocks until live + cached + size stays under the mark (host_memory.h).
    const int64_t need = static_cast<int64_t>(size);
    const int64_t mark = std::max(stats_.peak_live_bytes, stats_.live_bytes + need);
    while (!free_.empty() && stats_.live_bytes + stats_.cached_bytes + need > mark) unmap_largest();
    void* block = map_for_huge_pages(size);
    if (!block) {  // the cache may hold what the system lacks
      while (!free_.empty()) unmap_largest();
      block = map_for_huge_pages(size);
      if (!block) return nullptr;
    }
    ++stats_.maps;
    sizes_[block] = size;
    stats_.live_bytes += need;
    stats_.peak_live_bytes = std::max(stats_.peak_live_bytes, stats_.live_bytes);
    return block;
  }

  void release(void* block) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = sizes_.find(block);
    if (it == sizes_.end()) std::abort();  // not ours: a double free or a foreign pointer
    const std::size_t size = it->second;
    sizes_.erase(it);
    stats_.live_bytes -= static_cast<int64_t>(size);
    stats_.cached_bytes += static_cast<int64_t>(size);
    free_.emplace(size, block);
  }

  void trim() {
    std::lock_guard<std::mutex> lock(mutex_);
    while (!free_.empty()) unmap_largest();
    stats_.peak_live_bytes = stats_.live_bytes;
  }

  HostMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  void unmap_largest() {  // mutex_ held
    const auto last = std::prev(free_.end());
    munmap(last->second, last->first);
    stats_.cached_bytes -= static_cast<int64_t>(last->first);
    ++stats_.unmaps;
    free_.erase(last);
  }

  std::mutex mutex_;
  std::multimap<std::size_t, void*> free_;  // cached blocks by mapped size
  std::map<void*, std::size_t> sizes_;      // live blocks: the mapped size each was served with
  HostMemoryStats stats_;
};

// Never destroyed: tensors in static storage may be freed after every other static object.
LargeBlockCache& large_blocks() {
  static auto* cache = new LargeBlockCache;
  return *cache;
}

}  // namespace

void* host_allocate(std::size_t bytes) {
  if (bytes >= kLargeHostBlock) return large_blocks().acquire(mapped_size(bytes));
  const std::size_t rounded = (bytes + 63) / 64 * 64;
  return std::aligned_alloc(64, rounded ? rounded : 64);
}

void host_free(void* data, std::size_t bytes) {
  if (!data) return;
  if (bytes >= kLargeHostBlock)
    large_blocks().release(data);
  else
    std::free(data);
}

HostMemoryStats host_memory_stats() { return large_blocks().stats(); }

void host_memory_trim() { large_blocks().trim(); }

}  // namespace microsr::detail
