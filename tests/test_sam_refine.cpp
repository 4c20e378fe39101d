// Detection stage 3 (include/microsr/sam.h) with a fake segmenter that draws known masks: one
// encoder run per image, every accepted detection prompted in one decode call, each gate reason,
// the CSV columns, and the classical result kept whenever the gate says so.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numbers>

#include "microsr/error.h"
#include "microsr/sam.h"
#include "test_helpers.h"

namespace microsr {
namespace {
namespace fs = std::filesystem;
using testing::expect_error;
using testing::temp_path;

struct Disk {
  double x, y, r;
};
const std::vector<Disk> kDisks = {{60, 60, 20}, {160, 70, 24}, {90, 170, 18}, {190, 180, 22}};

// Bright disks (and a speck too small to accept) on a darker ground, 256 × 256 RGB.
Image disk_image() {
  Image image;
  image.width = image.height = 256, image.channels = 3;
  image.pixels.assign(3 * 256 * 256, 0.2f);
  std::vector<Disk> all = kDisks;
  all.push_back({225, 25, 3});
  for (int y = 0; y < 256; ++y)
    for (int x = 0; x < 256; ++x)
      for (const Disk& d : all)
        if (std::hypot(x - d.x, y - d.y) <= d.r)
          for (int c = 0; c < 3; ++c) image.plane(c)[y * 256 + x] = 0.8f;
  return image;
}

// Answers each box with the disk of kDisks inside it, transformed by `shape` (centre, radius,
// and how to paint), and `score`; counts its calls.
class FakeSegmenter : public PromptSegmenter {
 public:
  // (x, y, disk) → inside the mask; default: the exact disk.
  std::function<bool(double, double, const Disk&)> inside = [](double x, double y, const Disk& d) {
    return std::hypot(x - d.x, y - d.y) <= d.r;
  };
  double score = 0.95;
  int encodes = 0, decodes = 0;
  std::vector<std::size_t> prompts_per_call;

  void encode(const Image&) override { ++encodes; }
  std::vector<PromptMask> decode_boxes(const std::vector<BoxPrompt>& prompts) override {
    require(encodes > 0, "decode before encode");
    ++decodes;
    prompts_per_call.push_back(prompts.size());
    std::vector<PromptMask> masks;
    for (const BoxPrompt& p : prompts) {
      const Disk* disk = nullptr;
      for (const Disk& d : kDisks)
        if (d.x >= p.x0 && d.x <= p.x1 && d.y >= p.y0 && d.y <= p.y1) disk = &d;
      PromptMask m;
      m.score = score;
      m.mask = Plane8(p.window.width, p.window.height);
      for (int y = 0; y < p.window.height && disk; ++y)
        for (int x = 0; x < p.window.width; ++x)
          if (inside(p.window.x + x, p.window.y + y, *disk)) m.mask.row(y)[x] = 255;
      masks.push_back(std::move(m));
    }
    return masks;
  }
};

struct Refined {
  DetectionResult classical, refined;
  SamRefineCounts counts;
};

Refined run_refinement(FakeSegmenter& segmenter, const SamGateParams& gate = {}) {
  const Image image = disk_image();
  Refined r;
  r.classical = detect_disks(image, DetectParams{});
  r.refined = r.classical;
  r.counts = refine_with_segmenter(image, r.refined, segmenter, DetectParams{}, gate);
  return r;
}

int accepted_count(const DetectionResult& result) {
  int n = 0;
  for (const Detection& d : result.detections) n += d.accepted;
  return n;
}

// Every accepted detection has `verdict` and, unless used, its classical box, crop, centre, radius.
void expect_all(const Refined& r, MaskVerdict verdict) {
  ASSERT_EQ(r.refined.detections.size(), r.classical.detections.size());
  for (std::size_t i = 0; i < r.refined.detections.size(); ++i) {
    const Detection &d = r.refined.detections[i], &c = r.classical.detections[i];
    EXPECT_EQ(d.accepted, c.accepted);
    EXPECT_EQ(d.cx, c.cx);
    EXPECT_EQ(d.radius, c.radius);
    if (!d.accepted) {
      EXPECT_EQ(d.mask.verdict, MaskVerdict::not_prompted);
      continue;
    }
    EXPECT_EQ(d.mask.verdict, verdict) << "detection " << d.id << ": " << mask_verdict_name(d.mask.verdict);
    if (verdict != MaskVerdict::used) {
      EXPECT_EQ(d.box, c.box);
      EXPECT_EQ(d.crop, c.crop);
    }
  }
}

TEST(SamRefine, OneEncodeAndOneDecodeCallWithEveryAcceptedBox) {
  FakeSegmenter fake;
  const Refined r = run_refinement(fake);
  ASSERT_EQ(accepted_count(r.classical), int(kDisks.size()));
  EXPECT_GT(r.classical.detections.size(), kDisks.size());  // the speck: rejected, not prompted
  EXPECT_EQ(fake.encodes, 1);
  EXPECT_EQ(fake.decodes, 1);
  ASSERT_EQ(fake.prompts_per_call.size(), 1u);
  EXPECT_EQ(fake.prompts_per_call[0], kDisks.size());
  EXPECT_EQ(r.counts.prompted, int(kDisks.size()));
  EXPECT_EQ(r.counts.used, int(kDisks.size()));
  expect_all(r, MaskVerdict::used);
  for (const Detection& d : r.refined.detections) {
    if (!d.accepted) continue;
    // The exact disk's mask: its box is the disk's pixel extent, its IoU with the fitted disk ~1.
    EXPECT_NEAR(d.box.width, 2 * d.radius, 2.0);
    EXPECT_GT(d.mask.iou, 0.9);
    EXPECT_GT(d.mask.circularity, 0.8);
    EXPECT_NEAR(d.mask.area, std::numbers::pi * d.radius * d.radius, 0.1 * std::numbers::pi * d.radius * d.radius);
    EXPECT_EQ(d.mask.box, d.box);
    EXPECT_FALSE(d.mask.outline.empty());
  }
}

TEST(SamRefine, EmptyMasksKeepTheClassicalResult) {
  FakeSegmenter fake;
  fake.inside = [](double, double, const Disk&) { return false; };
  const Refined r = run_refinement(fake);
  expect_all(r, MaskVerdict::empty_mask);
  EXPECT_EQ(r.counts.used, 0);
}

TEST(SamRefine, LowScoresKeepTheClassicalResult) {
  FakeSegmenter fake;
  fake.score = 0.2;
  expect_all(run_refinement(fake), MaskVerdict::low_score);
  SamGateParams lenient;
  lenient.min_score = 0.1;
  FakeSegmenter again;
  again.score = 0.2;
  expect_all(run_refinement(again, lenient), MaskVerdict::used);
}

TEST(SamRefine, ShiftedMasksKeepTheClassicalResult) {
  FakeSegmenter fake;
  fake.inside = [](double x, double y, const Disk& d) { return std::hypot(x - d.x - 0.5 * d.r, y - d.y) <= d.r; };
  expect_all(run_refinement(fake), MaskVerdict::centre_shift);
}

TEST(SamRefine, MasksOfTheWrongSizeKeepTheClassicalResult) {
  FakeSegmenter fake;
  fake.inside = [](double x, double y, const Disk& d) { return std::hypot(x - d.x, y - d.y) <= 0.6 * d.r; };
  expect_all(run_refinement(fake), MaskVerdict::radius_ratio);
}

TEST(SamRefine, MasksOfTheWrongShapeKeepTheClassicalResult) {
  // An ellipse of the disk's area about its centre: centre and equivalent radius agree, overlap not.
  FakeSegmenter fake;
  fake.inside = [](double x, double y, const Disk& d) {
    const double u = (x - d.x) / (1.6 * d.r), v = (y - d.y) / (d.r / 1.6);
    return u * u + v * v <= 1;
  };
  expect_all(run_refinement(fake), MaskVerdict::low_iou);
}

TEST(SamRefine, NothingAcceptedMeansNoEncoderRun) {
  FakeSegmenter fake;
  Image image;
  image.width = image.height = 64, image.channels = 1;
  image.pixels.assign(64 * 64, 0.3f);
  DetectionResult result = detect_disks(image, DetectParams{});
  EXPECT_EQ(refine_with_segmenter(image, result, fake, DetectParams{}, SamGateParams{}).prompted, 0);
  EXPECT_EQ(fake.encodes, 0);
  EXPECT_EQ(fake.decodes, 0);
}

TEST(SamRefine, CsvColumns) {
  FakeSegmenter fake;
  const Refined r = run_refinement(fake);
  EXPECT_NE(
      detections_csv_header().find(",parent,mask_score,mask_area,mask_circularity,mask_iou,sam_used,sam_reason\n"),
      std::string::npos);
  const std::string rows = detections_csv_rows("a.png", r.refined.detections);
  int used = 0, not_prompted = 0;
  std::size_t start = 0;
  for (std::size_t end; (end = rows.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string row = rows.substr(start, end - start);
    EXPECT_EQ(std::count(row.begin(), row.end(), ','), 20) << row;
    used += row.ends_with(",1,used");
    not_prompted += row.ends_with(",,,,,0,not_prompted");
  }
  EXPECT_EQ(used, int(kDisks.size()));
  EXPECT_EQ(used + not_prompted, int(r.refined.detections.size()));
  // Without a segmenter the six columns are empty.
  const std::string plain = detections_csv_rows("a.png", r.classical.detections);
  EXPECT_NE(plain.find(",,,,,,\n"), std::string::npos);
  EXPECT_EQ(plain.find("used"), std::string::npos);
}

TEST(SamRefine, OverlayDrawsMaskOutlines) {
  FakeSegmenter fake;
  const Refined r = run_refinement(fake);
  const Image overlay = draw_overlay(disk_image(), r.refined.detections, DetectParams{});
  const Detection* d = nullptr;
  for (const Detection& det : r.refined.detections)
    if (det.accepted) d = &det;
  ASSERT_TRUE(d);
  const Point p = d->mask.outline[d->mask.outline.size() / 3];
  const std::size_t i = std::size_t(p.y) * overlay.width + p.x;
  EXPECT_LT(overlay.plane(0)[i], 0.2f);  // cyan: a used mask
  EXPECT_GT(overlay.plane(1)[i], 0.8f);
  EXPECT_GT(overlay.plane(2)[i], 0.9f);
}

TEST(SamRefine, MaskedCropKeepsOnlyTheMask) {
  FakeSegmenter fake;
  const Refined r = run_refinement(fake);
  const Image image = disk_image();
  for (const Detection& d : r.refined.detections) {
    if (!d.accepted) continue;
    const Image crop = masked_crop(image, d);
    ASSERT_EQ(crop.width, d.crop.width);
    int kept = 0, cleared = 0;
    for (int y = 0; y < crop.height; ++y)
      for (int x = 0; x < crop.width; ++x) {
        const Disk* disk = nullptr;
        for (const Disk& k : kDisks)
          if (std::hypot(d.crop.x + x - k.x, d.crop.y + y - k.y) <= k.r) disk = &k;
        const float v = crop.plane(1)[y * crop.width + x];
        // Inside this detection's own disk: the image (0.8); anywhere else: 0.
        const bool own = disk && std::hypot(disk->x - d.cx, disk->y - d.cy) < 2;
        EXPECT_EQ(v, own ? 0.8f : 0.0f) << x << "," << y;
        kept += own, cleared += !own;
      }
    EXPECT_GT(kept, 900);
    EXPECT_GT(cleared, 1000);
  }
  Detection plain;
  expect_error([&] { masked_crop(image, plain); }, "no used mask");
}

TEST(SamRefine, GateParamsAreValidated) {
  SamGateParams g;
  g.min_score = 1.5;
  expect_error([&] { validate(g); }, "--sam-min-score");
  g = {}, g.max_centre_shift = 0;
  expect_error([&] { validate(g); }, "--sam-max-shift");
  g = {}, g.min_radius_ratio = 1.2;
  expect_error([&] { validate(g); }, "--sam-radius-ratio");
  g = {}, g.min_iou = -0.1;
  expect_error([&] { validate(g); }, "--sam-min-iou");
  validate(SamGateParams{});
}

TEST(SamRefine, MaskOfTheWrongSizeIsAnError) {
  Detection d;
  d.cx = d.cy = 10, d.radius = 5, d.box = {5, 5, 11, 11};
  PromptMask m;
  m.mask = Plane8(4, 4);
  expect_error([&] { measure_mask(m, Box{0, 0, 30, 30}, d); }, "does not match its window");
}

TEST(SamInput, SamResizesTheLongestSideAndPads) {
  const SegmenterInput spec{SegmenterFamily::sam, 16};
  Image image;
  image.width = 40, image.height = 20, image.channels = 1;
  image.pixels.assign(40 * 20, 0.5f);
  int w = 0, h = 0;
  resized_size(spec, 40, 20, w, h);
  EXPECT_EQ(w, 16);
  EXPECT_EQ(h, 8);
  double sx = 0, sy = 0;
  model_scale(spec, 40, 20, sx, sy);
  EXPECT_DOUBLE_EQ(sx, 0.4);
  EXPECT_DOUBLE_EQ(sy, 0.4);
  const std::vector<float> input = prepare_segmenter_input(image, spec);
  ASSERT_EQ(input.size(), 3u * 16 * 16);
  const float means[3] = {123.675f, 116.28f, 103.53f}, stds[3] = {58.395f, 57.12f, 57.375f};
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(input[(c * 16 + 3) * 16 + 5], (127.5f - means[c]) / stds[c], 1e-4) << c;  // inside
    EXPECT_EQ(input[(c * 16 + 12) * 16 + 5], 0.0f) << c;                                  // padding
  }
}

TEST(SamInput, Sam2StretchesToTheSquareOnZeroToOne) {
  const SegmenterInput spec{SegmenterFamily::sam2, 16};
  Image image;
  image.width = 40, image.height = 20, image.channels = 3;
  image.pixels.assign(3 * 40 * 20, 0.25f);
  double sx = 0, sy = 0;
  model_scale(spec, 40, 20, sx, sy);
  EXPECT_DOUBLE_EQ(sx, 0.4);
  EXPECT_DOUBLE_EQ(sy, 0.8);
  const std::vector<float> input = prepare_segmenter_input(image, spec, 2.0);  // gain 2: 0.5
  EXPECT_NEAR(input[15 * 16 + 15], (0.5f - 0.485f) / 0.229f, 1e-4);
  EXPECT_NEAR(input[(2 * 16 + 15) * 16], (0.5f - 0.406f) / 0.225f, 1e-4);
}

TEST(SamFiles, FolderWithEncoderAndDecoder) {
  const std::string dir = temp_path("sam_files");
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto touch = [&](const std::string& name) { std::ofstream(dir + "/" + name) << "x"; };
  std::string encoder, decoder;
  expect_error([&] { find_segmenter_files(dir, encoder, decoder); }, "no .onnx files");
  touch("sam2_hiera_tiny.encoder.onnx");
  touch("sam2_hiera_tiny.decoder.onnx");
  find_segmenter_files(dir, encoder, decoder);
  EXPECT_EQ(fs::path(encoder).filename(), "sam2_hiera_tiny.encoder.onnx");
  EXPECT_EQ(fs::path(decoder).filename(), "sam2_hiera_tiny.decoder.onnx");
  touch("vit_b.encoder.onnx");
  expect_error([&] { find_segmenter_files(dir, encoder, decoder); }, "vit_b.encoder.onnx");
  touch("encoder.onnx");
  touch("decoder.onnx");
  find_segmenter_files(dir, encoder, decoder);
  EXPECT_EQ(fs::path(encoder).filename(), "encoder.onnx");
  EXPECT_EQ(fs::path(decoder).filename(), "decoder.onnx");
  expect_error([&] { find_segmenter_files(dir + "/none", encoder, decoder); }, "not a folder");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace microsr
