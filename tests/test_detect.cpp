// The microdisk detector (include/microsr/detect.h) and `microsr detect`:
//  - parity of stage 1 with the same pipeline run by OpenCV (tests/data/segment/disks_detections.csv,
//    made by tools/make_segment_fixtures.py): same contours, boxes within 1 px, circularity within
//    1 %. Stage 2 (splitting, circle fits) has no OpenCV counterpart: the parity test runs stage 1
//    alone, and checks that stage 2 leaves the round, convex contours as they were;
//  - crop geometry in closed form, the refiner hook, 16-bit input, the CLI's files and errors.
// Accuracy against synthetic ground truth: tests/test_detect_accuracy.cpp; stage 2 in detail:
// tests/test_detect_split.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/subcommands.h"
#include "microsr/detect.h"
#include "microsr/error.h"
#include "microsr/image_io.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using testing::data_path;
using testing::expect_error;
using testing::temp_path;
namespace fs = std::filesystem;

// ---- parity with OpenCV ------------------------------------------------------------------------

struct GoldenDetection {
  double cx, cy, area, perimeter, circularity;
  Box box;
  bool accepted;
};

std::vector<GoldenDetection> load_golden_detections(const std::string& name) {
  std::ifstream in(data_path("segment/" + name));
  std::string line;
  std::getline(in, line);  // header
  std::vector<GoldenDetection> rows;
  while (std::getline(in, line)) {
    GoldenDetection g{};
    int accepted = 0;
    EXPECT_EQ(std::sscanf(line.c_str(), "%lf,%lf,%lf,%lf,%lf,%d,%d,%d,%d,%d", &g.cx, &g.cy, &g.area, &g.perimeter,
                          &g.circularity, &g.box.x, &g.box.y, &g.box.width, &g.box.height, &accepted),
              10)
        << line;
    g.accepted = accepted != 0;
    rows.push_back(g);
  }
  return rows;
}

// DETECT_PARAMS of tools/make_segment_fixtures.py.
DetectParams fixture_params() {
  DetectParams p;
  p.blur = 5, p.block_size = 31, p.c = -4, p.invert = false, p.open = 3, p.close = 5;
  p.min_area = 60, p.max_area = 4000, p.min_circularity = 0.6;
  return p;
}

TEST(Detect, StageOneMatchesOpenCV) {
  const Image image = read_image(data_path("segment/disks.png"));
  const DetectionResult result = detect_classical(to_gray8(image), fixture_params());
  const std::vector<GoldenDetection> golden = load_golden_detections("disks_detections.csv");
  ASSERT_EQ(result.detections.size(), golden.size());
  int accepted = 0;
  for (std::size_t i = 0; i < golden.size(); ++i) {
    const GoldenDetection& g = golden[golden.size() - 1 - i];  // OpenCV lists contours in reverse
    const Detection& d = result.detections[i];
    SCOPED_TRACE("detection " + std::to_string(d.id));
    EXPECT_LE(std::abs(d.box.x - g.box.x), 1);
    EXPECT_LE(std::abs(d.box.y - g.box.y), 1);
    EXPECT_LE(std::abs(d.box.width - g.box.width), 1);
    EXPECT_LE(std::abs(d.box.height - g.box.height), 1);
    EXPECT_NEAR(d.circularity, g.circularity, 0.01 * g.circularity);
    EXPECT_NEAR(d.area, g.area, 1e-6 * std::max(1.0, g.area));
    EXPECT_NEAR(d.cx, g.cx, 1e-3);
    EXPECT_NEAR(d.cy, g.cy, 1e-3);
    EXPECT_EQ(d.accepted, g.accepted);
    accepted += d.accepted;
  }
  EXPECT_GE(accepted, 10);  // the fixture is about disks: most of them must be found
}

TEST(Detect, StageTwoKeepsRoundConvexContours) {
  // The whole pipeline on the parity fixture: stage 1's contours come first, in the same order; each
  // one stage 2 did not replace keeps stage 1's box and verdict; and every accepted one that is
  // convex (solidity ≥ split_solidity) is among those.
  const Image image = read_image(data_path("segment/disks.png"));
  const DetectionResult stage1 = detect_classical(to_gray8(image), fixture_params());
  const DetectionResult all = detect_disks(image, fixture_params());
  ASSERT_GE(all.detections.size(), stage1.detections.size());
  int split = 0;
  for (std::size_t i = 0; i < stage1.detections.size(); ++i) {
    const Detection &a = stage1.detections[i], &b = all.detections[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.box, b.box);
    if (b.reason == Rejection::split) {
      ++split;
      EXPECT_FALSE(a.accepted &&
                   contour_area(convex_hull(stage1.outlines[i])) * fixture_params().split_solidity <= a.area)
          << "stage 2 replaced a round convex contour, id " << a.id;
      continue;
    }
    EXPECT_EQ(a.accepted, b.accepted) << "id " << a.id;
  }
  for (std::size_t i = stage1.detections.size(); i < all.detections.size(); ++i) {
    EXPECT_GT(all.detections[i].parent, 0);
    EXPECT_EQ(all.detections[i].id, int(i) + 1);
  }
  EXPECT_GE(split, 1);  // the fixture has a touching pair
}

// ---- crops -------------------------------------------------------------------------------------

TEST(Detect, CropBoxGrowsAboutTheCentreAndStaysInside) {
  // Margin only: 40×30 box + 10 on each side.
  EXPECT_EQ(crop_box({100, 100, 40, 30}, 10, 0, 1000, 800), (Box{90, 90, 60, 50}));
  // Min crop 128 about the box centre (120, 115).
  EXPECT_EQ(crop_box({100, 100, 40, 30}, 10, 128, 1000, 800), (Box{56, 51, 128, 128}));
  // Near the top-left corner: shifted inside.
  EXPECT_EQ(crop_box({2, 3, 20, 20}, 10, 128, 1000, 800), (Box{0, 0, 128, 128}));
  // Near the bottom-right corner.
  EXPECT_EQ(crop_box({980, 790, 19, 9}, 10, 128, 1000, 800), (Box{872, 672, 128, 128}));
  // A big box keeps its margin, cut at the image edge.
  EXPECT_EQ(crop_box({5, 600, 300, 190}, 10, 128, 1000, 800), (Box{0, 590, 315, 210}));
  // An image smaller than min_crop: the whole image.
  EXPECT_EQ(crop_box({10, 10, 20, 20}, 10, 128, 100, 60), (Box{0, 0, 100, 60}));
}

TEST(Detect, CropImageKeepsPixelsAndBitDepth) {
  Image image;
  image.width = 5, image.height = 4, image.channels = 2, image.bit_depth = 16;
  image.pixels.resize(40);
  for (std::size_t i = 0; i < 40; ++i) image.pixels[i] = float(i) / 64;
  const Image crop = crop_image(image, {1, 2, 3, 2});
  ASSERT_EQ(crop.width, 3);
  ASSERT_EQ(crop.height, 2);
  EXPECT_EQ(crop.bit_depth, 16);
  EXPECT_EQ(crop.plane(1)[0], image.plane(1)[2 * 5 + 1]);
  EXPECT_EQ(crop.plane(0)[5], image.plane(0)[3 * 5 + 3]);
  expect_error([&] { crop_image(image, {3, 0, 3, 2}); }, "does not lie inside");
}

// ---- the refiner hook ---------------------------------------------------------------------------

class ShrinkOrReject : public Refiner {
 public:
  Box refine(const Image&, const Detection& d) const override {
    if (d.id % 2 == 0) return {};  // reject even ids
    return {d.box.x + 1, d.box.y + 1, d.box.width - 2, d.box.height - 2};
  }
};

TEST(Detect, RefinerTightensOrRejectsAcceptedBoxes) {
  const Image image = read_image(data_path("segment/disks.png"));
  const DetectionResult plain = detect_disks(image, fixture_params());
  const ShrinkOrReject refiner;
  const DetectionResult refined = detect_disks(image, fixture_params(), &refiner);
  ASSERT_EQ(plain.detections.size(), refined.detections.size());
  for (std::size_t i = 0; i < plain.detections.size(); ++i) {
    const Detection &a = plain.detections[i], &b = refined.detections[i];
    if (!a.accepted) {
      EXPECT_EQ(a.box, b.box);
      continue;
    }
    if (a.id % 2 == 0) {
      EXPECT_FALSE(b.accepted);
      EXPECT_EQ(b.reason, Rejection::refined_away);
    } else {
      EXPECT_TRUE(b.accepted);
      EXPECT_EQ(b.box, (Box{a.box.x + 1, a.box.y + 1, a.box.width - 2, a.box.height - 2}));
    }
  }
}

// ---- inputs ------------------------------------------------------------------------------------

TEST(Detect, SixteenBitInputIsDetectedOnItsEightBitReduction) {
  Image image = read_image(data_path("segment/disks.png"));
  const DetectionResult eight = detect_disks(image, fixture_params());
  image.bit_depth = 16;
  for (float& v : image.pixels) v = std::round(v * 255) * 257 / 65535;  // the same values, 16-bit
  const DetectionResult sixteen = detect_disks(image, fixture_params());
  ASSERT_EQ(eight.detections.size(), sixteen.detections.size());
  for (std::size_t i = 0; i < eight.detections.size(); ++i)
    EXPECT_EQ(eight.detections[i].box, sixteen.detections[i].box);
}

TEST(Detect, BlankImageHasNoDetections) {
  Image image;
  image.width = 300, image.height = 200, image.channels = 1;
  image.pixels.assign(300 * 200, 0.4f);
  EXPECT_TRUE(detect_disks(image, DetectParams{}).detections.empty());
}

TEST(Detect, BadParametersAreRefused) {
  DetectParams p;
  p.block_size = 50;
  expect_error([&] { validate(p); }, "--block-size");
  p = {}, p.blur = -3;
  expect_error([&] { validate(p); }, "--blur");
  p = {}, p.open = 4;
  expect_error([&] { validate(p); }, "--open");
  p = {}, p.min_area = 10, p.max_area = 5;
  expect_error([&] { validate(p); }, "--max-area");
  p = {}, p.margin = -1;
  expect_error([&] { validate(p); }, "--margin");
  p = {}, p.min_circularity = 1.5;
  expect_error([&] { validate(p); }, "--min-circularity");
  p = {}, p.block_size = 100001;
  expect_error([&] { validate(p); }, "--block-size");
  p = {}, p.c = NAN;
  expect_error([&] { validate(p); }, "--c");
  p = {}, p.min_area = NAN;
  expect_error([&] { validate(p); }, "--min-area");
  p = {}, p.split_saddle = 1;
  expect_error([&] { validate(p); }, "--split-saddle");
  p = {}, p.split_solidity = 0;
  expect_error([&] { validate(p); }, "--split-solidity");
}

TEST(Detect, TinyImagesHaveNoDetectionsAndNoErrors) {
  for (const auto& [w, h] : {std::pair{1, 1}, {2, 3}, {5, 1}}) {
    Image image;
    image.width = w, image.height = h, image.channels = 3;
    image.pixels.assign(std::size_t(3) * w * h, 0.9f);
    const DetectionResult result = detect_disks(image, DetectParams{});
    for (const Detection& d : result.detections) EXPECT_FALSE(d.accepted);  // too small to be a disk
  }
}

// ---- the command line ---------------------------------------------------------------------------

int run(std::vector<std::string> args) { return testing::run_cli(cli::run_detect, std::move(args)); }

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(DetectCli, WritesCropsOverlayAndCsv) {
  const std::string out = temp_path("detect_cli");
  fs::remove_all(out);
  const std::string input = data_path("segment/disks.png");
  ASSERT_EQ(run({input, "-o", out, "--blur", "5", "--block-size", "31", "--c", "-4", "--open", "3", "--close", "5",
                 "--min-area", "60", "--max-area", "4000", "--min-crop", "64"}),
            0);
  const DetectionResult expected = detect_disks(read_image(input), fixture_params());
  const std::vector<std::string> csv = lines_of(out + "/detections.csv");
  ASSERT_EQ(csv.size(), expected.detections.size() + 1);
  EXPECT_EQ(csv[0],
            "file,id,cx,cy,radius,area,perimeter,circularity,x,y,w,h,accepted,reason,parent,"
            "mask_score,mask_area,mask_circularity,mask_iou,sam_used,sam_reason");
  // Without --sam the six mask columns are there but empty.
  for (std::size_t i = 1; i < csv.size(); ++i) EXPECT_EQ(csv[i].substr(csv[i].size() - 6), ",,,,,,") << csv[i];
  int crops = 0;
  for (const Detection& d : expected.detections) {
    const std::string crop = out + "/disks_disk" + std::to_string(d.id) + ".png";
    EXPECT_EQ(fs::exists(crop), d.accepted) << crop;
    if (d.accepted) {
      const Image c = read_image(crop);
      EXPECT_GE(c.width, 64);
      EXPECT_GE(c.height, 64);
      ++crops;
    }
  }
  EXPECT_GT(crops, 0);
  const Image overlay = read_image(out + "/disks_overlay.png");
  EXPECT_EQ(overlay.width, 320);
  EXPECT_EQ(overlay.channels, 3);
  fs::remove_all(out);
}

TEST(DetectCli, SplittingIsOnByDefaultAndCanBeTurnedOff) {
  const std::string out = temp_path("detect_split");
  fs::remove_all(out);
  const std::string input = data_path("segment/disks.png");
  const std::vector<std::string> args = {input, "-o",         out,  "--block-size", "31",   "--c",       "-4", "--open",
                                         "3",   "--min-area", "60", "--max-area",   "4000", "--no-crops"};
  auto count = [&](const std::string& needle) {
    int n = 0;
    for (const std::string& line : lines_of(out + "/detections.csv")) n += line.find(needle) != std::string::npos;
    return n;
  };
  ::testing::internal::CaptureStdout();
  ASSERT_EQ(run(args), 0);
  EXPECT_GE(count(",split,"), 1);  // the fixture's touching pair, with its two parts
  const std::size_t with_split = lines_of(out + "/detections.csv").size();
  std::vector<std::string> classical = args;
  classical.push_back("--classical");
  ASSERT_EQ(run(classical), 0);
  ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(count(",split,"), 0);
  const std::size_t without = lines_of(out + "/detections.csv").size();
  EXPECT_EQ(without, detect_classical(to_gray8(read_image(input)), fixture_params()).detections.size() + 1);
  EXPECT_GT(with_split, without);
  fs::remove_all(out);
}

TEST(DetectCli, NoDisksGivesAHeaderOnlyCsv) {
  const std::string out = temp_path("detect_blank");
  fs::remove_all(out);
  Image blank;
  blank.width = 200, blank.height = 150, blank.channels = 1, blank.bit_depth = 16;
  blank.pixels.assign(200 * 150, 0.3f);
  fs::create_directories(out);
  write_tiff(out + "/blank.tif", blank);
  ASSERT_EQ(run({out + "/blank.tif", "-o", out}), 0);
  EXPECT_EQ(lines_of(out + "/detections.csv").size(), 1u);
  EXPECT_TRUE(fs::exists(out + "/blank_overlay.png"));
  fs::remove_all(out);
}

TEST(DetectCli, SixteenBitCropsAreTiff) {
  const std::string out = temp_path("detect_16");
  fs::remove_all(out);
  fs::create_directories(out);
  Image image = read_image(data_path("segment/disks.png"));
  image.bit_depth = 16;
  write_tiff(out + "/deep.tif", image);
  ASSERT_EQ(run({out + "/deep.tif", "-o", out, "--block-size", "31", "--c", "-4", "--open", "3", "--min-area", "60",
                 "--max-area", "4000"}),
            0);
  bool any = false;
  for (const auto& entry : fs::directory_iterator(out))
    if (entry.path().filename().string().rfind("deep_disk", 0) == 0) {
      EXPECT_EQ(entry.path().extension(), ".tif");
      EXPECT_EQ(read_image(entry.path().string()).bit_depth, 16);
      any = true;
    }
  EXPECT_TRUE(any);
  fs::remove_all(out);
}

TEST(DetectCli, BadInputsGiveClearErrors) {
  const std::string out = temp_path("detect_bad");
  fs::remove_all(out);
  fs::create_directories(out);
  testing::write_bytes(out + "/corrupt.png", {0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0});
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run({out + "/corrupt.png", "-o", out}), 1);
  const std::string corrupt = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(corrupt.find("corrupt.png"), std::string::npos) << corrupt;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run({data_path("segment/disks.png"), "-o", out, "--block-size", "50"}), 2);
  const std::string even = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(even.find("--block-size"), std::string::npos) << even;
  EXPECT_NE(even.find("odd"), std::string::npos) << even;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run({data_path("segment/disks.png"), "-o", out, "--min-crop", "-5"}), 2);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("--min-crop"), std::string::npos);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run({data_path("segment/disks.png"), "-o", out, "--split-saddle", "1.5"}), 2);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "microsr detect: --split-saddle must be in (0, 1), got 1.500000\n");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run({data_path("segment/disks.png"), "-o", out, "--block-size", "abc"}), 2);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "microsr detect: option --block-size expects an integer, got 'abc'\n");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run({data_path("segment/disks.png"), "-o", out, "--blur", "100001"}), 2);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("--blur"), std::string::npos);
  // A missing file, an empty one and a truncated TIFF: one line each naming the file, then the list
  // of failures; the other inputs are still done.
  testing::write_bytes(out + "/empty.tif", {});
  std::vector<uint8_t> tiff = testing::read_bytes(data_path("samples/synth/field_000_4x.tif"));
  ASSERT_GT(tiff.size(), 2000u);
  tiff.resize(tiff.size() / 2);
  testing::write_bytes(out + "/truncated.tif", tiff);
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run({out + "/missing.png", out + "/empty.tif", out + "/truncated.tif", data_path("segment/disks.png"), "-o",
                 out, "--no-crops"}),
            1);
  const std::string done = ::testing::internal::GetCapturedStdout();
  const std::string failed = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(done.find("disks.png: "), std::string::npos) << done;
  for (const char* name : {"missing.png: ", "empty.tif: ", "truncated.tif: "}) {
    const std::size_t at = failed.find(name);
    ASSERT_NE(at, std::string::npos) << failed;
    EXPECT_EQ(failed.rfind('\n', at) + 1, failed.rfind("microsr detect: ", at)) << failed;  // a line of its own
  }
  EXPECT_NE(failed.find("3 of 4 inputs failed"), std::string::npos) << failed;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run({data_path("segment/disks.png")}), 2);  // no -o
  ::testing::internal::GetCapturedStderr();
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_NE(::testing::internal::GetCapturedStdout().find("--block-size"), std::string::npos);
  fs::remove_all(out);
}

}  // namespace
}  // namespace microsr
