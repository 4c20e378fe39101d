// Stage 2 of the detector (include/microsr/detect.h): blobs that are not one clean disk — touching
// disks thresholded into one blob, a disk with a scratch running into it or a dark crack across it —
// cut into the disks they hold.
//
// A blob's Euclidean distance transform (each pixel's distance to the background) is a cone over
// every disk in it, peaking at the disk's centre at about the disk's radius; neighbouring cones meet
// in a low ridge where the disks touch. So, for each blob:
//  1. Candidates (worth_examining): blobs that are not convex (solidity, area / convex hull area,
//     below split_solidity: a lone disk is convex, a union of disks is not), and convex ones that
//     stage 1 rejected but whose hull is round (a disk cut by a dark crack). The rest is left as
//     stage 1 measured it.
//  2. The blob, filled, is opened by a disk of half the radius of a min_area disk, which drops
//     scratches and thin bridges (blob.cpp).
//  3. The distance transform's peaks that stand out: a peak is a disk of its own when the ridge to
//     any higher peak drops to split_saddle × its height or lower (between touching disks it drops
//     far lower; a noise bump on one disk's cone, or the flat ridge along a pad, hardly drops at all).
//     The measure is relative to the peak's height, so it does not depend on the magnification.
//  4. The blob is flooded from those peaks (a watershed on the distance transform), which cuts it
//     through the necks between disks. Parts whose outlines are arcs of one circle (the pieces of a
//     disk cut by a dark scratch) are joined again (same_disk_groups).
//  5. Each part that is a disk is made to agree with the circle fitted to its outline: what sticks
//     out beyond it goes, a bite or crack inside it is filled (conform_to_circles).
//  6. The parts are traced, measured and filtered like stage 1's contours; the blob is marked
//     Rejection::split and its parts appended after all of stage 1's contours, `parent` = its id.
// A blob found to be one disk hardly different from its outline is left alone.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "detect/blob.h"
#include "microsr/detect.h"
#include "microsr/error.h"

namespace microsr {
namespace {

// The fraction of `circle`'s circumference that `outline` follows: of 36 equal sectors about the
// centre, those holding an outline point within max(1.5, 0.05 r) of the circle.
double arc_coverage(const Contour& outline, const Circle& circle) {
  constexpr int kSectors = 36;
  bool hit[kSectors] = {};
  const double band = std::max(1.5, 0.05 * circle.r);
  for (const Point& p : outline) {
    const double dx = p.x - circle.x, dy = p.y - circle.y;
    if (std::abs(std::hypot(dx, dy) + 0.5 - circle.r) > band) continue;     // outline points: r − ½
    const double turn = std::atan2(dy, dx) / (2 * std::numbers::pi) + 0.5;  // [0, 1]
    hit[std::min(kSectors - 1, int(turn * kSectors))] = true;
  }
  return double(std::count(hit, hit + kSectors, true)) / kSectors;
}

// Step 4: parts whose outlines are arcs of one circle are one disk — a disk crossed by a dark
// scratch thresholds into pieces with a deep notch between them, which step 3 cannot tell from small
// touching disks. Two touching disks have circles about r₁ + r₂ apart; two arcs of one disk, the same
// circle, give or take a pixel. Parts are joined when their circles agree to within a pixel plus 20 %
// of the smaller radius (centres) and 15 % of the larger (radii), and each outline follows its circle
// over at least a quarter of the circumference (a circle fitted to a pad's outline is no disk's).
// Returns each part's group, numbered from 0 in order of first appearance, and the number of groups.
int same_disk_groups(const std::vector<Contour>& parts, std::vector<int>& group) {
  const int n = int(parts.size());
  std::vector<Circle> circle(n);
  std::vector<bool> arc(n);
  for (int k = 0; k < n; ++k) arc[k] = fit_circle(parts[k], circle[k]) && arc_coverage(parts[k], circle[k]) >= 0.25;
  auto same = [&](const Circle& a, const Circle& b) {
    return std::hypot(a.x - b.x, a.y - b.y) <= 1 + 0.2 * std::min(a.r, b.r) &&
           std::abs(a.r - b.r) <= 1 + 0.15 * std::max(a.r, b.r);
  };
  std::vector<int> root(n);
  for (int k = 0; k < n; ++k) root[k] = k;
  auto find = [&](int k) {
    while (root[k] != k) k = root[k] = root[root[k]];
    return k;
  };
  for (int a = 0; a < n; ++a)
    for (int b = a + 1; b < n; ++b)
      if (arc[a] && arc[b] && same(circle[a], circle[b])) root[find(b)] = find(a);
  std::vector<int> number(n, -1);
  int groups = 0;
  group.assign(n, 0);
  for (int k = 0; k < n; ++k) {
    int& g = number[find(k)];
    if (g < 0) g = groups++;
    group[k] = g;
  }
  return groups;
}

// Step 5: each part that is a disk — its outline follows at least 60 % of the circle fitted to it —
// made to agree with that circle. Pixels more than one pixel outside it (a stretch of a scratch, the
// edge of a pad the disk touches) are no part of the disk and are dropped; unclaimed pixels inside
// it (a bite or a crack where a dark scratch or dust crosses the disk, the crack between pieces
// joined in step 4) are taken. Other parts are left as they are. Returns the number of pixels
// changed; round[k] tells whether part k is a disk.
int64_t conform_to_circles(std::vector<int>& labels, int w, const std::vector<Contour>& parts, const Blob& blob,
                           std::vector<bool>& round) {
  const std::size_t n = parts.size();
  std::vector<Circle> circle(n);
  round.assign(n, false);
  for (std::size_t k = 0; k < n; ++k)
    round[k] = fit_circle(parts[k], circle[k]) && arc_coverage(parts[k], circle[k]) >= 0.6;
  auto distance2 = [&](std::size_t p, const Circle& c) {
    const double dx = blob.x0 + int(p % w) - c.x, dy = blob.y0 + int(p / w) - c.y;
    return dx * dx + dy * dy;
  };
  int64_t changed = 0;
  for (std::size_t p = 0; p < labels.size(); ++p) {
    if (labels[p] != 0) {
      const int k = labels[p] - 1;
      if (round[k] && distance2(p, circle[k]) > (circle[k].r + 1) * (circle[k].r + 1)) labels[p] = 0, ++changed;
      continue;
    }
    for (std::size_t k = 0; k < n; ++k)
      if (round[k] && distance2(p, circle[k]) <= circle[k].r * circle[k].r) {
        labels[p] = int(k) + 1, ++changed;
        break;
      }
  }
  return changed;
}

// Steps 2–5 on one blob: the outlines of the disks it holds, or nothing when it is one disk as it
// stands (or nothing useful can be made of it).
std::vector<Contour> split_blob(const Plane8& mask, const Contour& contour, const DetectParams& params) {
  const double min_radius = std::max(1.0, 0.5 * std::sqrt(params.min_area / std::numbers::pi));
  const Blob blob = fill_blob(mask, contour, int(std::ceil(min_radius)) + 2);
  const int w = blob.filled.width, h = blob.filled.height;
  // The distance transform of the filled blob, kept only on the opened body: within a disk it is the
  // body's own (the disk is far from what the opening removed), and the removed pixels part the
  // body where a neck or a scratch was.
  std::vector<int32_t> d2 = squared_distance_transform(blob.filled);
  const Plane8 body = open_by_disk(blob.filled, d2, min_radius);
  for (std::size_t p = 0; p < d2.size(); ++p)
    if (!body.pixels[p]) d2[p] = 0;
  const Levels levels = sort_by_distance(d2);
  const std::vector<int> peaks = disk_peaks(d2, levels, w, params.split_saddle, min_radius);
  if (peaks.empty()) return {};
  std::vector<int> labels = flood_from_peaks(d2, levels, w, peaks);
  std::vector<Contour> parts = part_outlines(labels, w, h, int(peaks.size()), blob);
  std::vector<int> group;
  const int disks = same_disk_groups(parts, group);
  if (disks < int(parts.size())) {
    for (int& label : labels)
      if (label != 0) label = group[label - 1] + 1;
    parts = part_outlines(labels, w, h, disks, blob);
  }
  const int64_t area = std::count(blob.filled.pixels.begin(), blob.filled.pixels.end(), 255);
  const int64_t kept = std::count_if(labels.begin(), labels.end(), [](int label) { return label != 0; });
  std::vector<bool> round;
  const int64_t changed = conform_to_circles(labels, w, parts, blob, round) + (area - kept);
  // One part that is no disk, or one hardly different from the blob: leave it as stage 1 measured it.
  if (disks == 1 && (!round[0] || changed <= area / 100)) return {};
  parts = part_outlines(labels, w, h, disks, blob);
  std::erase_if(parts, [](const Contour& c) { return c.empty(); });
  return parts;
}

// Step 1: whether a stage-1 contour may be something other than what stage 1 made of it. Blobs
// that are not convex (solidity below split_solidity) may be touching disks. Convex blobs that were
// rejected may be one disk cut by a dark crack, but only if their hull is round (a pad's is long:
// hull circularity ≥ 0.8) and they are not cut by the image border (a disk there is not whole anyway).
bool worth_examining(const Detection& d, const Contour& outline, const Plane8& mask, const DetectParams& params) {
  if (d.area < params.min_area || d.reason == Rejection::too_small || d.reason == Rejection::split) return false;
  const Contour hull = convex_hull(outline);
  const double hull_area = contour_area(hull);
  if (d.area < params.split_solidity * hull_area) return true;
  if (d.accepted) return false;
  const bool at_border =
      d.box.x == 0 || d.box.y == 0 || d.box.x + d.box.width == mask.width || d.box.y + d.box.height == mask.height;
  return !at_border && circularity(hull_area, contour_perimeter(hull)) >= 0.8;
}

}  // namespace

int split_merged_disks(DetectionResult& result, const DetectParams& params) {
  validate(params);
  require(result.outlines.size() == result.detections.size(),
          "split_merged_disks: the result needs one outline per detection (as detect_classical gives)");
  const int classical = int(result.detections.size());
  // The blobs are independent: examined in parallel, their parts then appended in contour order.
  std::vector<std::vector<Contour>> parts(classical);
#pragma omp parallel for schedule(dynamic, 1)
  for (int i = 0; i < classical; ++i)
    if (worth_examining(result.detections[i], result.outlines[i], result.mask, params))
      parts[i] = split_blob(result.mask, result.outlines[i], params);
  int blobs_cut = 0;
  for (int i = 0; i < classical; ++i) {
    if (parts[i].empty()) continue;
    ++blobs_cut;
    Detection& blob = result.detections[i];
    blob.accepted = false, blob.reason = Rejection::split, blob.crop = {};
    const int parent = blob.id;
    for (Contour& part : parts[i]) {
      Detection d = measure_contour(part, int(result.detections.size()) + 1, params);
      d.parent = parent;
      result.detections.push_back(d);
      result.outlines.push_back(std::move(part));
    }
  }
  return blobs_cut;
}

}  // namespace microsr
