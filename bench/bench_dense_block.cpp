// RRDBNet's residual dense block (nf 64, growth 32, 3x3) on the CPU, by how its activations are
// stored: what `--precision fp16` on the CPU changes (kernels/cpu/conv/fp16.h).
//   BM_dense_block/fp32_five_convs/<size>/t<threads>  x copied into a [192][h][w] fp32 buffer,
//       five conv2d_packed calls on it (conv_v3's AVX2 format): the fp32 path rrdbnet.cpp runs
//       at tile sizes, on the AVX2 kernels
//   BM_dense_block/fp16_storage/<size>/t<threads>      conv2d_dense_block_fp16: the same five
//       convolutions with x and x1..x4 stored in fp16
// Sizes 128 (a block's 12.6 MB buffer fits in L3) and 440 (the whole image's tiles: 149 MB, from
// memory). Run on an AVX-512 CPU with MICROSR_CPU_ISA=avx2 to time an AVX2-only one's kernels;
// the ratio fp16 / fp32 is the figure (docs/performance.md).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "cpu/conv/fp16.h"
#include "cpu/conv/variants.h"
#include "cpu/cpu_kernels.h"
#include "cpu/threads.h"

namespace microsr::kernels {
namespace {

constexpr int kFeatures = 64, kGrowth = 32;

struct Block {
  std::vector<PackedConvWeights> packed;
  std::vector<float> x, out, dense;
  Block(int h, int w) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (int j = 0; j < 5; ++j) {
      const int cin = kFeatures + j * kGrowth, cout = j < 4 ? kGrowth : kFeatures;
      std::vector<float> weight(static_cast<size_t>(cout) * cin * 9), bias(cout);
      for (float& v : weight) v = 0.05f * dist(rng);
      for (float& v : bias) v = 0.1f * dist(rng);
      packed.push_back(
          pack_conv_weights(weight.data(), bias.data(), cin, cout, 3, fp16_storage_weight_format(cin, cout, 3)));
    }
    const size_t plane = static_cast<size_t>(h) * w;
    x.resize(kFeatures * plane);
    for (float& v : x) v = dist(rng);
    out.resize(x.size());
  }
};

void bench_five_convs(benchmark::State& state, int size, int threads) {
  const ThreadCount team(threads);
  Block block(size, size);
  const int64_t plane = static_cast<int64_t>(size) * size;
  block.dense.resize((kFeatures + 4 * kGrowth) * plane);
  ConvEpilogue act, residual;
  act.has_lrelu = true;
  residual.scale = 0.2f, residual.residual = block.x.data();
  for (auto _ : state) {
    copy_floats(block.dense.data(), block.x.data(), kFeatures * plane);
    for (int j = 0; j < 4; ++j)
      conv2d_packed(block.dense.data() + (kFeatures + j * kGrowth) * plane, block.dense.data(), block.packed[j], size,
                    size, act);
    conv2d_packed(block.out.data(), block.dense.data(), block.packed[4], size, size, residual);
    benchmark::DoNotOptimize(block.out.data());
  }
}

void bench_fp16_storage(benchmark::State& state, int size, int threads) {
  const ThreadCount team(threads);
  Block block(size, size);
  const PackedConvWeights* convs[5];
  for (int j = 0; j < 5; ++j) convs[j] = &block.packed[j];
  std::vector<uint16_t> scratch(dense_block_fp16_halves(kFeatures, kGrowth, size, size));
  for (auto _ : state) {
    conv2d_dense_block_fp16(block.out.data(), block.x.data(), convs, size, size, 0.2f, 0.2f, scratch.data());
    benchmark::DoNotOptimize(block.out.data());
  }
}

int register_all() {
  const int threads = omp_get_max_threads();
  for (int size : {128, 440}) {
    const std::string suffix = "/" + std::to_string(size) + "/t" + std::to_string(threads);
    benchmark::RegisterBenchmark(("BM_dense_block/fp32_five_convs" + suffix).c_str(), bench_five_convs, size, threads)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    if (!fp16_storage_unavailable_reason())
      benchmark::RegisterBenchmark(("BM_dense_block/fp16_storage" + suffix).c_str(), bench_fp16_storage, size, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  }
  return 0;
}

const int registered = register_all();

}  // namespace
}  // namespace microsr::kernels
