// Device memory running short, on a GPU. docs/cuda_backend.md listed these paths as never run,
// because an H200 does not run short on a test's sizes; a memory limit (set_device_memory_limit,
// the allocator's cap) makes the device exactly as small as a test needs:
//   * the tiler's out-of-memory retry halves the tile until the pieces fit, within the limit, and
//     the image is the one the CPU makes with the tiles it ended with;
//   * with CUDA graphs recorded, the allocator's pressure handler drops the recordings (one line on
//     stderr), the pass that needed the room completes, and later passes run without graphs.
// Both use the tiny x4 network of tests/data/rrdbnet, `legacy_heuristic` (cuDNN's ranking, no
// timed search, so two backends choose alike) and a 1 MiB convolution workspace, so that the
// activations, not cuDNN's workspace, decide what fits.
#include <cstdio>

#include "microsr/rrdbnet.h"
#include "microsr/tiler.h"
#include "test_gpu_helpers.h"

using namespace microsr;
using namespace microsr::gpu_testing;
using microsr::testing::expect_close;

namespace {

struct TinyNetwork {
  StateDict weights = microsr::testing::rrdbnet_weights_of(
      load_safetensors(microsr::testing::data_path("rrdbnet/x4_f8_b2_g4.safetensors")));
  RRDBNetConfig config = infer_rrdbnet_config(weights);
};

std::unique_ptr<Backend> small_workspace_backend(bool graphs) {
  CudaOptions o;
  o.conv = "legacy_heuristic";
  o.workspace_limit = std::size_t(1) << 20;
  o.graphs = graphs;
  o.sync_each_op = true;  // a failure names the op that caused it
  return make_cuda_backend(0, o);
}

std::string mb(int64_t bytes) { return std::to_string(double(bytes) / (1 << 20)) + " MiB"; }

TEST(GpuMemoryLimit, TheTilerHalvesItsTilesUntilThePiecesFit) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const TinyNetwork tiny;
  const Tensor image = random_tensor({1, 3, 128, 128}, 41, 0.f, 1.f);
  TileOptions small;
  small.tile = 32, small.tile_pad = 8, small.min_tile = 16;

  // What 32-pixel tiles need (weights included), on a backend of their own.
  int64_t small_tiles_bytes = 0;
  {
    auto gpu = small_workspace_backend(false);
    RRDBNet net(tiny.config, tiny.weights, *gpu);
    upscale_tiled(net, *gpu, image, small);
    small_tiles_bytes = device_memory_stats(*gpu).peak_reserved;
  }

  // A device a quarter larger than that: the whole 128² image (~6× the pixels of a padded
  // 32-pixel piece) and 64-pixel tiles (~2.8×) do not fit; 32-pixel tiles do.
  auto gpu = small_workspace_backend(false);
  RRDBNet net(tiny.config, tiny.weights, *gpu);
  const int64_t limit = small_tiles_bytes + small_tiles_bytes / 4;
  set_device_memory_limit(*gpu, limit);
  TileOptions whole = small;
  whole.tile = 0;
  std::vector<int> retries;
  whole.on_retry = [&](int tile) { retries.push_back(tile); };
  const Tensor got = upscale_tiled(net, *gpu, image, whole);
  const DeviceMemoryStats stats = device_memory_stats(*gpu);
  std::printf("[ info ] limit %s (32-pixel tiles alone: %s); retries:", mb(limit).c_str(),
              mb(small_tiles_bytes).c_str());
  for (int t : retries) std::printf(" %d", t);
  std::printf("; peak reserved %s\n", mb(stats.peak_reserved).c_str());
  EXPECT_LE(stats.peak_reserved, limit) << "the limit was exceeded";
  ASSERT_FALSE(retries.empty()) << "the whole image fit in " << mb(limit) << ": the limit did not bite";
  EXPECT_EQ(retries.front(), 64) << "the first retry halves the image's side";

  // The same image as the CPU makes with the tiles the retries ended with.
  auto cpu = make_cpu_backend(CpuOptions{});
  RRDBNet cpu_net(tiny.config, tiny.weights, *cpu);
  TileOptions final_tiles = small;
  final_tiles.tile = retries.back();
  expect_close(got, upscale_tiled(cpu_net, *cpu, image, final_tiles), 1e-4, "tiled under the limit vs the CPU");
}

TEST(GpuMemoryLimit, MemoryPressureDropsTheRecordedGraphsAndSaysSo) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const TinyNetwork tiny;
  auto gpu = small_workspace_backend(true);
  RRDBNet net(tiny.config, tiny.weights, *gpu);
  auto cpu = make_cpu_backend(CpuOptions{});
  RRDBNet cpu_net(tiny.config, tiny.weights, *cpu);
  const Tensor a = random_tensor({1, 3, 96, 96}, 51, 0.f, 1.f), b = random_tensor({1, 3, 80, 80}, 52, 0.f, 1.f);

  net.forward_inference(gpu->to_device(a));  // the warm-up: a plain pass
  const int64_t before_recording = device_memory_stats(*gpu).in_use;
  net.forward_inference(gpu->to_device(a));  // recorded: its pool keeps one pass's blocks
  net.forward_inference(gpu->to_device(a));  // replayed
  const int64_t recorded = device_memory_stats(*gpu).in_use - before_recording;  // the pool, its input, output
  ASSERT_GT(recorded, 0) << "no recording holds memory: were graphs recorded at all?";

  // Room for a quarter of a recording beyond what is in use: b's pass (~0.7 of a's pixels) fits
  // only once the recording's pool is given back.
  const int64_t limit = device_memory_stats(*gpu).in_use + recorded / 4;
  set_device_memory_limit(*gpu, limit);  // the cache may hold more until the first refusal gives it back
  ::testing::internal::CaptureStderr();
  Tensor from_b;
  try {
    from_b = gpu->to_host(net.forward_inference(gpu->to_device(b)));
  } catch (const std::exception& e) {
    ADD_FAILURE() << "the pass under pressure failed: " << e.what();
  }
  const std::string said = ::testing::internal::GetCapturedStderr();
  std::printf("[ info ] recording %s, limit %s, reserved after b's pass %s\n", mb(recorded).c_str(), mb(limit).c_str(),
              mb(device_memory_stats(*gpu).reserved).c_str());
  EXPECT_NE(said.find("dropped the recorded CUDA graphs"), std::string::npos) << "stderr: " << said;
  EXPECT_LE(device_memory_stats(*gpu).reserved, limit);
  if (from_b.defined()) expect_close(from_b, cpu_net.forward(b), 1e-4, "the pass that needed the room vs the CPU");

  // Graphs are off now: the shape that was recorded runs as plain passes, with a's output.
  const Tensor want_a = cpu_net.forward(a);
  for (int call = 0; call < 2; ++call)
    expect_close(gpu->to_host(net.forward_inference(gpu->to_device(a))), want_a, 1e-4,
                 "after the recordings were dropped, call " + std::to_string(call + 1));
  EXPECT_LE(device_memory_stats(*gpu).reserved, limit);
}

}  // namespace
