// Whole-network benchmark: RRDBNet forward on the CPU backend, and on the CUDA backend in fp32
// and fp16 (skipped, with "no CUDA device", where there is none).
//   * RealESRGAN_x4plus (real weights when fetched: $MICROSR_MODELS or <repo>/models) at 64×64 and
//     128×128 inputs — the sizes the core issue compares with PyTorch
//     (tools/compare_cpu_vs_torch.py runs both side by side and reports the ratio);
//   * without the weights, the same architecture with random weights (speed does not depend on
//     the values).
// Counters: GFLOP/s (2 × MACs of the forward pass per second) and peak RSS in MiB; for CUDA the
// allocator's peak device memory in MiB. CUDA timings run from the input on the device to the
// output on the device (the queue drained each iteration), as `microsr bench --device cuda`.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cpu/cpu_isa.h"
#include "microsr/rrdbnet.h"

using namespace microsr;

namespace {

StateDict x4plus_weights() {
  const char* env = std::getenv("MICROSR_MODELS");
  const std::string dir = env ? env : std::string(MICROSR_BENCH_SOURCE_DIR) + "/models";
  for (const char* name : {"/RealESRGAN_x4plus.pth", "/realesrgan-x4plus.param"})
    if (std::filesystem::exists(dir + name)) return load_rrdbnet_weights(dir + name);
  // Random weights of the same shapes, scaled small so activations stay finite.
  StateDict sd;
  std::mt19937 rng(0);
  std::normal_distribution<float> normal(0.f, 0.02f);
  for (const auto& p : RRDBNetConfig{}.parameter_table()) {
    Tensor t = Tensor::empty(p.shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = normal(rng);
    sd.add(p.name, t);
  }
  return sd;
}

// [1][3][height][width], uniform in [0, 1), the same for every run.
Tensor random_image(int height, int width) {
  Tensor x = Tensor::empty({1, 3, height, width});
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  for (int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = uniform(rng);
  return x;
}

void BM_RealESRGANx4plusForward(benchmark::State& state) {
  static const StateDict weights = x4plus_weights();
  const int size = int(state.range(0));
  CpuOptions options;
  options.threads = int(state.range(1));
  auto backend = make_cpu_backend(options);
  const RRDBNetConfig cfg = infer_rrdbnet_config(weights);
  RRDBNet net(cfg, weights, *backend);
  const Tensor x = random_image(size, size);
  net.forward(x);  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(net.forward(x).raw());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2 * cfg.macs(size, size) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_rss_MiB"] = usage.ru_maxrss / 1024.0;
  state.SetLabel(backend->name());
}

}  // namespace

// Args: input side, threads (0 = all cores).
BENCHMARK(BM_RealESRGANx4plusForward)
    ->Args({64, 0})
    ->Args({128, 0})
    ->Args({64, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

namespace {

// The same forward with the kernels' instruction set lowered to `isa` (kernels/cpu/cpu_isa.h) for
// the whole run, weights packed under it: an A/B of the ISA paths in one process, e.g.
//   bench_rrdbnet --benchmark_filter=Isa --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
// Registered for avx2 and up to the level this CPU has, at 64x64 and 128x128, all threads.
void BM_RealESRGANx4plusForwardIsa(benchmark::State& state, kernels::CpuIsa isa) {
  const kernels::CpuIsaScope scope(isa);
  BM_RealESRGANx4plusForward(state);
}

// Runs nets a and b alternately on one input, once per iteration each, and reports each side's
// fastest and median pass in ms and fastest(b) / fastest(a): an A/B that a loaded machine's drift
// reaches equally.
void time_alternating(benchmark::State& state, RRDBNet& a, RRDBNet& b, const Tensor& x, const std::string& a_name,
                      const std::string& b_name) {
  a.forward(x);  // warm-up
  b.forward(x);
  std::vector<double> a_ms, b_ms;
  const auto time_ms = [&](RRDBNet& net) {
    const auto start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(net.forward(x).raw());
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };
  for (auto _ : state) {
    a_ms.push_back(time_ms(a));
    b_ms.push_back(time_ms(b));
  }
  std::sort(a_ms.begin(), a_ms.end());
  std::sort(b_ms.begin(), b_ms.end());
  state.counters[a_name + "_min_ms"] = a_ms.front();
  state.counters[a_name + "_median_ms"] = a_ms[a_ms.size() / 2];
  state.counters[b_name + "_min_ms"] = b_ms.front();
  state.counters[b_name + "_median_ms"] = b_ms[b_ms.size() / 2];
  state.counters["min_ratio"] = b_ms.front() / a_ms.front();
}

// The ISA A/B in one benchmark, for a loaded machine: two networks built once, their weights
// packed under avx2 (conv_v3's format) and under the detected level (conv_v5's from avx512 up);
// each keeps the format it was packed in. min_ratio = fastest(detected) / fastest(avx2).
//   bench_rrdbnet --benchmark_filter=IsaAlternating --benchmark_min_time=20
void BM_RealESRGANx4plusIsaAlternating(benchmark::State& state) {
  static const StateDict weights = x4plus_weights();
  auto backend = make_cpu_backend();
  const RRDBNetConfig cfg = infer_rrdbnet_config(weights);
  std::unique_ptr<RRDBNet> avx2_net;
  {
    const kernels::CpuIsaScope scope(kernels::CpuIsa::kAvx2);
    avx2_net = std::make_unique<RRDBNet>(cfg, weights, *backend);  // packs its weights now
  }
  RRDBNet best_net(cfg, weights, *backend);
  time_alternating(state, *avx2_net, best_net, random_image(int(state.range(0)), int(state.range(0))), "avx2", "best");
  state.SetLabel(std::string("best = ") + kernels::cpu_isa_name(kernels::active_cpu_isa()));
}
BENCHMARK(BM_RealESRGANx4plusIsaAlternating)->Arg(64)->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime();

// The fused dense block (each channel transformed once, a wavefront over bands of rows) against the
// five separate convolutions, fp32, alternating: one backend made with MICROSR_DENSE_FUSION=0.
// min_ratio = fastest(fused) / fastest(separate). 440: the whole image's tile with its padding.
//   bench_rrdbnet --benchmark_filter=DenseFusionAlternating --benchmark_min_time=20
void BM_RealESRGANx4plusDenseFusionAlternating(benchmark::State& state) {
  static const StateDict weights = x4plus_weights();
  setenv("MICROSR_DENSE_FUSION", "0", 1);  // read when the backend is made
  auto separate_backend = make_cpu_backend();
  unsetenv("MICROSR_DENSE_FUSION");
  auto fused_backend = make_cpu_backend();
  const RRDBNetConfig cfg = infer_rrdbnet_config(weights);
  RRDBNet separate(cfg, weights, *separate_backend), fused(cfg, weights, *fused_backend);
  time_alternating(state, separate, fused, random_image(int(state.range(0)), int(state.range(0))), "separate", "fused");
  state.SetLabel(fused_backend->name());
}
BENCHMARK(BM_RealESRGANx4plusDenseFusionAlternating)
    ->Arg(64)
    ->Arg(128)
    ->Arg(440)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

[[maybe_unused]] const bool isa_benchmarks_registered = [] {
  int count = 0;
  const kernels::CpuIsa* levels = kernels::cpu_isa_levels(&count);
  for (int size : {64, 128})
    for (int i = 0; i < count; ++i) {
      const kernels::CpuIsa isa = levels[i];
      // avx512_bf16 and amx run the avx512 kernels (no kernels of their own yet): not repeated.
      if (isa != kernels::CpuIsa::kAvx2 && isa != kernels::CpuIsa::kAvx512) continue;
      if (static_cast<int>(isa) > static_cast<int>(kernels::detected_cpu_isa())) continue;
      benchmark::RegisterBenchmark(
          ("BM_RealESRGANx4plusForwardIsa/" + std::string(kernels::cpu_isa_name(isa)) + "/" + std::to_string(size))
              .c_str(),
          BM_RealESRGANx4plusForwardIsa, isa)
          ->Args({size, 0})
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime()
          ->MinTime(2.0);
    }
  return true;
}();

// Args: input width, input height, precision (0 fp32, 1 fp16), convolution variant (index into
// cuda_conv_variants(): 0 legacy_find, 3 graph_fused), CUDA graphs (1 on, 0 off). The pass is
// forward_inference, as upscale runs it: two warm-ups (algorithm choices, then the recording).
void BM_RealESRGANx4plusForwardCuda(benchmark::State& state) {
  std::string why;
  if (!cuda_available(&why)) {
    state.SkipWithError(("no CUDA device: " + why).c_str());
    return;
  }
  static const StateDict weights = x4plus_weights();
  const int width = int(state.range(0)), height = int(state.range(1));
  CudaOptions options;
  options.precision = state.range(2) ? Precision::fp16 : Precision::fp32;
  options.conv = cuda_conv_variants().at(std::size_t(state.range(3)));
  options.graphs = state.range(4) != 0;
  auto backend = make_cuda_backend(0, options);
  const RRDBNetConfig cfg = infer_rrdbnet_config(weights);
  RRDBNet net(cfg, weights, *backend);
  const Tensor x = backend->to_device(random_image(height, width));
  net.forward_inference(x);  // warm-up: prepared weights, cuDNN plans, first allocations
  net.forward_inference(x);  // the CUDA graph is recorded (with graphs on)
  synchronize_device(*backend);
  for (auto _ : state) {
    benchmark::DoNotOptimize(net.forward_inference(x).raw());
    synchronize_device(*backend);
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2 * cfg.macs(height, width) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_device_MiB"] = double(device_memory_stats(*backend).peak_reserved) / (1 << 20);
  state.SetLabel(backend->name());
}

}  // namespace

BENCHMARK(BM_RealESRGANx4plusForwardCuda)
    ->Args({128, 128, 1, 0, 0})
    ->Args({128, 128, 1, 0, 1})
    ->Args({256, 256, 0, 0, 1})
    ->Args({256, 256, 1, 0, 1})
    ->Args({256, 256, 1, 3, 1})
    ->Args({1600, 1200, 0, 0, 1})
    ->Args({1600, 1200, 1, 0, 1})
    ->Args({1600, 1200, 1, 3, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);
