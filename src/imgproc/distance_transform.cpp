// The exact Euclidean distance transform of a binary mask (include/microsr/segment.h), separable
// as Felzenszwalb & Huttenlocher describe it ("Distance Transforms of Sampled Functions", Theory of
// Computing 8, 2012):
//
//   1. columns: g(x, y) = (distance from (x, y) to the nearest background pixel in column x)²,
//      two linear scans, with the rows just outside the image counting as background;
//   2. rows: D(x, y) = min over x' of ((x − x')² + g(x', y)) — the lower envelope of the parabolas
//      rooted at (x', g(x', y)), found in one left-to-right sweep that keeps the parabolas that are
//      lowest somewhere and the points where each takes over from the previous one; the columns
//      just outside the image (x' = −1 and x' = w, g = 0) are two more parabolas.
//
// The minimum over columns of (column offset² + row offset²) is the squared distance to the nearest
// background pixel, so D is exact, in integers.
#include <algorithm>
#include <limits>
#include <string>

#include "microsr/error.h"
#include "microsr/segment.h"

namespace microsr {
namespace {

// Step 2 for one row: out[x] = min(min_{x'} (x − x')² + g[x'], (x + 1)², (w − x)²). Only the span
// from the pixel before the first foreground pixel (g > 0) to the one after the last matters: a
// background pixel (g = 0) is nearer than anything beyond it, and background pixels get 0.
// vertex, boundary: scratch of w and w + 1 entries.
void envelope_row(int32_t* out, const int32_t* g, int w, int* vertex, double* boundary) {
  int lo = 0, hi = w - 1;
  while (lo < w && g[lo] == 0) out[lo++] = 0;
  if (lo == w) return;
  while (g[hi] == 0) out[hi--] = 0;
  lo = std::max(0, lo - 1), hi = std::min(w - 1, hi + 1);
  // The parabola rooted at x' is y = (x − x')² + g[x']; two of them (q > p) cross where
  // x = ((g[q] + q²) − (g[p] + p²)) / (2q − 2p).
  auto crossing = [&](int p, int q) {
    return (double(g[q]) + double(q) * q - (double(g[p]) + double(p) * p)) / (2.0 * (q - p));
  };
  int count = 0;  // parabolas in the envelope: vertex[0..count), the i-th lowest on [boundary[i], boundary[i + 1])
  for (int q = lo; q <= hi; ++q) {
    double s = 0;
    while (count > 0) {
      s = crossing(vertex[count - 1], q);
      if (s > boundary[count - 1]) break;
      --count;  // the new parabola is lower than the last one everywhere that one was lowest
    }
    vertex[count] = q;
    boundary[count] = count == 0 ? -std::numeric_limits<double>::infinity() : s;
    ++count;
  }
  boundary[count] = std::numeric_limits<double>::infinity();
  int i = 0;
  for (int x = lo; x <= hi; ++x) {
    while (boundary[i + 1] < x) ++i;
    const int64_t dx = x - vertex[i];
    const int64_t outside = std::min<int64_t>(int64_t(x + 1) * (x + 1), int64_t(w - x) * (w - x));
    out[x] = int32_t(std::min(dx * dx + g[vertex[i]], outside));
  }
}

}  // namespace

std::vector<int32_t> squared_distance_transform(const Plane8& mask) {
  const int w = mask.width, h = mask.height;
  require(w >= 1 && h >= 1 && mask.pixels.size() == std::size_t(w) * h && w <= 46340 && h <= 46340,
          "squared_distance_transform: the mask must have 1 to 46340 pixels per side and width·height values, got " +
              std::to_string(w) + "x" + std::to_string(h));
  std::vector<int32_t> out(std::size_t(w) * h);
  // Step 1, column distances, kept in `out`: down the columns (distance to the background above),
  // then up (below), a row at a time so that the loops run along memory.
  for (int y = 0; y < h; ++y) {
    const uint8_t* m = mask.row(y);
    int32_t* d = &out[std::size_t(y) * w];
    const int32_t* above = y > 0 ? d - w : nullptr;
    for (int x = 0; x < w; ++x) d[x] = m[x] == 0 ? 0 : (above ? above[x] : 0) + 1;
  }
  for (int y = h - 1; y >= 0; --y) {
    int32_t* d = &out[std::size_t(y) * w];
    const int32_t* below = y + 1 < h ? d + w : nullptr;
    for (int x = 0; x < w; ++x) d[x] = std::min(d[x], (below ? below[x] : 0) + 1);
  }
  for (int32_t& v : out) v *= v;
    // Step 2, along the rows.
#pragma omp parallel if (long(w) * h >= (1 << 17))
  {
    std::vector<int32_t> g(w);
    std::vector<int> vertex(w);
    std::vector<double> boundary(w + 1);
#pragma omp for schedule(dynamic, 16)
    for (int y = 0; y < h; ++y) {
      int32_t* row = &out[std::size_t(y) * w];
      std::copy(row, row + w, g.begin());
      envelope_row(row, g.data(), w, vertex.data(), boundary.data());
    }
  }
  return out;
}

}  // namespace microsr
