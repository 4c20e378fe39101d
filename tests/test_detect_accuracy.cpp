// The detector (include/microsr/detect.h, default stages) against ground truth, the bar:
// recall and precision ≥ 0.98, centre error ≤ 1.5 px, radius error ≤ 3 %, on full disks away from the
// border, at both magnifications. The measured figures are printed.
//  - `microsr synth` frames (render_chip_scene, the synth library, independent of the detector):
//    10X and 4X crops of two fields each, with touching disks, pads, dust and scratches;
//  - fields drawn here with a simpler model (flat disks with a rim, a pad, a scratch, dust), a
//    second opinion that does not share the synth's optics.
// Full-size frames (10 fields per magnification) are measured by tools/detect_accuracy.py.
// DrawnFourXLikeDisksWithRandomSam keeps the same bars with stage 3 on, using the random-weight SAM
// fixtures (tests/data/onnx/sam): the gate must keep a useless model from making anything worse.
// (The synth 4X frames with SAM pass too, but take ~30 s on 2 cores: 268 boxes whose decoder
// masks come at 800×600, [B, 4, H, W].)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "microsr/detect.h"
#include "microsr/image_io.h"
#include "microsr/sam.h"
#include "microsr/synth.h"
#include "test_helpers.h"

namespace microsr {
namespace {

struct TruthCircle {
  double x, y, r;
};

struct Accuracy {
  int full = 0, found = 0, false_positives = 0;
  double worst_centre = 0, mean_centre = 0;  // px
  double worst_radius = 0, mean_radius = 0;  // relative; the mean keeps its sign (bias)
};

// A disk counts ("full, away from the border") when its circle grown by 25 % lies inside the frame
// [−0.5, width − 0.5] × [−0.5, height − 0.5]. Each accepted detection belongs to the truth disk
// whose circle holds its centre: the first on a full disk is a hit, any further one a false
// positive; one on a disk that does not count, or whose box touches the frame (an object the
// border cuts), counts neither way; one on no disk (a pad, dust, a scratch, nothing) is a false
// positive.
Accuracy score(const std::vector<Detection>& detections, const std::vector<TruthCircle>& truth, int width, int height) {
  auto counts = [&](const TruthCircle& t) {
    const double m = 1.25 * t.r;
    return t.x - m >= -0.5 && t.y - m >= -0.5 && t.x + m <= width - 0.5 && t.y + m <= height - 0.5;
  };
  Accuracy a;
  std::vector<bool> hit(truth.size(), false);
  for (const Detection& d : detections) {
    if (!d.accepted) continue;
    if (d.box.x == 0 || d.box.y == 0 || d.box.x + d.box.width == width || d.box.y + d.box.height == height) continue;
    std::size_t owner = truth.size();
    for (std::size_t i = 0; i < truth.size(); ++i)
      if (std::hypot(d.cx - truth[i].x, d.cy - truth[i].y) < truth[i].r) owner = i;
    if (owner == truth.size() || (counts(truth[owner]) && hit[owner])) {
      ++a.false_positives;
      continue;
    }
    if (!counts(truth[owner])) continue;
    const TruthCircle& t = truth[owner];
    hit[owner] = true;
    ++a.found;
    const double centre = std::hypot(d.cx - t.x, d.cy - t.y), radius = (d.radius - t.r) / t.r;
    a.worst_centre = std::max(a.worst_centre, centre), a.mean_centre += centre;
    a.worst_radius = std::max(a.worst_radius, std::abs(radius)), a.mean_radius += radius;
  }
  for (const TruthCircle& t : truth) a.full += counts(t);
  if (a.found) a.mean_centre /= a.found, a.mean_radius /= a.found;
  return a;
}

void add(Accuracy& total, const Accuracy& a) {
  total.mean_centre = (total.mean_centre * total.found + a.mean_centre * a.found) / std::max(1, total.found + a.found);
  total.mean_radius = (total.mean_radius * total.found + a.mean_radius * a.found) / std::max(1, total.found + a.found);
  total.full += a.full, total.found += a.found, total.false_positives += a.false_positives;
  total.worst_centre = std::max(total.worst_centre, a.worst_centre);
  total.worst_radius = std::max(total.worst_radius, a.worst_radius);
}

void expect_accurate(const Accuracy& a, const std::string& what) {
  const double recall = double(a.found) / std::max(1, a.full);
  const double precision = double(a.found) / std::max(1, a.found + a.false_positives);
  std::printf(
      "[ %s ] %d full disks: recall %.4f, precision %.4f, centre error worst %.2f px (mean %.2f), "
      "radius error worst %.2f%% (mean %+.2f%%)\n",
      what.c_str(), a.full, recall, precision, a.worst_centre, a.mean_centre, 100 * a.worst_radius,
      100 * a.mean_radius);
  EXPECT_GE(a.full, 40) << what << ": too few disks to measure";
  EXPECT_GE(recall, 0.98) << what;
  EXPECT_GE(precision, 0.98) << what;
  EXPECT_LE(a.worst_centre, 1.5) << what;
  EXPECT_LE(a.worst_radius, 0.03) << what;
}

// With MICROSR_TEST_DUMP=DIR set, the tests write their images and overlays there.
void maybe_dump(const std::string& name, const Image& image, const DetectionResult& result, const DetectParams& p) {
  const char* dir = std::getenv("MICROSR_TEST_DUMP");
  if (!dir) return;
  write_png(std::string(dir) + "/" + name + ".png", image);
  write_png(std::string(dir) + "/" + name + "_overlay.png", draw_overlay(image, result.detections, p));
}

// detect_disks, then (with a segmenter) stage 3 on every accepted detection.
DetectionResult detect(const Image& image, const DetectParams& params, PromptSegmenter* segmenter) {
  DetectionResult result = detect_disks(image, params);
  if (!segmenter) return result;
  int accepted = 0;
  for (const Detection& d : result.detections) accepted += d.accepted;
  const SamRefineCounts counts = refine_with_segmenter(image, result, *segmenter, params, SamGateParams{});
  EXPECT_EQ(counts.prompted, accepted);
  std::printf("[ stage 3 ] %d of %d masks used\n", counts.used, counts.prompted);
  return result;
}

std::unique_ptr<PromptSegmenter> random_sam() {
  return load_onnx_segmenter(testing::data_path("onnx/sam/sam_vit_small_encoder/model.onnx"),
                             testing::data_path("onnx/sam/sam_decoder_small/model.onnx"));
}

// ---- `microsr synth` frames ---------------------------------------------------------------------

// Fields 0 and 1 of seed 1 through `objective`, width × height pixels about the field's centre,
// detected with the default parameters.
Accuracy synth_accuracy(Objective objective, int width, int height) {
  Accuracy total;
  for (int field = 0; field < 2; ++field) {
    RenderOptions options;
    options.objective = objective, options.width = width, options.height = height;
    const SyntheticImage frame = render_chip_scene(make_chip_scene(1, field), options);
    std::vector<TruthCircle> disks;
    for (const TruthRow& t : frame.truth)
      if (t.kind == FeatureKind::disk) disks.push_back({t.centre_x, t.centre_y, t.radius});
    const DetectParams params;
    const DetectionResult result = detect_disks(frame.image, params);
    maybe_dump(std::string("synth_") + objective_spec(objective).name + "_" + std::to_string(field), frame.image,
               result, params);
    add(total, score(result.detections, disks, width, height));
  }
  return total;
}

TEST(DetectAccuracy, SynthTenX) {
  expect_accurate(synth_accuracy(Objective::x10, 1296, 972), "microsr synth 10X, seed 1, fields 0-1, 1296x972");
}

TEST(DetectAccuracy, SynthFourX) {
  expect_accurate(synth_accuracy(Objective::x4, 800, 600), "microsr synth 4X, seed 1, fields 0-1, 800x600");
}

// ---- fields drawn here ----------------------------------------------------------------------------

// A field of bright disks (disk_lattice with this pitch) with a brighter rim on an unevenly lit,
// noisy substrate, plus distractors (a long pad, a scratch, dust), drawn with 4×4 supersampled
// edges. Deterministic (std::mt19937 is specified exactly by the standard; only its raw output is
// used).
Image draw_disk_field(int width, int height, const std::vector<TruthCircle>& disks, double pitch, uint32_t seed) {
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
  for (const TruthCircle& d : disks) {
    auto within = [&](double radius) {
      return [=](double x, double y) { return (x - d.x) * (x - d.x) + (y - d.y) * (y - d.y) <= radius * radius; };
    };
    paint(d.x - d.r, d.y - d.r, d.x + d.r, d.y + d.r, within(d.r), 0.78);         // rim
    paint(d.x - d.r, d.y - d.r, d.x + d.r, d.y + d.r, within(d.r - 2.0), 0.62);   // body
    paint(d.x - d.r, d.y - d.r, d.x + d.r, d.y + d.r, within(0.55 * d.r), 0.57);  // pedestal
  }
  // Distractors in the gaps between rows of disk_lattice(pitch): a pad 0.9 × 0.12 pitch
  // (circularity ≈ 0.33), a two-pixel scratch, a dark speck of dust.
  const double p = pitch;
  auto gap = [&](int row) { return 0.45 * p + (row + 0.5) * p; };
  paint(
      0.25 * p, gap(0) - 0.06 * p, 1.15 * p, gap(0) + 0.06 * p, [](double, double) { return true; }, 0.8);
  paint(
      1.7 * p, gap(1) - 2, 3.5 * p, gap(1) + 0.02 * p + 2,
      [&](double x, double y) { return std::abs((y - gap(1)) - 0.01 * (x - 1.7 * p)) < 1.2; }, 0.75);
  paint(
      1.9 * p - 4, gap(2) - 4, 1.9 * p + 4, gap(2) + 4,
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

std::vector<TruthCircle> disk_lattice(int width, int height, double pitch, double r_min, double r_max, uint32_t seed) {
  std::mt19937 rng(seed);
  auto uniform = [&](double lo, double hi) { return lo + (hi - lo) * (rng() / 4294967296.0); };
  std::vector<TruthCircle> disks;
  for (double y = pitch * 0.45; y < height + pitch * 0.3; y += pitch)
    for (double x = pitch * 0.4; x < width + pitch * 0.3; x += pitch)
      disks.push_back({x + uniform(-0.08, 0.08) * pitch, y + uniform(-0.08, 0.08) * pitch, uniform(r_min, r_max)});
  return disks;
}

TEST(DetectAccuracy, DrawnTenXLikeDisks) {
  const int width = 960, height = 720;
  std::vector<TruthCircle> truth = disk_lattice(width, height, 120, 16, 30, 7);
  // Two pairs pushed together until they touch.
  for (const std::size_t i : {9, 20}) truth[i + 1].x = truth[i].x + truth[i].r + truth[i + 1].r - 0.5;
  const Image image = draw_disk_field(width, height, truth, 120, 11);
  DetectParams p;
  p.min_area = 300, p.max_area = 20000;
  const DetectionResult result = detect_disks(image, p);
  maybe_dump("drawn_10x", image, result, p);
  expect_accurate(score(result.detections, truth, width, height), "drawn 10X-like disks");
}

// The same chip seen through a 4X objective: everything 2.5× smaller in pixels.
void drawn_four_x(PromptSegmenter* segmenter) {
  const int width = 480, height = 360;
  std::vector<TruthCircle> truth = disk_lattice(width, height, 48, 6.5, 12, 8);
  for (const std::size_t i : {12, 30}) truth[i + 1].x = truth[i].x + truth[i].r + truth[i + 1].r - 0.3;
  const Image image = draw_disk_field(width, height, truth, 48, 12);
  DetectParams p;
  p.blur = 3, p.block_size = 61, p.open = 3, p.close = 3, p.min_area = 60, p.max_area = 4000;
  const DetectionResult result = detect(image, p, segmenter);
  maybe_dump("drawn_4x", image, result, p);
  expect_accurate(score(result.detections, truth, width, height),
                  segmenter ? "drawn 4X-like disks, random-weight SAM" : "drawn 4X-like disks");
}

TEST(DetectAccuracy, DrawnFourXLikeDisks) { drawn_four_x(nullptr); }

TEST(DetectAccuracy, DrawnFourXLikeDisksWithRandomSam) { drawn_four_x(random_sam().get()); }

}  // namespace
}  // namespace microsr
