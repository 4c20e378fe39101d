// TimedBackend (src/backend/timed_backend.h), what `microsr bench --layer-times` reports: it must
// not change what the inner backend computes, must count every operation of a pass under its
// shape with a convolution's FLOPs from the closed form 2·N·H·W·Cin·Cout·k², record nothing
// while off, and write a CSV whose shares add up to 1.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "backend/timed_backend.h"
#include "microsr/rrdbnet.h"
#include "test_gpu_helpers.h"  // random_tensor
#include "test_helpers.h"

using namespace microsr;
using microsr::gpu_testing::random_tensor;

namespace {

TEST(TimedBackend, CountsAConvolutionWithItsFlopsAndChangesNothing) {
  auto cpu = make_cpu_backend(CpuOptions{});
  TimedBackend timed(*cpu);
  const Tensor x = random_tensor({2, 5, 9, 7}, 1), w = random_tensor({6, 5, 3, 3}, 2), b = random_tensor({6}, 3);
  Tensor direct = cpu->empty({2, 6, 9, 7}), through = timed.empty({2, 6, 9, 7});
  cpu->conv2d(direct, x, w, b, ConvOptions{});
  timed.conv2d(through, x, w, b, ConvOptions{});
  EXPECT_TRUE(timed.table().empty()) << "timing is off until set_timing(true)";
  timed.set_timing(true);
  timed.conv2d(through, x, w, b, ConvOptions{});
  timed.conv2d(through, x, w, b, ConvOptions{});
  microsr::testing::expect_close(through, direct, 0.0, "the same op through the wrapper");
  const std::vector<LayerTime> rows = timed.table();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].op, "conv");
  EXPECT_EQ(rows[0].shape, "2×5×9×7 → 6, k3");
  EXPECT_EQ(rows[0].calls, 2);
  EXPECT_DOUBLE_EQ(rows[0].flops, 2 * (2.0 * 2 * 9 * 7 * 5 * 6 * 9));  // two calls × 2·N·H·W·Cin·Cout·k²
  EXPECT_GT(rows[0].seconds, 0);
  timed.reset();
  EXPECT_TRUE(timed.table().empty());
}

TEST(TimedBackend, APassThroughItGivesTheSameOutputAndACsvThatAddsUp) {
  const StateDict w = microsr::testing::rrdbnet_weights_of(
      load_safetensors(microsr::testing::data_path("rrdbnet/x4_f8_b2_g4.safetensors")));
  const RRDBNetConfig cfg = infer_rrdbnet_config(w);
  auto cpu = make_cpu_backend(CpuOptions{});
  RRDBNet plain(cfg, w, *cpu);
  TimedBackend timed(*cpu);
  RRDBNet wrapped(cfg, w, timed);
  const Tensor x = random_tensor({1, 3, 12, 10}, 4);
  timed.set_timing(true);
  for (int pass = 0; pass < 2; ++pass) wrapped.forward(x);
  microsr::testing::expect_close(wrapped.forward(x), plain.forward(x), 0.0, "RRDBNet through the wrapper");

  // conv_last is a plain convolution on every backend: once per pass, 3 passes.
  bool found_last = false;
  for (const LayerTime& r : timed.table())
    if (r.op == "conv" && r.shape == "1×8×48×40 → 3, k3") {
      found_last = true;
      EXPECT_EQ(r.calls, 3);
    }
  EXPECT_TRUE(found_last) << "no row for conv_last";

  const std::string path = microsr::testing::temp_path("layer_times.csv");
  timed.write_csv(path, 3);
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "op,shape,calls,seconds,share,gflop,tflop_per_s");
  double share = 0;
  int rows = 0;
  while (std::getline(in, line)) {
    // op,"shape",calls,seconds,share,...: the shape is quoted and has no comma of its own
    const auto close = line.find("\",");
    ASSERT_NE(close, std::string::npos) << line;
    std::stringstream rest(line.substr(close + 2));
    std::string calls, seconds, one_share;
    std::getline(rest, calls, ','), std::getline(rest, seconds, ','), std::getline(rest, one_share, ',');
    if (line.find("1×8×48×40 → 3, k3") != std::string::npos) {
      EXPECT_EQ(calls, "1") << "per pass";
    }
    share += std::stod(one_share);
    ++rows;
  }
  EXPECT_EQ(rows, int(timed.table().size()));
  EXPECT_NEAR(share, 1.0, 1e-3 * rows);
  std::remove(path.c_str());
}

}  // namespace
