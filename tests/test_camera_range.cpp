// 12-bit (or 10/14-bit) camera data in 16-bit files (issue 13, case 2): detect reduces 16-bit
// images to 8 bits over their real range — SMaxSampleValue, else the data's own bit depth, or a
// fixed --window-max — instead of a fixed 16→8-bit scale that maps 0..4095 to 0..15 and finds no
// disk. The fixture is tifffile's (tools/make_camera_fixtures.py); the frames are microsr synth's,
// whose ground truth lists the disks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "microsr/detect.h"
#include "microsr/image_io.h"
#include "microsr/segment.h"
#include "microsr/synth.h"
#include "test_helpers.h"

using namespace microsr;
using namespace microsr::testing;

namespace {

Image with_samples_up_to(int white, int width = 4, int height = 3) {  // a 16-bit gray ramp to `white`
  Image img;
  img.width = width, img.height = height, img.channels = 1, img.bit_depth = 16;
  for (int i = 0; i < width * height; ++i) img.pixels.push_back(float(white * i / (width * height - 1)) / 65535.f);
  return img;
}

TEST(CameraRange, TheReaderKeepsSMaxSampleValue) {
  const Image img = read_image(data_path("images/tiff/u16_12bit_smax.tif"));
  EXPECT_EQ(img.bit_depth, 16);
  EXPECT_EQ(img.metadata.max_sample_value, 4095.0);
  EXPECT_NEAR(img.pixels[1] * 65535.0, 97, 0.01);  // sample (0, 1): 97·1 mod 4096
}

TEST(CameraRange, TheGainFollowsTheRealRange) {
  EXPECT_DOUBLE_EQ(gray_gain(with_samples_up_to(65535)), 1.0);                // 16 bits used
  EXPECT_DOUBLE_EQ(gray_gain(with_samples_up_to(4000)), 65535.0 / 4095.0);    // 12-bit data
  EXPECT_DOUBLE_EQ(gray_gain(with_samples_up_to(1000)), 65535.0 / 1023.0);    // 10-bit data
  EXPECT_DOUBLE_EQ(gray_gain(with_samples_up_to(16000)), 65535.0 / 16383.0);  // 14-bit data
  Image tagged = with_samples_up_to(1000);
  tagged.metadata.max_sample_value = 4095;  // the file's word wins over the data's
  EXPECT_DOUBLE_EQ(gray_gain(tagged), 65535.0 / 4095.0);
  EXPECT_DOUBLE_EQ(gray_gain(tagged, 2000), 65535.0 / 2000.0);  // and a fixed window over both
  Image eight = with_samples_up_to(10);
  eight.bit_depth = 8;
  EXPECT_DOUBLE_EQ(gray_gain(eight), 1.0);
  expect_error([&] { gray_gain(eight, 70000); }, "0..65535");
}

int accepted(const DetectionResult& r) {
  int n = 0;
  for (const auto& d : r.detections) n += d.accepted;
  return n;
}

TEST(CameraRange, DetectFindsTheSameDisksInTwelveBitData) {
  RenderOptions options;  // a full 10X frame, `microsr synth --mag 10x --seed 1`, field 0
  options.objective = Objective::x10;
  const SyntheticImage field = render_chip_scene(make_chip_scene(1, 0), options);
  Image full = field.image;
  full.bit_depth = 16;
  Image twelve = full;  // the same scene as a 12-bit camera records it
  for (float& v : twelve.pixels) v = float(std::round(std::clamp(v, 0.f, 1.f) * 4095.f) / 65535.f);
  const DetectParams params;
  const int truth = accepted(detect_disks(full, params));
  ASSERT_GT(truth, 5);
  // 12-bit quantization may tip a borderline contour either way (one of 210, seen here).
  EXPECT_NEAR(accepted(detect_disks(twelve, params)), truth, std::max(2, truth / 100));
  DetectParams fixed_full_window = params;  // what a fixed 16→8-bit scale did: nothing found
  fixed_full_window.window_max = 65535;
  EXPECT_EQ(accepted(detect_disks(twelve, fixed_full_window)), 0);
}

}  // namespace
