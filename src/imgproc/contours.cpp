// External contours by Suzuki & Abe's border following ("Topological structural analysis of
// digitized binary images by border following", CVGIP 30, 1985), and the shape measures on them.
//
// The algorithm in brief. Foreground pixels are 8-connected, background 4-connected. A raster scan
// meets every border at its first pixel: an outer border where a 1 follows a 0 (…0 1…), a hole
// border where a foreground pixel precedes a 0 (…1 0…). Each new border is traced once around and
// its pixels marked (negative where the pixel's east neighbour is background), so that the scan
// later recognises them as done. The last border the scan crossed on the row (LNBD) tells what
// surrounds a new border: an outer border whose last-crossed border is of the same kind is its
// sibling (same parent); of the other kind (a hole, or the frame), its child.
//
// RETR_EXTERNAL wants the outer borders whose parent is the frame. By the rule above, a new outer
// border has the frame as parent exactly when the last border crossed is the frame or an outer
// border that itself has the frame as parent. So instead of border numbers we mark each traced
// pixel with one bit of category — "an outer border in the open" or "any other border" — plus the
// sign, in a uint8 label image (the paper keeps full border numbers, which needs int32 labels:
// four times the memory, and on a 10X frame the tracing's vertical steps then miss the TLB). We
// still trace holes and components inside holes — their marks keep the scan right — but return
// only the borders in the open.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numbers>

#include "microsr/error.h"
#include "microsr/segment.h"

namespace microsr {
namespace {

// Chain-code directions: 0 east, then counter-clockwise as displayed (y grows downwards).
constexpr int kDx[8] = {1, 1, 0, -1, -1, -1, 0, 1};
constexpr int kDy[8] = {0, -1, -1, -1, 0, 1, 1, 1};
constexpr int kEast = 0, kWest = 4;

// Label values. A traced pixel holds its border's category (open or other) + 1 if negative.
enum : uint8_t {
  kBackground = 0,
  kUntraced = 1,  // foreground not yet on a traced border
  kOpen = 2,      // on an outer border whose parent is the frame (3: the same, negative)
  kOther = 4,     // on a hole border, or an outer border inside a hole (5: negative)
};
inline bool is_negative(uint8_t label) { return label & 1 && label > kUntraced; }
inline bool is_open(uint8_t label) { return label == kOpen || label == kOpen + 1; }

// The image padded with a one-pixel background frame.
class Labels {
 public:
  explicit Labels(const Plane8& mask)
      : stride_(mask.width + 2), height_(mask.height + 2), label_(new uint8_t[std::size_t(stride_) * height_]) {
    std::fill(at(0, 0), at(0, 1), kBackground);                  // top frame row
    std::fill(at(0, height_ - 1), at(0, height_), kBackground);  // bottom frame row
    const int w = mask.width;
    for (int y = 0; y < mask.height; ++y) {
      const uint8_t* __restrict in = mask.row(y);
      uint8_t* __restrict out = at(0, y + 1);
      out[0] = out[w + 1] = kBackground;  // left and right frame columns
      for (int x = 0; x < w; ++x) out[x + 1] = std::min<uint8_t>(in[x], 1);
    }
    for (int d = 0; d < 8; ++d) offset_[d] = kDx[d] + kDy[d] * stride_;
  }
  uint8_t* at(int x, int y) { return label_.get() + std::size_t(y) * stride_ + x; }
  int offset(int direction) const { return offset_[direction]; }

 private:
  int stride_, height_;
  std::unique_ptr<uint8_t[]> label_;  // [height_][stride_], every value written by the constructor
  int offset_[8];
};

// Whether the eight labels at p all equal `value`: one 64-bit compare.
inline bool eight_equal(const uint8_t* p, uint8_t value) {
  uint64_t q;
  std::memcpy(&q, p, sizeof q);
  return q == value * 0x0101010101010101ull;
}

// Traces the border that starts at `start` (padded coordinates), whose known background neighbour
// lies in direction `from` (west for an outer border, east for a hole), marking it as `category`.
// Appends the border's pixels (in image coordinates) to `points` when it is not null.
void follow_border(Labels& labels, int sx, int sy, int from, uint8_t category, Contour* points) {
  uint8_t* start = labels.at(sx, sy);
  // 3.1: clockwise from `from`, the first foreground neighbour; none means an isolated pixel.
  int first = -1;
  for (int k = 0; k < 8; ++k) {
    const int d = (from - k + 8) & 7;
    if (start[labels.offset(d)] != kBackground) {
      first = d;
      break;
    }
  }
  if (first < 0) {
    *start = category + 1;
    if (points) points->push_back({sx - 1, sy - 1});
    return;
  }
  uint8_t* const first_pixel = start + labels.offset(first);
  uint8_t* current = start;
  int x = sx, y = sy;
  int back = first;  // direction from `current` to the previous border pixel
  for (;;) {
    // 3.3: counter-clockwise from just past `back`, the next foreground neighbour. The east
    // neighbour was examined (and found background) if the search swept over direction 0.
    int d = back;
    bool east_is_background = false;
    for (int k = 0; k < 8; ++k) {
      d = (d + 1) & 7;
      if (current[labels.offset(d)] != kBackground) break;
      east_is_background |= d == kEast;
    }
    // 3.4: mark: negative where the east neighbour is background, else positive unless an
    // earlier border already marked the pixel.
    if (east_is_background)
      *current = category + 1;
    else if (*current == kUntraced)
      *current = category;
    if (points) points->push_back({x - 1, y - 1});
    uint8_t* next = current + labels.offset(d);
    // 3.5: back at the start, about to repeat the first step: done.
    if (next == start && current == first_pixel) return;
    x += kDx[d], y += kDy[d];
    back = (d + 4) & 7;
    current = next;
  }
}

}  // namespace

std::vector<Contour> find_external_contours(const Plane8& mask) {
  require(mask.width >= 1 && mask.height >= 1 && mask.pixels.size() == std::size_t(mask.width) * mask.height,
          "find_external_contours: the mask must have at least one pixel, got " + std::to_string(mask.width) + "x" +
              std::to_string(mask.height));
  Labels labels(mask);
  std::vector<Contour> contours;
  const int last = mask.width;  // padded columns 1..last are the image
  for (int y = 1; y <= mask.height; ++y) {
    bool last_crossed_open = true;  // LNBD's category; each row starts at the frame
    uint8_t* row = labels.at(0, y);
    for (int x = 1; x <= last; ++x) {
      // Fast paths: background, and the inside of a run of untraced foreground, change nothing.
      // Eight labels at a time while they are all 0 (or all 1 between nonzero neighbours).
      while (x + 8 <= last + 1 && eight_equal(row + x, kBackground)) x += 8;
      while (x <= last && row[x] == kBackground) ++x;
      while (x + 8 <= last && row[x - 1] != kBackground && eight_equal(row + x, kUntraced) && row[x + 8] != kBackground)
        x += 8;
      while (x <= last && row[x] == kUntraced && row[x - 1] != kBackground && row[x + 1] != kBackground) ++x;
      if (x > last) break;
      const uint8_t value = row[x];
      if (value == kBackground) continue;
      if (value == kUntraced && row[x - 1] == kBackground) {
        // Step 1(a), an outer border: in the open when the last border crossed is the frame or
        // an outer border in the open (same kind: sibling; the frame counts as a hole: child).
        const uint8_t category = last_crossed_open ? kOpen : kOther;
        follow_border(labels, x, y, kWest, category, category == kOpen ? &contours.emplace_back() : nullptr);
      } else if (!is_negative(value) && row[x + 1] == kBackground) {
        // Step 1(b), a hole border: never in the open.
        if (value != kUntraced) last_crossed_open = is_open(value);
        follow_border(labels, x, y, kEast, kOther, nullptr);
      }
      // Step 4.
      if (row[x] != kUntraced) last_crossed_open = is_open(row[x]);
    }
  }
  return contours;
}

double contour_area(const Contour& c) {
  int64_t twice = 0;
  for (std::size_t i = 0, n = c.size(); i < n; ++i) {
    const Point& p = c[i];
    const Point& q = c[(i + 1) % n];
    twice += int64_t(p.x) * q.y - int64_t(q.x) * p.y;
  }
  return std::abs(double(twice)) * 0.5;
}

double contour_perimeter(const Contour& c) {
  double length = 0;
  for (std::size_t i = 0, n = c.size(); i < n; ++i) {
    const Point& p = c[i];
    const Point& q = c[(i + 1) % n];
    const float dx = float(q.x - p.x), dy = float(q.y - p.y);
    length += std::sqrt(dx * dx + dy * dy);  // in float, as cv2.arcLength
  }
  return length;
}

double circularity(double area, double perimeter) {
  return perimeter > 0 ? 4 * std::numbers::pi * area / (perimeter * perimeter) : 0.0;
}

Box bounding_box(const Contour& c) {
  if (c.empty()) return {};
  int x0 = c[0].x, x1 = c[0].x, y0 = c[0].y, y1 = c[0].y;
  for (const Point& p : c) {
    x0 = std::min(x0, p.x), x1 = std::max(x1, p.x);
    y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  }
  return {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

void contour_centroid(const Contour& c, double& cx, double& cy) {
  // Green's theorem over the polygon: m00 = ½Σ cross, m10 = ⅙Σ (xᵢ + xᵢ₊₁)·cross, likewise m01.
  double m00 = 0, m10 = 0, m01 = 0, sx = 0, sy = 0;
  for (std::size_t i = 0, n = c.size(); i < n; ++i) {
    const Point& p = c[i];
    const Point& q = c[(i + 1) % n];
    const double cross = double(p.x) * q.y - double(q.x) * p.y;
    m00 += cross;
    m10 += (p.x + q.x) * cross;
    m01 += (p.y + q.y) * cross;
    sx += p.x, sy += p.y;
  }
  if (m00 != 0) {
    cx = m10 / (3 * m00);
    cy = m01 / (3 * m00);
  } else if (!c.empty()) {
    cx = sx / double(c.size());
    cy = sy / double(c.size());
  } else {
    cx = cy = 0;
  }
}

Contour convex_hull(const Contour& contour) {
  // Andrew's monotone chain: sort the points by (x, y), then build the lower and the upper hull,
  // dropping each last point that does not make a strict left turn (cross product, exact in
  // 64-bit integers). The two chains joined are counter-clockwise in (x right, y up) axes.
  std::vector<Point> points(contour.begin(), contour.end());
  std::sort(points.begin(), points.end(),
            [](const Point& a, const Point& b) { return a.x != b.x ? a.x < b.x : a.y < b.y; });
  points.erase(std::unique(points.begin(), points.end()), points.end());
  if (points.size() < 3) return points;
  auto cross = [](const Point& o, const Point& a, const Point& b) {
    return int64_t(a.x - o.x) * (b.y - o.y) - int64_t(a.y - o.y) * (b.x - o.x);
  };
  Contour hull(2 * points.size());
  std::size_t k = 0;
  for (const Point& p : points) {  // lower chain
    while (k >= 2 && cross(hull[k - 2], hull[k - 1], p) <= 0) --k;
    hull[k++] = p;
  }
  for (std::size_t i = points.size() - 1, lower = k + 1; i-- > 0;) {  // upper chain
    const Point& p = points[i];
    while (k >= lower && cross(hull[k - 2], hull[k - 1], p) <= 0) --k;
    hull[k++] = p;
  }
  hull.resize(k - 1);  // the last point is the first again
  return hull;
}

}  // namespace microsr
