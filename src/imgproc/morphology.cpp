// Binary erosion and dilation with OpenCV's elliptical structuring element.
//
// The element is a stack of centred horizontal runs: row i of a k×k ellipse covers dx ∈ [−d_i, d_i].
// So erosion (a minimum over the element, with 0/255 masks) splits into two passes:
//   1. for each distinct half-width d, every image row's minimum over windows of 2d + 1 pixels
//      (a 5×5 ellipse has d ∈ {0, 2}: two planes);
//   2. out[y][x] = min over element rows i of pass1_{d_i}[y + i − k/2][x].
// Dilation is the same with maximum. Pixels outside the image take the neutral value (255 for
// erosion, 0 for dilation) — OpenCV's default border for morphology — so they never matter: in pass
// 2, element rows that fall outside the image are simply skipped.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "microsr/error.h"
#include "microsr/segment.h"

namespace microsr {
namespace {

constexpr long kParallelMin = 1 << 15;  // below this many pixels, one thread
// (Rows go out in dynamic chunks of 16 so that a paused thread does not hold up the other.)

struct Min {
  static constexpr uint8_t neutral = 255;
  static uint8_t apply(uint8_t a, uint8_t b) { return std::min(a, b); }
};
struct Max {
  static constexpr uint8_t neutral = 0;
  static uint8_t apply(uint8_t a, uint8_t b) { return std::max(a, b); }
};

void check_element_size(int ksize) {
  require(ksize >= 1 && ksize <= 255 && ksize % 2 == 1,
          "morphology kernel size must be odd and in 1..255, got " + std::to_string(ksize) +
              " (OpenCV anchors even kernels half a pixel off-centre; we do not support that)");
}

// d_i for each row i of the k×k ellipse: OpenCV's rule with r = k/2,
// d = cvRound(r·√((r² − dy²)/r²)) (round half to even), dy = i − r.
std::vector<int> ellipse_half_widths(int ksize) {
  const int r = ksize / 2;
  std::vector<int> half(ksize);
  for (int i = 0; i < ksize; ++i) {
    const int dy = i - r;
    half[i] = r == 0 ? 0 : int(std::lrint(r * std::sqrt(double(r * r - dy * dy) / (r * r))));
  }
  return half;
}

// out[x] = Op over padded[x .. x + 2d] for x in [0, w): a window of 2d + 1 pixels, by doubling:
// after a pass with span s, cur[x] is the Op over padded[x, x + s); a window of length L is the
// union of the two (overlapping) spans of the largest power of two ≤ L starting at x and at
// x + L − span. padded: [w + 2d] values; scratch: two buffers of as many.
template <class Op>
void window_row(uint8_t* __restrict out, const uint8_t* padded, int w, int d, uint8_t* __restrict a,
                uint8_t* __restrict b) {
  const int length = 2 * d + 1;
  int span = 1, valid = w + 2 * d;  // cur[x] is meaningful for x < valid
  const uint8_t* cur = padded;
  while (span * 2 <= length) {
    valid -= span;
    uint8_t* __restrict next = cur == a ? b : a;
    for (int x = 0; x < valid; ++x) next[x] = Op::apply(cur[x], cur[x + span]);
    cur = next;
    span *= 2;
  }
  const int second = length - span;
  for (int x = 0; x < w; ++x) out[x] = Op::apply(cur[x], cur[x + second]);
}

template <class Op>
Plane8 morph(const Plane8& mask, int ksize) {
  require(mask.width >= 1 && mask.height >= 1 && mask.pixels.size() == std::size_t(mask.width) * mask.height,
          "morphology: the mask must have at least one pixel, got " + std::to_string(mask.width) + "x" +
              std::to_string(mask.height));
  check_element_size(ksize);
  const int w = mask.width, h = mask.height, r = ksize / 2;
  const std::size_t plane = std::size_t(w) * h;

  // Pass 1 output: one plane per distinct half-width (d = 0 is the mask made 0/255), left
  // uninitialised — every value is written before it is read.
  const std::vector<int> half = ellipse_half_widths(ksize);
  std::vector<int> widths(half.begin(), half.end());
  std::sort(widths.begin(), widths.end());
  widths.erase(std::unique(widths.begin(), widths.end()), widths.end());
  std::unique_ptr<uint8_t[]> filtered(new uint8_t[widths.size() * plane]);
  std::vector<const uint8_t*> row_plane(ksize);  // element row i → its pass-1 plane
  for (int i = 0; i < ksize; ++i)
    row_plane[i] = filtered.get() + plane * (std::lower_bound(widths.begin(), widths.end(), half[i]) - widths.begin());
  const int widest = widths.back();

  Plane8 out(w, h);
  const bool parallel = long(w) * h >= kParallelMin;
#pragma omp parallel if (parallel)
  {
    std::vector<uint8_t> padded(w + 2 * widest), a(w + 2 * widest), b(w + 2 * widest), acc(w);
#pragma omp for schedule(dynamic, 16)
    for (int y = 0; y < h; ++y) {
      const uint8_t* __restrict in = mask.row(y);
      uint8_t* __restrict row = padded.data();
      std::fill(row, row + widest, Op::neutral);
      for (int x = 0; x < w; ++x) row[widest + x] = in[x] ? 255 : 0;
      std::fill(row + widest + w, row + w + 2 * widest, Op::neutral);
      for (std::size_t k = 0; k < widths.size(); ++k) {
        const int d = widths[k];
        uint8_t* dst = filtered.get() + plane * k + std::size_t(y) * w;
        window_row<Op>(dst, row + widest - d, w, d, a.data(), b.data());
      }
    }
#pragma omp for schedule(dynamic, 16)
    for (int y = 0; y < h; ++y) {
      uint8_t* __restrict sum = acc.data();
      std::fill(sum, sum + w, Op::neutral);
      for (int i = std::max(0, r - y); i < std::min(ksize, h + r - y); ++i) {
        const uint8_t* __restrict src = row_plane[i] + std::size_t(y + i - r) * w;
        for (int x = 0; x < w; ++x) sum[x] = Op::apply(sum[x], src[x]);
      }
      std::copy(sum, sum + w, out.row(y));
    }
  }
  return out;
}

}  // namespace

std::vector<uint8_t> ellipse_element(int ksize) {
  check_element_size(ksize);
  const std::vector<int> half = ellipse_half_widths(ksize);
  const int r = ksize / 2;
  std::vector<uint8_t> element(std::size_t(ksize) * ksize, 0);
  for (int i = 0; i < ksize; ++i)
    for (int x = r - half[i]; x <= r + half[i]; ++x) element[std::size_t(i) * ksize + x] = 1;
  return element;
}

Plane8 erode_ellipse(const Plane8& mask, int ksize) { return morph<Min>(mask, ksize); }
Plane8 dilate_ellipse(const Plane8& mask, int ksize) { return morph<Max>(mask, ksize); }
Plane8 open_ellipse(const Plane8& mask, int ksize) { return dilate_ellipse(erode_ellipse(mask, ksize), ksize); }
Plane8 close_ellipse(const Plane8& mask, int ksize) { return erode_ellipse(dilate_ellipse(mask, ksize), ksize); }

}  // namespace microsr
