// The whole RealESRGAN_x4plus in the CPU's reduced precisions against the same network in fp32 and
// against PyTorch's float64 forward, on committed microdisk images: bf16 (CpuOptions::precision =
// bf16: the AMX, or without AMX the AVX512_BF16, convolutions) and fp16 storage (fp32 arithmetic,
// the dense blocks' activations kept in fp16: kernels/cpu/conv/fp16.h).
//
// Issue 16 asks for at least 45 dB PSNR of the reduced-precision output against fp32. PSNR here is
// metrics.h's float form (L = 1) on outputs clamped to [0, 1], as they would be saved. Why 45 dB
// can fail: one bf16 rounding per conv operand is ~2^-9 relative, and 351 convolutions with 69
// residual sums in a row let a careless path (the trunk or the residual sums kept in bf16, say)
// add an error of that size at every block. Measured here: 57-71 dB (docs/performance.md); with
// conv_last in bf16 too (MICROSR_BF16_THIN_LAYERS=bf16) 56-63 dB. fp16 storage rounds to 2^-12
// (11 significant bits), the activations only. The test also checks that the reduced precision
// really ran (the outputs are not the fp32 bits), so a silent fallback to fp32 cannot pass it.
//
// Cost per precision: the networks built once, then two 40×40 and two 64×48 passes (~1.3 s on 2
// cores). Skips when the weights are not fetched (tools/fetch_weights.sh) or the CPU lacks the
// precision's kernels (bf16: AMX or AVX512_BF16; fp16: AVX2 with F16C).
// On AVX512_BF16 alone (AMD Zen 4, conv_v8_dpbf16_avx512bf16): microdisk_40 62.53 dB, the crop 70.90 dB.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cpu/conv/bf16.h"
#include "cpu/conv/fp16.h"
#include "microsr/backend.h"
#include "microsr/image_io.h"
#include "microsr/metrics.h"
#include "microsr/rrdbnet.h"
#include "test_helpers.h"

using namespace microsr;
using namespace microsr::testing;

namespace {

constexpr double kMinPsnrDb = 45.0;

Tensor clamped01(const Tensor& t) {
  Tensor c = t.clone();
  for (int64_t i = 0; i < c.numel(); ++i) c.f32()[i] = std::clamp(c.f32()[i], 0.0f, 1.0f);
  return c;
}

double output_psnr(const Tensor& a, const Tensor& b) {
  const Tensor ca = clamped01(a), cb = clamped01(b);
  return psnr(ca.f32(), cb.f32(), int(a.dim(1)), int(a.dim(3)), int(a.dim(2)));
}

// The top-left width × height pixels of an RGB image tensor [1][3][H][W].
Tensor crop(const Tensor& x, int width, int height) {
  Tensor c = Tensor::empty({1, x.dim(1), height, width});
  for (int64_t ch = 0; ch < x.dim(1); ++ch)
    for (int y = 0; y < height; ++y)
      std::copy_n(x.f32() + (ch * x.dim(2) + y) * x.dim(3), width, c.f32() + (ch * height + y) * width);
  return c;
}

// Each precision's network is built once for the suite (loading and packing 351 layers is most of
// the cost). The test's parameter is the reduced precision: bf16 or fp16.
class RealESRGANx4plusReduced : public ::testing::TestWithParam<Precision> {
 protected:
  struct Network {
    std::unique_ptr<Backend> backend;
    std::unique_ptr<RRDBNet> net;
  };
  static RRDBNet& network(Precision precision) {
    static Network built[3];  // by Precision: fp32, fp16, bf16
    Network& n = built[static_cast<int>(precision)];
    if (!n.net) {
      const StateDict weights = real_x4plus_weights();
      CpuOptions options;
      options.precision = precision;
      n.backend = make_cpu_backend(options);
      n.net = std::make_unique<RRDBNet>(infer_rrdbnet_config(weights), weights, *n.backend);
    }
    return *n.net;
  }

  void SetUp() override {
    if (GetParam() == Precision::bf16)
      if (const char* why = kernels::conv_bf16_unavailable_reason()) GTEST_SKIP() << why;
    if (GetParam() == Precision::fp16)
      if (const char* why = kernels::fp16_storage_unavailable_reason()) GTEST_SKIP() << why;
    if (models_dir().empty()) GTEST_SKIP() << "RealESRGAN_x4plus not fetched (run tools/fetch_weights.sh)";
  }

  // The output of the network computed in `precision`.
  static Tensor run(Precision precision, const Tensor& x) { return network(precision).forward(x); }

  // PSNR of the test's precision against fp32 on x, after checking that the two differ at all.
  static double reduced_vs_fp32(const Tensor& x, const std::string& label) {
    const char* name = precision_name(GetParam());
    const Tensor fp32 = run(Precision::fp32, x), reduced = run(GetParam(), x);
    float max_diff = 0;
    for (int64_t i = 0; i < fp32.numel(); ++i)
      max_diff = std::max(max_diff, std::abs(fp32.f32()[i] - reduced.f32()[i]));
    EXPECT_GT(max_diff, 0.0f) << label << ": the " << name << " output is the fp32 one bit for bit: " << name
                              << " did not run";
    const double db = output_psnr(reduced, fp32);
    std::printf("%s: PSNR(%s, fp32) = %.2f dB, max |%s - fp32| = %.2e\n", label.c_str(), name, db, name, max_diff);
    return db;
  }
};

// tests/data/real/microdisk_40.png, also against the float64 PyTorch forward
// (tools/make_real_reference.py), an oracle independent of both of our paths.
TEST_P(RealESRGANx4plusReduced, MicrodiskWithin45dBOfFp32AndPyTorch) {
  const Tensor x = image_to_rgb_tensor(read_image(data_path("real/microdisk_40.png")));
  EXPECT_GE(reduced_vs_fp32(x, "microdisk_40"), kMinPsnrDb);
  const StateDict ref = load_safetensors(data_path("real/microdisk_40_x4plus.safetensors"));
  const double db = output_psnr(run(GetParam(), x), ref.at("output"));
  std::printf("microdisk_40: PSNR(%s, PyTorch float64) = %.2f dB\n", precision_name(GetParam()), db);
  EXPECT_GE(db, kMinPsnrDb);
}

// A 64×48 crop of the synthetic 4X microscope field (tests/data/samples/synth, tools/make_synth_samples.sh):
// several microdisks on a noisy background, 16-bit.
TEST_P(RealESRGANx4plusReduced, MicroscopeFieldCropWithin45dBOfFp32) {
  const Tensor field = image_to_rgb_tensor(read_image(data_path("samples/synth/field_000_4x.tif")));
  EXPECT_GE(reduced_vs_fp32(crop(field, 64, 48), "field_000_4x crop 64x48"), kMinPsnrDb);
}

// The measurement behind docs/performance.md's per-image figures: every committed microdisk image,
// whole, against fp32 (about 25 s per precision on 2 cores; it used to run only when asked, and
// CI counted it as skipped: now it runs everywhere, and prints each image's PSNR).
TEST_P(RealESRGANx4plusReduced, WholeImagesWithin45dBOfFp32) {
  for (const char* name : {"real/microdisk_40.png", "samples/synth/field_000_4x.tif", "segment/disks.png",
                           "segment/scene.png", "pairs/inputs/rgb8.png"}) {
    const Image image = read_image(data_path(name));
    const std::string label =
        std::string(name) + " (" + std::to_string(image.width) + "x" + std::to_string(image.height) + ")";
    EXPECT_GE(reduced_vs_fp32(image_to_rgb_tensor(image), label), kMinPsnrDb) << label;
  }
}

INSTANTIATE_TEST_SUITE_P(Precisions, RealESRGANx4plusReduced, ::testing::Values(Precision::bf16, Precision::fp16),
                         [](const ::testing::TestParamInfo<Precision>& info) { return precision_name(info.param); });

}  // namespace
