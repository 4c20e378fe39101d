// Images a chip scene through one objective onto one camera (docs/synthetic_images.md).
//
// 1. Shade the continuous scene, the average of samples × samples points per pixel (sample spacing
//    ≤ 0.35 µm, the width of the linear ramp every edge is given), so a pixel is its area average at
//    any pixel size. Pixels far from every object take one substrate sample.
// 2. Defocus: Gaussian blur with the objective's PSF σ (µm) in this image's pixels. When σ is
//    under 0.8 pixel, steps 1–2 run on a grid up to 4× finer, averaged down afterwards.
// 3. Camera: vignetting, white-balance tint, exposure, then shot + read noise.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "microsr/error.h"
#include "microsr/imgproc.h"
#include "microsr/synth.h"
#include "synth/random.h"

namespace microsr {
namespace {

using synth::hash_of;

constexpr double kEdgeRampUm = 0.35;  // every edge of the scene is a linear ramp this wide
constexpr int kTile = 16;             // pixels per side of the tiles that list nearby objects
enum Stream : uint64_t { kFineTexture = 11, kCoarseTexture = 12, kNoise = 13 };

struct Rgb {
  double c[3];
};
Rgb rgb(const float* v) { return {{v[0], v[1], v[2]}}; }
Rgb mix(const Rgb& a, const Rgb& b, double t) {
  return {{a.c[0] + t * (b.c[0] - a.c[0]), a.c[1] + t * (b.c[1] - a.c[1]), a.c[2] + t * (b.c[2] - a.c[2])}};
}

// Coverage of a point at signed distance d (µm, > 0 inside) from an edge: a linear ramp, so that a
// straight edge covers exactly the area on its inner side.
double coverage(double d) { return std::clamp(d / kEdgeRampUm + 0.5, 0.0, 1.0); }
double square(double x) { return x * x; }

// (x, y) in a feature's own frame: u along its long axis, v across.
struct Local {
  double u, v;
};
Local to_local(const ChipFeature& f, double x, double y) {
  const double c = std::cos(f.angle_rad), s = std::sin(f.angle_rad);
  return {(x - f.x_um) * c + (y - f.y_um) * s, -(x - f.x_um) * s + (y - f.y_um) * c};
}

// A distance from (x, y) to the feature, and how far beyond its reference shape the feature still
// changes the image: beyond distance > reach the feature is invisible.
double feature_distance(const ChipFeature& f, double x, double y) {
  switch (f.kind) {
    case FeatureKind::disk:
    case FeatureKind::dust:
      return std::hypot(x - f.x_um, y - f.y_um);
    case FeatureKind::scratch: {
      const Local p = to_local(f, x, y);
      return std::hypot(std::max(std::abs(p.u) - f.half_length_um, 0.0), p.v);
    }
    case FeatureKind::pad: {
      const Local p = to_local(f, x, y);
      return std::hypot(std::max(std::abs(p.u) - f.half_length_um, 0.0),
                        std::max(std::abs(p.v) - f.half_width_um, 0.0));
    }
  }
  return 0;
}
double feature_reach(const ChipFeature& f, const ChipLook& look) {
  switch (f.kind) {
    case FeatureKind::disk:
      return f.radius_um + 5 * look.halo_width_um + kEdgeRampUm;
    case FeatureKind::dust:
      return f.half_length_um + kEdgeRampUm;
    case FeatureKind::scratch:
      return f.half_width_um + kEdgeRampUm;
    case FeatureKind::pad:
      return kEdgeRampUm;
  }
  return 0;
}

// A disk: a domed, slightly tilted body, a bright rim just inside the edge, a dark ring where the
// pedestal underneath meets the disk (with the pedestal's area a little brighter), and a faint
// bright halo outside that decays exponentially.
void shade_disk(const ChipFeature& f, const ChipLook& look, double x, double y, Rgb& value) {
  const double dx = x - f.x_um, dy = y - f.y_um, r = std::hypot(dx, dy), R = f.radius_um;
  const double halo = look.halo_gain * std::exp(-std::max(r - R, 0.0) / look.halo_width_um);
  const Rgb outside = mix(value, rgb(look.halo), halo);
  const double cover = coverage(R - r);
  if (cover <= 0) {
    value = outside;
    return;
  }
  const double t = r / R;
  const double along_tilt = (dx * std::cos(look.tilt_angle) + dy * std::sin(look.tilt_angle)) / R;
  const double pedestal_r = look.pedestal_fraction * R;
  double body = (1 + f.strength) * (1 - look.dome * t * t + look.tilt * along_tilt);
  body *= 1 + look.pedestal_lift * coverage(pedestal_r - r);
  body *= 1 - look.pedestal_dark * std::exp(-square((r - pedestal_r) / look.pedestal_width_um));
  const double rim = look.rim_gain * std::exp(-square((R - r) / look.rim_width_um));
  Rgb inside;
  for (int c = 0; c < 3; ++c) inside.c[c] = look.disk[c] * body + look.rim[c] * rim;
  value = mix(outside, inside, cover);
}

// Dust: an absorbing ellipse, dark brown, partly transparent.
void shade_dust(const ChipFeature& f, const ChipLook& look, double x, double y, Rgb& value) {
  const Local p = to_local(f, x, y);
  const double q = std::hypot(p.u / f.half_length_um, p.v / f.half_width_um);
  value = mix(value, rgb(look.dust), f.strength * coverage((1 - q) * f.half_width_um));
}

// A scratch: a thin line that scatters (brighter) or, less often, shadows (darker).
void shade_scratch(const ChipFeature& f, double x, double y, Rgb& value) {
  const double d = feature_distance(f, x, y);
  const double cover = coverage(f.half_width_um - d) * std::abs(f.strength);
  const Rgb target = f.strength > 0 ? Rgb{{1, 1, 1}} : Rgb{{0, 0, 0}};
  value = mix(value, target, cover);
}

// A contact pad: an opaque gold rectangle whose bevelled edges are a little darker.
void shade_pad(const ChipFeature& f, const ChipLook& look, double x, double y, Rgb& value) {
  const Local p = to_local(f, x, y);
  const double inner = std::min(f.half_length_um - std::abs(p.u), f.half_width_um - std::abs(p.v));  // > 0 inside
  const double cover = inner > 0 ? coverage(inner) : coverage(-feature_distance(f, x, y));
  if (cover <= 0) return;
  const double bevel = 1 - 0.25 * std::exp(-std::max(inner, 0.0) / 2.0);
  Rgb inside;
  for (int c = 0; c < 3; ++c) inside.c[c] = look.pad[c] * bevel;
  value = mix(value, inside, cover);
}

void shade(const ChipFeature& f, const ChipLook& look, double x, double y, Rgb& value) {
  switch (f.kind) {
    case FeatureKind::disk:
      return shade_disk(f, look, x, y, value);
    case FeatureKind::dust:
      return shade_dust(f, look, x, y, value);
    case FeatureKind::scratch:
      return shade_scratch(f, x, y, value);
    case FeatureKind::pad:
      return shade_pad(f, look, x, y, value);
  }
}

// The substrate's texture, a relative brightness change: smooth value noise at 4 µm and 25 µm
// (coarse enough that one sample per pixel is its area average even at 4X).
double texture(const ChipScene& scene, double x, double y) {
  const uint64_t fine = hash_of(scene.seed, kFineTexture, uint64_t(scene.field));
  const uint64_t coarse = hash_of(scene.seed, kCoarseTexture, uint64_t(scene.field));
  return 1 + scene.look.texture_gain *
                 (0.6 * synth::value_noise(fine, x / 4.0, y / 4.0) + synth::value_noise(coarse, x / 25.0, y / 25.0));
}

// The pixel grid of one rendering, over the field centred on the chip's (0, 0).
struct Frame {
  int width, height;    // pixels of this rendering (the 1× frame × truth_scale)
  double um_per_pixel;  // of this rendering
  double left_um, top_um;
  int samples;  // per axis and pixel, when objects are near
  double x_um(int i) const { return left_um + (i + 0.5) * um_per_pixel; }
  double y_um(int j) const { return top_um + (j + 0.5) * um_per_pixel; }
};

// Features near each tile of kTile × kTile pixels, in scene (drawing) order.
struct TileIndex {
  int cols = 0, rows = 0;
  std::vector<std::vector<int>> lists;
  const std::vector<int>& at(int x, int y) const { return lists[std::size_t(y / kTile) * cols + x / kTile]; }
};

TileIndex index_tiles(const ChipScene& scene, const Frame& frame) {
  TileIndex tiles;
  tiles.cols = (frame.width + kTile - 1) / kTile, tiles.rows = (frame.height + kTile - 1) / kTile;
  tiles.lists.resize(std::size_t(tiles.cols) * tiles.rows);
  const double h = frame.um_per_pixel;
  for (std::size_t k = 0; k < scene.features.size(); ++k) {
    const ChipFeature& f = scene.features[k];
    const double extent = f.radius_um + feature_reach(f, scene.look) + h;
    const int x0 = int(std::floor((f.x_um - extent - frame.left_um) / h)),
              x1 = int(std::floor((f.x_um + extent - frame.left_um) / h));
    const int y0 = int(std::floor((f.y_um - extent - frame.top_um) / h)),
              y1 = int(std::floor((f.y_um + extent - frame.top_um) / h));
    if (x1 < 0 || y1 < 0 || x0 >= frame.width || y0 >= frame.height) continue;
    for (int ty = std::max(y0, 0) / kTile; ty <= std::min(y1, frame.height - 1) / kTile; ++ty)
      for (int tx = std::max(x0, 0) / kTile; tx <= std::min(x1, frame.width - 1) / kTile; ++tx)
        tiles.lists[std::size_t(ty) * tiles.cols + tx].push_back(int(k));
  }
  return tiles;
}

// Step 1: planes [3][H][W] ← the scene's area average over each pixel.
void shade_scene(float* planes, const ChipScene& scene, const Frame& frame) {
  const TileIndex tiles = index_tiles(scene, frame);
  const std::size_t plane = std::size_t(frame.width) * frame.height;
  const double h = frame.um_per_pixel, step = h / frame.samples;
  const double near_margin = 0.75 * h;  // > half a pixel's diagonal
#pragma omp parallel for schedule(dynamic, 4)
  for (int j = 0; j < frame.height; ++j) {
    std::vector<int> near;
    for (int i = 0; i < frame.width; ++i) {
      const double x = frame.x_um(i), y = frame.y_um(j);
      const Rgb substrate = rgb(scene.look.substrate);
      near.clear();
      for (int k : tiles.at(i, j)) {
        const ChipFeature& f = scene.features[k];
        if (feature_distance(f, x, y) <= feature_reach(f, scene.look) + near_margin) near.push_back(k);
      }
      Rgb sum = substrate;
      if (!near.empty()) {
        sum = {{0, 0, 0}};
        for (int sy = 0; sy < frame.samples; ++sy)
          for (int sx = 0; sx < frame.samples; ++sx) {
            const double px = x + (sx + 0.5) * step - 0.5 * h, py = y + (sy + 0.5) * step - 0.5 * h;
            Rgb value = substrate;
            for (int k : near) shade(scene.features[k], scene.look, px, py, value);
            for (int c = 0; c < 3; ++c) sum.c[c] += value.c[c];
          }
        for (double& c : sum.c) c /= frame.samples * frame.samples;
      }
      const double grain = texture(scene, x, y);
      for (int c = 0; c < 3; ++c) planes[c * plane + std::size_t(j) * frame.width + i] = float(sum.c[c] * grain);
    }
  }
}

// Step 3: vignetting, tint and exposure, then noise with variance signal / full_well + read².
void expose(float* planes, const ChipScene& scene, const Frame& frame, const RenderOptions& options) {
  const Acquisition& a = scene.acquisition;
  const std::size_t plane = std::size_t(frame.width) * frame.height;
  const double half_diagonal = 0.5 * std::hypot(frame.width * frame.um_per_pixel, frame.height * frame.um_per_pixel);
  const uint64_t noise_seed =
      hash_of(scene.seed, kNoise, uint64_t(scene.field), uint64_t(options.objective), uint64_t(options.truth_scale));
#pragma omp parallel for schedule(static)
  for (int j = 0; j < frame.height; ++j)
    for (int i = 0; i < frame.width; ++i) {
      const double rx = frame.x_um(i) / half_diagonal - a.vignette_dx,
                   ry = frame.y_um(j) / half_diagonal - a.vignette_dy;
      const double light = a.exposure * std::max(0.3, 1 - a.vignetting * (rx * rx + ry * ry));
      for (int c = 0; c < 3; ++c) {
        float& v = planes[c * plane + std::size_t(j) * frame.width + i];
        double signal = v * light * a.tint[c];
        if (options.noise) {
          const uint64_t bits = hash_of(noise_seed, uint64_t(c), uint64_t(j), uint64_t(i));
          const double sigma = std::sqrt(std::max(signal, 0.0) / a.full_well + a.read_noise * a.read_noise);
          signal += sigma * synth::normal_from_bits(bits, synth::mix64(bits));
        }
        v = float(std::clamp(signal, 0.0, 1.0));
      }
    }
}

// --- ground truth --------------------------------------------------------------------------------

struct Point {
  double x, y;
};

// Whether convex polygons a and b overlap (separating axis theorem; touching counts as overlap).
bool polygons_overlap(const std::vector<Point>& a, const std::vector<Point>& b) {
  for (const auto* poly : {&a, &b})
    for (std::size_t k = 0; k < poly->size(); ++k) {
      const Point p = (*poly)[k], q = (*poly)[(k + 1) % poly->size()];
      const double nx = q.y - p.y, ny = p.x - q.x;
      double amin = 1e300, amax = -1e300, bmin = 1e300, bmax = -1e300;
      for (const Point& v : a) amin = std::min(amin, nx * v.x + ny * v.y), amax = std::max(amax, nx * v.x + ny * v.y);
      for (const Point& v : b) bmin = std::min(bmin, nx * v.x + ny * v.y), bmax = std::max(bmax, nx * v.x + ny * v.y);
      if (amax < bmin || bmax < amin) return false;
    }
  return true;
}

// The feature's outline in pixel coordinates: a rectangle for scratches and pads.
std::vector<Point> rectangle_px(const ChipFeature& f, double cx, double cy, double h) {
  const double c = std::cos(f.angle_rad), s = std::sin(f.angle_rad);
  const double a = f.half_length_um / h, b = f.half_width_um / h;
  std::vector<Point> corners;
  constexpr int kSigns[4][2] = {{1, 1}, {-1, 1}, {-1, -1}, {1, -1}};
  for (const auto& [su, sv] : kSigns) corners.push_back({cx + su * a * c - sv * b * s, cy + su * a * s + sv * b * c});
  return corners;
}

std::vector<TruthRow> truth_rows(const ChipScene& scene, const Frame& frame) {
  const double x_lo = -0.5, y_lo = -0.5, x_hi = frame.width - 0.5, y_hi = frame.height - 0.5;
  const std::vector<Point> bounds = {{x_lo, y_lo}, {x_hi, y_lo}, {x_hi, y_hi}, {x_lo, y_hi}};
  std::vector<TruthRow> rows;
  for (const ChipFeature& f : scene.features) {
    TruthRow row;
    row.id = f.id;
    row.kind = f.kind;
    row.centre_x = (f.x_um - frame.left_um) / frame.um_per_pixel - 0.5;
    row.centre_y = (f.y_um - frame.top_um) / frame.um_per_pixel - 0.5;
    row.radius = f.radius_um / frame.um_per_pixel;
    bool shows = false, whole = false;
    if (f.kind == FeatureKind::disk || f.kind == FeatureKind::dust) {
      const double r = row.radius;
      const double nx = std::clamp(row.centre_x, x_lo, x_hi), ny = std::clamp(row.centre_y, y_lo, y_hi);
      shows = std::hypot(row.centre_x - nx, row.centre_y - ny) < r;
      whole =
          row.centre_x - r >= x_lo && row.centre_x + r <= x_hi && row.centre_y - r >= y_lo && row.centre_y + r <= y_hi;
    } else {
      const std::vector<Point> outline = rectangle_px(f, row.centre_x, row.centre_y, frame.um_per_pixel);
      shows = polygons_overlap(outline, bounds);
      whole = std::all_of(outline.begin(), outline.end(),
                          [&](const Point& p) { return p.x >= x_lo && p.x <= x_hi && p.y >= y_lo && p.y <= y_hi; });
    }
    if (!shows) continue;
    row.cut_by_border = !whole;
    rows.push_back(row);
  }
  return rows;
}

// How many times finer than the output the scene is shaded and blurred: enough for σ ≥ 0.8 pixel,
// at most 4, and never past 2^26 internal pixels (0.8 GB of planes).
int fine_factor(double sigma_px, int64_t pixels) {
  int fine = std::clamp(int(std::ceil(0.8 / sigma_px - 1e-9)), 1, 4);
  while (fine > 1 && pixels * fine * fine > (int64_t(1) << 26)) --fine;
  return fine;
}

}  // namespace

SyntheticImage render_chip_scene(const ChipScene& scene, const RenderOptions& options) {
  const ObjectiveSpec& spec = objective_spec(options.objective);
  const int width = options.width > 0 ? options.width : spec.width;
  const int height = options.height > 0 ? options.height : spec.height;
  const int k = options.truth_scale;
  require(options.width >= 0 && options.height >= 0 && width <= kMaxSynthSide && height <= kMaxSynthSide,
          "synthetic image size " + std::to_string(options.width) + "×" + std::to_string(options.height) +
              " is out of range: each side must be 1.." + std::to_string(kMaxSynthSide));
  require(k >= 1 && k <= kMaxTruthScale,
          "truth scale " + std::to_string(k) + " is out of range: expected 1.." + std::to_string(kMaxTruthScale));
  require(int64_t(width) * k * int64_t(height) * k <= kMaxSynthPixels,
          "synthetic image " + std::to_string(int64_t(width) * k) + "×" + std::to_string(int64_t(height) * k) +
              " is too large: at most " + std::to_string(kMaxSynthPixels) + " pixels (reduce the size or truth scale)");

  require(options.psf_sigma_um >= 0 && options.psf_sigma_um <= kMaxPsfSigmaUm,
          "PSF sigma " + std::to_string(options.psf_sigma_um) + " µm is out of range: expected 0.." +
              std::to_string(int(kMaxPsfSigmaUm)) + " (0: the objective's)");
  const double in_focus_um = options.psf_sigma_um > 0 ? options.psf_sigma_um : spec.psf_sigma_um;
  const double psf_um = std::hypot(in_focus_um, scene.acquisition.defocus_sigma_um);

  Frame frame;
  frame.width = width * k, frame.height = height * k;
  frame.um_per_pixel = spec.um_per_pixel / k;
  frame.left_um = -0.5 * width * spec.um_per_pixel, frame.top_um = -0.5 * height * spec.um_per_pixel;
  // A camera blurs first and integrates over pixels second. Integrating first and blurring the
  // pixels is the same only while a sampled Gaussian is a good Gaussian (σ ≳ 0.8 pixel); for
  // sharper optics, shade and blur on a grid `fine` times finer, then average down.
  const int fine = fine_factor(psf_um / frame.um_per_pixel, int64_t(frame.width) * frame.height);
  Frame grid = frame;
  grid.width *= fine, grid.height *= fine, grid.um_per_pixel /= fine;
  grid.samples = std::max(1, int(std::ceil(grid.um_per_pixel / kEdgeRampUm - 1e-9)));

  SyntheticImage out;
  out.um_per_pixel = frame.um_per_pixel;
  Image& img = out.image;
  img.width = frame.width, img.height = frame.height, img.channels = 3, img.bit_depth = 8;
  std::vector<float> shaded(std::size_t(3) * grid.width * grid.height);
  shade_scene(shaded.data(), scene, grid);
  gaussian_blur_planes(shaded.data(), shaded.data(), grid.width, grid.height, 3, psf_um / grid.um_per_pixel);
  if (fine == 1) {
    img.pixels = std::move(shaded);
  } else {
    img.pixels.resize(std::size_t(3) * img.width * img.height);
    resize_planes(img.pixels.data(), img.width, img.height, shaded.data(), grid.width, grid.height, 3,
                  ResizeFilter::area_opencv);
  }
  expose(img.pixels.data(), scene, frame, options);

  img.metadata.has_resolution = true;
  img.metadata.resolution_unit = 3;  // centimetre
  img.metadata.x_resolution = img.metadata.y_resolution = 1e4 / frame.um_per_pixel;
  char description[200];
  std::snprintf(description, sizeof description,
                "microsr synth: seed=%llu field=%d mag=%s truth_scale=%d um_per_pixel=%.6g psf_sigma_um=%.4g noise=%d",
                (unsigned long long)scene.seed, scene.field, spec.name, k, frame.um_per_pixel, psf_um,
                int(options.noise));
  img.metadata.description = description;
  out.truth = truth_rows(scene, frame);
  return out;
}

}  // namespace microsr
