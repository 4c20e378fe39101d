// Host memory behind CPU tensors (Tensor::empty / Tensor::zeros).
//
// Small blocks come from the C heap. Large ones (at least kLargeHostBlock bytes) are mapped
// directly, in multiples of 2 MiB marked for transparent huge pages, and kept on release in a
// cache that the next request of about the same size takes back. upscale_tiled gives the cache
// back to the system when its image is done (the tiles of one image are what reuse it).
//
// Why: a forward pass over a 440x440 tile allocates and frees tens of large activations (50 MB to
// 800 MB each). glibc maps every block above its 32 MiB ceiling afresh and unmaps it on free, so
// each pass over each tile faulted in and zeroed every page again: 16-20% of the CPU time of a
// tiled upscale was the kernel's page-fault path. Repeated passes (tiles, benchmark reps, training
// steps) allocate the same sizes in the same order, so the cache serves nearly all of them.
//
// Memory bound: the cache never lets the large blocks' footprint (live + cached) exceed the most
// that was ever live at once. On a miss, cached blocks are unmapped (largest first) until the new
// block fits under that mark, or under live + new when that is a new mark. So peak resident memory
// is what it was without the cache; only the faults between passes are gone. When a mapping fails,
// the whole cache is returned to the system and the mapping tried once more.
#pragma once
#include <cstddef>
#include <cstdint>

namespace microsr::detail {

inline constexpr std::size_t kLargeHostBlock = std::size_t{4} << 20;  // 4 MiB

// 64-byte aligned (page aligned for large blocks); nullptr when the system has no memory for it.
void* host_allocate(std::size_t bytes);
// `bytes` as given to host_allocate.
void host_free(void* data, std::size_t bytes);

struct HostMemoryStats {
  int64_t live_bytes = 0;    // large blocks in use (their mapped, rounded sizes)
  int64_t cached_bytes = 0;  // large blocks kept for reuse
  int64_t peak_live_bytes = 0;
  int64_t maps = 0;    // large blocks mapped from the system
  int64_t reuses = 0;  // large requests served from the cache
  int64_t unmaps = 0;  // cached blocks given back
};
HostMemoryStats host_memory_stats();
// Gives every cached block back to the system and starts the peak mark anew from what is live now
// (tests; a long-lived process between jobs of different sizes).
void host_memory_trim();

}  // namespace microsr::detail
