// CPU convolution benchmarks: every variant x the RRDBNet conv shapes, GFLOP/s as a counter.
//
//   bench_conv                                   all variants, 2 threads (omp_get_max_threads())
//   bench_conv --benchmark_filter=conv_v1        one variant
//   bench_conv --benchmark_format=json > b.json && /usr/bin/python3 tools/bench_conv_torch.py
//   --compare b.json
//                                                ratio to torch.nn.functional.conv2d per shape
// The flop count is the direct one, 2*cin*cout*k*k*h*w, also for Winograd ("effective" GFLOP/s).
// Names: BM_conv/<variant>/<cin>x<cout>/<h>x<w>/k<k>/t<threads> (plain signature: packs the
// weights in every call); BM_packed/<format>/<shape>/t<threads> (weights packed once, then
// conv2d_packed: the production path); BM_pack/<format>/<shape> times pack_conv_weights alone.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <random>
#include <string>
#include <vector>

#include "cpu/conv/variants.h"
#include "cpu/threads.h"

namespace microsr::kernels {
namespace {

struct Shape {
  int cin, cout, h, w, k;
  std::string name() const {
    return std::to_string(cin) + "x" + std::to_string(cout) + "/" + std::to_string(h) + "x" + std::to_string(w) + "/k" +
           std::to_string(k);
  }
  double flops() const { return 2.0 * cin * cout * k * k * double(h) * w; }
};

// The distinct convolutions of RealESRGAN_x4plus on a 64x64 and a 128x128 input
// (same list as tools/bench_conv_torch.py).
std::vector<Shape> rrdbnet_shapes() {
  std::vector<Shape> shapes;
  for (int size : {64, 128}) {
    shapes.push_back({3, 64, size, size, 3});  // conv_first
    for (int cin : {64, 96, 128, 160, 192}) shapes.push_back({cin, cin < 192 ? 32 : 64, size, size, 3});
    shapes.push_back({64, 64, size, size, 3});  // conv_body
  }
  shapes.push_back({64, 64, 256, 256, 3});  // conv_up1 (64x64 input)
  shapes.push_back({64, 64, 512, 512, 3});  // conv_up2 / conv_hr (128x128 input)
  shapes.push_back({64, 3, 512, 512, 3});   // conv_last (128x128 input)
  return shapes;
}

struct Operands {
  std::vector<float> x, weight, bias, y, residual;
  explicit Operands(const Shape& s) {
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    auto fill = [&](std::vector<float>& v, size_t n, float scale) {
      v.resize(n);
      for (float& value : v) value = scale * dist(rng);
    };
    fill(x, size_t(s.cin) * s.h * s.w, 1.0f);
    fill(weight, size_t(s.cout) * s.cin * s.k * s.k, 0.05f);
    fill(bias, s.cout, 0.1f);
    fill(residual, size_t(s.cout) * s.h * s.w, 1.0f);
    y.resize(size_t(s.cout) * s.h * s.w);
  }
};

void set_flop_counter(benchmark::State& state, const Shape& s) {
  state.counters["GFLOPs"] = benchmark::Counter(s.flops(), benchmark::Counter::kIsIterationInvariantRate);
}

void bench_variant(benchmark::State& state, const Conv2dVariant* variant, Shape s, int threads) {
  const ThreadCount team(threads);  // the kernels run with `threads` threads, this scope only
  Operands op(s);
  ConvEpilogue epi;
  epi.has_lrelu = true;  // the common RRDBNet case: conv + bias + LeakyReLU
  for (auto _ : state) {
    variant->fn(op.y.data(), op.x.data(), op.weight.data(), op.bias.data(), s.cin, s.cout, s.h, s.w, s.k, epi);
    benchmark::DoNotOptimize(op.y.data());
  }
  set_flop_counter(state, s);
}

void bench_packed(benchmark::State& state, ConvWeightFormat format, Shape s, int threads) {
  const ThreadCount team(threads);  // the kernels run with `threads` threads, this scope only
  Operands op(s);
  const PackedConvWeights packed = pack_conv_weights(op.weight.data(), op.bias.data(), s.cin, s.cout, s.k, format);
  ConvEpilogue epi;
  epi.has_lrelu = true;
  for (auto _ : state) {
    conv2d_packed(op.y.data(), op.x.data(), packed, s.h, s.w, epi);
    benchmark::DoNotOptimize(op.y.data());
  }
  set_flop_counter(state, s);
}

void bench_pack(benchmark::State& state, ConvWeightFormat format, Shape s) {
  Operands op(s);
  for (auto _ : state) {
    PackedConvWeights packed = pack_conv_weights(op.weight.data(), op.bias.data(), s.cin, s.cout, s.k, format);
    benchmark::DoNotOptimize(packed.data.data());
  }
}

int register_all() {
  const int max_threads = omp_get_max_threads();
  auto thread_counts = [&](const Shape& s) {
    // 1-thread figures for the body-sized shapes only (the large ones take seconds).
    std::vector<int> counts = {max_threads};
    if (max_threads > 1 && s.h <= 128) counts.push_back(1);
    return counts;
  };
  // Plain-signature variants: weights are packed inside every call.
  for (const Conv2dVariant& variant : conv2d_variants())
    for (const Shape& s : rrdbnet_shapes())
      for (int threads : thread_counts(s))
        benchmark::RegisterBenchmark(
            ("BM_conv/" + std::string(variant.name) + "/" + s.name() + "/t" + std::to_string(threads)).c_str(),
            bench_variant, &variant, s, threads)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
  // Weights packed once (the production path), then conv2d_packed.
  for (ConvWeightFormat format : conv_weight_formats())
    for (const Shape& s : rrdbnet_shapes())
      for (int threads : thread_counts(s))
        benchmark::RegisterBenchmark(("BM_packed/" + std::string(conv_weight_format_name(format)) + "/" + s.name() +
                                      "/t" + std::to_string(threads))
                                         .c_str(),
                                     bench_packed, format, s, threads)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
  // Packing alone: what caching packed weights saves per call.
  for (ConvWeightFormat format : conv_weight_formats())
    for (const Shape& s : rrdbnet_shapes())
      if (s.h == 64)
        benchmark::RegisterBenchmark(
            ("BM_pack/" + std::string(conv_weight_format_name(format)) + "/" + s.name()).c_str(), bench_pack, format, s)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
  return 0;
}

const int registered = register_all();

}  // namespace
}  // namespace microsr::kernels
