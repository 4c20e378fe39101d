// Resampling and Gaussian blur (include/microsr/imgproc.h).
//
// Fixtures: tests/data/resize/{opencv,matlab}.safetensors, written by tools/make_resize_fixtures.py.
//  - opencv.safetensors holds cv2.resize (INTER_CUBIC, INTER_LANCZOS4, INTER_AREA) and
//    cv2.GaussianBlur outputs computed by OpenCV 4.6 itself on float32 inputs. Tolerance 1e-5
//    absolute on values in [0, 1): cv2 also computes its weights in float32 and accumulates in
//    float32, so only the rounding of the last few operations may differ; observed ≤ 5e-7.
//  - matlab.safetensors holds MATLAB imresize 'bicubic' as computed by a second implementation
//    (numpy, float64) in that script — written from MATLAB's published algorithm, not MATLAB
//    itself, which cannot run here. Tolerance 1e-5: our weights are float32 (relative 6e-8 each)
//    and up to 19 taps per axis accumulate in float32; observed ≤ 5e-7.
//  Closed forms check both filters independently of any fixture: constants are kept, MATLAB's
//  kernel reproduces a linear ramp in the interior, the antialias kernel is 1/scale wide and sums
//  to 1, equal sizes are the identity, Gaussian kernel sizes follow OpenCV's round(8σ + 1) | 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "microsr/imgproc.h"
#include "microsr/weights.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using namespace microsr::testing;

struct Planes {
  int w = 0, h = 0, channels = 1;
};
Planes planes_of(const Tensor& t) { return {int(t.dim(-1)), int(t.dim(-2)), t.rank() == 3 ? int(t.dim(0)) : 1}; }

// Runs `fn(dst, src, src_planes, dst_planes)` on every case of `fixture` that has an entry
// "<label>.<case>", comparing with it; returns the largest difference seen.
template <class Fn>
double check_cases(const std::string& fixture, const std::string& label, double tolerance, Fn fn) {
  const StateDict sd = load_safetensors(data_path("resize/" + fixture));
  double worst = 0;
  int cases = 0;
  for (const auto& [name, src] : sd.entries) {
    if (name.rfind("src.", 0) != 0) continue;
    const std::string case_name = name.substr(4);
    const Tensor* expected = sd.find(label + "." + case_name);
    if (!expected) continue;
    Tensor got = Tensor::empty(expected->shape());
    fn(got.f32(), src.f32(), planes_of(src), planes_of(*expected));
    const Difference d = compare(got, *expected);
    worst = std::max(worst, d.max_abs);
    EXPECT_LE(d.max_abs, tolerance) << label << "." << case_name << ": worst element #" << d.worst_index << " is "
                                    << d.got << ", expected " << d.expected;
    ++cases;
  }
  EXPECT_GE(cases, 4) << "too few " << label << " cases in " << fixture;
  std::printf("[ info     ] %s: %d cases, max |diff| %.3g\n", label.c_str(), cases, worst);
  return worst;
}

void check_resize(const std::string& fixture, const std::string& label, ResizeFilter filter) {
  check_cases(fixture, label, 1e-5, [&](float* dst, const float* src, Planes in, Planes out) {
    ASSERT_EQ(in.channels, out.channels);
    resize_planes(dst, out.w, out.h, src, in.w, in.h, in.channels, filter);
  });
}

TEST(Resize, CubicMatchesOpenCV) { check_resize("opencv.safetensors", "cubic", ResizeFilter::cubic_opencv); }
TEST(Resize, Lanczos4MatchesOpenCV) { check_resize("opencv.safetensors", "lanczos4", ResizeFilter::lanczos4_opencv); }
TEST(Resize, AreaMatchesOpenCV) { check_resize("opencv.safetensors", "area", ResizeFilter::area_opencv); }
TEST(Resize, BicubicMatlabMatchesSecondImplementation) {
  check_resize("matlab.safetensors", "bicubic", ResizeFilter::bicubic_matlab);
}

TEST(GaussianBlur, MatchesOpenCV) {
  for (const auto& [label, sigma] : {std::pair<std::string, double>{"blur_s0p5", 0.5}, {"blur_s1p3", 1.3}})
    check_cases("opencv.safetensors", label, 1e-5, [&](float* dst, const float* src, Planes in, Planes) {
      gaussian_blur_planes(dst, src, in.w, in.h, in.channels, sigma);
    });
}

TEST(GaussianBlur, KernelSizeFollowsOpenCVRule) {
  EXPECT_EQ(gaussian_kernel_size(0.5), 5);   // round(5) | 1
  EXPECT_EQ(gaussian_kernel_size(1.3), 11);  // round(11.4) | 1
  EXPECT_EQ(gaussian_kernel_size(1.0), 9);
  EXPECT_EQ(gaussian_kernel_size(0.1), 3);  // round(1.8) = 2, | 1 = 3
  const std::vector<float> k = gaussian_kernel(5, 0.5);
  EXPECT_NEAR(std::accumulate(k.begin(), k.end(), 0.0), 1.0, 1e-6);
  EXPECT_FLOAT_EQ(k[0], k[4]);
  EXPECT_NEAR(k[1] / k[2], std::exp(-2.0), 1e-6);  // exp(-1/(2·0.25)) at distance 1
}

TEST(GaussianBlur, InPlaceEqualsOutOfPlace) {
  std::vector<float> image(31 * 19);
  for (std::size_t i = 0; i < image.size(); ++i) image[i] = float((i * 7919) % 101) / 100.0f;
  std::vector<float> out(image.size());
  gaussian_blur_plane(out.data(), image.data(), 31, 19, 1.3);
  gaussian_blur_plane(image.data(), image.data(), 31, 19, 1.3);
  EXPECT_EQ(image, out);
}

constexpr ResizeFilter kInterpolating[] = {ResizeFilter::cubic_opencv, ResizeFilter::lanczos4_opencv,
                                           ResizeFilter::bicubic_matlab};

TEST(Resize, ConstantStaysConstant) {
  const std::vector<float> src(13 * 7, 0.3f);
  for (ResizeFilter filter : kInterpolating)
    for (auto [w, h] : {std::pair{52, 28}, {5, 3}, {1, 1}, {29, 2}}) {
      std::vector<float> dst(w * h);
      resize_plane(dst.data(), w, h, src.data(), 13, 7, filter);
      for (float v : dst) ASSERT_NEAR(v, 0.3f, 1e-6) << "filter " << int(filter) << " to " << w << "x" << h;
    }
}

TEST(Resize, EqualSizeIsTheIdentity) {
  std::vector<float> src(9 * 5);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = float(i % 11) - 3.5f;
  for (ResizeFilter filter : kInterpolating) {
    std::vector<float> dst(src.size());
    resize_plane(dst.data(), 9, 5, src.data(), 9, 5, filter);
    EXPECT_EQ(dst, src) << "filter " << int(filter);
  }
}

// MATLAB's a = -0.5 cubic reproduces polynomials up to degree 2, so a ramp survives an enlargement
// wherever the 4 taps lie inside the image; a ÷4 reduction samples at the centre of each 4-pixel
// cell (x = 4i + 1.5) with a symmetric kernel, so the ramp survives that too.
TEST(Resize, BicubicMatlabKeepsALinearRampInTheInterior) {
  const int n = 32;
  std::vector<float> ramp(n);
  std::iota(ramp.begin(), ramp.end(), 0.0f);
  std::vector<float> up(4 * n), down(n / 4);
  resize_plane(up.data(), 4 * n, 1, ramp.data(), n, 1, ResizeFilter::bicubic_matlab);
  for (int i = 8; i < 4 * n - 8; ++i) EXPECT_NEAR(up[i], (i + 0.5) / 4 - 0.5, 2e-5) << i;
  resize_plane(down.data(), n / 4, 1, ramp.data(), n, 1, ResizeFilter::bicubic_matlab);
  for (int i = 2; i < n / 4 - 2; ++i) EXPECT_NEAR(down[i], 4 * i + 1.5, 2e-5) << i;
}

TEST(Resize, BicubicMatlabAntialiasKernelIsWideAndSumsToOne) {
  const ResampleTable quarter = resample_table(8, 32, ResizeFilter::bicubic_matlab);
  EXPECT_EQ(quarter.taps, 18);  // width 4 / (1/4) = 16, plus MATLAB's 2 spare taps
  for (int i = 0; i < 8; ++i) {
    double sum = 0;
    for (int k = 0; k < quarter.taps; ++k) sum += quarter.weight[i * quarter.taps + k];
    EXPECT_NEAR(sum, 1.0, 1e-6) << i;
  }
  // Interior output 3 is centred on source 13.5: symmetric weights, largest on 13 and 14, equal to
  // (1/4)·k(1/8) / Σ, where the unnormalised weights sum to 1 by the partition of unity of k.
  const float* w = &quarter.weight[3 * quarter.taps];
  const int* index = &quarter.index[3 * quarter.taps];
  const int peak = int(std::max_element(w, w + quarter.taps) - w);
  EXPECT_TRUE(index[peak] == 13 || index[peak] == 14) << index[peak];
  const double k_eighth = (1.5 * 0.125 - 2.5) * 0.125 * 0.125 + 1;
  EXPECT_NEAR(w[peak], 0.25 * k_eighth, 1e-7);
  const ResampleTable enlarge = resample_table(40, 10, ResizeFilter::bicubic_matlab);
  EXPECT_EQ(enlarge.taps, 6);  // no stretching when enlarging
}

TEST(Resize, OpenCVFiltersDoNotClamp) {
  // A step 0 → 1: both OpenCV kernels ring, going below 0 and above 1 near the edge.
  std::vector<float> step(16, 0.0f);
  std::fill(step.begin() + 8, step.end(), 1.0f);
  for (ResizeFilter filter : {ResizeFilter::cubic_opencv, ResizeFilter::lanczos4_opencv}) {
    std::vector<float> up(64);
    resize_plane(up.data(), 64, 1, step.data(), 16, 1, filter);
    EXPECT_LT(*std::min_element(up.begin(), up.end()), -0.01f) << int(filter);
    EXPECT_GT(*std::max_element(up.begin(), up.end()), 1.01f) << int(filter);
  }
}

TEST(Resize, RejectsBadSizes) {
  std::vector<float> buffer(64);
  expect_error([&] { resize_plane(buffer.data(), 0, 4, buffer.data(), 4, 4, ResizeFilter::cubic_opencv); },
               "sizes must be positive");
  expect_error([&] { resize_plane(buffer.data(), 8, 8, buffer.data(), 4, 4, ResizeFilter::area_opencv); },
               "only shrinks");
  expect_error([&] { gaussian_blur_plane(buffer.data(), buffer.data(), 8, 8, 0.0); }, "sigma must be > 0");
}

}  // namespace
}  // namespace microsr
