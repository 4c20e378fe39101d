// CPU convolution-gradient benchmarks on the training shapes of RealESRGAN_x4plus (batch 4 of
// 32x32 LR patches -> 128x128 outputs), GFLOP/s as a counter.
//
//   bench_conv_backward                                  everything, omp_get_max_threads() threads
//   bench_conv_backward --benchmark_filter=BM_wgrad      weight gradients only
//   /usr/bin/python3 tools/bench_conv_backward_torch.py --bench build/bench/bench_conv_backward
//                                                        ratios to torch's convolution_backward
// The flop count is the forward-equivalent direct one, 2·n·cin·cout·k²·h·w, for every kernel
// (so the Winograd ones report "effective" GFLOP/s). Names:
//   BM_wgrad/<variant>/<cin>x<cout>/<h>x<w>/n<n>/t<threads>   dw and db (conv2d_backward_weight)
//   BM_dgrad/<format>/<shape>/t<threads>                       dx, packing included
//   BM_fwd/packed/<shape>/t<threads>                           the forward, for scale
#include <benchmark/benchmark.h>
#include <omp.h>

#include <random>
#include <string>
#include <vector>

#include "cpu/conv/variants.h"
#include "cpu/dgrad/dgrad.h"
#include "cpu/threads.h"
#include "cpu/wgrad/variants.h"

namespace microsr::kernels {
namespace {

struct Shape {
  int n, cin, cout, h, w, k;
  std::string name() const {
    return std::to_string(cin) + "x" + std::to_string(cout) + "/" + std::to_string(h) + "x" + std::to_string(w) + "/n" +
           std::to_string(n);
  }
  double flops() const { return 2.0 * n * cin * cout * k * k * double(h) * w; }
};

// The distinct convolutions of one training step (same list as tools/bench_conv_backward_torch.py).
std::vector<Shape> training_shapes() {
  const int n = 4;
  std::vector<Shape> shapes = {{n, 3, 64, 32, 32, 3}};  // conv_first
  for (int cin : {64, 96, 128, 160, 192}) shapes.push_back({n, cin, cin < 192 ? 32 : 64, 32, 32, 3});
  shapes.push_back({n, 64, 64, 32, 32, 3});    // conv_body
  shapes.push_back({n, 64, 64, 64, 64, 3});    // conv_up1
  shapes.push_back({n, 64, 64, 128, 128, 3});  // conv_up2, conv_hr
  shapes.push_back({n, 64, 3, 128, 128, 3});   // conv_last
  return shapes;
}

struct Operands {
  std::vector<float> x, dy, weight, dx, dw, db;
  explicit Operands(const Shape& s) {
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    auto fill = [&](std::vector<float>& v, size_t count, float scale) {
      v.resize(count);
      for (float& value : v) value = scale * dist(rng);
    };
    const size_t plane = size_t(s.h) * s.w;
    fill(x, size_t(s.n) * s.cin * plane, 1.0f);
    fill(dy, size_t(s.n) * s.cout * plane, 1e-3f);
    fill(weight, size_t(s.cout) * s.cin * s.k * s.k, 0.05f);
    dx.assign(x.size(), 0.0f);
    dw.assign(weight.size(), 0.0f);
    db.assign(s.cout, 0.0f);
  }
  ImageBatch x_batch(const Shape& s) const { return {x.data(), int64_t(s.cin) * s.h * s.w}; }
  ImageBatch dy_batch(const Shape& s) const { return {dy.data(), int64_t(s.cout) * s.h * s.w}; }
};

void set_flop_counter(benchmark::State& state, const Shape& s) {
  state.counters["GFLOPs"] = benchmark::Counter(s.flops(), benchmark::Counter::kIsIterationInvariantRate);
}

void bench_wgrad(benchmark::State& state, const ConvBackwardWeightVariant* variant, Shape s, int threads) {
  const ThreadCount team(threads);  // the kernels run with `threads` threads, this scope only
  Operands op(s);
  for (auto _ : state) {
    variant->fn(op.dw.data(), op.db.data(), op.x_batch(s), op.dy_batch(s), s.n, s.cin, s.cout, s.h, s.w, s.k);
    benchmark::DoNotOptimize(op.dw.data());
  }
  set_flop_counter(state, s);
}

void bench_dgrad(benchmark::State& state, ConvWeightFormat format, Shape s, int threads) {
  const ThreadCount team(threads);  // the kernels run with `threads` threads, this scope only
  Operands op(s);
  for (auto _ : state) {
    conv2d_backward_data({op.dx.data(), int64_t(s.cin) * s.h * s.w}, op.dy_batch(s), op.weight.data(), s.n, s.cin,
                         s.cout, s.h, s.w, s.k, false, format);
    benchmark::DoNotOptimize(op.dx.data());
  }
  set_flop_counter(state, s);
}

void bench_forward(benchmark::State& state, Shape s, int threads) {
  const ThreadCount team(threads);  // the kernels run with `threads` threads, this scope only
  Operands op(s);
  const PackedConvWeights packed = pack_conv_weights(op.weight.data(), op.db.data(), s.cin, s.cout, s.k);
  std::vector<float> y(size_t(s.n) * s.cout * s.h * s.w);
  ConvEpilogue epi;
  epi.has_lrelu = true;
  for (auto _ : state) {
    for (int i = 0; i < s.n; ++i)
      conv2d_packed(y.data() + size_t(i) * s.cout * s.h * s.w, op.x_batch(s).image(i), packed, s.h, s.w, epi);
    benchmark::DoNotOptimize(y.data());
  }
  set_flop_counter(state, s);
}

int register_all() {
  const int threads = omp_get_max_threads();
  const std::string t = "/t" + std::to_string(threads);
  for (const ConvBackwardWeightVariant& variant : conv2d_backward_weight_variants())
    for (const Shape& s : training_shapes())
      benchmark::RegisterBenchmark(("BM_wgrad/" + std::string(variant.name) + "/" + s.name() + t).c_str(), bench_wgrad,
                                   &variant, s, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  for (ConvWeightFormat format : conv_weight_formats())
    for (const Shape& s : training_shapes())
      benchmark::RegisterBenchmark(
          ("BM_dgrad/" + std::string(conv_weight_format_name(format)) + "/" + s.name() + t).c_str(), bench_dgrad,
          format, s, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  for (const Shape& s : training_shapes())
    benchmark::RegisterBenchmark(("BM_fwd/packed/" + s.name() + t).c_str(), bench_forward, s, threads)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  return 0;
}

const int registered = register_all();

}  // namespace
}  // namespace microsr::kernels
