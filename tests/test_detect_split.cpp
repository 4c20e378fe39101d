// Stage 2 of the detector (src/detect/split.cpp, circle_fit.cpp) on masks and images drawn here in
// closed form, where the right answer is known exactly: which blobs are cut, into how many disks,
// where those disks are; and the circle fits on outlines and on edges.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "microsr/detect.h"

namespace microsr {
namespace {

struct Disk {
  double x, y, r;
};

// A mask with the pixels whose centres lie within each disk set, and `extra` painted on top.
template <class Extra>
Plane8 draw_mask(int width, int height, const std::vector<Disk>& disks, Extra extra) {
  Plane8 mask(width, height);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      bool on = false;
      for (const Disk& d : disks) on |= (x - d.x) * (x - d.x) + (y - d.y) * (y - d.y) <= d.r * d.r;
      mask.row(y)[x] = on ? 255 : 0;
      extra(x, y, mask.row(y)[x]);
    }
  return mask;
}
Plane8 draw_mask(int width, int height, const std::vector<Disk>& disks) {
  return draw_mask(width, height, disks, [](int, int, uint8_t&) {});
}

// Stage 1's result for a ready mask: its contours, measured and filtered.
DetectionResult stage_one(const Plane8& mask, const DetectParams& params) {
  DetectionResult result;
  result.mask = mask;
  result.outlines = find_external_contours(mask);
  for (const Contour& c : result.outlines)
    result.detections.push_back(measure_contour(c, int(result.detections.size()) + 1, params));
  return result;
}

// Stage 2 on the mask; returns the accepted disks as fitted circles (stage 2's outline fit).
std::vector<Disk> accepted_after_split(const Plane8& mask, const DetectParams& params, int* blobs_cut = nullptr) {
  DetectionResult result = stage_one(mask, params);
  const int cut = split_merged_disks(result, params);
  if (blobs_cut) *blobs_cut = cut;
  std::vector<Disk> disks;
  for (std::size_t i = 0; i < result.detections.size(); ++i)
    if (result.detections[i].accepted) {
      Circle c;
      EXPECT_TRUE(fit_circle(result.outlines[i], c));
      disks.push_back({c.x, c.y, c.r});
    }
  return disks;
}

// Each truth disk matched by one found disk within `centre` px and `radius` px.
void expect_disks(const std::vector<Disk>& found, const std::vector<Disk>& truth, double centre, double radius) {
  ASSERT_EQ(found.size(), truth.size());
  for (const Disk& t : truth) {
    const Disk* best = nullptr;
    for (const Disk& f : found)
      if (!best || std::hypot(f.x - t.x, f.y - t.y) < std::hypot(best->x - t.x, best->y - t.y)) best = &f;
    EXPECT_LE(std::hypot(best->x - t.x, best->y - t.y), centre) << "disk at " << t.x << ", " << t.y;
    EXPECT_NEAR(best->r, t.r, radius) << "disk at " << t.x << ", " << t.y;
  }
}

TEST(DetectSplit, TouchingDisksArePartedAtTheirSeam) {
  // A pair, a chain of three of unequal sizes, and a lone disk, all touching (0.5 px overlap).
  const std::vector<Disk> truth = {{40.3, 40.6, 25},  {89.8, 41.2, 25},                         // pair
                                   {40.5, 120.2, 20}, {80.0, 120.7, 20.5}, {114.1, 119.8, 14},  // chain
                                   {170.4, 60.3, 22}};
  const DetectParams params;
  int cut = 0;
  const std::vector<Disk> found = accepted_after_split(draw_mask(200, 160, truth), params, &cut);
  EXPECT_EQ(cut, 2);
  // The outline runs through border pixel centres and the fit adds half a pixel: the radius of
  // the pixel region, which for a digitised disk of radius r is r within about half a pixel.
  expect_disks(found, truth, 0.5, 0.6);
}

TEST(DetectSplit, TheSaddleRatioDecidesOverlappingDisks) {
  // Two disks of radius 20 with centres 31 apart: the neck between them is 2√(20² − 15.5²) = 25.3 px
  // wide, so the distance transform falls from 20 to about 12.6 between the peaks: a ratio of 0.63.
  // (split_solidity 0.99: the blob, solidity 0.94, is examined whatever the default.)
  const Plane8 mask = draw_mask(100, 60, {{30, 30, 20}, {61, 30, 20}});
  DetectParams params;
  params.split_solidity = 0.99;
  params.split_saddle = 0.7;
  EXPECT_EQ(accepted_after_split(mask, params).size(), 2u);
  params.split_saddle = 0.55;
  EXPECT_EQ(accepted_after_split(mask, params).size(), 1u);  // one blob, round enough to pass (0.78)
  params.split = false;                                      // and the whole pipeline honours the switch
  Image image;
  image.width = 100, image.height = 60, image.channels = 1;
  for (uint8_t v : mask.pixels) image.pixels.push_back(v ? 0.8f : 0.2f);
  int accepted = 0;
  for (const Detection& d : detect_disks(image, params).detections) accepted += d.accepted;
  EXPECT_EQ(accepted, 1);
}

TEST(DetectSplit, ThinThingsAreCutAwayAndCracksFilled) {
  const DetectParams params;
  // A bright scratch, 3 px wide, running through a disk and across the frame: the disk alone.
  const Plane8 scratched = draw_mask(220, 120, {{100.4, 60.2, 30}}, [](int x, int y, uint8_t& v) {
    if (std::abs(y - (20 + 0.3 * x)) < 1.6) v = 255;
  });
  expect_disks(accepted_after_split(scratched, params), {{100.4, 60.2, 30}}, 0.3, 0.6);
  // A dark crack, 2 px wide, across a disk (the pieces meet only at one end): one disk, filled.
  const Plane8 cracked = draw_mask(120, 120, {{60.3, 59.7, 35}}, [](int x, int y, uint8_t& v) {
    if (std::abs(y - (50 + 0.2 * x)) < 1.1 && x < 85) v = 0;
  });
  expect_disks(accepted_after_split(cracked, params), {{60.3, 59.7, 35}}, 0.3, 0.6);
}

TEST(DetectSplit, PadsAndBarsAreNotMadeIntoDisks) {
  const DetectParams params;
  // A long pad (8:1) alone, and one with a disk touching its side: the disk is found, the pad is not.
  const Plane8 pad = draw_mask(260, 100, {}, [](int x, int y, uint8_t& v) {
    if (x >= 20 && x < 240 && y >= 40 && y < 68) v = 255;
  });
  int cut = 0;
  EXPECT_TRUE(accepted_after_split(pad, params, &cut).empty());
  EXPECT_EQ(cut, 0);
  const Plane8 pad_and_disk = draw_mask(260, 140, {{130.2, 97.6, 30}}, [](int x, int y, uint8_t& v) {
    if (x >= 20 && x < 240 && y >= 40 && y < 68) v = 255;  // the disk's top row (68) touches the pad's last
  });
  expect_disks(accepted_after_split(pad_and_disk, params), {{130.2, 97.6, 30}}, 0.5, 0.8);
  // An L-shaped bar and a plus sign: no disks in either.
  const Plane8 shapes = draw_mask(260, 140, {}, [](int x, int y, uint8_t& v) {
    if ((x >= 20 && x < 40 && y >= 20 && y < 120) || (x >= 20 && x < 110 && y >= 100 && y < 120)) v = 255;
    if ((std::abs(x - 190) < 8 && std::abs(y - 70) < 50) || (std::abs(y - 70) < 8 && std::abs(x - 190) < 50)) v = 255;
  });
  EXPECT_TRUE(accepted_after_split(shapes, params).empty());
}

TEST(DetectSplit, PartsAreListedAfterTheirBlob) {
  const DetectParams params;
  DetectionResult result = stage_one(draw_mask(120, 60, {{30, 30, 20}, {69.5, 30, 20}}), params);
  ASSERT_EQ(result.detections.size(), 1u);
  EXPECT_EQ(result.detections[0].reason, Rejection::not_round);
  EXPECT_EQ(split_merged_disks(result, params), 1);
  ASSERT_EQ(result.detections.size(), 3u);
  ASSERT_EQ(result.outlines.size(), 3u);
  EXPECT_EQ(result.detections[0].reason, Rejection::split);
  EXPECT_FALSE(result.detections[0].accepted);
  for (int i = 1; i < 3; ++i) {
    EXPECT_EQ(result.detections[i].id, i + 1);
    EXPECT_EQ(result.detections[i].parent, 1);
    EXPECT_TRUE(result.detections[i].accepted);
  }
  EXPECT_STREQ(rejection_name(Rejection::split), "split");
  DetectionResult broken = result;
  broken.outlines.pop_back();
  EXPECT_THROW(split_merged_disks(broken, params), Error);
}

// ---- circle fits ------------------------------------------------------------------------------------

TEST(DetectSplit, OutlineFitIgnoresABiteAndAFlatCut) {
  // The outline of a digitised disk of radius 40 with a third of it bitten off by another disk, and
  // of one with a straight cut (a parted neighbour): the fit follows the rest of the edge.
  const Plane8 bitten = draw_mask(140, 140, {{70.4, 69.8, 40}}, [](int x, int y, uint8_t& v) {
    if ((x - 120) * (x - 120) + (y - 70) * (y - 70) < 30 * 30) v = 0;
  });
  const Plane8 cut = draw_mask(140, 140, {{70.4, 69.8, 40}}, [](int x, int, uint8_t& v) {
    if (x > 98) v = 0;
  });
  for (const Plane8* mask : {&bitten, &cut}) {
    const std::vector<Contour> outline = find_external_contours(*mask);
    ASSERT_EQ(outline.size(), 1u);
    Circle c;
    ASSERT_TRUE(fit_circle(outline[0], c));
    EXPECT_NEAR(c.x, 70.4, 0.3);
    EXPECT_NEAR(c.y, 69.8, 0.3);
    EXPECT_NEAR(c.r, 40, 0.5);
  }
  Circle c;
  EXPECT_FALSE(fit_circle(Contour{{0, 0}, {1, 1}, {2, 2}}, c));  // too few points
  Contour line;
  for (int i = 0; i < 50; ++i) line.push_back({i, 2 * i});
  EXPECT_FALSE(fit_circle(line, c));  // collinear
}

TEST(DetectSplit, EdgeFitFindsASymmetricallyBlurredEdgeExactly) {
  // A disk of radius 23.3 at (60.37, 58.81), brightness 180 inside and 60 outside, its edge blurred
  // by a Gaussian of σ 1.5 px: I(ρ) = 60 + 120·Φ((R − ρ)/σ) with ρ the distance from the centre —
  // symmetric about ρ = R, where the slope is steepest. Start the fit 1 px off in each of x, y, r.
  const double cx = 60.37, cy = 58.81, radius = 23.3, sigma = 1.5;
  Plane8 image(120, 120);
  for (int y = 0; y < 120; ++y)
    for (int x = 0; x < 120; ++x) {
      const double rho = std::hypot(x - cx, y - cy);
      image.row(y)[x] = uint8_t(std::lround(60 + 120 * 0.5 * std::erfc((rho - radius) / (sigma * std::sqrt(2.0)))));
    }
  Circle c{cx + 1, cy - 1, radius + 1};
  ASSERT_TRUE(fit_circle_to_edge(image, false, c));
  EXPECT_NEAR(c.x, cx, 0.05);
  EXPECT_NEAR(c.y, cy, 0.05);
  EXPECT_NEAR(c.r, radius, 0.05);
  // The same disk dark on a bright ground.
  for (uint8_t& v : image.pixels) v = uint8_t(255 - v);
  c = {cx - 1, cy + 1, radius - 1};
  ASSERT_TRUE(fit_circle_to_edge(image, true, c));
  EXPECT_NEAR(c.r, radius, 0.05);
  // With a smoothed copy the extrapolation to no blur finds nothing to correct on a symmetric edge.
  for (uint8_t& v : image.pixels) v = uint8_t(255 - v);
  const Plane8 smoothed = gaussian_blur8(image, 5);
  c = {cx + 1, cy - 1, radius + 1};
  ASSERT_TRUE(fit_circle_to_edge(image, false, c, &smoothed));
  EXPECT_NEAR(c.r, radius, 0.05);
  // No edge at all: the circle is left alone.
  const Plane8 flat(120, 120, 90);
  c = {cx, cy, radius};
  EXPECT_FALSE(fit_circle_to_edge(flat, false, c));
  EXPECT_EQ(c.r, radius);
}

TEST(DetectSplit, EdgeFitExtrapolatesAHaloedEdgeToNoBlur) {
  // A disk whose edge is not symmetric: 180 inside, outside a halo 60 + 40·exp(−(ρ − R)/2), the
  // whole blurred by a Gaussian of σ 1.2 px (radially: the disk is large beside σ). Its steepest
  // slope lies outside R (0.16 px, by numerical integration of the profile), and further out after
  // stage 1's 5×5 blur; extrapolating to no blur brings the radius closer to R (0.06 px for the
  // continuous profile; about 0.1 px here, sampled, rounded to 8 bits and read by interpolation).
  const double cx = 70.4, cy = 69.7, radius = 30.3, sigma = 1.2;
  std::vector<double> table(8001);  // the blurred profile at ρ = R − 40 + 0.01 i
  for (std::size_t i = 0; i < table.size(); ++i) {
    const double at = -40 + 0.01 * double(i);
    double sum = 0, weight = 0;
    for (double u = -8 * sigma; u <= 8 * sigma; u += 0.01) {
      const double g = std::exp(-u * u / (2 * sigma * sigma)), v = at - u;
      sum += g * (v < 0 ? 180.0 : 60 + 40 * std::exp(-v / 2)), weight += g;
    }
    table[i] = sum / weight;
  }
  Plane8 image(140, 140);
  for (int y = 0; y < 140; ++y)
    for (int x = 0; x < 140; ++x) {
      const double at = std::clamp(std::hypot(x - cx, y - cy) - radius, -39.9, 39.9);
      image.row(y)[x] = uint8_t(std::lround(table[std::size_t(std::lround((at + 40) / 0.01))]));
    }
  Circle raw{cx, cy, radius + 1};
  ASSERT_TRUE(fit_circle_to_edge(image, false, raw));
  const Plane8 smoothed = gaussian_blur8(image, 5);
  Circle extrapolated{cx, cy, radius + 1};
  ASSERT_TRUE(fit_circle_to_edge(image, false, extrapolated, &smoothed));
  std::printf("[ haloed edge ] raw radius %+.3f px, extrapolated %+.3f px off the true edge\n", raw.r - radius,
              extrapolated.r - radius);
  EXPECT_GT(raw.r - radius, 0.12);
  EXPECT_LT(std::abs(extrapolated.r - radius), raw.r - radius - 0.04);
  EXPECT_NEAR(extrapolated.x, cx, 0.05);
  EXPECT_NEAR(extrapolated.y, cy, 0.05);
}

}  // namespace
}  // namespace microsr
