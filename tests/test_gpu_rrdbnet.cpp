// Whole RRDBNet forward passes on the CUDA backend:
//   * the small random networks of tests/data/rrdbnet (x4, x2 with batch 2, x1, 1-channel; made
//     by tools/make_rrdbnet_goldens.py): CUDA fp32 against the CPU backend ≤ 1e-4 and against
//     PyTorch's float64 output ≤ 1e-4, for every convolution variant; fp16 within 2e-2;
//   * RealESRGAN_x4plus (skipped when the weights are not fetched): on the 40×40 microdisk
//     image, CUDA fp32 against PyTorch float64 (tools/make_real_reference.py) ≤ 1e-4; on a 64×64
//     input, fp32 against the CPU backend ≤ 1e-4 and fp16 against fp32 PSNR ≥ 50 dB.
#include <filesystem>

#include "microsr/image_io.h"
#include "microsr/rrdbnet.h"
#include "test_gpu_helpers.h"

using namespace microsr;
using namespace microsr::gpu_testing;
using microsr::testing::data_path;
using microsr::testing::expect_close;

namespace {

const char* const kFixtures[] = {"x4_f8_b2_g4", "x2_f8_b1_g4_batch2", "x1_f4_b1_g2", "x4_gray_f6_b3_g5"};

class GpuRRDBNet : public ::testing::TestWithParam<std::string> {};

TEST_P(GpuRRDBNet, TinyNetworksMatchCpuAndPyTorch) {
  SKIP_WITHOUT_CUDA_DEVICE();
  auto cpu = make_cpu_backend();
  for (const char* name : kFixtures) {
    const StateDict fixture = load_safetensors(data_path(std::string("rrdbnet/") + name + ".safetensors"));
    const StateDict w = microsr::testing::rrdbnet_weights_of(fixture);
    const RRDBNetConfig cfg = infer_rrdbnet_config(w);
    RRDBNet cpu_net(cfg, w, *cpu);
    const Tensor want = cpu_net.forward(fixture.at("input"));

    auto gpu = cuda_backend(Precision::fp32, GetParam());
    RRDBNet gpu_net(cfg, w, *gpu);
    StateDict activations;
    gpu_net.set_activation_recorder(&activations);
    const Tensor got = gpu->to_host(gpu_net.forward(gpu->to_device(fixture.at("input"))));
    expect_close(got, want, 1e-4, GetParam() + " fp32 vs cpu, " + name);
    expect_close(got, fixture.at("output"), 1e-4, GetParam() + " fp32 vs PyTorch, " + name);
    for (const auto& [act, t] : activations.entries)
      if (const Tensor* ref = fixture.find("act." + act))
        expect_close(t, *ref, 1e-4, GetParam() + " activation " + act + ", " + name);

    auto half = cuda_backend(Precision::fp16, GetParam());
    RRDBNet half_net(cfg, w, *half);
    const Tensor got16 = half->to_host(half_net.forward(half->to_device(fixture.at("input"))));
    const Error2 d = difference(got16, want);
    EXPECT_LE(d.max_abs, 2e-2) << GetParam() << " fp16 vs cpu, " << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Gpu, GpuRRDBNet, ::testing::Values("legacy_find", "legacy_heuristic", "graph", "graph_fused"));

TEST(GpuRealESRGAN, Fp32MatchesPyTorchOnTheMicrodiskImage) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const StateDict sd = microsr::testing::real_x4plus_weights();
  if (sd.entries.empty()) GTEST_SKIP() << "RealESRGAN_x4plus not fetched (run tools/fetch_weights.sh)";
  auto gpu = cuda_backend();
  RRDBNet net(infer_rrdbnet_config(sd), sd, *gpu);
  const Tensor x = image_to_rgb_tensor(read_image(data_path("real/microdisk_40.png")));
  const StateDict ref = load_safetensors(data_path("real/microdisk_40_x4plus.safetensors"));
  expect_close(gpu->to_host(net.forward(gpu->to_device(x))), ref.at("output"), 1e-4, "CUDA fp32 vs PyTorch");
}

// 64×64 made from the 40×40 microdisk image, mirrored at its edges: real content (bright rims,
// flat background), where fp16's range and rounding are tested as an upscale uses them.
Tensor microdisk_64() {
  const Tensor small = image_to_rgb_tensor(read_image(data_path("real/microdisk_40.png")));
  const int64_t h = small.dim(2), w = small.dim(3);
  Tensor x = Tensor::empty({1, 3, 64, 64});
  auto mirror = [](int64_t i, int64_t n) {
    i %= 2 * n;
    return i < n ? i : 2 * n - 1 - i;
  };
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 64; ++y)
      for (int64_t xx = 0; xx < 64; ++xx)
        x.f32()[(c * 64 + y) * 64 + xx] = small.f32()[(c * h + mirror(y, h)) * w + mirror(xx, w)];
  return x;
}

TEST(GpuRealESRGAN, Fp32MatchesCpuAndFp16KeepsPsnrAbove50dB) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const StateDict sd = microsr::testing::real_x4plus_weights();
  if (sd.entries.empty()) GTEST_SKIP() << "RealESRGAN_x4plus not fetched (run tools/fetch_weights.sh)";
  const RRDBNetConfig cfg = infer_rrdbnet_config(sd);
  const Tensor x = microdisk_64();
  auto cpu = make_cpu_backend();
  const Tensor want = RRDBNet(cfg, sd, *cpu).forward(x);

  for (const std::string variant : {"legacy_find", "graph_fused"}) {
    auto gpu = cuda_backend(Precision::fp32, variant);
    RRDBNet net(cfg, sd, *gpu);
    const Tensor fp32 = gpu->to_host(net.forward(gpu->to_device(x)));
    expect_close(fp32, want, 1e-4, variant + " CUDA fp32 vs CPU, 64×64");

    auto half = cuda_backend(Precision::fp16, variant);
    RRDBNet half_net(cfg, sd, *half);
    const Tensor fp16 = half->to_host(half_net.forward(half->to_device(x)));
    const double db = psnr(fp16, fp32);
    EXPECT_GE(db, 50.0) << variant << " fp16 vs fp32";
    std::printf("[ info ] %s: fp16 vs fp32 PSNR %.1f dB, max |diff| %.2e\n", variant.c_str(), db,
                difference(fp16, fp32).max_abs);
  }
}

}  // namespace
