// The physical description of a chip field: where the disks and distractors are, in micrometres,
// and how the chip and the microscope look. Nothing here knows about pixels.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <numbers>

#include "microsr/error.h"
#include "microsr/synth.h"
#include "synth/random.h"

namespace microsr {
namespace {

using synth::hash_of;
using synth::Random;

// Salts that keep the random streams of different purposes apart.
enum Stream : uint64_t { kChipStream = 1, kFieldStream = 2 };

constexpr double kHalfWidthUm = 1600, kHalfHeightUm = 1200;  // holds a whole 4X frame (±1000 × ±750)

// Airy-pattern FWHM ≈ 0.51 λ / NA at λ = 0.55 µm, as a Gaussian σ = FWHM / 2.355:
// 10X NA 0.25 → 0.48 µm; 4X NA 0.10 → 1.19 µm.
constexpr ObjectiveSpec kObjectives[] = {
    {"10x", 0.5, 2592, 1944, 0.48},
    {"4x", 1.25, 1600, 1200, 1.19},
};

void set_rgb(float* out, double r, double g, double b) { out[0] = float(r), out[1] = float(g), out[2] = float(b); }

// Colours vary from chip to chip: thin-film interference tints the oxide substrate, the disks are
// brighter and warmer, rims nearly white.
ChipLook make_look(Random& rng) {
  ChipLook look{};
  static constexpr double kSubstrates[][3] = {{0.36, 0.39, 0.47}, {0.42, 0.34, 0.47}, {0.31, 0.42, 0.44}};
  const auto& s = kSubstrates[rng.integer(0, 2)];
  const double jitter = rng.uniform(0.92, 1.08);
  set_rgb(look.substrate, s[0] * jitter, s[1] * jitter, s[2] * jitter);
  const double warmth = rng.uniform(0.0, 0.08);
  set_rgb(look.disk, 0.64 + warmth, 0.62, 0.54 - warmth);
  set_rgb(look.rim, 0.95, 0.95, 0.90);
  set_rgb(look.halo, 0.55, 0.57, 0.62);
  set_rgb(look.dust, 0.16, 0.14, 0.12);
  set_rgb(look.pad, 0.86, 0.74, 0.42);  // gold contact pads
  look.dome = rng.uniform(0.08, 0.18);
  look.tilt = rng.uniform(0.02, 0.08);
  look.tilt_angle = rng.uniform(0, 2 * std::numbers::pi);
  look.rim_gain = rng.uniform(0.25, 0.4);
  look.rim_width_um = rng.uniform(0.8, 1.4);
  look.halo_gain = rng.uniform(0.08, 0.14);
  look.halo_width_um = rng.uniform(2.0, 3.0);
  look.pedestal_fraction = rng.uniform(0.5, 0.7);
  look.pedestal_dark = rng.uniform(0.12, 0.2);
  look.pedestal_lift = rng.uniform(0.03, 0.07);
  look.pedestal_width_um = rng.uniform(0.8, 1.4);
  look.texture_gain = rng.uniform(0.02, 0.04);
  return look;
}

Acquisition make_acquisition(Random& rng) {
  Acquisition a{};
  a.defocus_sigma_um = rng.uniform(0.0, 0.6);
  for (float& t : a.tint) t = float(rng.uniform(0.94, 1.06));
  a.exposure = rng.uniform(0.95, 1.08);
  a.vignetting = rng.uniform(0.12, 0.28);
  a.vignette_dx = rng.uniform(-0.08, 0.08);
  a.vignette_dy = rng.uniform(-0.08, 0.08);
  a.full_well = rng.uniform(1500, 4000);
  a.read_noise = rng.uniform(0.002, 0.005);
  return a;
}

bool inside_region(double x, double y, double margin) {
  return std::abs(x) <= kHalfWidthUm + margin && std::abs(y) <= kHalfHeightUm + margin;
}

// Distance from (x, y) to the rectangle of a pad (0 inside).
double distance_to_pad(const ChipFeature& pad, double x, double y) {
  const double c = std::cos(pad.angle_rad), s = std::sin(pad.angle_rad);
  const double u = std::abs((x - pad.x_um) * c + (y - pad.y_um) * s) - pad.half_length_um;
  const double v = std::abs(-(x - pad.x_um) * s + (y - pad.y_um) * c) - pad.half_width_um;
  return std::hypot(std::max(u, 0.0), std::max(v, 0.0));
}

// Long rectangular pads (aspect ≥ 3.5, so their circularity 4πA/P² stays below 0.6), some along
// the lattice, some across it.
std::vector<ChipFeature> make_pads(Random& rng, double lattice_angle) {
  std::vector<ChipFeature> pads(rng.integer(2, 4));
  for (ChipFeature& p : pads) {
    p.kind = FeatureKind::pad;
    p.half_length_um = rng.uniform(60, 160);
    p.half_width_um = std::max(8.0, p.half_length_um / rng.uniform(3.5, 6.0));
    p.angle_rad = lattice_angle + (rng.chance(0.5) ? 0.0 : std::numbers::pi / 2);
    p.x_um = rng.uniform(-kHalfWidthUm, kHalfWidthUm);
    p.y_um = rng.uniform(-kHalfHeightUm, kHalfHeightUm);
    p.radius_um = std::hypot(p.half_length_um, p.half_width_um);
  }
  return pads;
}

// A jittered lattice of disks: some missing, some lying under pads (dropped), and a few pushed
// against their right-hand neighbour so that the two touch.
std::vector<ChipFeature> make_disks(Random& chip, Random& rng, ChipScene& scene, double lattice_angle,
                                    const std::vector<ChipFeature>& pads) {
  const double c = std::cos(lattice_angle), s = std::sin(lattice_angle);
  const double phase_x = rng.uniform(0, scene.pitch_x_um), phase_y = rng.uniform(0, scene.pitch_y_um);
  const double reach = std::hypot(kHalfWidthUm, kHalfHeightUm) + 2 * scene.pitch_x_um;
  const int cols = 2 * int(reach / scene.pitch_x_um) + 1, rows = 2 * int(reach / scene.pitch_y_um) + 1;
  const double missing = chip.uniform(0.03, 0.08), touching = 0.04;
  const double jitter_um = rng.uniform(0.5, 2.0), radius_spread = 0.03;

  struct Slot {
    int disk = -1;
    bool pushed = false;
  };
  std::vector<Slot> grid(std::size_t(rows) * cols);
  std::vector<ChipFeature> disks;
  std::vector<char> wants_touch;
  for (int j = 0; j < rows; ++j)
    for (int i = 0; i < cols; ++i) {
      // Draw everything for every slot, used or not, so that one choice never shifts the others.
      const bool absent = rng.chance(missing);
      const bool touch = rng.chance(touching);
      const double jx = rng.normal(0, jitter_um), jy = rng.normal(0, jitter_um);
      const double radius = scene.mean_radius_um * (1 + radius_spread * rng.normal());
      const double brightness = rng.normal(0, 0.03);
      const double u = phase_x + (i - cols / 2) * scene.pitch_x_um, v = phase_y + (j - rows / 2) * scene.pitch_y_um;
      ChipFeature d;
      d.kind = FeatureKind::disk;
      d.x_um = u * c - v * s + jx;
      d.y_um = u * s + v * c + jy;
      d.radius_um = radius;
      d.strength = brightness;
      if (absent || !inside_region(d.x_um, d.y_um, radius)) continue;
      bool under_pad = false;
      for (const ChipFeature& p : pads) under_pad |= distance_to_pad(p, d.x_um, d.y_um) < radius + 4;
      if (under_pad) continue;
      grid[std::size_t(j) * cols + i].disk = int(disks.size());
      disks.push_back(d);
      wants_touch.push_back(touch);
    }
  for (int j = 0; j < rows; ++j)
    for (int i = 0; i + 1 < cols; ++i) {
      Slot& here = grid[std::size_t(j) * cols + i];
      Slot& right = grid[std::size_t(j) * cols + i + 1];
      if (here.disk < 0 || right.disk < 0 || here.pushed || right.pushed || !wants_touch[here.disk]) continue;
      ChipFeature& a = disks[here.disk];
      const ChipFeature& b = disks[right.disk];
      const double dx = b.x_um - a.x_um, dy = b.y_um - a.y_um, gap = std::hypot(dx, dy);
      const double contact = a.radius_um + b.radius_um - 0.3;  // a slight overlap: they merge
      a.x_um = b.x_um - dx / gap * contact;
      a.y_um = b.y_um - dy / gap * contact;
      here.pushed = right.pushed = true;
    }
  return disks;
}

std::vector<ChipFeature> make_dust(Random& rng) {
  const double area = 4 * kHalfWidthUm * kHalfHeightUm;
  std::vector<ChipFeature> dust(int(area / (260.0 * 260.0)) + rng.integer(0, 20));
  for (ChipFeature& d : dust) {
    d.kind = FeatureKind::dust;
    d.half_length_um = rng.log_uniform(0.8, 5.0);
    d.half_width_um = d.half_length_um * rng.uniform(0.55, 1.0);
    d.angle_rad = rng.uniform(0, std::numbers::pi);
    d.x_um = rng.uniform(-kHalfWidthUm, kHalfWidthUm);
    d.y_um = rng.uniform(-kHalfHeightUm, kHalfHeightUm);
    d.radius_um = d.half_length_um;
    d.strength = rng.uniform(0.45, 0.9);
  }
  return dust;
}

std::vector<ChipFeature> make_scratches(Random& rng) {
  std::vector<ChipFeature> scratches(rng.integer(2, 5));
  for (ChipFeature& s : scratches) {
    s.kind = FeatureKind::scratch;
    s.half_length_um = rng.uniform(80, 600);
    s.half_width_um = rng.uniform(0.4, 1.2);  // ≥ 0.4 µm: wider than the shading's edge ramp
    s.angle_rad = rng.uniform(0, std::numbers::pi);
    s.x_um = rng.uniform(-kHalfWidthUm, kHalfWidthUm);
    s.y_um = rng.uniform(-kHalfHeightUm, kHalfHeightUm);
    s.radius_um = s.half_length_um;
    s.strength = rng.chance(0.7) ? rng.uniform(0.25, 0.5) : -rng.uniform(0.2, 0.4);
  }
  return scratches;
}

}  // namespace

const ObjectiveSpec& objective_spec(Objective objective) { return kObjectives[objective == Objective::x10 ? 0 : 1]; }

Objective parse_objective(const std::string& text) {
  std::string lower = text;
  for (char& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  if (lower == "10x") return Objective::x10;
  if (lower == "4x") return Objective::x4;
  throw Error("unknown magnification '" + text + "': expected 10x or 4x");
}

const char* feature_kind_name(FeatureKind kind) {
  switch (kind) {
    case FeatureKind::disk:
      return "disk";
    case FeatureKind::dust:
      return "dust";
    case FeatureKind::scratch:
      return "scratch";
    case FeatureKind::pad:
      return "pad";
  }
  return "?";
}

ChipScene make_chip_scene(uint64_t seed, int field) {
  Random chip(hash_of(seed, kChipStream));
  Random rng(hash_of(seed, kFieldStream, uint64_t(int64_t(field))));
  ChipScene scene;
  scene.seed = seed;
  scene.field = field;
  scene.half_width_um = kHalfWidthUm;
  scene.half_height_um = kHalfHeightUm;
  scene.mean_radius_um = chip.uniform(16, 28);
  scene.pitch_x_um = 2 * scene.mean_radius_um * chip.uniform(1.3, 1.7);
  scene.pitch_y_um = scene.pitch_x_um * chip.uniform(0.95, 1.15);
  scene.look = make_look(chip);
  scene.acquisition = make_acquisition(rng);

  const double lattice_angle = rng.uniform(-1.5, 1.5) * std::numbers::pi / 180;  // how the chip sits on the stage
  std::vector<ChipFeature> pads = make_pads(rng, lattice_angle);
  std::vector<ChipFeature> disks = make_disks(chip, rng, scene, lattice_angle, pads);
  std::vector<ChipFeature> dust = make_dust(rng);
  std::vector<ChipFeature> scratches = make_scratches(rng);
  for (auto* group : {&pads, &disks, &dust, &scratches})
    scene.features.insert(scene.features.end(), group->begin(), group->end());
  for (std::size_t i = 0; i < scene.features.size(); ++i) scene.features[i].id = int(i) + 1;
  return scene;
}

}  // namespace microsr
