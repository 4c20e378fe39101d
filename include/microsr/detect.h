// Microdisk detection, in three stages (segment.h holds the image operations):
//
//  1. classical — the seed's OpenCV pipeline: gray → Gaussian blur (blur) → adaptive threshold
//     (block_size, c) → open (open) → close (close) → external contours → area, perimeter,
//     circularity 4πA/P², bounding box, centroid → accepted when min_area ≤ area ≤ max_area and
//     circularity > min_circularity. Every step matches OpenCV on the 8-bit gray image
//     (tests/test_detect.cpp compares this stage with the pipeline run by cv2 in
//     tools/make_segment_fixtures.py).
//  2. disks — touching disks threshold into one blob, which fails the circularity test (or, at
//     small magnification, passes it as one wrong disk); a scratch running into a disk or a dark
//     crack across it spoils its outline. Blobs that are not convex, and rejected convex ones with
//     a round hull, are cut into the disks their distance transform shows (watershed from its
//     significant peaks), cleaned of what sticks out beyond each disk's circle, and the parts
//     measured and filtered like stage 1's contours (split.cpp, blob.cpp). Then each accepted
//     outline gets a circle fitted to it robustly and moved onto the disk's edge in the image
//     (circle_fit.cpp); its centre and radius replace stage 1's centroid and equivalent radius.
//     No OpenCV counterpart (docs/detection.md).
//  3. refine — optional: a promptable segmenter (SAM / SAM2 from ONNX, sam.h) segments each accepted
//     box; a gate keeps the classical result unless the mask agrees with the fitted circle, and an
//     accepted mask's bounding box becomes the box to crop around. The older per-detection Refiner
//     hook below may tighten or reject each accepted box.
//
// Then the crop box: the box grown by `margin` on every side, then widened about its centre to at
// least min_crop × min_crop, kept inside the image. 16-bit images are detected on their 8-bit
// reduction; crops are cut from the original pixels at the original bit depth.
#pragma once
#include <string>
#include <vector>

#include "microsr/image_io.h"
#include "microsr/segment.h"

namespace microsr {

// The defaults suit `microsr synth` frames at both 10X (disk radius ≈ 32–56 px) and 4X (≈ 13–22 px):
// the threshold's block is wider than a 10X disk, so that disks come out whole rather than as rims.
struct DetectParams {
  int blur = 5;           // Gaussian blur kernel size, odd (1: no blur)
  int block_size = 151;   // adaptive threshold neighbourhood, odd, ≥ 3
  double c = -2;          // foreground: pixel > local mean − c (bright disks: c ≤ 0)
  bool invert = false;    // dark disks: foreground where pixel ≤ local mean − c
  int open = 5;           // elliptical opening kernel, odd (1: none) — removes specks
  int close = 5;          // elliptical closing kernel, odd (1: none) — fills gaps
  double min_area = 300;  // contour area range, pixels²
  double max_area = 200000;
  double min_circularity = 0.6;  // accepted when strictly greater
  int margin = 10;               // pixels added around the box on every side before cropping
  int min_crop = 128;            // crops are at least this wide and tall (unless the image is smaller)
  // Stage 2. A contour with area ≥ min_area and solidity (area / convex hull area) below
  // split_solidity is examined (one disk is convex: solidity ≈ 1; two touching ones ≈ 0.88). Two
  // maxima of its distance transform are separate disks when the ridge between them falls to at most
  // split_saddle × the lower maximum (for disks that just touch it falls to about 0.1–0.4).
  bool split = true;             // stage 2's splitting (split_merged_disks)
  double split_solidity = 0.95;  // in (0, 1]
  double split_saddle = 0.7;     // in (0, 1)
  bool fit_circles = true;       // stage 2's circle fits on accepted outlines
  // 16-bit input: the sample value shown as white in the 8-bit gray the pipeline works on
  // (gray_gain, segment.h); 0: the file's SMaxSampleValue, else the data's own bit depth.
  int window_max = 0;
};
// Throws Error naming the parameter when a value is outside its range (even or non-positive
// kernel sizes, a negative margin or area, min_area > max_area, circularity outside [0, 1]...).
void validate(const DetectParams& params);

// Why a contour was not taken; split: it held several disks and its parts replace it (they follow
// it in the list, with `parent` set to its id); refined_away: the refiner returned an empty box.
enum class Rejection { none, too_small, too_large, not_round, split, refined_away };
// "", "too_small", "too_large", "not_round", "split", "refined_away"
const char* rejection_name(Rejection reason);

// Stage 3's verdict on one detection (sam.h): none — no segmenter ran; used — the mask passed the
// gate and its box replaced the classical one; not_prompted — not an accepted detection, so not
// prompted; the rest name the gate test that kept the classical result.
enum class MaskVerdict { none, used, empty_mask, low_score, centre_shift, radius_ratio, low_iou, not_prompted };
// "", "used", "empty_mask", "low_score", "centre_shift", "radius_ratio", "low_iou", "not_prompted"
const char* mask_verdict_name(MaskVerdict verdict);

// What the segmenter's mask for a detection's box measured (all zero unless prompted).
struct MaskRefinement {
  MaskVerdict verdict = MaskVerdict::none;
  double score = 0;        // the model's predicted IoU for the mask
  double area = 0;         // of the mask's largest outline, pixels² (as Detection::area)
  double circularity = 0;  // 4π·area/perimeter² of that outline
  double iou = 0;          // mask pixels vs the classical disk (centre cx, cy, radius) as pixels
  Box box;                 // bounding box of the mask's largest outline
  Contour outline;         // that outline in image pixels (drawn on the overlay)
  Box window;              // where the mask was asked for (image pixels)
  Plane8 pixels;           // the mask over `window`, 255 = object (for masked crops)
  bool used() const { return verdict == MaskVerdict::used; }
};

struct Detection {
  int id = 0;      // 1-based: stage 1's contours in raster order of their first pixels, then the parts
  int parent = 0;  // for a part cut out by stage 2, the id of the blob it was cut from; else 0
  // The disk's centre, pixels (pixel centres at integers), and radius: the fitted circle's for an
  // accepted detection when fit_circles is on; else the centroid of the outline polygon and the
  // equivalent radius √(area/π) (see detect.cpp), as stage 1 measures them.
  double cx = 0, cy = 0;
  double radius = 0;
  double area = 0, perimeter = 0;  // of the outline through the border pixels' centres
  double circularity = 0;          // 4π·area/perimeter²
  Box box;                         // bounding box of the outline (refined, if a refiner ran)
  Box crop;                        // what gets cut out (accepted detections only)
  bool accepted = false;
  Rejection reason = Rejection::none;
  MaskRefinement mask;  // stage 3 (verdict none when no segmenter ran)
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
  std::vector<Detection> detections;  // every contour considered and every part, accepted or not
  std::vector<Contour> outlines;      // detections[i]'s outline (the pixels of its border, in order)
  Plane8 mask;                        // the mask after open/close (for inspection)
  Plane8 smoothed;                    // the blurred gray image that was thresholded (blur 1: the gray)
};

// Runs the pipeline (stage 2 as params.split and params.fit_circles say). `refiner` may be null
// (the box is kept).
DetectionResult detect_disks(const Image& image, const DetectParams& params, const Refiner* refiner = nullptr);
// The same on an 8-bit gray plane (crops are computed for an image of the plane's size).
DetectionResult detect_disks_gray(const Plane8& gray, const DetectParams& params);

// The stages one by one. Stage 1 on a gray plane (no crops): what OpenCV's pipeline gives.
DetectionResult detect_classical(const Plane8& gray, const DetectParams& params);
// Stage 2 on stage 1's result (whose mask and outlines it reads): marks each blob it cuts as
// Rejection::split and appends its parts and their outlines. Returns the number of blobs cut.
int split_merged_disks(DetectionResult& result, const DetectParams& params);
// The shape measures of one contour and the area and circularity filters' verdict (stage 1's rule).
Detection measure_contour(const Contour& contour, int id, const DetectParams& params);

struct Circle {
  double x = 0, y = 0, r = 0;
};
// The circle through an outline (at least 8 points), fitted by iteratively reweighted least squares
// with Tukey's biweight, started from the best circle through three outline points, so that much of
// the outline (a bite, a straight cut) may stray from it (circle_fit.cpp). The radius is the pixel
// region's: the outline's points (border pixel centres) + 0.5. False when the points are degenerate
// (e.g. all on a line).
bool fit_circle(const Contour& outline, Circle& circle);
// Moves `circle` (a first estimate, e.g. fit_circle's) onto the disk's edge in the gray `image`: along
// rays from the centre, the steepest fall of brightness outwards (rise for a dark disk) within
// ±max(3, 0.06 r) of the radius, located to a fraction of a pixel, and a robust circle through those
// edge points. The mask's outline lies wherever the threshold cuts the edge's ramp, which depends on
// the local mean and C; the steepest slope does not. False (circle unchanged) when fewer than half
// the rays find an edge inside the image.
//
// The steepest slope of a symmetric blurred step is the step; but a disk's edge is not symmetric (a
// bright rim inside, a halo outside), and blurring such an edge moves its steepest slope outwards by
// about k·σ², σ the blur. With `smoothed` — `image` blurred by some Gaussian σa (stage 1's blurred
// plane) — the radius is measured at the image's blur σ0 and at √(σ0² + σa²), and extrapolated to
// none: the steepest slopes m₀, mₐ (a blurred step's is ∝ 1/σ) give σ0²/σa² = 1/((m₀/mₐ)² − 1), and
// r = r₀ − (rₐ − r₀)·σ0²/σa² — σa itself drops out. Left out when the slopes do not fit one
// blurred edge (σ0 not between 0.3 σa and 3 σa).
bool fit_circle_to_edge(const Plane8& image, bool dark_disk, Circle& circle, const Plane8* smoothed = nullptr);

// The crop box for a bounding box: `margin` added on every side, then grown about its centre to at
// least min_crop per side, shifted back inside a width × height image (and cut to it if larger).
Box crop_box(const Box& box, int margin, int min_crop, int width, int height);
// The pixels of `box` (which must lie inside the image), all channels, same bit depth and metadata.
Image crop_image(const Image& image, const Box& box);

// detections.csv: header
// "file,id,cx,cy,radius,area,perimeter,circularity,x,y,w,h,accepted,reason,parent,
//  mask_score,mask_area,mask_circularity,mask_iou,sam_used,sam_reason", one row per detection (the
// box is the detection's box; x, y, w, h in pixels; parent 0 unless a part). The six mask columns
// come last, so readers of the first fifteen keep working; they are empty when no segmenter ran,
// and for detections that were not prompted only sam_used (0) and sam_reason are filled.
std::string detections_csv_header();
std::string detections_csv_rows(const std::string& file, const std::vector<Detection>& detections);

// An RGB 8-bit copy of `image` with accepted boxes drawn in green and rejected ones in red, each
// labelled (rejected: the reason abbreviated — S small, L large, C<circularity> not round, R refined
// away), and each segmenter mask's outline (stage 3) in cyan when the gate used it, in yellow when
// it kept the classical result. Blobs that were split are not drawn (their parts are), nor rejected contours with area
// below min_area / 4 (specks), so that they do not bury the picture.
Image draw_overlay(const Image& image, const std::vector<Detection>& detections, const DetectParams& params);

}  // namespace microsr
