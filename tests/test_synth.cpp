// Synthetic microscope images (include/microsr/synth.h, `microsr synth`).
//
// The renderer is checked against what it claims physically, measured from its pixels:
//  - determinism: same (seed, field) → identical pixels and files; another seed or field differs;
//  - ground truth: disks are brighter than the substrate where the CSV puts them, and their edge
//    (the steepest radial brightness change, found along 64 rays) lies at the CSV's radius within
//    0.5 px at 10X and 0.6 px at 4X, and at its centre within 0.15 px (observed: radius +0.04..0.20
//    px at 10X, +0.19..0.35 px at 4X — rim, halo and blur shift the steepest point outwards a
//    little, more where the blur is wider; centres ≤ 0.06 px);
//  - magnification: the same disk measured in µm at 10X and at 4X agrees within 0.6 µm, and the
//    CSV radii are in the ratio of the pixel sizes (2.5);
//  - truth scale: the K× render area-averaged back down (area_opencv) matches the 1× render. Both
//    are the same continuous scene; they differ only by (a) the supersampling, (b) the Gaussian
//    blur being discretised on different grids and (c) the texture and vignetting being sampled at
//    pixel centres. All three are small for smooth content and largest at disk rims, hence the
//    tolerances: mean |difference| ≤ 0.001 and max ≤ 0.015 (values in [0, 1]; observed 2e-4 and
//    0.008 at 4X ×4), away from the 6-pixel band where the blur's reflected border differs between
//    the two grids. Also with sharper optics (σ 0.4 µm, 1/3 of a 4X pixel), which the renderer
//    blurs on a finer grid. A bicubic upscale of the 1× image is further from the K× render (observed
//    0.025 at 4X, 0.057 with σ 0.4 µm), so the truth is not an upscale;
//  - the CLI: files, names and sizes, the truth CSV's coordinate relation between scales, and clear
//    errors for bad arguments.
// Fixture: tests/data/samples/synth/ (the README's sample field), written by
// tools/make_synth_samples.sh; SamplesMatchTheGenerator keeps it in step with the code.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <numbers>

#include "cli/subcommands.h"
#include "microsr/imgproc.h"
#include "microsr/synth.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using namespace microsr::testing;
namespace fs = std::filesystem;

RenderOptions small(Objective objective, int width = 320, int height = 240, bool noise = true, int truth_scale = 1) {
  RenderOptions o;
  o.objective = objective, o.width = width, o.height = height, o.noise = noise, o.truth_scale = truth_scale;
  return o;
}

float grey(const Image& img, int x, int y) {
  const std::size_t at = std::size_t(y) * img.width + x;
  return (img.plane(0)[at] + img.plane(1)[at] + img.plane(2)[at]) / 3;
}

// Grey value at a real position (pixel centres on integers), bilinear.
double grey_at(const Image& img, double x, double y) {
  const int x0 = std::clamp(int(std::floor(x)), 0, img.width - 2),
            y0 = std::clamp(int(std::floor(y)), 0, img.height - 2);
  const double tx = x - x0, ty = y - y0;
  return (1 - ty) * ((1 - tx) * grey(img, x0, y0) + tx * grey(img, x0 + 1, y0)) +
         ty * ((1 - tx) * grey(img, x0, y0 + 1) + tx * grey(img, x0 + 1, y0 + 1));
}

// Disks that are whole, at least `margin` pixels inside the frame, and clear of every other object.
std::vector<TruthRow> isolated_disks(const std::vector<TruthRow>& truth, const Image& img, double margin) {
  std::vector<TruthRow> out;
  for (const TruthRow& d : truth) {
    if (d.kind != FeatureKind::disk || d.cut_by_border) continue;
    if (d.centre_x - d.radius < margin || d.centre_y - d.radius < margin ||
        d.centre_x + d.radius > img.width - 1 - margin || d.centre_y + d.radius > img.height - 1 - margin)
      continue;
    bool clear = true;
    for (const TruthRow& o : truth)
      if (o.id != d.id && std::hypot(o.centre_x - d.centre_x, o.centre_y - d.centre_y) < d.radius + o.radius + margin)
        clear = false;
    if (clear) out.push_back(d);
  }
  return out;
}

struct EdgeFit {
  double centre_x, centre_y, radius;  // pixels
};

// Along 64 rays from the truth centre, the position of the steepest fall in brightness within
// ±30% of the truth radius (parabolic refinement); the centre is the mean of the edge points and
// the radius their mean distance from it.
EdgeFit fit_edge(const Image& img, const TruthRow& d) {
  constexpr int kRays = 64;
  std::vector<std::pair<double, double>> points;
  for (int k = 0; k < kRays; ++k) {
    const double a = 2 * std::numbers::pi * k / kRays, c = std::cos(a), s = std::sin(a);
    const double step = 0.05, r0 = 0.7 * d.radius, r1 = 1.3 * d.radius;
    double best = -1, best_r = r0, prev = 0, next = 0;
    std::vector<double> slope;
    for (double r = r0; r <= r1; r += step)
      slope.push_back(grey_at(img, d.centre_x + (r - step) * c, d.centre_y + (r - step) * s) -
                      grey_at(img, d.centre_x + (r + step) * c, d.centre_y + (r + step) * s));
    std::size_t at = 0;
    for (std::size_t i = 0; i < slope.size(); ++i)
      if (slope[i] > best) best = slope[i], at = i;
    best_r = r0 + at * step;
    if (at > 0 && at + 1 < slope.size()) {
      prev = slope[at - 1], next = slope[at + 1];
      const double denom = prev - 2 * best + next;
      if (denom < 0) best_r += step * 0.5 * (prev - next) / denom;
    }
    points.emplace_back(d.centre_x + best_r * c, d.centre_y + best_r * s);
  }
  EdgeFit fit{0, 0, 0};
  for (const auto& [x, y] : points) fit.centre_x += x / kRays, fit.centre_y += y / kRays;
  for (const auto& [x, y] : points) fit.radius += std::hypot(x - fit.centre_x, y - fit.centre_y) / kRays;
  return fit;
}

TEST(Synth, SameSeedSamePixelsOtherSeedOrFieldDiffers) {
  const RenderOptions o = small(Objective::x4, 160, 120);
  const SyntheticImage a = render_chip_scene(make_chip_scene(7, 0), o);
  const SyntheticImage b = render_chip_scene(make_chip_scene(7, 0), o);
  EXPECT_EQ(a.image.pixels, b.image.pixels);
  EXPECT_NE(a.image.pixels, render_chip_scene(make_chip_scene(8, 0), o).image.pixels);
  EXPECT_NE(a.image.pixels, render_chip_scene(make_chip_scene(7, 1), o).image.pixels);
  // Noise depends on the seed too, not only the scene.
  const RenderOptions clean = small(Objective::x4, 160, 120, false);
  EXPECT_NE(a.image.pixels, render_chip_scene(make_chip_scene(7, 0), clean).image.pixels);
}

TEST(Synth, SceneHasEveryKindTouchingPairsAndStableIds) {
  const ChipScene scene = make_chip_scene(3, 2);
  std::map<FeatureKind, int> counts;
  for (const ChipFeature& f : scene.features) ++counts[f.kind];
  EXPECT_GT(counts[FeatureKind::disk], 100);
  EXPECT_GT(counts[FeatureKind::dust], 20);
  EXPECT_GE(counts[FeatureKind::scratch], 2);
  EXPECT_GE(counts[FeatureKind::pad], 2);
  int touching = 0;
  for (std::size_t i = 0; i < scene.features.size(); ++i) {
    const ChipFeature& a = scene.features[i];
    EXPECT_EQ(a.id, int(i) + 1);
    if (a.kind != FeatureKind::disk) continue;
    for (std::size_t j = i + 1; j < scene.features.size(); ++j) {
      const ChipFeature& b = scene.features[j];
      if (b.kind == FeatureKind::disk &&
          std::hypot(a.x_um - b.x_um, a.y_um - b.y_um) < a.radius_um + b.radius_um + 0.01)
        ++touching;
    }
  }
  EXPECT_GT(touching, 0) << "some neighbours should touch";
}

TEST(Synth, DisksAreBrighterThanTheSubstrateWhereTheTruthSaysAndSomeAreCut) {
  const SyntheticImage out = render_chip_scene(make_chip_scene(11, 0), small(Objective::x4));
  int disks = 0, cut = 0;
  double disk_sum = 0, substrate_sum = 0;
  int disk_n = 0, substrate_n = 0;
  for (const TruthRow& d : out.truth) {
    if (d.kind != FeatureKind::disk) continue;
    ++disks, cut += d.cut_by_border;
  }
  for (int y = 0; y < out.image.height; ++y)
    for (int x = 0; x < out.image.width; ++x) {
      double nearest = 1e9;  // distance beyond the nearest object's outline, pixels
      bool inside_disk_body = false;
      for (const TruthRow& t : out.truth) {
        const double r = std::hypot(x - t.centre_x, y - t.centre_y);
        nearest = std::min(nearest, r - t.radius);
        inside_disk_body |= t.kind == FeatureKind::disk && r < 0.4 * t.radius;
      }
      if (inside_disk_body) disk_sum += grey(out.image, x, y), ++disk_n;
      if (nearest > 12) substrate_sum += grey(out.image, x, y), ++substrate_n;
    }
  ASSERT_GT(disks, 10);
  EXPECT_GT(cut, 0);
  ASSERT_GT(disk_n, 1000);
  ASSERT_GT(substrate_n, 1000);
  // Disk bodies are ~0.6, the substrate ~0.4 (before vignetting and tint).
  EXPECT_GT(disk_sum / disk_n - substrate_sum / substrate_n, 0.1);
}

// The rim is where the truth radius says, at both magnifications, and the same disk measures the
// same in micrometres at 10X and 4X.
TEST(Synth, EdgesLieAtTheTruthRadiusAtBothMagnifications) {
  const ChipScene scene = make_chip_scene(5, 0);
  // 10X 800×600 and 4X 320×240 frame the same 400×300 µm of the chip.
  const SyntheticImage x10 = render_chip_scene(scene, small(Objective::x10, 800, 600, false));
  const SyntheticImage x4 = render_chip_scene(scene, small(Objective::x4, 320, 240, false));
  EXPECT_DOUBLE_EQ(x4.um_per_pixel / x10.um_per_pixel, 2.5);
  std::map<int, TruthRow> in_x4;
  for (const TruthRow& r : x4.truth) in_x4[r.id] = r;
  int compared = 0;
  for (const TruthRow& d10 : isolated_disks(x10.truth, x10.image, 8)) {
    ASSERT_TRUE(in_x4.count(d10.id)) << "disk " << d10.id << " in the 10X frame is missing at 4X";
    const TruthRow& d4 = in_x4[d10.id];
    EXPECT_NEAR(d10.radius / d4.radius, 2.5, 1e-4);
    EXPECT_NEAR((d10.centre_x + 0.5) * 0.5, (d4.centre_x + 0.5) * 1.25, 2e-3);  // same µm position
    const EdgeFit f10 = fit_edge(x10.image, d10), f4 = fit_edge(x4.image, d4);
    EXPECT_NEAR(f10.radius, d10.radius, 0.5) << "10X disk " << d10.id;
    EXPECT_NEAR(f4.radius, d4.radius, 0.6) << "4X disk " << d4.id;
    EXPECT_NEAR(f10.centre_x, d10.centre_x, 0.15);
    EXPECT_NEAR(f10.centre_y, d10.centre_y, 0.15);
    EXPECT_NEAR(f4.centre_x, d4.centre_x, 0.15);
    EXPECT_NEAR(f4.centre_y, d4.centre_y, 0.15);
    EXPECT_NEAR(f10.radius * x10.um_per_pixel, f4.radius * x4.um_per_pixel, 0.6) << "disk " << d10.id << " in µm";
    ++compared;
  }
  EXPECT_GE(compared, 3);
}

// K× renders are the same scene sampled K× more finely, not an upscale of the 1× image.
void expect_truth_scale_consistent(Objective objective, int width, int height, int k, double psf_sigma_um = 0) {
  const ChipScene scene = make_chip_scene(21, 0);
  RenderOptions options = small(objective, width, height, false, 1);
  options.psf_sigma_um = psf_sigma_um;
  const SyntheticImage low = render_chip_scene(scene, options);
  options.truth_scale = k;
  const SyntheticImage high = render_chip_scene(scene, options);
  ASSERT_EQ(high.image.width, width * k);
  ASSERT_EQ(high.image.height, height * k);
  std::vector<float> down(low.image.pixels.size()), up(high.image.pixels.size());
  resize_planes(down.data(), width, height, high.image.pixels.data(), width * k, height * k, 3,
                ResizeFilter::area_opencv);
  constexpr int kBorder = 6;
  double sum = 0, worst = 0;
  int n = 0;
  for (int c = 0; c < 3; ++c)
    for (int y = kBorder; y < height - kBorder; ++y)
      for (int x = kBorder; x < width - kBorder; ++x) {
        const std::size_t at = (std::size_t(c) * height + y) * width + x;
        const double e = std::abs(double(down[at]) - low.image.pixels[at]);
        sum += e, worst = std::max(worst, e), ++n;
      }
  EXPECT_LE(sum / n, 0.001) << objective_spec(objective).name << " ×" << k;
  EXPECT_LE(worst, 0.015) << objective_spec(objective).name << " ×" << k;
  // An upscale of the 1× image is much further from the K× render: the truth has real detail.
  resize_planes(up.data(), width * k, height * k, low.image.pixels.data(), width, height, 3,
                ResizeFilter::cubic_opencv);
  double upscale_worst = 0;
  for (std::size_t i = 0; i < up.size(); ++i)
    upscale_worst = std::max(upscale_worst, double(std::abs(up[i] - high.image.pixels[i])));
  EXPECT_GT(upscale_worst, 2 * worst);
}

TEST(Synth, TruthScaleAreaAveragedMatchesTheOneTimesRender) {
  expect_truth_scale_consistent(Objective::x4, 160, 120, 4);
  expect_truth_scale_consistent(Objective::x10, 200, 150, 2);
  expect_truth_scale_consistent(Objective::x4, 160, 120, 4, 0.4);  // sharper optics than NA 0.1
}

TEST(Synth, TruthRowsFollowTheFrame) {
  const ChipScene scene = make_chip_scene(9, 0);
  const SyntheticImage a = render_chip_scene(scene, small(Objective::x4, 96, 72, false));
  const SyntheticImage b = render_chip_scene(scene, small(Objective::x4, 96, 72, false, 3));
  ASSERT_EQ(a.truth.size(), b.truth.size());
  for (std::size_t i = 0; i < a.truth.size(); ++i) {
    EXPECT_EQ(a.truth[i].id, b.truth[i].id);
    EXPECT_NEAR(b.truth[i].centre_x, 3 * (a.truth[i].centre_x + 0.5) - 0.5, 1e-9);
    EXPECT_NEAR(b.truth[i].radius, 3 * a.truth[i].radius, 1e-9);
    const TruthRow& t = a.truth[i];
    const bool whole = t.centre_x - t.radius >= -0.5 && t.centre_x + t.radius <= 95.5 &&
                       t.centre_y - t.radius >= -0.5 && t.centre_y + t.radius <= 71.5;
    if (t.kind == FeatureKind::disk) {
      EXPECT_EQ(t.cut_by_border, !whole) << "disk " << t.id;
    }
  }
}

TEST(Synth, RefusesAbsurdSizes) {
  const ChipScene scene = make_chip_scene(1, 0);
  expect_error([&] { render_chip_scene(scene, small(Objective::x4, 20000, 100)); }, "out of range");
  expect_error([&] { render_chip_scene(scene, small(Objective::x4, 100, -3)); }, "out of range");
  expect_error([&] { render_chip_scene(scene, small(Objective::x4, 100, 100, true, 9)); }, "truth scale 9");
  expect_error([&] { render_chip_scene(scene, small(Objective::x10, 16000, 16000, true, 1)); }, "too large");
  expect_error([] { parse_objective("3x"); }, "expected 10x or 4x");
  RenderOptions blurred = small(Objective::x4, 100, 100);
  blurred.psf_sigma_um = 80;
  expect_error([&] { render_chip_scene(scene, blurred); }, "PSF sigma");
}

// --- the command line ----------------------------------------------------------------------------

int synth(std::vector<std::string> args) { return testing::run_cli(cli::run_synth, std::move(args)); }

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) : path(temp_path(name)) { fs::remove_all(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string at(const std::string& p) const { return (path / p).string(); }
};

TEST(SynthCli, WritesImagesTruthAndTruthScaleDeterministically) {
  TempDir a("synth_a"), b("synth_b");
  for (const TempDir* dir : {&a, &b})
    ASSERT_EQ(synth({"-o", dir->path.string(), "--mag", "4x", "--width", "64", "--height", "48", "--count", "2",
                     "--seed", "12", "--truth-scale", "2"}),
              0);
  for (const char* name : {"field_000_4x", "field_001_4x", "field_000_4x_truth2x", "field_001_4x_truth2x"}) {
    for (const char* ext : {".tif", ".csv"}) {
      const std::string file = std::string(name) + ext;
      ASSERT_TRUE(fs::exists(a.at(file))) << file;
      EXPECT_EQ(read_bytes(a.at(file)), read_bytes(b.at(file))) << file << " differs between two runs";
    }
  }
  const Image low = read_image(a.at("field_000_4x.tif")), high = read_image(a.at("field_000_4x_truth2x.tif"));
  EXPECT_EQ(low.width, 64);
  EXPECT_EQ(low.height, 48);
  EXPECT_EQ(low.channels, 3);
  EXPECT_EQ(low.bit_depth, 8);
  EXPECT_EQ(high.width, 128);
  EXPECT_EQ(high.height, 96);
  EXPECT_NEAR(low.metadata.x_resolution, 1e4 / 1.25, 1e-3);  // pixels per cm
  const std::vector<TruthRow> t1 = read_truth_csv(a.at("field_000_4x.csv")),
                              t2 = read_truth_csv(a.at("field_000_4x_truth2x.csv"));
  ASSERT_EQ(t1.size(), t2.size());
  ASSERT_FALSE(t1.empty());
  for (std::size_t i = 0; i < t1.size(); ++i) EXPECT_NEAR(t2[i].centre_y, 2 * (t1[i].centre_y + 0.5) - 0.5, 2e-3);
}

TEST(SynthCli, HelpAndBadArguments) {
  EXPECT_EQ(synth({"--help"}), 0);
  TempDir dir("synth_bad");
  const std::string out = dir.path.string();
  expect_error([&] { synth({"-o", out, "--mag", "3x"}); }, "expected 10x or 4x");
  expect_error([&] { synth({"-o", out, "--count", "0"}); }, "--count must be in 1..");
  expect_error([&] { synth({"-o", out, "--width", "100000"}); }, "--width must be in 1..16384");
  expect_error([&] { synth({"-o", out, "--height", "-5"}); }, "--height must be in 1..");
  expect_error([&] { synth({"-o", out, "--width", "4", "--height", "4"}); }, "smaller than 8×8");
  expect_error([&] { synth({"-o", out, "--truth-scale", "9"}); }, "--truth-scale must be in 1..8");
  expect_error([&] { synth({"-o", out, "--width", "16384", "--height", "16384"}); }, "exceeds");
  expect_error([&] { synth({"-o", out, "--seed", "-1"}); }, "non-negative integer");
  expect_error([&] { synth({"-o", out, "--seed", "abc"}); }, "non-negative integer");
  expect_error([&] { synth({"--mag", "4x"}); }, "missing -o");
  expect_error([&] { synth({"-o", out, "--psf-sigma", "0"}); }, "--psf-sigma must be a positive");
  expect_error([&] { synth({"-o", out, "--psf-sigma", "90"}); }, "--psf-sigma must be at most 50");
  expect_error([&] { synth({"-o", out, "--colour"}); }, "unknown option --colour");
  expect_error([&] { synth({"-o", out, "extra"}); }, "unexpected argument 'extra'");
  EXPECT_FALSE(fs::exists(dir.path / "field_000_10x.tif"));
}

TEST(SynthCli, TruthCsvErrorsNameTheLine) {
  TempDir dir("synth_csv");
  fs::create_directories(dir.path);
  write_bytes(dir.at("bad.csv"), {'x', '\n'});
  expect_error([&] { read_truth_csv(dir.at("bad.csv")); }, "line 1 should be the header");
  const std::string text = "id,centre_x,centre_y,radius,kind,cut_by_border\n1,2,3,4,disk,0\n2,2,3,4,blob,0\n";
  write_bytes(dir.at("kind.csv"), std::vector<uint8_t>(text.begin(), text.end()));
  expect_error([&] { read_truth_csv(dir.at("kind.csv")); }, "kind.csv:3: unknown kind 'blob'");
}

// The bundled samples (tests/data/samples/synth, made by tools/make_synth_samples.sh) are what the
// generator makes today: seed 1, field 0, 4X, 256×192 with noise, and ×4 without. Pixels may differ
// by one 8-bit step where another libm rounds exp/log differently, in at most 0.1% of values.
void expect_matches_sample(const std::string& name, int truth_scale, bool noise) {
  const std::string dir = data_path("samples/synth");
  const Image sample = read_image(dir + "/" + name + ".tif");
  const SyntheticImage now =
      render_chip_scene(make_chip_scene(1, 0), small(Objective::x4, 256, 192, noise, truth_scale));
  ASSERT_EQ(sample.width, now.image.width) << name;
  ASSERT_EQ(sample.pixels.size(), now.image.pixels.size()) << name;
  int off = 0;
  for (std::size_t i = 0; i < sample.pixels.size(); ++i) {
    const double quantised = std::floor(std::clamp(now.image.pixels[i], 0.0f, 1.0f) * 255 + 0.5) / 255;
    const double e = std::abs(double(sample.pixels[i]) - quantised);
    off += e > 0.5 / 255;
    if (e > 1.5 / 255) {
      ADD_FAILURE() << name << ": value " << i << " is " << sample.pixels[i] << ", the generator makes " << quantised
                    << " (regenerate with tools/make_synth_samples.sh if the model changed on purpose)";
      break;
    }
  }
  EXPECT_LE(off, int(sample.pixels.size() / 1000)) << name;
  const std::vector<TruthRow> truth = read_truth_csv(dir + "/" + name + ".csv");
  ASSERT_EQ(truth.size(), now.truth.size()) << name;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    EXPECT_EQ(truth[i].id, now.truth[i].id);
    EXPECT_NEAR(truth[i].centre_x, now.truth[i].centre_x, 1e-3);
    EXPECT_NEAR(truth[i].radius, now.truth[i].radius, 1e-3);
  }
}

TEST(Synth, SamplesMatchTheGenerator) {
  expect_matches_sample("field_000_4x", 1, true);
  expect_matches_sample("field_000_4x_truth4x", 4, false);
}

}  // namespace
}  // namespace microsr
