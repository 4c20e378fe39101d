// The overlay a person checks at a glance: boxes and short labels drawn into an RGB copy, with a
// 3×5 pixel font of our own (digits and the few letters the labels use), scaled up for big images.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "microsr/detect.h"
#include "microsr/error.h"

namespace microsr {
namespace {

struct Colour {
  float r, g, b;
};
constexpr Colour kGreen{0.1f, 1.0f, 0.2f}, kRed{1.0f, 0.15f, 0.1f}, kBlack{0, 0, 0};
constexpr Colour kCyan{0.1f, 0.9f, 1.0f}, kYellow{1.0f, 0.9f, 0.1f};  // segmenter masks: used, kept classical

// Rows of 3 bits, top to bottom, most significant bit = left column.
struct Glyph {
  char ch;
  uint8_t rows[5];
};
constexpr Glyph kFont[] = {
    {'0', {7, 5, 5, 5, 7}}, {'1', {2, 6, 2, 2, 7}}, {'2', {7, 1, 7, 4, 7}}, {'3', {7, 1, 7, 1, 7}},
    {'4', {5, 5, 7, 1, 1}}, {'5', {7, 4, 7, 1, 7}}, {'6', {7, 4, 7, 5, 7}}, {'7', {7, 1, 1, 1, 1}},
    {'8', {7, 5, 7, 5, 7}}, {'9', {7, 5, 7, 1, 7}}, {'S', {3, 4, 2, 1, 6}}, {'L', {4, 4, 4, 4, 7}},
    {'C', {3, 4, 4, 4, 3}}, {'R', {6, 5, 6, 5, 5}}, {'.', {0, 0, 0, 0, 2}},
};

const Glyph* find_glyph(char ch) {
  for (const Glyph& g : kFont)
    if (g.ch == ch) return &g;
  return nullptr;
}

// Fills [x0, x1) × [y0, y1), clipped to the image.
void fill_rect(Image& image, int x0, int y0, int x1, int y1, Colour colour) {
  x0 = std::max(x0, 0), y0 = std::max(y0, 0);
  x1 = std::min(x1, image.width), y1 = std::min(y1, image.height);
  const float value[3] = {colour.r, colour.g, colour.b};
  for (int c = 0; c < 3; ++c)
    for (int y = y0; y < y1; ++y)
      std::fill_n(image.plane(c) + std::size_t(y) * image.width + x0, std::max(0, x1 - x0), value[c]);
}

// The outline of `box`, `thickness` pixels wide, drawn just outside it so the object stays visible.
void draw_box(Image& image, const Box& box, int thickness, Colour colour) {
  const int x0 = box.x - thickness, y0 = box.y - thickness;
  const int x1 = box.x + box.width + thickness, y1 = box.y + box.height + thickness;
  fill_rect(image, x0, y0, x1, box.y, colour);                                 // top
  fill_rect(image, x0, box.y + box.height, x1, y1, colour);                    // bottom
  fill_rect(image, x0, box.y, box.x, box.y + box.height, colour);              // left
  fill_rect(image, box.x + box.width, box.y, x1, box.y + box.height, colour);  // right
}

// `text` with its top-left corner at (x, y), each font pixel `scale`×`scale`, on a black plate.
void draw_text(Image& image, int x, int y, const std::string& text, int scale, Colour colour) {
  const int advance = 4 * scale;
  fill_rect(image, x - scale, y - scale, x + advance * int(text.size()), y + 6 * scale, kBlack);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const Glyph* glyph = find_glyph(text[i]);
    if (!glyph) continue;
    for (int row = 0; row < 5; ++row)
      for (int col = 0; col < 3; ++col)
        if (glyph->rows[row] & (4 >> col)) {
          const int px = x + int(i) * advance + col * scale, py = y + row * scale;
          fill_rect(image, px, py, px + scale, py + scale, colour);
        }
  }
}

// A segmenter mask's outline (image pixels), each point a `thickness`-wide square.
void draw_outline(Image& image, const Contour& outline, int thickness, Colour colour) {
  const int half = thickness / 2;
  for (const Point& p : outline)
    fill_rect(image, p.x - half, p.y - half, p.x - half + thickness, p.y - half + thickness, colour);
}

std::string label(const Detection& d) {
  switch (d.reason) {
    case Rejection::none:
      return std::to_string(d.id);
    case Rejection::too_small:
      return "S";
    case Rejection::too_large:
      return "L";
    case Rejection::refined_away:
      return "R";
    case Rejection::split:
      return "";  // not drawn: its parts are
    case Rejection::not_round: {
      char text[16];
      std::snprintf(text, sizeof text, "C.%02d", std::clamp(int(d.circularity * 100), 0, 99));
      return text;
    }
  }
  return "?";
}

Image rgb8_copy(const Image& image) {
  Image out;
  out.width = image.width, out.height = image.height, out.channels = 3, out.bit_depth = 8;
  const std::size_t plane = std::size_t(image.width) * image.height;
  out.pixels.resize(3 * plane);
  for (int c = 0; c < 3; ++c) {
    const float* src = image.plane(image.channels >= 3 ? c : 0);
    std::copy(src, src + plane, out.plane(c));
  }
  return out;
}

}  // namespace

Image draw_overlay(const Image& image, const std::vector<Detection>& detections, const DetectParams& params) {
  require(image.width >= 1 && image.height >= 1 && image.channels >= 1, "draw_overlay: empty image");
  Image out = rgb8_copy(image);
  const int longest = std::max(image.width, image.height);
  const int thickness = std::max(1, longest / 800), scale = std::max(1, longest / 1000);
  // Rejected first, so that accepted boxes are drawn on top where they overlap.
  for (int pass = 0; pass < 2; ++pass)
    for (const Detection& d : detections) {
      if (d.accepted != (pass == 1)) continue;
      if (d.reason == Rejection::too_small && d.area < params.min_area / 4) continue;  // specks
      if (d.reason == Rejection::split) continue;                                      // its parts are drawn
      const Colour colour = d.accepted ? kGreen : kRed;
      draw_box(out, d.box, thickness, colour);
      const int text_y = d.box.y - thickness - 7 * scale >= 0 ? d.box.y - thickness - 6 * scale
                                                              : d.box.y + d.box.height + thickness + scale;
      draw_text(out, d.box.x, text_y, label(d), scale, colour);
    }
  // Segmenter masks on top: cyan where the gate used the mask, yellow where it kept the classical box.
  for (const Detection& d : detections)
    if (!d.mask.outline.empty()) draw_outline(out, d.mask.outline, thickness, d.mask.used() ? kCyan : kYellow);
  return out;
}

}  // namespace microsr
