// PSNR and SSIM against scikit-image and BasicSR's formulas, sharpness and edge strength against
// OpenCV (tests/data/metrics, made by tools/make_metric_fixtures.py), plus closed forms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "microsr/imgproc.h"
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

// ---- the conventions.safetensors fixture --------------------------------------------------------

struct Case {
  std::string name;
  Image a, b;
};

// An image whose float samples are the fixture's integer samples / (2^bits − 1), as read_image
// would make them.
Image image_of(const Tensor& samples, int bits) {
  Image image;
  image.channels = int(samples.dim(0)), image.height = int(samples.dim(1)), image.width = int(samples.dim(2));
  image.bit_depth = bits;
  const float top = bits == 16 ? 65535.0f : 255.0f;
  image.pixels.resize(samples.numel());
  for (int64_t i = 0; i < samples.numel(); ++i) image.pixels[i] = samples.f32()[i] / top;
  return image;
}

const StateDict& conventions() {
  static const StateDict fixture = load_safetensors(testing::data_path("metrics/conventions.safetensors"));
  return fixture;
}

std::vector<Case> convention_cases() {
  std::vector<Case> cases;
  for (const char* name : {"rgb8", "gray8", "rgb16"}) {
    const std::string n = name;
    const int bits = int(conventions().at(n + ".bits").f32()[0]);
    cases.push_back({n, image_of(conventions().at(n + ".a"), bits), image_of(conventions().at(n + ".b"), bits)});
  }
  return cases;
}

// A float64 golden stored as float32 hi + lo.
double golden(const std::string& name) {
  const float* v = conventions().at(name).f32();
  return double(v[0]) + double(v[1]);
}

MetricOptions basicsr(int crop, bool y) { return {MetricConvention::basicsr, crop, y}; }

// The largest |ours − golden| of PSNR and SSIM seen by a test, printed at its end.
struct WorstErrors {
  double psnr = 0, ssim = 0;
  void check(double p, double p_golden, double s, double s_golden, const std::string& what) {
    EXPECT_NEAR(p, p_golden, 1e-4) << what;
    EXPECT_NEAR(s, s_golden, 1e-6) << what;
    psnr = std::max(psnr, std::abs(p - p_golden)), ssim = std::max(ssim, std::abs(s - s_golden));
  }
  void print(const char* reference) const {
    std::printf("largest error against %s: PSNR %.2e dB, SSIM %.2e\n", reference, psnr, ssim);
  }
};

TEST(MetricConventions, SkimageMatchesScikitImage) {
  WorstErrors worst;
  for (const Case& c : convention_cases())
    worst.check(psnr(c.a, c.b), golden(c.name + ".skimage.psnr"), ssim(c.a, c.b), golden(c.name + ".skimage.ssim"),
                c.name);
  worst.print("scikit-image");
}

TEST(MetricConventions, BasicsrMatchesItsFormulas) {
  struct Variant {
    const char* tag;
    int crop;
    bool y;
  };
  WorstErrors worst;
  for (const Case& c : convention_cases())
    for (const Variant v : {Variant{"crop0", 0, false}, Variant{"crop2", 2, false}, Variant{"crop4_y", 4, true}}) {
      const std::string key = c.name + ".basicsr." + v.tag;
      worst.check(psnr(c.a, c.b, basicsr(v.crop, v.y)), golden(key + ".psnr"), ssim(c.a, c.b, basicsr(v.crop, v.y)),
                  golden(key + ".ssim"), key);
    }
  worst.print("BasicSR's formulas");
}

// PSNR and SSIM do not change when the data and its range are scaled together: with no crop and
// no Y, skimage on 0..65535 and BasicSR on 0..255 agree, and so does the float API on [0, 1].
TEST(MetricConventions, AgreeWithoutCropOrY) {
  for (const Case& c : convention_cases()) {
    EXPECT_NEAR(psnr(c.a, c.b, basicsr(0, false)), psnr(c.a, c.b), 1e-9) << c.name;
    EXPECT_NEAR(ssim(c.a, c.b, basicsr(0, false)), ssim(c.a, c.b), 1e-9) << c.name;
    EXPECT_NEAR(psnr(c.a.pixels.data(), c.b.pixels.data(), c.a.channels, c.a.width, c.a.height), psnr(c.a, c.b), 1e-4)
        << c.name;
  }
}

// What the conventions measure differently changes the number by far more than the tolerances, so
// a test comparing against the wrong golden fails.
TEST(MetricConventions, DifferentChoicesGiveDifferentNumbers) {
  for (const Case& c : convention_cases()) {
    const double rgb = psnr(c.a, c.b, basicsr(4, false)), y = psnr(c.a, c.b, basicsr(4, true));
    if (c.a.channels == 3) {
      EXPECT_GT(y - rgb, 1.0) << c.name << ": the Y channel measures fewer, smaller errors";
      EXPECT_GT(std::abs(ssim(c.a, c.b, basicsr(4, true)) - ssim(c.a, c.b, basicsr(4, false))), 1e-3) << c.name;
    } else {
      EXPECT_EQ(y, rgb) << c.name << ": gray images have no Y to take";
    }
    EXPECT_GT(std::abs(psnr(c.a, c.b, basicsr(2, false)) - psnr(c.a, c.b)), 1e-3) << c.name;
    EXPECT_GT(std::abs(ssim(c.a, c.b, basicsr(2, false)) - ssim(c.a, c.b)), 1e-3) << c.name;
    EXPECT_GT(std::abs(golden(c.name + ".basicsr.crop4_y.psnr") - golden(c.name + ".skimage.psnr")), 0.1) << c.name;
  }
  // A 16-bit image measured as 8-bit loses its fine steps: a different PSNR.
  Case c16 = convention_cases()[2];
  ASSERT_EQ(c16.a.bit_depth, 16);
  const double at16 = psnr(c16.a, c16.b);
  c16.a.bit_depth = c16.b.bit_depth = 8;
  EXPECT_GT(std::abs(psnr(c16.a, c16.b) - at16), 1e-3);
}

// Float samples (a network's output) are measured as write_image would save them.
TEST(MetricConventions, FloatImagesAreRoundedAsSaved) {
  Case c = convention_cases()[0];
  const double exact = psnr(c.a, c.b), exact_ssim = ssim(c.a, c.b, basicsr(4, true));
  for (std::size_t i = 0; i < c.b.pixels.size(); ++i) c.b.pixels[i] += (i % 3 == 0 ? 0.49f : -0.49f) / 255.0f;
  EXPECT_EQ(psnr(c.a, c.b), exact);
  EXPECT_EQ(ssim(c.a, c.b, basicsr(4, true)), exact_ssim);
  // Beyond white and below black: clamped as a file would clamp them.
  c.b.pixels[0] = 1.0f, c.b.pixels[1] = 0.0f;
  const double clamped = psnr(c.a, c.b);
  c.b.pixels[0] = 2.0f, c.b.pixels[1] = -1.0f;
  EXPECT_EQ(psnr(c.a, c.b), clamped);
}

TEST(MetricConventions, AlphaIsIgnored) {
  const Case c = convention_cases()[0];
  Image a = c.a, b = c.b;
  a.channels = b.channels = 4;
  a.pixels.resize(a.pixels.size() / 3 * 4, 1.0f);
  b.pixels.resize(b.pixels.size() / 3 * 4, 0.0f);
  EXPECT_EQ(psnr(a, b), psnr(c.a, c.b));
  EXPECT_EQ(ssim(a, b, basicsr(4, true)), ssim(c.a, c.b, basicsr(4, true)));
}

TEST(MetricConventions, NamesOptionsAndRefusals) {
  EXPECT_EQ(parse_metric_convention("skimage"), MetricConvention::skimage);
  EXPECT_EQ(parse_metric_convention("basicsr"), MetricConvention::basicsr);
  EXPECT_STREQ(convention_name(MetricConvention::basicsr), "basicsr");
  testing::expect_error([] { parse_metric_convention("matlab"); }, "expected skimage or basicsr");
  const MetricOptions seed = conventional_options(MetricConvention::skimage, 4);
  EXPECT_EQ(seed.crop_border, 0);
  EXPECT_FALSE(seed.y_channel);
  const MetricOptions papers = conventional_options(MetricConvention::basicsr, 4);
  EXPECT_EQ(papers.crop_border, 4);
  EXPECT_TRUE(papers.y_channel);

  const std::vector<Case> cases = convention_cases();
  const Case& rgb8 = cases[0];
  testing::expect_error([&] { psnr(rgb8.a, cases[2].b); }, "differ in size");
  Image deeper = rgb8.b;
  deeper.bit_depth = 16;
  testing::expect_error([&] { psnr(rgb8.a, deeper); }, "both 16-bit");
  testing::expect_error([&] { psnr(rgb8.a, rgb8.b, {MetricConvention::skimage, 0, true}); }, "Y channel is a BasicSR");
  testing::expect_error([&] { ssim(rgb8.a, rgb8.b, basicsr(6, false)); }, "at least 11×11");
  testing::expect_error([&] { psnr(rgb8.a, rgb8.b, basicsr(20, false)); }, "leaves no pixels");
}

// ---- sharpness and edge strength ------------------------------------------------------------------

TEST(Sharpness, MatchesOpenCV) {
  double worst_sharpness = 0, worst_edge = 0;
  for (const Case& c : convention_cases()) {
    const Tensor& cv_gray = conventions().at(c.name + ".gray.a");
    const Plane8 gray = to_gray8(c.a);
    ASSERT_EQ(gray.pixels.size(), std::size_t(cv_gray.numel()));
    for (int64_t i = 0; i < cv_gray.numel(); ++i) ASSERT_EQ(gray.pixels[i], cv_gray.f32()[i]) << c.name << " #" << i;
    for (const auto& [side, image] : {std::pair{"a", &c.a}, std::pair{"b", &c.b}}) {
      const double s = golden(c.name + ".sharpness." + side), e = golden(c.name + ".edge." + side);
      EXPECT_NEAR(sharpness(*image), s, 1e-6 * s) << c.name << "." << side;
      EXPECT_NEAR(edge_strength(*image), e, 1e-6 * e) << c.name << "." << side;
      worst_sharpness = std::max(worst_sharpness, std::abs(sharpness(*image) - s) / s);
      worst_edge = std::max(worst_edge, std::abs(edge_strength(*image) - e) / e);
    }
  }
  std::printf("largest relative error against cv2: sharpness %.2e, edge strength %.2e\n", worst_sharpness, worst_edge);
}

Plane8 plane_of(int w, int h, const std::vector<int>& values) {
  Plane8 p(w, h);
  for (std::size_t i = 0; i < values.size(); ++i) p.pixels[i] = uint8_t(values[i]);
  return p;
}

TEST(Sharpness, ClosedForms) {
  EXPECT_EQ(laplacian_variance(Plane8(9, 7, 200)), 0.0);
  EXPECT_EQ(mean_sobel_magnitude(Plane8(9, 7, 200)), 0.0);

  // A vertical step 0 | 255 in an 8-wide image: the Laplacian is +255 and −255 on the two columns
  // beside the step (variance 2·255²/8), the Sobel x response 4·255 there and 0 elsewhere.
  Plane8 step(8, 5);
  for (int y = 0; y < 5; ++y)
    for (int x = 4; x < 8; ++x) step.row(y)[x] = 255;
  EXPECT_EQ(laplacian_variance(step), 2.0 * 255 * 255 / 8);
  EXPECT_EQ(mean_sobel_magnitude(step), 2.0 * 1020 / 8);

  // One bright pixel v in the middle of n pixels: Laplacian −4v there, +v at its 4 neighbours,
  // sum 0, so the variance is 20v²/n.
  Plane8 dot(7, 9);
  dot.row(4)[3] = 100;
  EXPECT_DOUBLE_EQ(laplacian_variance(dot), 20.0 * 100 * 100 / 63);

  // Reflect-101 at the border (values checked with cv2): on a line of one pixel, the rows above
  // and below are the line itself, so the Laplacian is left + right − 2·centre: 20, 10, 20, −80
  // (x = 0 takes its left neighbour from x = 1). Mean −7.5, variance 1768.75.
  EXPECT_EQ(laplacian_variance(plane_of(4, 1, {10, 20, 40, 80})), 1768.75);
  // A column: Sobel y is 4·(below − above), 0 at both ends (both neighbours are the same pixel).
  EXPECT_EQ(mean_sobel_magnitude(plane_of(1, 4, {10, 20, 40, 80})), (0 + 120 + 240 + 0) / 4.0);
  EXPECT_EQ(laplacian_variance(plane_of(1, 1, {7})), 0.0);
}

TEST(Sharpness, BlurLowersIt) {
  const Case c = convention_cases()[0];
  Image blurred = c.a;
  gaussian_blur_planes(blurred.pixels.data(), c.a.pixels.data(), c.a.width, c.a.height, 3, 1.0);
  EXPECT_LT(sharpness(blurred), 0.5 * sharpness(c.a));
  EXPECT_LT(edge_strength(blurred), edge_strength(c.a));
}

}  // namespace
}  // namespace microsr
