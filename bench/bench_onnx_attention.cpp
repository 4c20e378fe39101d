// The fused attention of the ONNX runtime (kernels/cpu/onnx/attention.h) on the shapes of the SAM
// encoders, GFLOP/s (2 · batch · nq · nk · (dk + dv) per call) as a counter.
//
//   bench_onnx_attention                                 every shape, both variants, 1 and 2 threads
//   bench_onnx_attention --benchmark_filter=global/v2/t1  one
//
// Names: BM_attention/<shape>/v<variant>/t<threads>. At 1 thread the rate is per CPU second
// (robust on a shared machine), at 2 threads per wall second. Shapes:
//   global    SAM ViT-B global blocks: 12 heads × 4096 tokens (64 × 64), d 64, rel_h + rel_w
//   window    SAM ViT-B windowed blocks: 25 windows × 12 heads × 196 tokens (14 × 14), d 64, rel-pos
//   hglobal   SAM2.1 Hiera-tiny stage-3 global blocks: 4 heads × 4096 tokens, d 96, no bias
//   hwin8     SAM2.1 Hiera-tiny stage 1: 1024 windows × 1 head × 64 tokens, d 96
//   hwin14    SAM2.1 Hiera-tiny stage 3: 25 windows × 4 heads × 196 tokens, d 96
#include <benchmark/benchmark.h>
#include <omp.h>

#include <random>
#include <string>
#include <vector>

#include "cpu/onnx/attention.h"

namespace microsr::onnx_fast {
namespace {

struct Shape {
  std::string name;
  int64_t batch, side_q, side_k, d;  // queries side_q², keys side_k²
  bool rel_pos;
};

std::vector<Shape> sam_shapes() {
  return {{"global", 12, 64, 64, 64, true},
          {"window", 300, 14, 14, 64, true},
          {"hglobal", 4, 64, 64, 96, false},
          {"hwin8", 1024, 8, 8, 96, false},
          {"hwin14", 100, 14, 14, 96, false}};
}

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void run_attention(benchmark::State& state, const Shape& s, int variant, int threads) {
  set_attention_variant(variant);
  const int64_t nq = s.side_q * s.side_q, nk = s.side_k * s.side_k, d = s.d;
  // Q [b][nq][d], K stored [b][nk][d] (read as Kᵀ: row stride 1, column stride d, as SAM's exports
  // fold the Transpose), V [b][nk][d].
  const std::vector<float> q = random_floats(s.batch * nq * d, 1), k = random_floats(s.batch * nk * d, 2),
                           v = random_floats(s.batch * nk * d, 3);
  std::vector<float> out(s.batch * nq * d);
  // SAM's decomposed relative positions: rel_h [b, qh, qw, kh] and rel_w [b, qh, qw, kw].
  const std::vector<float> rel_h = random_floats(s.batch * nq * s.side_k, 4),
                           rel_w = random_floats(s.batch * nq * s.side_k, 5);
  AttentionArgs a;
  a.batch = s.batch, a.nq = nq, a.nk = nk, a.dk = d, a.dv = d;
  a.q = q.data(), a.k = k.data(), a.v = v.data();
  for (int64_t b = 0; b < s.batch; ++b) {
    a.q_off.push_back(b * nq * d), a.k_off.push_back(b * nk * d), a.v_off.push_back(b * nk * d);
  }
  a.q_row = d, a.q_col = 1, a.k_row = 1, a.k_col = d, a.v_row = d, a.v_col = 1;
  a.alpha = 0.125f;
  if (s.rel_pos) {
    AttentionBias h, w;  // per score row (b, query): side_k runs of side_k keys
    h.data = rel_h.data(), w.data = rel_w.data();
    h.run = w.run = s.side_k, h.step = 0, w.step = 1;
    for (int64_t r = 0; r < s.batch * nq; ++r)
      h.row_offset.push_back(r * s.side_k), w.row_offset.push_back(r * s.side_k);
    for (int64_t kh = 0; kh < s.side_k; ++kh) h.run_base.push_back(kh), w.run_base.push_back(0);
    a.biases = {h, w};
  }
  a.out = out.data(), a.out_row = d;
  for (int64_t b = 0; b < s.batch; ++b) a.out_off.push_back(b * nq * d);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  for (auto _ : state) {
    attention_f32(a);
    benchmark::DoNotOptimize(out.data());
  }
  omp_set_num_threads(saved);
  set_attention_variant(2);
  const double flops = 2.0 * double(s.batch) * nq * nk * (2 * d);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

const bool registered = [] {
  for (const Shape& s : sam_shapes())
    for (int threads : {1, 2})
      for (int variant : {1, 2}) {
        auto* b = benchmark::RegisterBenchmark(
            ("BM_attention/" + s.name + "/v" + std::to_string(variant) + "/t" + std::to_string(threads)).c_str(),
            [s, variant, threads](benchmark::State& st) { run_attention(st, s, variant, threads); });
        b->Unit(benchmark::kMillisecond);
        if (threads > 1) b->UseRealTime();
      }
  return true;
}();

}  // namespace
}  // namespace microsr::onnx_fast
