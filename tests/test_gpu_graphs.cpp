// CUDA graphs (src/backend/cuda/cuda_graphs.cpp): RRDBNet::forward_inference records the forward pass
// on its second call at a shape and replays it afterwards. Checked on the tiny networks of
// tests/data/rrdbnet against plain forward() on the same backend (same algorithms: the results
// must agree to rounding), for every convolution variant, fp32 and fp16:
//   * warm-up, recording and replays all give forward()'s output, for new inputs every time;
//   * a returned tensor is the caller's own: later replays do not overwrite it;
//   * replays allocate nothing new from the driver beyond the outputs the caller keeps, once
//     past the first replay (which may still take a block for a new size class);
//   * after weights_updated() the old recording is dropped and the new weights are used;
//   * with graphs off the same outputs come from plain passes.
#include <cstdio>

#include "microsr/rrdbnet.h"
#include "test_gpu_helpers.h"

using namespace microsr;
using namespace microsr::gpu_testing;
using microsr::testing::data_path;
using microsr::testing::expect_close;

namespace {

int64_t kept_device_bytes(const std::vector<Tensor>& kept) {
  int64_t bytes = 0;
  for (const Tensor& t : kept) bytes += t.numel() * int64_t(t.dtype() == DType::f16 ? 2 : 4);
  return bytes;
}

// The driver allocations after the first `from` of the backend's log, one a line (the log keeps
// the last 256: when it is full, its last 16 instead).
std::string allocations_since(const Backend& backend, std::size_t from) {
  const std::vector<std::string> log = device_driver_allocations(backend);
  if (log.size() >= 256) from = log.size() - 16;
  std::string lines;
  for (std::size_t i = from; i < log.size(); ++i) lines += "\n  " + log[i];
  return lines.empty() ? " none" : lines;
}

class GpuGraphs : public ::testing::TestWithParam<std::string> {};

TEST_P(GpuGraphs, ReplaysGiveTheForwardPassOutput) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (const char* name : {"x4_f8_b2_g4", "x2_f8_b1_g4_batch2"}) {
    const StateDict fixture = load_safetensors(data_path(std::string("rrdbnet/") + name + ".safetensors"));
    const StateDict w = microsr::testing::rrdbnet_weights_of(fixture);
    const RRDBNetConfig cfg = infer_rrdbnet_config(w);
    const Shape shape = fixture.at("input").shape();
    for (Precision precision : {Precision::fp32, Precision::fp16}) {
      const double tolerance = precision == Precision::fp32 ? 1e-6 : 1e-3;
      // Another backend may pick other algorithms (legacy_find times them): in fp16 those round
      // differently by a few half-precision steps (H200, 2026-12-04: 0.006 at values near 2).
      const double other_backend_tolerance = precision == Precision::fp32 ? 1e-5 : 1.5e-2;
      const std::string what = GetParam() + " " + precision_name(precision) + " " + name;
      auto gpu = cuda_backend(precision, GetParam(), true);
      RRDBNet net(cfg, w, *gpu);
      std::vector<Tensor> inputs, kept;
      for (unsigned seed = 0; seed < 6; ++seed) inputs.push_back(random_tensor(shape, 300 + seed, 0.f, 1.f));
      // The six calls in a row (warm-up, record, then four replays), nothing else in between:
      // plain forward() passes interleaved with them would take and return blocks of their own,
      // and the allocator's cache would then say more about their sizes than about the replays.
      int64_t reserved_after_recording = 0, reserved_after_first_replay = 0, kept_bytes_after_first_replay = 0;
      std::size_t driver_log_after_first_replay = 0;
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        kept.push_back(net.forward_inference(gpu->to_device(inputs[i])));
        if (i == 1) reserved_after_recording = device_memory_stats(*gpu).reserved;
        if (i == 2) reserved_after_first_replay = device_memory_stats(*gpu).reserved;
        if (i == 2) kept_bytes_after_first_replay = kept_device_bytes(kept);
        if (i == 2) driver_log_after_first_replay = device_driver_allocations(*gpu).size();
      }
      // Later replays' only new memory is the outputs the caller keeps (one block each, in the
      // allocator's size class: at most 25 % over), so nothing grows with the number of replays.
      // The first replay is reported, not bounded (H200, 2026-12-04: 4 KiB more than its output
      // in fp16, nothing in fp32). With forward() passes between the calls (run c), fp16 missed the
      // bound by 2 KiB a call: each output (class 12288) took a cached 14336-byte block of those
      // passes' half maps, which the next pass then took from the driver (docs/cuda_backend.md);
      // this order has yet to run there.
      const int64_t kept_since = kept_device_bytes(kept) - kept_bytes_after_first_replay;
      EXPECT_LE(device_memory_stats(*gpu).reserved - reserved_after_first_replay, kept_since + kept_since / 4 + 1024)
          << what << ": replays allocated more than the outputs they return; from the driver since the first replay:"
          << allocations_since(*gpu, driver_log_after_first_replay);
      std::printf("[ info ] %s: the first replay grew the reserved memory by %lld bytes\n", what.c_str(),
                  (long long)(reserved_after_first_replay - reserved_after_recording));
      // Each call's tensor holds its own result: the one forward() gives for that input (so later
      // replays did not overwrite it either).
      for (std::size_t i = 0; i < inputs.size(); ++i)
        expect_close(gpu->to_host(kept[i]), gpu->to_host(net.forward(gpu->to_device(inputs[i]))), tolerance,
                     what + ", call " + std::to_string(i + 1));

      // New weights: the recording must not replay the old ones.
      gpu->scale(net.parameters(), 1.05f);  // every parameter, in place, as an optimizer step would
      net.weights_updated();
      const Tensor x = gpu->to_device(inputs[0]);
      for (int call = 0; call < 3; ++call)
        expect_close(gpu->to_host(net.forward_inference(x)), gpu->to_host(net.forward(x)), tolerance,
                     what + ", after weights_updated, call " + std::to_string(call + 1));

      // Graphs off: plain passes, the same numbers.
      auto plain = cuda_backend(precision, GetParam(), false);
      RRDBNet plain_net(cfg, w, *plain);
      for (int call = 0; call < 3; ++call)
        expect_close(plain->to_host(plain_net.forward_inference(plain->to_device(inputs[1]))), gpu->to_host(kept[1]),
                     other_backend_tolerance, what + ", graphs off vs on");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Gpu, GpuGraphs, ::testing::Values("legacy_find", "legacy_heuristic", "graph", "graph_fused"));

}  // namespace
