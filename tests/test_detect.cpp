// The microdisk detector (include/microsr/detect.h) and `microsr detect`:
//  - parity with the same pipeline run by OpenCV (tests/data/segment/disks_detections.csv, made by
//    tools/make_segment_fixtures.py): same contours, boxes within 1 px, circularity within 1 %;
//  - accuracy against the ground truth of synthetic disk images drawn here (recall and precision
//    ≥ 0.98, centre error ≤ 1.5 px, radius error ≤ 3 %, the bar);
//  - crop geometry in closed form, the refiner hook, 16-bit input, the CLI's files and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

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

TEST(Detect, PipelineMatchesOpenCV) {
  const Image image = read_image(data_path("segment/disks.png"));
  const DetectionResult result = detect_disks(image, fixture_params());
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

// ---- accuracy on synthetic ground truth --------------------------------------------------------

struct TruthDisk {
  double x, y, r;
};

// A field of bright disks (disk_lattice with this pitch) with a brighter rim on an unevenly lit,
// noisy substrate, plus distractors (a long pad, a scratch, dust), drawn with 4×4 supersampled edges. Deterministic (std::mt19937 is
// specified exactly by the standard; only its raw output is used).
Image draw_disk_field(int width, int height, const std::vector<TruthDisk>& disks, double pitch, uint32_t seed) {
  Image image;
  image.width = width, image.height = height, image.channels = 3, image.bit_depth = 8;
  image.pixels.assign(std::size_t(3) * width * height, 0);
  std::vector<double> value(std::size_t(width) * height);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const double u = (x - 0.4 * width) / width, v = (y - 0.6 * height) / height;
      value[std::size_t(y) * width + x] = 0.36 * (1 - 0.5 * (u * u + v * v));  // vignetting
    }
  auto paint = [&](double x0, double y0, double x1, double y1, auto inside, double level) {
    for (int y = std::max(0, int(y0)); y <= std::min(height - 1, int(y1) + 1); ++y)
      for (int x = std::max(0, int(x0)); x <= std::min(width - 1, int(x1) + 1); ++x) {
        int hits = 0;
        for (int sy = 0; sy < 4; ++sy)
          for (int sx = 0; sx < 4; ++sx) hits += inside(x + (sx + 0.5) / 4 - 0.5, y + (sy + 0.5) / 4 - 0.5);
        double& v = value[std::size_t(y) * width + x];
        v += (level - v) * hits / 16.0;
      }
  };
  for (const TruthDisk& d : disks) {
    auto within = [&](double radius) {
      return [=](double x, double y) { return (x - d.x) * (x - d.x) + (y - d.y) * (y - d.y) <= radius * radius; };
    };
    paint(d.x - d.r, d.y - d.r, d.x + d.r, d.y + d.r, within(d.r), 0.78);               // rim
    paint(d.x - d.r, d.y - d.r, d.x + d.r, d.y + d.r, within(d.r - 2.0), 0.62);         // body
    paint(d.x - d.r, d.y - d.r, d.x + d.r, d.y + d.r, within(0.55 * d.r), 0.57);        // pedestal
  }
  // Distractors in the gaps between rows of disk_lattice(pitch): a pad 0.9 × 0.12 pitch
  // (circularity ≈ 0.33), a two-pixel scratch, a dark speck of dust.
  const double p = pitch;
  auto gap = [&](int row) { return 0.45 * p + (row + 0.5) * p; };
  paint(0.25 * p, gap(0) - 0.06 * p, 1.15 * p, gap(0) + 0.06 * p, [](double, double) { return true; }, 0.8);
  paint(1.7 * p, gap(1) - 2, 3.5 * p, gap(1) + 0.02 * p + 2,
        [&](double x, double y) { return std::abs((y - gap(1)) - 0.01 * (x - 1.7 * p)) < 1.2; }, 0.75);
  paint(1.9 * p - 4, gap(2) - 4, 1.9 * p + 4, gap(2) + 4,
        [&](double x, double y) { return std::hypot(x - 1.9 * p, y - gap(2)) < 3; }, 0.1);
  std::mt19937 rng(seed);
  for (std::size_t i = 0; i < value.size(); ++i) {
    double noise = 0;  // sum of 4 uniforms: roughly Gaussian, σ ≈ 0.012
    for (int k = 0; k < 4; ++k) noise += (rng() / 4294967296.0 - 0.5) * 0.02;
    const double v = std::clamp(value[i] + noise, 0.0, 1.0);
    const double tint[3] = {0.95, 1.0, 1.06};
    for (int c = 0; c < 3; ++c)
      image.pixels[c * value.size() + i] = float(std::round(std::min(1.0, v * tint[c]) * 255) / 255);
  }
  return image;
}

struct Accuracy {
  int full = 0, found = 0, accepted = 0, false_positives = 0;
  double worst_centre = 0, worst_radius = 0;  // px, relative
  double radius_bias = 0;                     // mean (found − true) / true over the hits
};

// Full disks: wholly inside the frame. Each accepted detection belongs to the truth disk whose
// circle holds its centre: the first on a full disk is a hit, any other a false positive; those on
// disks cut by the border count neither way; those on no disk are false positives.
Accuracy score(const std::vector<Detection>& detections, const std::vector<TruthDisk>& truth, int width, int height) {
  Accuracy a;
  auto is_full = [&](const TruthDisk& t) {
    return t.x - t.r >= 0 && t.y - t.r >= 0 && t.x + t.r <= width - 1 && t.y + t.r <= height - 1;
  };
  std::vector<bool> hit(truth.size(), false);
  for (const Detection& d : detections) {
    if (!d.accepted) continue;
    ++a.accepted;
    std::size_t owner = truth.size();
    for (std::size_t i = 0; i < truth.size(); ++i)
      if (std::hypot(d.cx - truth[i].x, d.cy - truth[i].y) < truth[i].r) owner = i;
    if (owner == truth.size() || (is_full(truth[owner]) && hit[owner])) {
      ++a.false_positives;
      continue;
    }
    if (!is_full(truth[owner])) continue;
    const TruthDisk& t = truth[owner];
    hit[owner] = true;
    ++a.found;
    a.worst_centre = std::max(a.worst_centre, std::hypot(d.cx - t.x, d.cy - t.y));
    a.worst_radius = std::max(a.worst_radius, std::abs(d.radius - t.r) / t.r);
    a.radius_bias += (d.radius - t.r) / t.r;
  }
  for (const TruthDisk& t : truth) a.full += is_full(t);
  if (a.found) a.radius_bias /= a.found;
  return a;
}

// With MICROSR_TEST_DUMP=DIR set, the accuracy tests write their image and overlay there.
void maybe_dump(const std::string& name, const Image& image, const DetectionResult& result, const DetectParams& p) {
  const char* dir = std::getenv("MICROSR_TEST_DUMP");
  if (!dir) return;
  write_png(std::string(dir) + "/" + name + ".png", image);
  write_png(std::string(dir) + "/" + name + "_overlay.png", draw_overlay(image, result.detections, p));
  Image mask;
  mask.width = result.mask.width, mask.height = result.mask.height, mask.channels = 1;
  for (uint8_t v : result.mask.pixels) mask.pixels.push_back(v / 255.0f);
  write_png(std::string(dir) + "/" + name + "_mask.png", mask);
}

void expect_accurate(const Accuracy& a, const char* what) {
  const double recall = double(a.found) / a.full;
  const double precision = double(a.found) / std::max(1, a.found + a.false_positives);
  std::printf("[ %s ] %d full disks: recall %.3f, precision %.3f, worst centre error %.2f px, "
              "worst radius error %.2f%% (mean %+.2f%%)\n",
              what, a.full, recall, precision, a.worst_centre, 100 * a.worst_radius, 100 * a.radius_bias);
  EXPECT_GE(recall, 0.98) << what;
  EXPECT_GE(precision, 0.98) << what;
  EXPECT_LE(a.worst_centre, 1.5) << what;
  EXPECT_LE(a.worst_radius, 0.03) << what;
}

std::vector<TruthDisk> disk_lattice(int width, int height, double pitch, double r_min, double r_max, uint32_t seed) {
  std::mt19937 rng(seed);
  auto uniform = [&](double lo, double hi) { return lo + (hi - lo) * (rng() / 4294967296.0); };
  std::vector<TruthDisk> disks;
  for (double y = pitch * 0.45; y < height + pitch * 0.3; y += pitch)
    for (double x = pitch * 0.4; x < width + pitch * 0.3; x += pitch)
      disks.push_back({x + uniform(-0.08, 0.08) * pitch, y + uniform(-0.08, 0.08) * pitch, uniform(r_min, r_max)});
  return disks;
}

TEST(Detect, AccurateOnSyntheticDisks) {
  const int width = 720, height = 540;
  const std::vector<TruthDisk> truth = disk_lattice(width, height, 120, 16, 30, 7);
  const Image image = draw_disk_field(width, height, truth, 120, 11);
  DetectParams p;
  p.block_size = 101, p.c = -8, p.min_area = 300, p.max_area = 20000;
  const DetectionResult result = detect_disks(image, p);
  maybe_dump("synthetic_disks", image, result, p);
  expect_accurate(score(result.detections, truth, width, height), "synthetic 10X-like disks");
}

TEST(Detect, AccurateOnSmallSyntheticDisks) {
  // The same chip seen through a 4X objective: everything 2.5× smaller in pixels.
  const int width = 480, height = 360;
  const std::vector<TruthDisk> truth = disk_lattice(width, height, 48, 6.5, 12, 8);
  const Image image = draw_disk_field(width, height, truth, 48, 12);
  DetectParams p;
  p.blur = 3, p.block_size = 41, p.c = -8, p.open = 3, p.close = 3, p.min_area = 60, p.max_area = 4000;
  const DetectionResult result = detect_disks(image, p);
  maybe_dump("synthetic_small_disks", image, result, p);
  expect_accurate(score(result.detections, truth, width, height), "synthetic 4X-like disks");
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
  for (std::size_t i = 0; i < eight.detections.size(); ++i) EXPECT_EQ(eight.detections[i].box, sixteen.detections[i].box);
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
}

// ---- the command line ---------------------------------------------------------------------------

int run(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return cli::run_detect(int(argv.size()), argv.data());
}

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
  EXPECT_EQ(csv[0], "file,id,cx,cy,radius,area,perimeter,circularity,x,y,w,h,accepted,reason");
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
  EXPECT_EQ(run({data_path("segment/disks.png")}), 2);  // no -o
  ::testing::internal::GetCapturedStderr();
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_NE(::testing::internal::GetCapturedStdout().find("--block-size"), std::string::npos);
  fs::remove_all(out);
}

}  // namespace
}  // namespace microsr
