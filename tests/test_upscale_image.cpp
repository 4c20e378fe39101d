// upscale_image: gray, alpha, outscale, bit depth and metadata, on a tiny random RRDBNet
// (tests/data/rrdbnet/x4_f8_b2_g4.safetensors, tools/make_rrdbnet_goldens.py). The network part
// itself is checked against PyTorch in test_rrdbnet.cpp; here the expectations are built from
// upscale_tiled and closed forms.
#include <gtest/gtest.h>

#include <algorithm>

#include "microsr/upscale.h"
#include "test_helpers.h"

using namespace microsr;
using namespace microsr::testing;

namespace {

class UpscaleImage : public ::testing::Test {
 protected:
  void SetUp() override {
    const StateDict fixture = load_safetensors(data_path("rrdbnet/x4_f8_b2_g4.safetensors"));
    for (const auto& [name, t] : fixture.entries)
      if (name != "input" && name != "output" && !name.starts_with("act.")) weights.add(name, t);
    backend = make_cpu_backend();
    net = std::make_unique<RRDBNet>(infer_rrdbnet_config(weights), weights, *backend);
  }

  static Image pattern_image(int channels, int w, int h) {
    Image img;
    img.width = w, img.height = h, img.channels = channels;
    img.pixels.resize(std::size_t(w) * h * channels);
    for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = float((i * 37) % 101) / 100.0f;
    return img;
  }

  // The network's clamped RGB output for `plane` replicated to three channels.
  Tensor network_on_gray(const float* plane, int w, int h) {
    Tensor x = Tensor::empty({1, 3, h, w});
    for (int c = 0; c < 3; ++c) std::copy_n(plane, w * h, x.f32() + c * w * h);
    Tensor y = upscale_tiled(*net, *backend, x, {});
    std::transform(y.f32(), y.f32() + y.numel(), y.f32(), [](float v) { return std::clamp(v, 0.f, 1.f); });
    return y;
  }

  StateDict weights;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<RRDBNet> net;
};

TEST_F(UpscaleImage, GrayInGrayOutThroughLuma) {
  const Image in = pattern_image(1, 9, 6);
  const Image out = upscale_image(*net, *backend, in, {});
  ASSERT_EQ(out.channels, 1);
  ASSERT_EQ(out.width, 36);
  ASSERT_EQ(out.height, 24);
  const Tensor rgb = network_on_gray(in.plane(0), 9, 6);
  const int64_t n = 36 * 24;
  for (int64_t i = 0; i < n; ++i) {
    const float luma = 0.299f * rgb.f32()[i] + 0.587f * rgb.f32()[n + i] + 0.114f * rgb.f32()[2 * n + i];
    ASSERT_NEAR(out.pixels[i], luma, 1e-6) << i;
  }
}

TEST_F(UpscaleImage, AlphaIsUpscaledSeparatelyAndKept) {
  Image in = pattern_image(4, 7, 5);
  std::fill(in.plane(3), in.plane(3) + 35, 1.0f);  // fully opaque
  UpscaleOptions opt;
  opt.alpha = AlphaUpscale::bicubic;
  Image out = upscale_image(*net, *backend, in, opt);
  ASSERT_EQ(out.channels, 4);
  // Bicubic weights sum to one: an opaque image stays exactly opaque (never a black background).
  for (int64_t i = 0; i < 28 * 20; ++i) ASSERT_EQ(out.plane(3)[i], 1.0f) << i;

  opt.alpha = AlphaUpscale::network;
  out = upscale_image(*net, *backend, in, opt);
  const Tensor a = network_on_gray(in.plane(3), 7, 5);
  const int64_t n = 28 * 20;
  for (int64_t i = 0; i < n; ++i)
    ASSERT_NEAR(out.plane(3)[i], 0.299f * a.f32()[i] + 0.587f * a.f32()[n + i] + 0.114f * a.f32()[2 * n + i], 1e-6);
  // The colour planes do not depend on how alpha was done.
  Image rgb_only = in;
  rgb_only.channels = 3;
  rgb_only.pixels.resize(3 * 35);
  const Image colour = upscale_image(*net, *backend, rgb_only, {});
  for (int64_t i = 0; i < 3 * n; ++i) ASSERT_EQ(out.pixels[i], colour.pixels[i]) << i;
}

TEST_F(UpscaleImage, OutscaleResizesAndScalesResolution) {
  Image in = pattern_image(3, 9, 7);
  in.bit_depth = 16;
  in.metadata.has_resolution = true;
  in.metadata.x_resolution = 100, in.metadata.y_resolution = 50;
  UpscaleOptions opt;
  opt.outscale = 2.5;
  const Image out = upscale_image(*net, *backend, in, opt);
  EXPECT_EQ(out.width, 22);   // int(9 · 2.5), as Real-ESRGAN truncates
  EXPECT_EQ(out.height, 17);  // int(7 · 2.5)
  EXPECT_EQ(out.bit_depth, 16);
  EXPECT_DOUBLE_EQ(out.metadata.x_resolution, 100 * 22.0 / 9);
  const Image same = upscale_image(*net, *backend, in, {});
  EXPECT_EQ(same.width, 36);
  EXPECT_DOUBLE_EQ(same.metadata.x_resolution, 400);
  EXPECT_DOUBLE_EQ(same.metadata.y_resolution, 200);
}

TEST_F(UpscaleImage, RefusesNonRgbModels) {
  const StateDict fixture = load_safetensors(data_path("rrdbnet/x4_gray_f6_b3_g5.safetensors"));
  const StateDict w = microsr::testing::rrdbnet_weights_of(fixture);
  RRDBNet gray_net(infer_rrdbnet_config(w), w, *backend);
  expect_error([&] { upscale_image(gray_net, *backend, pattern_image(3, 4, 4), {}); }, "RGB model");
}

}  // namespace
