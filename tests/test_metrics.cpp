// PSNR and SSIM against scikit-image (tests/data/metrics, made by tools/make_metric_fixtures.py),
// plus the closed forms: identical images, and PSNR of a constant offset.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "microsr/metrics.h"
#include "microsr/weights.h"
#include "test_helpers.h"

namespace microsr {
namespace {

TEST(Metrics, MatchScikitImage) {
  const StateDict cases = load_safetensors(testing::data_path("metrics/cases.safetensors"));
  int checked = 0;
  for (const char* name : {"rgb_noise", "gray_crop2", "rgb_texture"}) {
    const std::string n = name;
    const Tensor& a = cases.at(n + ".a");
    const Tensor& b = cases.at(n + ".b");
    const int crop = int(cases.at(n + ".crop").f32()[0]);
    const int c = int(a.dim(0)), h = int(a.dim(1)), w = int(a.dim(2));
    EXPECT_NEAR(psnr(a.f32(), b.f32(), c, w, h, crop), cases.at(n + ".psnr").f32()[0], 1e-4) << n;
    EXPECT_NEAR(ssim(a.f32(), b.f32(), c, w, h, crop), cases.at(n + ".ssim").f32()[0], 1e-6) << n;
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

TEST(Metrics, ClosedForms) {
  std::vector<float> a(3 * 20 * 30), b(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(i % 17) / 20.f, b[i] = a[i] + 0.1f;
  EXPECT_TRUE(std::isinf(psnr(a.data(), a.data(), 3, 30, 20)));
  EXPECT_NEAR(ssim(a.data(), a.data(), 3, 30, 20), 1.0, 1e-12);
  EXPECT_NEAR(psnr(a.data(), b.data(), 3, 30, 20), 20.0, 1e-4);  // MSE 0.01
  testing::expect_error([&] { ssim(a.data(), b.data(), 3, 10, 20); }, "at least 11×11");
}

}  // namespace
}  // namespace microsr
