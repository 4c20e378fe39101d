// The microdisk detection pipeline (include/microsr/detect.h): segment, measure, filter (stage 1),
// split (stage 2, split.cpp), refine (stage 3), crop.
#include "microsr/detect.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>

#include "microsr/error.h"

namespace microsr {
namespace {

void require_odd(const char* name, int value, int min_value) {
  require(value >= min_value && value % 2 == 1 && value <= 1001, std::string(name) + " must be an odd number from " +
                                                                     std::to_string(min_value) + " to 1001, got " +
                                                                     std::to_string(value));
}

// The radius of the circle with the outline's area. The outline runs through the centres of the
// border pixels, so for a perfectly binarised disk it reads about half a pixel short; the adaptive
// threshold (pixel > local mean − C, the mean pulled towards the darker surroundings) puts the
// border slightly outside the edge, and the two roughly cancel (tests/test_detect.cpp measures the
// bias on synthetic disks: well under 1 %).
double equivalent_radius(double outline_area) { return std::sqrt(outline_area / std::numbers::pi); }

}  // namespace

Detection measure_contour(const Contour& contour, int id, const DetectParams& params) {
  Detection d;
  d.id = id;
  d.area = contour_area(contour);
  d.perimeter = contour_perimeter(contour);
  d.circularity = circularity(d.area, d.perimeter);
  d.radius = equivalent_radius(d.area);
  d.box = bounding_box(contour);
  contour_centroid(contour, d.cx, d.cy);
  if (d.area < params.min_area)
    d.reason = Rejection::too_small;
  else if (d.area > params.max_area)
    d.reason = Rejection::too_large;
  else if (!(d.circularity > params.min_circularity))
    d.reason = Rejection::not_round;
  d.accepted = d.reason == Rejection::none;
  return d;
}

namespace {

// One axis of crop_box: [lo, hi) grown by margin, then to at least `want` about `centre`, in [0, n).
void crop_axis(int lo, int hi, double centre, int margin, int want, int n, int& start, int& size) {
  lo = std::max(0, lo - margin);
  hi = std::min(n, hi + margin);
  want = std::min(want, n);
  if (hi - lo < want) {
    lo = int(std::lround(centre - want / 2.0));
    lo = std::clamp(lo, 0, n - want);
    hi = lo + want;
  }
  start = lo, size = hi - lo;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char ch : s) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return quoted + "\"";
}

// The six stage-3 columns, each preceded by its comma.
std::string mask_csv_fields(const MaskRefinement& m) {
  if (m.verdict == MaskVerdict::none) return ",,,,,,";
  if (m.verdict == MaskVerdict::not_prompted) return ",,,,,0,not_prompted";
  char fields[160];
  std::snprintf(fields, sizeof fields, ",%.4f,%.1f,%.4f,%.4f,%d,%s", m.score, m.area, m.circularity, m.iou,
                int(m.used()), mask_verdict_name(m.verdict));
  return fields;
}

}  // namespace

void validate(const DetectParams& p) {
  require(p.window_max >= 0 && p.window_max <= 65535,
          "--window-max must be in 0..65535 (0: automatic), got " + std::to_string(p.window_max));
  require_odd("--blur (Gaussian blur kernel size)", p.blur, 1);
  require_odd("--block-size (adaptive threshold block size)", p.block_size, 3);
  require_odd("--open (opening kernel size)", p.open, 1);
  require_odd("--close (closing kernel size)", p.close, 1);
  require(p.open <= 255 && p.close <= 255, "--open and --close must be at most 255");
  require(std::isfinite(p.c) && std::abs(p.c) <= 255,
          "--c must be a number in [-255, 255], got " + std::to_string(p.c));
  require(std::isfinite(p.min_area) && p.min_area >= 0,
          "--min-area must be a non-negative number, got " + std::to_string(p.min_area));
  require(!std::isnan(p.max_area) && p.max_area >= p.min_area, "--max-area (" + std::to_string(p.max_area) +
                                                                   ") must not be below --min-area (" +
                                                                   std::to_string(p.min_area) + ")");
  require(p.min_circularity >= 0 && p.min_circularity <= 1,
          "--min-circularity must be in [0, 1], got " + std::to_string(p.min_circularity));
  require(p.margin >= 0 && p.margin <= 100000,
          "--margin must be a non-negative number of pixels, got " + std::to_string(p.margin));
  require(p.min_crop >= 0 && p.min_crop <= 100000,
          "--min-crop must be a non-negative number of pixels, got " + std::to_string(p.min_crop));
  require(p.split_solidity > 0 && p.split_solidity <= 1,
          "--split-solidity must be in (0, 1], got " + std::to_string(p.split_solidity));
  require(p.split_saddle > 0 && p.split_saddle < 1,
          "--split-saddle must be in (0, 1), got " + std::to_string(p.split_saddle));
}

const char* rejection_name(Rejection reason) {
  switch (reason) {
    case Rejection::none:
      return "";
    case Rejection::too_small:
      return "too_small";
    case Rejection::too_large:
      return "too_large";
    case Rejection::not_round:
      return "not_round";
    case Rejection::split:
      return "split";
    case Rejection::refined_away:
      return "refined_away";
  }
  return "?";
}

const char* mask_verdict_name(MaskVerdict verdict) {
  switch (verdict) {
    case MaskVerdict::none:
      return "";
    case MaskVerdict::used:
      return "used";
    case MaskVerdict::empty_mask:
      return "empty_mask";
    case MaskVerdict::low_score:
      return "low_score";
    case MaskVerdict::centre_shift:
      return "centre_shift";
    case MaskVerdict::radius_ratio:
      return "radius_ratio";
    case MaskVerdict::low_iou:
      return "low_iou";
    case MaskVerdict::not_prompted:
      return "not_prompted";
  }
  return "?";
}

Box crop_box(const Box& box, int margin, int min_crop, int width, int height) {
  Box crop;
  crop_axis(box.x, box.x + box.width, box.x + box.width / 2.0, margin, min_crop, width, crop.x, crop.width);
  crop_axis(box.y, box.y + box.height, box.y + box.height / 2.0, margin, min_crop, height, crop.y, crop.height);
  return crop;
}

Image crop_image(const Image& image, const Box& box) {
  require(box.x >= 0 && box.y >= 0 && box.width >= 1 && box.height >= 1 && box.x + box.width <= image.width &&
              box.y + box.height <= image.height,
          "crop " + std::to_string(box.width) + "x" + std::to_string(box.height) + "+" + std::to_string(box.x) + "+" +
              std::to_string(box.y) + " does not lie inside the " + std::to_string(image.width) + "x" +
              std::to_string(image.height) + " image");
  Image out;
  out.width = box.width, out.height = box.height, out.channels = image.channels;
  out.bit_depth = image.bit_depth, out.metadata = image.metadata;
  out.pixels.resize(std::size_t(out.width) * out.height * out.channels);
  for (int c = 0; c < image.channels; ++c)
    for (int y = 0; y < box.height; ++y) {
      const float* src = image.plane(c) + std::size_t(box.y + y) * image.width + box.x;
      std::copy(src, src + box.width, out.plane(c) + std::size_t(y) * box.width);
    }
  return out;
}

DetectionResult detect_classical(const Plane8& gray, const DetectParams& params) {
  validate(params);
  DetectionResult result;
  Plane8 smooth = params.blur > 1 ? gaussian_blur8(gray, params.blur) : gray;
  Plane8 mask = adaptive_threshold_gaussian(smooth, params.block_size, params.c,
                                            params.invert ? ThresholdType::binary_inv : ThresholdType::binary);
  if (params.open > 1) mask = open_ellipse(mask, params.open);
  if (params.close > 1) mask = close_ellipse(mask, params.close);
  std::vector<Contour> contours = find_external_contours(mask);
  result.detections.reserve(contours.size());
  for (const Contour& contour : contours)
    result.detections.push_back(measure_contour(contour, int(result.detections.size()) + 1, params));
  result.outlines = std::move(contours);
  result.mask = std::move(mask);
  result.smoothed = std::move(smooth);
  return result;
}

DetectionResult detect_disks_gray(const Plane8& gray, const DetectParams& params) {
  DetectionResult result = detect_classical(gray, params);
  if (params.split) split_merged_disks(result, params);
  const int n = int(result.detections.size());
#pragma omp parallel for schedule(dynamic, 8)
  for (int i = 0; i < n; ++i) {
    Detection& d = result.detections[i];
    if (!d.accepted) continue;
    if (Circle circle; params.fit_circles && fit_circle(result.outlines[i], circle)) {
      fit_circle_to_edge(gray, params.invert, circle, params.blur > 1 ? &result.smoothed : nullptr);
      d.cx = circle.x, d.cy = circle.y, d.radius = circle.r;
    }
    d.crop = crop_box(d.box, params.margin, params.min_crop, gray.width, gray.height);
  }
  return result;
}

DetectionResult detect_disks(const Image& image, const DetectParams& params, const Refiner* refiner) {
  validate(params);
  DetectionResult result = detect_disks_gray(to_gray8(image, gray_gain(image, params.window_max)), params);
  if (!refiner) return result;
  for (Detection& d : result.detections) {
    if (!d.accepted) continue;
    const Box refined = refiner->refine(image, d);
    if (refined.width <= 0 || refined.height <= 0) {
      d.accepted = false, d.reason = Rejection::refined_away, d.crop = {};
      continue;
    }
    d.box = refined;
    d.crop = crop_box(d.box, params.margin, params.min_crop, image.width, image.height);
  }
  return result;
}

std::string detections_csv_header() {
  return "file,id,cx,cy,radius,area,perimeter,circularity,x,y,w,h,accepted,reason,parent,"
         "mask_score,mask_area,mask_circularity,mask_iou,sam_used,sam_reason\n";
}

std::string detections_csv_rows(const std::string& file, const std::vector<Detection>& detections) {
  std::string out;
  const std::string name = csv_field(file);
  char line[512];
  for (const Detection& d : detections) {
    std::snprintf(line, sizeof line, ",%d,%.3f,%.3f,%.3f,%.1f,%.3f,%.4f,%d,%d,%d,%d,%d,%s,%d", d.id, d.cx, d.cy,
                  d.radius, d.area, d.perimeter, d.circularity, d.box.x, d.box.y, d.box.width, d.box.height,
                  int(d.accepted), rejection_name(d.reason), d.parent);
    out += name + line + mask_csv_fields(d.mask) + "\n";
  }
  return out;
}

}  // namespace microsr
