// Synthetic microscope images of microdisk arrays, with ground truth (docs/synthetic_images.md).
//
// Two steps. make_chip_scene() describes a field of a chip physically, in micrometres: disk centres
// and radii on a jittered lattice (some missing, a few pushed against a neighbour), and distractors
// that are not disks (dust, scratches, rectangular pads), plus the look of the chip and of the
// microscope on that day (colours, defocus, tint, vignetting). It depends only on (seed, field).
// render_chip_scene() then images that scene through one objective onto one camera: analytic
// shading, supersampled so that edges are right at every pixel size, Gaussian defocus blur,
// vignetting, tint, and shot + read noise. The same scene can be rendered at 10X and 4X, and at K×
// the pixel density over the same field of view — a high-resolution truth rendered from the same
// continuous scene, never an upscale.
//
// Deterministic: every random number comes from a counter-based hash of (seed, what, where) with
// our own uniform/normal conversions, so the same arguments give the same bytes on every run and
// every thread count.
//
// Pixel coordinates (truth CSV): x right, y down, pixel (i, j) centred at (i, j) — the convention of
// contour centroids — so the image spans [-0.5, width - 0.5] × [-0.5, height - 0.5].
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "microsr/image_io.h"

namespace microsr {

enum class Objective { x10, x4 };

// The seed's two set-ups. um_per_pixel is the object-side pixel size; psf_sigma_um the in-focus
// blur (a Gaussian standing in for the objective's Airy pattern at its numerical aperture).
struct ObjectiveSpec {
  const char* name;  // "10x" or "4x"
  double um_per_pixel;
  int width, height;  // the camera's default frame
  double psf_sigma_um;
};
const ObjectiveSpec& objective_spec(Objective objective);
// "10x", "10X", "4x", "4X" -> Objective; anything else throws Error naming the accepted values.
Objective parse_objective(const std::string& text);

enum class FeatureKind { disk, dust, scratch, pad };
const char* feature_kind_name(FeatureKind kind);  // "disk", "dust", "scratch", "pad"

// One object on the chip. Chip coordinates in µm: x right, y down, the field's centre at (0, 0).
struct ChipFeature {
  int id = 0;  // 1-based index in ChipScene::features: the same object keeps its id at every scale
  FeatureKind kind = FeatureKind::disk;
  double x_um = 0, y_um = 0;  // centre (scratch: midpoint)
  // disk: the outer radius. dust: semi-axes (half_length ≥ half_width). scratch: half its length
  // and half its width. pad: half its long and short sides. radius_um is always the radius of the
  // smallest circle about the centre that holds the object.
  double radius_um = 0, half_length_um = 0, half_width_um = 0;
  double angle_rad = 0;  // orientation of the long axis (dust, scratch, pad)
  double strength = 0;   // disk: relative brightness offset; dust: opacity; scratch: contrast (< 0 dark)
};

// The look of the chip under the microscope (linear RGB in [0, 1], before vignetting and tint).
struct ChipLook {
  float substrate[3], disk[3], rim[3], halo[3], dust[3], pad[3];
  double dome;              // body brightness falls by this fraction from centre to edge
  double tilt, tilt_angle;  // body brightness gradient across the disk (illumination slant)
  double rim_gain, rim_width_um;
  double halo_gain, halo_width_um;
  double pedestal_fraction;  // the pedestal ring's radius / the disk's radius
  double pedestal_dark, pedestal_lift, pedestal_width_um;
  double texture_gain;  // relative amplitude of the substrate texture
};

// The microscope on the day a field was imaged.
struct Acquisition {
  double defocus_sigma_um;          // added in quadrature to the objective's PSF
  float tint[3];                    // white-balance error, per channel
  double exposure;                  // overall gain
  double vignetting;                // illumination falls to (1 - vignetting) at the frame's corners
  double vignette_dx, vignette_dy;  // optical centre offset, fraction of the half-diagonal
  double full_well;                 // shot noise: variance = signal / full_well (signal in [0, 1])
  double read_noise;                // standard deviation, in [0, 1] units
};

struct ChipScene {
  uint64_t seed = 0;
  int field = 0;
  double half_width_um = 0, half_height_um = 0;  // the region described (the chip's array)
  double pitch_x_um = 0, pitch_y_um = 0, mean_radius_um = 0;
  ChipLook look{};
  Acquisition acquisition{};
  std::vector<ChipFeature> features;  // in drawing order: pads, disks, dust, scratches
};

// The scene of field `field` (0, 1, 2, ...) of the chip that `seed` makes. All fields of one seed
// share the chip (lattice pitch, disk size, colours); each field has its own placement, defects,
// distractors and acquisition. The described region, ±1600 × ±1200 µm, holds a whole 4X frame.
ChipScene make_chip_scene(uint64_t seed, int field);

struct RenderOptions {
  Objective objective = Objective::x10;
  int width = 0, height = 0;  // the frame at 1× (0: the objective's camera size)
  int truth_scale = 1;        // K: render width·K × height·K pixels over the same field of view
  bool noise = true;          // shot + read noise (off: the exact expected image, for tests)
  double psf_sigma_um = 0;    // in-focus blur σ; 0: the objective's (ObjectiveSpec::psf_sigma_um)
};

// Rendered size limits (checked by render_chip_scene and the CLI).
inline constexpr int kMaxSynthSide = 16384;
inline constexpr int kMaxTruthScale = 8;
inline constexpr int64_t kMaxSynthPixels = int64_t(1) << 27;
inline constexpr double kMaxPsfSigmaUm = 50;

struct TruthRow {
  int id = 0;                                     // ChipFeature::id
  double centre_x = 0, centre_y = 0, radius = 0;  // pixels of this image; radius as ChipFeature::radius_um
  FeatureKind kind = FeatureKind::disk;
  bool cut_by_border = false;  // part of the object lies outside the frame
};

struct SyntheticImage {
  Image image;                  // RGB, bit depth 8, resolution metadata in pixels per centimetre
  std::vector<TruthRow> truth;  // every object that shows in the frame, in scene order
  double um_per_pixel = 0;      // of this image (the objective's / truth_scale)
};

// Renders `scene` as `options` asks. Throws Error for sizes outside [1, kMaxSynthSide] per side,
// truth_scale outside [1, kMaxTruthScale], more than kMaxSynthPixels output pixels, or a PSF σ
// outside [0, kMaxPsfSigmaUm].
SyntheticImage render_chip_scene(const ChipScene& scene, const RenderOptions& options);

// Truth CSV: header "id,centre_x,centre_y,radius,kind,cut_by_border", one row per object,
// coordinates with 3 decimals. read_truth_csv throws Error naming the file and line on bad input.
void write_truth_csv(const std::string& path, const std::vector<TruthRow>& rows);
std::vector<TruthRow> read_truth_csv(const std::string& path);

}  // namespace microsr
