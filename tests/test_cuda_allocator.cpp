// The CUDA backend's caching allocator (src/backend/cuda/cuda_allocator.cpp) on HOST memory: its
// MemorySource is swapped for a capped malloc, so the bookkeeping the GPU relies on — reuse by
// size class, pools that keep a recorded CUDA graph's blocks, the out-of-memory path with its
// cache flush and pressure handler, the statistics — is tested in CI, without a device.
#ifdef MICROSR_WITH_CUDA
#include <cstdlib>
#include <map>

#include "backend/cuda/cuda_allocator.h"
#include "test_helpers.h"

using namespace microsr;

namespace {

// Host memory with a capacity: allocations beyond it fail as a full device does (nullptr).
struct HostMemory {
  std::size_t capacity, used = 0;
  int allocations = 0, frees = 0;
  std::map<void*, std::size_t> blocks;

  explicit HostMemory(std::size_t cap) : capacity(cap) {}
  MemorySource source() {
    MemorySource s;
    s.allocate = [this](std::size_t bytes, const std::string&) -> void* {
      if (used + bytes > capacity) return nullptr;
      void* p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
      used += bytes, ++allocations, blocks[p] = bytes;
      return p;
    };
    s.free = [this](void* p) {
      used -= blocks.at(p), ++frees, blocks.erase(p);
      std::free(p);
    };
    s.info = [this](std::size_t* free_bytes, std::size_t* total) { *free_bytes = capacity - used, *total = capacity; };
    return s;
  }
};

TEST(CudaAllocatorBookkeeping, ReusesBlocksOfTheSameClassOrUpToHalfLarger) {
  HostMemory memory(1 << 20);
  auto alloc = std::make_shared<CudaAllocator>(memory.source());
  void* a = alloc->allocate(1000, "a");  // class 1024
  EXPECT_EQ(alloc->stats().in_use, 1024);
  alloc->release(a);
  EXPECT_EQ(alloc->stats().in_use, 0);
  EXPECT_EQ(alloc->allocate(900, "b"), a) << "same class";
  alloc->release(a);
  EXPECT_EQ(alloc->allocate(700, "c"), a) << "class 768: 1024 is within 1.5×";
  alloc->release(a);
  void* d = alloc->allocate(600, "d");  // class 640: 1024 > 960, a new block
  EXPECT_NE(d, a);
  EXPECT_EQ(memory.allocations, 2);
  EXPECT_EQ(alloc->driver_allocations(), 2);
  const DeviceMemoryStats s = alloc->stats();
  EXPECT_EQ(s.in_use, 640);
  EXPECT_EQ(s.peak_in_use, 1024);
  EXPECT_EQ(s.reserved, 1024 + 640);
  EXPECT_EQ(s.available, int64_t((1 << 20) - (1024 + 640)) + 1024) << "free device memory + the cached block";
  alloc->release(d);
  alloc->empty_cache();
  EXPECT_EQ(memory.used, 0u);
  EXPECT_EQ(alloc->stats().reserved, 0);
}

TEST(CudaAllocatorBookkeeping, APoolKeepsItsBlocksUntilReleased) {
  HostMemory memory(1 << 20);
  auto alloc = std::make_shared<CudaAllocator>(memory.source());
  void* before = alloc->allocate(1000, "before the pool");
  alloc->release(before);  // cached: the pool may take it

  const int pool = alloc->begin_pool();
  void* p1 = alloc->allocate(1000, "in the pool");
  EXPECT_EQ(p1, before) << "a pool takes from the shared cache";
  alloc->release(p1);
  void* p2 = alloc->allocate(1000, "in the pool again");
  EXPECT_EQ(p2, p1) << "reused inside the pool, in capture order";
  Tensor kept = alloc->tensor({4, 8}, DType::f32, Layout::nchw, "the pool's output");  // 128 B → 512
  alloc->release(p2);
  alloc->end_pool();
  EXPECT_EQ(alloc->pool_bytes(pool), 1024 + 512);
  EXPECT_EQ(alloc->stats().in_use, 1024 + 512) << "idle pool blocks stay counted in use";

  void* outside = alloc->allocate(1000, "after the pool");
  EXPECT_NE(outside, p1) << "the pool's idle block is not handed to anyone else";
  alloc->release(outside);

  alloc->release_pool(pool);
  EXPECT_EQ(alloc->stats().in_use, 512) << "only the output tensor is still in use";
  EXPECT_EQ(alloc->pool_bytes(pool), 0);
  void* again = alloc->allocate(1000, "after release_pool");
  EXPECT_TRUE(again == p1 || again == outside);
  alloc->release(again);
  void* output_block = kept.raw();
  kept = Tensor();  // an ex-pool block in a tensor comes back as an ordinary one
  EXPECT_EQ(alloc->stats().in_use, 0);
  void* small = alloc->allocate(500, "the output's block");
  EXPECT_EQ(small, output_block) << "back in the shared cache";
  alloc->release(small);
  EXPECT_EQ(memory.allocations, 3) << "1024 (before), 512 (output), 1024 (outside the pool)";
}

TEST(CudaAllocatorBookkeeping, OutOfMemoryFlushesTheCacheThenAsksThePressureHandler) {
  HostMemory memory(4096);
  auto alloc = std::make_shared<CudaAllocator>(memory.source());
  void* a = alloc->allocate(3000, "a");  // 3072
  alloc->release(a);                     // cached, still reserved
  void* b = alloc->allocate(4000, "b");  // 4096: only fits once the cached 3072 goes back
  EXPECT_EQ(memory.frees, 1);
  EXPECT_EQ(alloc->stats().reserved, 4096);

  int asked = 0;
  alloc->set_pressure_handler([&] { return ++asked, false; });
  microsr::testing::expect_error([&] { alloc->allocate(2000, "the third block"); },
                                 "CUDA out of memory: cannot allocate 2.0 KiB for the third block");
  EXPECT_EQ(asked, 1);
  microsr::testing::expect_error([&] { alloc->allocate(2000, "x"); }, "Use a smaller --tile or --batch");
  EXPECT_THROW(alloc->allocate(2000, "y"), OutOfMemory) << "the tiler catches the type, not the words";

  // A handler that frees memory (the backend dropping its recordings) lets the allocation succeed.
  alloc->set_pressure_handler([&] {
    alloc->release(b);
    return true;
  });
  void* c = alloc->allocate(2000, "after the handler");
  EXPECT_NE(c, nullptr);
  EXPECT_EQ(alloc->stats().in_use, 2048);

  // Not while a pool is open: a capture must not see its memory change under it.
  alloc->set_pressure_handler([&] {
    ADD_FAILURE() << "called inside a pool";
    return false;
  });
  const int pool = alloc->begin_pool();
  EXPECT_THROW(alloc->allocate(4000, "inside the pool"), Error);
  alloc->end_pool();
  alloc->release_pool(pool);
  alloc->release(c);
}

// While a pool is open a CUDA graph is being captured: a block from outside released then may be
// in the captured work, so the pool adopts it; and the cache is not given back to the driver
// (cudaFree synchronises the device, which breaks a capture) — the allocation fails instead.
TEST(CudaAllocatorBookkeeping, AnOpenPoolAdoptsReleasedBlocksAndFreesNothing) {
  HostMemory memory(4096);
  auto alloc = std::make_shared<CudaAllocator>(memory.source());
  void* outside = alloc->allocate(1000, "made before the pool");  // 1024
  alloc->release(alloc->allocate(1500, "cached"));                // 1536, in the shared cache
  const int pool = alloc->begin_pool();
  alloc->release(outside);
  EXPECT_EQ(alloc->pool_bytes(pool), 1024) << "released while the pool is open: the pool's now";
  EXPECT_EQ(alloc->stats().in_use, 1024) << "an idle pool block stays counted in use";
  void* inside = alloc->allocate(1000, "in the pool");
  EXPECT_EQ(inside, outside) << "the adopted block is reused inside the pool";
  // 3072 fits only if the cached 1536 went back to the driver: not during a capture.
  microsr::testing::expect_error([&] { alloc->allocate(3000, "too big"); }, "CUDA out of memory");
  EXPECT_EQ(memory.frees, 0) << "nothing given back to the driver while a pool is open";
  alloc->release(inside);
  alloc->end_pool();

  void* after = alloc->allocate(1000, "after the pool");
  EXPECT_NE(after, outside) << "the adopted block is not handed out while the pool holds it";
  alloc->release(after);
  alloc->release_pool(pool);
  EXPECT_EQ(alloc->stats().in_use, 0);
  void* big = alloc->allocate(3000, "once the pool is gone");  // now the cache may go back
  EXPECT_NE(big, nullptr);
  EXPECT_EQ(memory.frees, 2) << "the cached 1024 and 1536 blocks";
  alloc->release(big);
}

TEST(CudaAllocatorBookkeeping, DestructionReturnsEverythingIncludingPools) {
  HostMemory memory(1 << 20);
  {
    auto alloc = std::make_shared<CudaAllocator>(memory.source());
    alloc->release(alloc->allocate(5000, "cached"));
    alloc->begin_pool();
    void* p = alloc->allocate(7000, "pooled");
    alloc->release(p);
    alloc->end_pool();  // the pool is never released: the destructor must still free its block
  }
  EXPECT_EQ(memory.used, 0u);
  EXPECT_EQ(memory.frees, memory.allocations);
}

// A limit (CudaOptions::memory_limit) behaves as a device of that size: the cache goes back first,
// then the request fails with the tiler's OutOfMemory, and `available` (what --tile auto plans
// with) counts only what the limit leaves.
TEST(CudaAllocatorBookkeeping, ALimitActsAsASmallerDevice) {
  HostMemory memory(1 << 20);
  auto alloc = std::make_shared<CudaAllocator>(memory.source());
  alloc->set_limit(4096);
  EXPECT_EQ(alloc->limit(), 4096u);
  EXPECT_EQ(alloc->stats().available, 4096);
  void* a = alloc->allocate(3000, "a");  // 3072
  EXPECT_EQ(alloc->stats().available, 1024);
  alloc->release(a);
  EXPECT_EQ(alloc->stats().available, 4096) << "a cached block counts as available";
  void* b = alloc->allocate(4000, "b");  // 4096: fits once the cached 3072 goes back
  EXPECT_EQ(memory.frees, 1);
  EXPECT_EQ(alloc->stats().reserved, 4096);
  EXPECT_EQ(alloc->stats().available, 0);
  int asked = 0;
  alloc->set_pressure_handler([&] { return ++asked, false; });
  microsr::testing::expect_error([&] { alloc->allocate(600, "one more"); },
                                 "may hold 4.0 KiB: its memory limit). Use a smaller --tile or --batch");
  EXPECT_THROW(alloc->allocate(600, "one more"), OutOfMemory);
  EXPECT_EQ(asked, 2) << "the recordings may be dropped for the limit as for a full device";
  EXPECT_EQ(memory.used, 4096u) << "the host had room: only the limit refused";

  alloc->set_limit(0);  // no limit: the device's own size again
  void* c = alloc->allocate(600, "without the limit");
  EXPECT_EQ(alloc->stats().reserved, 4096 + 640);
  alloc->release(b);
  alloc->release(c);
}

// The log of driver allocations names each block's use (GpuGraphs prints it when replays grow),
// oldest first, and keeps the last kDriverLogSize.
TEST(CudaAllocatorBookkeeping, LogsWhatEachDriverAllocationWasFor) {
  HostMemory memory(1 << 30);
  auto alloc = std::make_shared<CudaAllocator>(memory.source());
  void* a = alloc->allocate(3000, "a");
  alloc->release(a);
  alloc->release(alloc->allocate(3000, "from the cache"));  // no driver allocation, no entry
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < CudaAllocator::kDriverLogSize + 3; ++i)
    blocks.push_back(alloc->allocate(4096 + 512 * i, "block " + std::to_string(i)));
  const std::vector<std::string> log = alloc->driver_allocation_log();
  ASSERT_EQ(log.size(), CudaAllocator::kDriverLogSize);
  EXPECT_EQ(log.front(), "6144 B for block 3") << "the oldest kept: 'a' and blocks 0, 1 and 2 fell out";
  EXPECT_EQ(log.back(), std::to_string(CudaAllocator::size_class(4096 + 512 * 258)) + " B for block 258");
  for (void* b : blocks) alloc->release(b);
}

TEST(MemorySize, UnitsArePowersOf1024AndOtherTextIsRefused) {
  EXPECT_EQ(parse_memory_size("6G", "x"), std::size_t(6) << 30);
  EXPECT_EQ(parse_memory_size("1536M", "x"), std::size_t(1536) << 20);
  EXPECT_EQ(parse_memory_size("512MiB", "x"), std::size_t(512) << 20);
  EXPECT_EQ(parse_memory_size("2.5GB", "x"), std::size_t(5) << 29);
  EXPECT_EQ(parse_memory_size("64k", "x"), std::size_t(64) << 10);
  EXPECT_EQ(parse_memory_size("1000000", "x"), 1000000u);
  EXPECT_EQ(parse_memory_size("100B", "x"), 100u);
  for (const char* bad : {"", "G", "abc", "6X", "6 G", "-1G", "0", "0.1", "nan", "inf", "1e30T"})
    microsr::testing::expect_error([&] { parse_memory_size(bad, "MICROSR_CUDA_MEMORY_LIMIT"); },
                                   std::string("MICROSR_CUDA_MEMORY_LIMIT = \"") + bad + "\" is not a memory size");
}

}  // namespace
#endif
