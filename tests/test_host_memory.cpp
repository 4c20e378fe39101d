// The host memory behind CPU tensors (src/core/host_memory.h): large blocks are reused across
// passes, and the cache never holds the footprint above the most that was ever live at once.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/host_memory.h"
#include "microsr/tensor.h"

namespace microsr {
namespace {

using detail::host_allocate;
using detail::host_free;
using detail::host_memory_stats;
using detail::host_memory_trim;
using detail::kLargeHostBlock;

constexpr std::size_t MiB = std::size_t{1} << 20;

TEST(HostMemory, SmallBlocksAreCacheLineAligned) {
  for (std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{100}, kLargeHostBlock - 1}) {
    void* p = host_allocate(bytes);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0u) << bytes;
    host_free(p, bytes);
  }
}

TEST(HostMemory, ALargeBlockIsReusedByTheNextRequestOfItsSize) {
  host_memory_trim();
  const auto before = host_memory_stats();
  const std::size_t bytes = 9 * MiB + 12345;
  void* first = host_allocate(bytes);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(first) % 4096, 0u) << "page aligned";
  std::memset(first, 0x5a, bytes);  // every page touched: the block is resident
  host_free(first, bytes);
  void* second = host_allocate(bytes);
  EXPECT_EQ(second, first);
  const auto after = host_memory_stats();
  EXPECT_EQ(after.maps - before.maps, 1);
  EXPECT_EQ(after.reuses - before.reuses, 1);
  host_free(second, bytes);
  host_memory_trim();
  EXPECT_EQ(host_memory_stats().cached_bytes, 0);
}

TEST(HostMemory, AMuchSmallerRequestDoesNotTakeALargerCachedBlock) {
  host_memory_trim();
  void* big = host_allocate(32 * MiB);
  host_free(big, 32 * MiB);
  const auto before = host_memory_stats();
  void* small = host_allocate(8 * MiB);  // 1/4 of the cached block: a fresh mapping
  const auto after = host_memory_stats();
  EXPECT_EQ(after.reuses - before.reuses, 0);
  EXPECT_EQ(after.maps - before.maps, 1);
  host_free(small, 8 * MiB);
  host_memory_trim();
}

// Random sequences of allocations and frees of large blocks: after every step, live + cached
// (what stays mapped) is at most the peak of live bytes, i.e. what the process would have held at
// its worst without the cache. (trim() restarts the peak mark, so earlier tests do not loosen it.)
TEST(HostMemory, TheCacheNeverRaisesTheFootprintAboveThePeakOfLiveBlocks) {
  host_memory_trim();
  std::mt19937 rng(7);
  const std::size_t sizes[] = {4 * MiB, 6 * MiB, 10 * MiB, 24 * MiB, 40 * MiB};
  struct Held {
    void* p;
    std::size_t bytes;
  };
  std::vector<Held> held;
  for (int step = 0; step < 400; ++step) {
    const bool allocate = held.empty() || (held.size() < 6 && rng() % 2 == 0);
    if (allocate) {
      const std::size_t bytes = sizes[rng() % 5] + rng() % 4096;
      void* p = host_allocate(bytes);
      ASSERT_NE(p, nullptr);
      static_cast<char*>(p)[bytes - 1] = 1;
      held.push_back({p, bytes});
    } else {
      const std::size_t i = rng() % held.size();
      host_free(held[i].p, held[i].bytes);
      held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
    }
    const auto s = host_memory_stats();
    ASSERT_LE(s.live_bytes + s.cached_bytes, s.peak_live_bytes) << "step " << step;
  }
  for (const Held& h : held) host_free(h.p, h.bytes);
  EXPECT_GT(host_memory_stats().reuses, 0);
  host_memory_trim();
}

TEST(HostMemory, ZerosOnAReusedBlockAreZeros) {
  host_memory_trim();
  const Shape shape{1, 8, 512, 512};  // 8 MiB of floats: a large block
  {
    Tensor dirty = Tensor::empty(shape);
    float* p = dirty.f32();
    for (int64_t i = 0; i < dirty.numel(); ++i) p[i] = 3.0f;
  }
  const auto before = host_memory_stats();
  Tensor clean = Tensor::zeros(shape);
  EXPECT_EQ(host_memory_stats().reuses - before.reuses, 1);
  const float* p = clean.f32();
  for (int64_t i = 0; i < clean.numel(); ++i) ASSERT_EQ(p[i], 0.0f) << i;
}

}  // namespace
}  // namespace microsr
