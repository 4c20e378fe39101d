// Microdisk detection, the seed's classical pipeline without OpenCV (segment.h holds the steps):
//
//   gray → Gaussian blur (blur) → adaptive threshold (block_size, c) → open (open) → close (close)
//   → external contours → area, perimeter, circularity 4πA/P², bounding box, centroid
//   → accepted when min_area ≤ area ≤ max_area and circularity > min_circularity
//   → [refiner: a later SAM2 stage may tighten each accepted box] → crop box: the box grown by
//     `margin` on every side, then widened about its centre to at least min_crop × min_crop,
//     kept inside the image.
//
// Every step matches OpenCV on the 8-bit gray image (tests/test_detect.cpp compares with the
// pipeline run by cv2 in tools/make_segment_fixtures.py). 16-bit images are detected on their
// 8-bit reduction; crops are cut from the original pixels at the original bit depth.
#pragma once
#include <string>
#include <vector>

#include "microsr/image_io.h"
#include "microsr/segment.h"

namespace microsr {

// The defaults suit `microsr synth` frames at both 10X (disk radius ≈ 30–55 px) and 4X (≈ 13–22 px).
struct DetectParams {
  int blur = 5;                  // Gaussian blur kernel size, odd (1: no blur)
  int block_size = 51;           // adaptive threshold neighbourhood, odd, ≥ 3
  double c = -2;                 // foreground: pixel > local mean − c (bright disks: c ≤ 0)
  bool invert = false;           // dark disks: foreground where pixel ≤ local mean − c
  int open = 5;                  // elliptical opening kernel, odd (1: none) — removes specks
  int close = 5;                 // elliptical closing kernel, odd (1: none) — fills gaps
  double min_area = 300;         // contour area range, pixels²
  double max_area = 200000;
  double min_circularity = 0.6;  // accepted when strictly greater
  int margin = 10;               // pixels added around the box on every side before cropping
  int min_crop = 128;            // crops are at least this wide and tall (unless the image is smaller)
};
// Throws Error naming the parameter when a value is outside its range (even or non-positive
// kernel sizes, a negative margin or area, min_area > max_area, circularity outside [0, 1]...).
void validate(const DetectParams& params);

// Why a contour was not taken; refined_away: the refiner returned an empty box.
enum class Rejection { none, too_small, too_large, not_round, refined_away };
const char* rejection_name(Rejection reason);  // "", "too_small", "too_large", "not_round", "refined_away"

struct Detection {
  int id = 0;                        // 1-based, in raster order of the contours' first pixels
  double cx = 0, cy = 0;             // centroid of the outline polygon, pixels (pixel centres at integers)
  double radius = 0;                 // equivalent radius √(area/π) (see detect.cpp)
  double area = 0, perimeter = 0;    // of the outline through the border pixels' centres
  double circularity = 0;            // 4π·area/perimeter²
  Box box;                           // bounding box of the outline (refined, if a refiner ran)
  Box crop;                          // what gets cut out (accepted detections only)
  bool accepted = false;
  Rejection reason = Rejection::none;
};

// The place for a second opinion on each accepted detection (SAM2 box refinement, later): given the
// image and the classical detection, returns the box to crop around. May also reject it by
// returning a box of zero size (the detection is then rejected as refined_away).
class Refiner {
 public:
  virtual ~Refiner() = default;
  virtual Box refine(const Image& image, const Detection& detection) const = 0;
};

struct DetectionResult {
  std::vector<Detection> detections;  // every external contour considered, accepted or not
  Plane8 mask;                        // the mask after open/close (for inspection)
};

// Runs the pipeline. `refiner` may be null (the classical box is kept).
DetectionResult detect_disks(const Image& image, const DetectParams& params, const Refiner* refiner = nullptr);
// The same on an 8-bit gray plane (crops are computed for an image of the plane's size).
DetectionResult detect_disks_gray(const Plane8& gray, const DetectParams& params);

// The crop box for a bounding box: `margin` added on every side, then grown about its centre to at
// least min_crop per side, shifted back inside a width × height image (and cut to it if larger).
Box crop_box(const Box& box, int margin, int min_crop, int width, int height);
// The pixels of `box` (which must lie inside the image), all channels, same bit depth and metadata.
Image crop_image(const Image& image, const Box& box);

// detections.csv: header "file,id,cx,cy,radius,area,perimeter,circularity,x,y,w,h,accepted,reason",
// one row per detection (the box is the detection's box; x, y, w, h in pixels).
std::string detections_csv_header();
std::string detections_csv_rows(const std::string& file, const std::vector<Detection>& detections);

// An RGB 8-bit copy of `image` with accepted boxes drawn in green and rejected ones in red, each
// labelled (rejected: the reason abbreviated — S small, L large, C<circularity> not round). Rejected
// contours with area below min_area / 4 (specks) are left out so that they do not bury the picture.
Image draw_overlay(const Image& image, const std::vector<Detection>& detections, const DetectParams& params);

}  // namespace microsr
