// The CUDA backend's memory: the caching allocator (reuse, statistics, the out-of-memory
// message the tiler retries on) with a device; and the host-side pieces that need none — size
// classes, the NHWC Tensor layout and its channel slices, device storage handed back to its
// allocator, and the views the kernels and cuDNN see (strides, alignment, disjointness).
#include "microsr/tiler.h"
#include "test_gpu_helpers.h"

#ifdef MICROSR_WITH_CUDA
#include "backend/cuda/cuda_allocator.h"
#include "backend/cuda/cuda_tensor.h"
#endif

using namespace microsr;
using namespace microsr::gpu_testing;

namespace {

// ---- no device needed ---------------------------------------------------------------------------

TEST(DeviceStorage, ReleaseRunsOnceWhenTheLastViewGoes) {
  int released = 0;
  void* seen = nullptr;
  alignas(16) static char block[4 * 2 * 8 * 3 * 5];
  {
    auto s = std::make_shared<Storage>();
    s->data = block, s->bytes = sizeof block, s->device = Device::cuda(0), s->owned = true;
    s->release = [&](void* p) { ++released, seen = p; };
    const Tensor t = Tensor::from_storage(std::move(s), {2, 8, 3, 5}, DType::f32, Layout::nhwc);
    const Tensor slice = t.channel_slice(2, 3);
    EXPECT_EQ(released, 0);
  }
  EXPECT_EQ(released, 1);
  EXPECT_EQ(seen, static_cast<void*>(block));
}

TEST(DeviceStorage, NhwcChannelSlicesOffsetInsideThePixel) {
  alignas(16) static uint16_t block[2 * 8 * 3 * 5];
  auto s = std::make_shared<Storage>();
  s->data = block, s->bytes = sizeof block;
  const Tensor t = Tensor::from_storage(s, {2, 8, 3, 5}, DType::f16, Layout::nhwc);
  EXPECT_TRUE(t.is_contiguous());
  const Tensor slice = t.channel_slice(3, 4);
  EXPECT_EQ(static_cast<char*>(slice.raw()) - static_cast<char*>(t.raw()), 3 * 2) << "c0 values, not c0 planes";
  EXPECT_EQ(slice.batch_stride(), 8 * 3 * 5);
  EXPECT_FALSE(slice.is_contiguous()) << "an NHWC slice interleaves with the other channels even for N = 1";
  EXPECT_TRUE(t.channel_slice(0, 8).is_contiguous());
  EXPECT_NE(slice.describe().find("nhwc"), std::string::npos);
  EXPECT_THROW(t.reshaped({2, 8, 15}), Error);
  // NCHW behaves as before: slices of one image are contiguous.
  const Tensor nchw = Tensor::zeros({1, 8, 3, 5});
  EXPECT_TRUE(nchw.channel_slice(2, 3).is_contiguous());
  EXPECT_EQ(static_cast<char*>(nchw.channel_slice(2, 3).raw()) - static_cast<char*>(nchw.raw()), 2 * 15 * 4);
}

TEST(TileMemory, HalfPrecisionHalvesTheEstimate) {
  const RRDBNetConfig cfg;
  const int64_t f32 = estimate_forward_bytes(cfg, 200, 200), f16 = estimate_forward_bytes(cfg, 200, 200, 1, 2);
  EXPECT_NEAR(double(f16) / double(f32), 0.5, 1e-6);
  EXPECT_GT(auto_tile_size(cfg, f32, 10, 0, 0, 2), auto_tile_size(cfg, f32, 10, 0, 0, 4));
}

#ifdef MICROSR_WITH_CUDA
TEST(CudaAllocatorClasses, FourClassesPerPowerOfTwo) {
  EXPECT_EQ(CudaAllocator::size_class(1), 512u);
  EXPECT_EQ(CudaAllocator::size_class(512), 512u);
  EXPECT_EQ(CudaAllocator::size_class(513), 640u);  // 512 + 128
  EXPECT_EQ(CudaAllocator::size_class(1 << 20), std::size_t(1) << 20);
  EXPECT_EQ(CudaAllocator::size_class((1 << 20) + 1), std::size_t(1280) << 10);  // 1.25 MiB
  for (std::size_t b = 1; b < (std::size_t(1) << 34); b = b * 3 + 7) {
    const std::size_t c = CudaAllocator::size_class(b);
    EXPECT_GE(c, b);
    EXPECT_LE(double(c), std::max(512.0, 1.25 * double(b))) << b;
    EXPECT_EQ(CudaAllocator::size_class(c), c) << "classes are fixed points";
  }
}

TEST(CudaViews, StridesOfLayoutsAndSlices) {
  alignas(256) static uint16_t block[2 * 96 * 4 * 6];
  auto s = std::make_shared<Storage>();
  s->data = block, s->bytes = sizeof block, s->device = Device::cuda(0);
  const Tensor t = Tensor::from_storage(s, {2, 96, 4, 6}, DType::f16, Layout::nhwc);
  const cuda::View v = view_of(t, "test");
  EXPECT_TRUE(v.half);
  EXPECT_EQ(v.sc, 1);
  EXPECT_EQ(v.sw, 96);
  EXPECT_EQ(v.sh, 96 * 6);
  EXPECT_EQ(v.sn, 96 * 6 * 4);
  EXPECT_TRUE(view_packed(v));
  EXPECT_EQ(view_alignment(v), 16);

  const cuda::View a = view_of(t.channel_slice(0, 64), "a"), b = view_of(t.channel_slice(64, 32), "b");
  EXPECT_EQ(a.sw, 96) << "a slice keeps its parent's pixel stride";
  EXPECT_FALSE(view_packed(a));
  EXPECT_EQ(view_alignment(b), 16);  // 64 halves = 128 bytes in
  EXPECT_EQ(view_alignment(view_of(t.channel_slice(4, 8), "c")), 8);
  EXPECT_TRUE(views_disjoint(a, b));
  EXPECT_FALSE(views_disjoint(a, view_of(t.channel_slice(60, 8), "overlap")));
  EXPECT_FALSE(views_disjoint(a, a));

  const Tensor f = Tensor::zeros({2, 10, 3, 5});
  const cuda::View fs = view_of(f.channel_slice(2, 3), "nchw slice");
  EXPECT_EQ(fs.sn, 150);
  EXPECT_EQ(fs.sc, 15);
  EXPECT_EQ(fs.sw, 1);
  EXPECT_TRUE(views_disjoint(fs, view_of(f.channel_slice(5, 5), "next")));
  EXPECT_FALSE(views_disjoint(fs, view_of(f.channel_slice(4, 5), "overlapping")));
}
#endif

// ---- with a device ---------------------------------------------------------------------------------

TEST(GpuMemory, AllocatorReusesBlocksAndCountsBytes) {
  SKIP_WITHOUT_CUDA_DEVICE();
#ifdef MICROSR_WITH_CUDA
  auto alloc = std::make_shared<CudaAllocator>(0);
  void* a = alloc->allocate(1000, "test");
  EXPECT_EQ(alloc->stats().in_use, 1024);
  alloc->release(a);
  EXPECT_EQ(alloc->stats().in_use, 0);
  const int64_t calls = alloc->driver_allocations();
  void* b = alloc->allocate(900, "test");  // same class: the cached block comes back
  EXPECT_EQ(b, a);
  EXPECT_EQ(alloc->driver_allocations(), calls);
  {
    const Tensor t = alloc->tensor({1, 64, 100, 100}, DType::f16, Layout::nhwc, "test");
    EXPECT_EQ(t.device(), Device::cuda(0));
    EXPECT_GE(alloc->stats().in_use, 1024 + 64 * 100 * 100 * 2);
  }
  const DeviceMemoryStats s = alloc->stats();
  EXPECT_EQ(s.in_use, 1024) << "the tensor's block went back when it did";
  EXPECT_GE(s.peak_in_use, 1024 + 64 * 100 * 100 * 2);
  EXPECT_GE(s.reserved, s.peak_in_use);
  EXPECT_GT(s.available, 0);
  alloc->release(b);
  alloc->empty_cache();
  EXPECT_EQ(alloc->stats().reserved, 0);
#endif
}

TEST(GpuMemory, ASecondForwardAllocatesNothingNew) {
  SKIP_WITHOUT_CUDA_DEVICE();
  auto gpu = cuda_backend();
  const Tensor x = gpu->to_device(random_tensor({1, 16, 20, 20}, 91));
  const Tensor w = gpu->to_device(random_tensor({16, 16, 3, 3}, 92, -0.1f, 0.1f));
  auto step = [&] {
    Tensor y = gpu->empty({1, 16, 20, 20});
    gpu->conv2d(y, x, w, Tensor(), {});
    Tensor up = gpu->empty({1, 16, 40, 40});
    gpu->upsample_nearest2x(up, y);
  };
  step();
  const DeviceMemoryStats first = device_memory_stats(*gpu);
  step();
  const DeviceMemoryStats second = device_memory_stats(*gpu);
  EXPECT_EQ(second.reserved, first.reserved) << "the second pass should run on cached blocks";
  EXPECT_EQ(second.in_use, first.in_use);
}

TEST(GpuMemory, OutOfMemorySaysSoWithSizes) {
  SKIP_WITHOUT_CUDA_DEVICE();
  auto gpu = cuda_backend();
  // 2^48 floats = 1 PiB: no device has that. The tiler retries on OutOfMemory.
  microsr::testing::expect_error([&] { gpu->empty({1 << 16, 1 << 16, 1 << 8, 1 << 8}); }, "out of memory");
  EXPECT_THROW(gpu->empty({1 << 16, 1 << 16, 1 << 8, 1 << 8}), OutOfMemory);
  // And the backend still works afterwards.
  const Tensor x = random_tensor({1, 3, 4, 4}, 93);
  microsr::testing::expect_close(gpu->to_host(gpu->to_device(x)), x, 0.0, "after an OOM");
}

}  // namespace
