// Comparison grids: the same region of every method's output side by side, with a zoomed inset of
// the region's strongest edges (on microdisks: a piece of the rim, where methods differ most).
#include <algorithm>
#include <cmath>

#include "microsr/evaluate.h"

namespace microsr {

namespace {

// Edge energy per pixel of an RGB/gray image: |∂x| + |∂y| of the mean of its colour planes.
std::vector<double> edge_energy(const Image& image) {
  const int w = image.width, h = image.height, colours = std::min(image.channels, 3);
  std::vector<double> grey(std::size_t(w) * h, 0.0), energy(std::size_t(w) * h, 0.0);
  for (int c = 0; c < colours; ++c)
    for (std::size_t i = 0; i < grey.size(); ++i) grey[i] += image.plane(c)[i] / colours;
  for (int y = 0; y + 1 < h; ++y)
    for (int x = 0; x + 1 < w; ++x) {
      const std::size_t i = std::size_t(y) * w + x;
      energy[i] = std::abs(grey[i + 1] - grey[i]) + std::abs(grey[i + w] - grey[i]);
    }
  return energy;
}

// The top-left corner of the side×side window (inside [x0, x0+w) × [y0, y0+h)) with the most edge
// energy, searched on a grid of step side/4 (a summed-area table makes each window O(1)).
std::pair<int, int> strongest_window(const std::vector<double>& energy, int image_w, int x0, int y0, int w, int h,
                                     int side) {
  std::vector<double> sat(std::size_t(w + 1) * (h + 1), 0.0);  // sat[y][x] = Σ energy above-left
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      sat[std::size_t(y + 1) * (w + 1) + x + 1] =
          energy[std::size_t(y0 + y) * image_w + x0 + x] + sat[std::size_t(y) * (w + 1) + x + 1] +
          sat[std::size_t(y + 1) * (w + 1) + x] - sat[std::size_t(y) * (w + 1) + x];
  const int step = std::max(1, side / 4);
  double best = -1;
  std::pair<int, int> corner{x0, y0};
  for (int y = 0; y + side <= h; y += step)
    for (int x = 0; x + side <= w; x += step) {
      auto at = [&](int yy, int xx) { return sat[std::size_t(yy) * (w + 1) + xx]; };
      const double e = at(y + side, x + side) - at(y, x + side) - at(y + side, x) + at(y, x);
      if (e > best) best = e, corner = {x0 + x, y0 + y};
    }
  return corner;
}

float sample(const Image& image, int c, int x, int y) {
  const int plane = image.channels >= 3 ? std::min(c, 2) : 0;  // gray is shown as gray
  return image.plane(plane)[std::size_t(y) * image.width + x];
}

}  // namespace

Image comparison_grid(const std::vector<const Image*>& columns, int side) {
  require(!columns.empty(), "comparison_grid: no columns");
  const Image& reference = *columns.back();
  for (const Image* c : columns)
    require(c->width == reference.width && c->height == reference.height,
            "comparison_grid: every column must have the reference's size");
  const int cw = std::min(side, reference.width), ch = std::min(side, reference.height);
  const std::vector<double> energy = edge_energy(reference);
  const auto [rx, ry] =
      strongest_window(energy, reference.width, 0, 0, reference.width, reference.height, std::min(cw, ch));
  const int region_x = std::min(rx, reference.width - cw), region_y = std::min(ry, reference.height - ch);
  // The inset: the most edged quarter-side window of the region, drawn 2× in its lower right.
  const int inset_src = std::max(4, std::min(cw, ch) / 4), inset = 2 * inset_src;
  const auto [ix, iy] = strongest_window(energy, reference.width, region_x, region_y, cw, ch, inset_src);
  const bool with_inset = inset + 4 <= std::min(cw, ch);

  constexpr int kGap = 4;
  Image grid;
  grid.width = int(columns.size()) * cw + (int(columns.size()) - 1) * kGap, grid.height = ch;
  grid.channels = 3, grid.bit_depth = 8;
  grid.pixels.assign(std::size_t(3) * grid.width * grid.height, 1.f);  // white gaps
  for (std::size_t k = 0; k < columns.size(); ++k) {
    const Image& img = *columns[k];
    const int left = int(k) * (cw + kGap);
    for (int c = 0; c < 3; ++c) {
      float* dst = grid.plane(c);
      for (int y = 0; y < ch; ++y)
        for (int x = 0; x < cw; ++x)
          dst[std::size_t(y) * grid.width + left + x] =
              std::clamp(sample(img, c, region_x + x, region_y + y), 0.f, 1.f);
      if (!with_inset) continue;
      // Lower-right corner, 2 px from the edges, with a 1 px yellow frame (R, G = 1; B = 0).
      const int ox = left + cw - inset - 2, oy = ch - inset - 2;
      for (int y = -1; y <= inset; ++y)
        for (int x = -1; x <= inset; ++x) {
          const bool frame = x < 0 || y < 0 || x == inset || y == inset;
          const float v = frame ? (c == 2 ? 0.f : 1.f) : std::clamp(sample(img, c, ix + x / 2, iy + y / 2), 0.f, 1.f);
          dst[std::size_t(oy + y) * grid.width + ox + x] = v;
        }
    }
  }
  return grid;
}

}  // namespace microsr
