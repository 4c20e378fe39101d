// Classical segmentation, OpenCV-free: the steps of the seed's microdisk finder (gray → Gaussian
// blur → adaptive threshold → open/close → external contours → shape measures), each reproducing
// its OpenCV counterpart on uint8 images.
//
// Images here are single 8-bit planes (Plane8: [H][W] uint8, row-major), not the float planes of
// imgproc.h, because the seed ran OpenCV on uint8 images and OpenCV's uint8 arithmetic is part of
// the result: its Gaussian blur works in fixed point and rounds to integers, and the adaptive
// threshold compares those integers, so a float pipeline would land on the other side of a tie.
// On uint8 these functions are bit-exact with OpenCV 4.x (tests/test_segment.cpp checks against
// goldens from tools/make_segment_fixtures.py). Masks are Plane8 with 0 = background and
// 255 = foreground; as input, any nonzero value counts as foreground.
#pragma once
#include <cstdint>
#include <vector>

#include "microsr/image_io.h"

namespace microsr {

struct Plane8 {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // [height][width]

  Plane8() = default;
  Plane8(int w, int h, uint8_t fill = 0);
  uint8_t* row(int y) { return pixels.data() + std::size_t(y) * width; }
  const uint8_t* row(int y) const { return pixels.data() + std::size_t(y) * width; }
  uint8_t at(int x, int y) const { return pixels[std::size_t(y) * width + x]; }
};

// ---- gray ---------------------------------------------------------------------------------------
// cv2.cvtColor(rgb, COLOR_RGB2GRAY) on uint8: Y = (9798 R + 19235 G + 3735 B + 2¹⁴) >> 15, the
// BT.601 weights 0.299/0.587/0.114 in 15-bit fixed point (checked against OpenCV 4.6 on all 2²⁴
// colours; the 14-bit 4899/9617/1868 often quoted differs on 0.3 % of them). The float image is first brought to
// 8 bits as round(v·255): exact for 8-bit sources; 16-bit sources are reduced to 8 bits this way
// (the seed's pipeline was 8-bit). Gray images pass through; alpha is ignored.
Plane8 to_gray8(const Image& image);
// The same after multiplying every sample by `gain` (then clamped to [0, 1]): gray_gain's window.
Plane8 to_gray8(const Image& image, double gain);
// How much to brighten a 16-bit image before its 8-bit reduction, so that 10/12/14-bit camera data
// in a 16-bit file (0..4095 of 65535 for 12 bits) is not read as nearly black: 65535 / W, where W
// is `window_max` when > 0 (a fixed window, in sample units), else the file's SMaxSampleValue,
// else 2^b - 1 for the smallest b in 8..16 that holds the brightest colour sample. 1 for 8-bit
// images, and for 16-bit data that uses its 16 bits.
double gray_gain(const Image& image, int window_max = 0);
// One channel of `image` as round(v·255) (e.g. to cut the alpha or a colour plane out).
Plane8 channel_to_8bit(const Image& image, int channel);

// ---- Gaussian blur -------------------------------------------------------------------------------
enum class Border {
  reflect101,  // …c b | a b c…   cv2.BORDER_REFLECT_101 (GaussianBlur's default)
  replicate,   // …a a | a b c…   cv2.BORDER_REPLICATE (adaptiveThreshold)
};

// sigma of cv2.getGaussianKernel(ksize, sigma ≤ 0): 0.3·((ksize − 1)/2 − 1) + 0.8.
double gaussian_sigma_for_size(int ksize);
// The taps cv2.GaussianBlur uses on uint8 images for a ksize×ksize kernel with sigma 0, in units of
// 1/256 (8 fractional bits), summing to exactly 256. Sizes 1 to 9 use OpenCV's fixed tables; larger sizes sample
// exp(−x²/2σ²), normalise, and quantise from the outer taps inwards with error diffusion (each tap rounds value·256 +
// the rounding error carried from the previous one), the centre tap taking whatever keeps the sum at 256. ksize odd,
// ≥ 1.
std::vector<uint16_t> gaussian_kernel_q8(int ksize);
// cv2.GaussianBlur(src, (ksize, ksize), 0, borderType=border) on uint8, bit-exact: the horizontal
// pass keeps Σ tap·pixel exactly (1/256 units), the vertical pass sums those times the taps
// (1/65536 units) and rounds half up to uint8. ksize odd, ≥ 1 (1 copies).
Plane8 gaussian_blur8(const Plane8& src, int ksize, Border border = Border::reflect101);

// ---- adaptive threshold ----------------------------------------------------------------------------
enum class ThresholdType {
  binary,      // cv2.THRESH_BINARY:     255 where pixel >  local mean − C
  binary_inv,  // cv2.THRESH_BINARY_INV: 255 where pixel <= local mean − C
};
// cv2.adaptiveThreshold(src, 255, ADAPTIVE_THRESH_GAUSSIAN_C, type, block_size, c): the local mean
// is a float32 Gaussian blur (block_size × block_size, sigma 0, BORDER_REPLICATE) rounded half to
// even to uint8 — OpenCV blurs a float copy here, not the uint8 fixed-point path — and C enters as
// ceil(C) for binary and floor(C) for binary_inv, so the comparison stays in integers.
// block_size odd and ≥ 3 (Error otherwise).
Plane8 adaptive_threshold_gaussian(const Plane8& src, int block_size, double c, ThresholdType type);

// ---- morphology ----------------------------------------------------------------------------------
// cv2.getStructuringElement(MORPH_ELLIPSE, (k, k)) as [k][k] 0/1 values: row i (dy = i − k/2)
// is set over |dx| ≤ round((k/2)·√(1 − dy²/(k/2)²)). k odd, 1..255.
std::vector<uint8_t> ellipse_element(int ksize);
// cv2.erode / dilate / morphologyEx(MORPH_OPEN / MORPH_CLOSE) with that element, one iteration,
// default border (pixels outside the image never change the result). Binary: the input's nonzero
// pixels are foreground; the result is 0/255. ksize 1 returns a 0/255 copy.
Plane8 erode_ellipse(const Plane8& mask, int ksize);
Plane8 dilate_ellipse(const Plane8& mask, int ksize);
Plane8 open_ellipse(const Plane8& mask, int ksize);   // erode, then dilate: removes specks
Plane8 close_ellipse(const Plane8& mask, int ksize);  // dilate, then erode: fills gaps

// ---- contours ---------------------------------------------------------------------------------------
struct Point {
  int x = 0, y = 0;
  bool operator==(const Point&) const = default;
};
using Contour = std::vector<Point>;  // a closed chain of pixel centres; the last joins the first

struct Box {
  int x = 0, y = 0, width = 0, height = 0;  // [x, x + width) × [y, y + height)
  bool operator==(const Box&) const = default;
};

// cv2.findContours(mask, RETR_EXTERNAL, CHAIN_APPROX_NONE): the outer border of every 8-connected
// foreground component that is not inside a hole of another component, traced with Suzuki & Abe's
// border following (1985). Each contour lists every border pixel in order, starting at the
// component's first pixel in raster order and going counter-clockwise as displayed (down the left
// side first); a pixel is repeated where the border passes it twice (one-pixel-wide parts).
// The image is treated as framed by background, so components touching the edge are traced along
// it. Contours come in raster order of their first pixel (OpenCV returns them in reverse).
std::vector<Contour> find_external_contours(const Plane8& mask);

double contour_area(const Contour& contour);       // |shoelace| = cv2.contourArea
double contour_perimeter(const Contour& contour);  // closed polygon length = cv2.arcLength(c, True)
// 4πA/P²: 1 for a circle, smaller for anything else; 0 when the perimeter is 0.
double circularity(double area, double perimeter);
Box bounding_box(const Contour& contour);  // cv2.boundingRect: inclusive pixel extent
// The centroid of the polygon (cv2.moments: m10/m00, m01/m00); the mean of the points when the
// polygon has no area.
void contour_centroid(const Contour& contour, double& cx, double& cy);
// The convex hull of the contour's points, counter-clockwise in (x right, y up) axes, no collinear
// points; fewer than 3 points when all are on one line. contour_area(convex_hull(c)) is what
// cv2.contourArea(cv2.convexHull(c)) gives; the solidity area / hull area is 1 for convex shapes.
Contour convex_hull(const Contour& contour);

// ---- distance transform ----------------------------------------------------------------------------
// The squared Euclidean distance from each pixel centre to the nearest background pixel centre, as
// [height][width] integers (0 on the background), exact; pixels outside the image count as
// background. (cv2.distanceTransform(DIST_L2, DIST_MASK_PRECISE) gives the square roots, except
// that OpenCV does not count the outside as background.) Linear time (distance_transform.cpp).
std::vector<int32_t> squared_distance_transform(const Plane8& mask);

}  // namespace microsr
