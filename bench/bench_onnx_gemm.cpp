// The ONNX runtime's GEMM (kernels/cpu/onnx/gemm.h) on the shapes of the SAM encoders and decoder,
// GFLOP/s (2·m·n·k per call) as a counter.
//
//   bench_onnx_gemm                                    every shape at 1 and 2 threads
//   bench_onnx_gemm --benchmark_filter=qkv             one shape
//
// Names: BM_gemm/<shape>/v<variant>/t<threads>: the AVX-512 variants of gemm.h. At 1 thread the
// rate is per CPU second (robust on a shared machine), at 2 threads per wall second. Shapes (ViT-B at 1024²: 4096 tokens, 768 channels, 12 heads
// of 64; 25 windows of 14×14 in the windowed blocks):
//   qkv      4096×2304×768   the fused q/k/v projection (B a weight [768, 2304])
//   mlp1     4096×3072×768   MLP up;  mlp2 4096×768×3072 MLP down
//   scores   12 × 4096×4096×64, B = K transposed (b_row 1, b_col 64): global attention q·kᵀ
//   context  12 × 4096×64×4096: global attention softmax·v
//   wscores  300 × 196×196×64, B transposed: windowed attention q·kᵀ; wcontext 300 × 196×64×196
//   dec      7×2048×256  a decoder token MLP (few rows: packing B would cost more than the product)
// SAM2.1 Hiera-tiny at 1024² (MatMul + bias, as MicrosrMatMulBias runs them; small k, many tokens):
//   h1_*     stage 1, 65536 tokens of 96: qkv ×288, proj ×96, mlp1 ×384, mlp2 384→96
//   h2_*     stage 2, 16384 tokens of 192: qkv ×576, mlp1 ×768, mlp2 768→192
//   h3_*     stage 3, 4096 tokens of 384: qkv ×1152, mlp1 ×1536, mlp2 1536→384
// A batch of GEMMs runs like fast_matmul.cpp's batched_gemm: one GEMM per thread when there are
// at least as many as threads.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <random>
#include <string>
#include <vector>

#include "cpu/onnx/gemm.h"

namespace microsr::onnx_fast {
namespace {

struct Shape {
  std::string name;
  int64_t batch, m, n, k;
  bool b_transposed;
  bool bias = false;
};

std::vector<Shape> sam_shapes() {
  return {{"qkv", 1, 4096, 2304, 768, false},        {"mlp1", 1, 4096, 3072, 768, false},
          {"mlp2", 1, 4096, 768, 3072, false},        {"proj", 1, 4096, 768, 768, false},
          {"scores", 12, 4096, 4096, 64, true},       {"context", 12, 4096, 64, 4096, false},
          {"wscores", 300, 196, 196, 64, true},       {"wcontext", 300, 196, 64, 196, false},
          {"dec", 1, 7, 2048, 256, false},            {"dec_img", 1, 4096, 256, 256, false},
          {"h1_qkv", 1, 65536, 288, 96, false, true}, {"h1_proj", 1, 65536, 96, 96, false, true},
          {"h1_mlp1", 1, 65536, 384, 96, false, true}, {"h1_mlp2", 1, 65536, 96, 384, false, true},
          {"h2_qkv", 1, 16384, 576, 192, false, true}, {"h2_mlp1", 1, 16384, 768, 192, false, true},
          {"h2_mlp2", 1, 16384, 192, 768, false, true}, {"h3_qkv", 1, 4096, 1152, 384, false, true},
          {"h3_mlp1", 1, 4096, 1536, 384, false, true}, {"h3_mlp2", 1, 4096, 384, 1536, false, true}};
}

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void run_gemm(benchmark::State& state, const Shape& s, int variant, int threads) {
  set_gemm_avx512_variant(variant);
  const std::vector<float> a = random_floats(static_cast<std::size_t>(s.batch * s.m * s.k), 1);
  const std::vector<float> b = random_floats(static_cast<std::size_t>(s.batch * s.k * s.n), 2);
  std::vector<float> c(static_cast<std::size_t>(s.batch * s.m * s.n));
  const std::vector<float> bias = random_floats(static_cast<std::size_t>(s.n), 3);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  auto args = [&](int64_t p) {
    GemmArgs g;
    g.m = s.m, g.n = s.n, g.k = s.k;
    g.a = a.data() + p * s.m * s.k, g.a_row = s.k;
    g.b = b.data() + p * s.k * s.n;
    g.b_row = s.b_transposed ? 1 : s.n, g.b_col = s.b_transposed ? s.k : 1;
    g.c = c.data() + p * s.m * s.n, g.ldc = s.n;
    if (s.bias) g.bias_col = bias.data();
    return g;
  };
  const bool outer = s.batch >= threads && threads > 1;
  for (auto _ : state) {
#pragma omp parallel for schedule(dynamic) if (outer)
    for (int64_t p = 0; p < s.batch; ++p) gemm_f32(args(p));
    benchmark::DoNotOptimize(c.data());
  }
  omp_set_num_threads(saved);
  const double flops = 2.0 * double(s.batch) * s.m * s.n * s.k;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const bool registered = [] {
  for (const Shape& s : sam_shapes())
    for (int threads : {1, 2})
      for (int variant : {1, 2}) {
        auto* b = benchmark::RegisterBenchmark(
            ("BM_gemm/" + s.name + "/v" + std::to_string(variant) + "/t" + std::to_string(threads)).c_str(),
            [s, variant, threads](benchmark::State& st) { run_gemm(st, s, variant, threads); });
        b->Unit(benchmark::kMillisecond);
        if (threads > 1) b->UseRealTime();
      }
  return true;
}();

}  // namespace
}  // namespace microsr::onnx_fast
