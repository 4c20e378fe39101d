// Training pairs (include/microsr/pairs.h): making them, the manifest, loading a pair folder.
// The patch sampler has its own file, test_patch_sampler.cpp.
//
// Fixtures: tests/data/pairs/, written by tools/make_pairs_reference.py — four HR crops written
// by OpenCV (8-bit RGB PNG, 16-bit gray TIFF, and one of each smaller than --min-size 24) and, for
// five recipes (orders, both bicubics, ×2/×3/×4, σ 0 / 0.5 / 1.3), the prepared HR and its LR as
// the script computes them with cv2.GaussianBlur, cv2.resize and a float64 numpy MATLAB imresize.
// Tolerance 2e-5 on values in [0, 1]: both sides compute in float32 between steps, the reference
// in float64 inside imresize; the blur and resize fixtures (test_resize.cpp) see ≤ 5e-7 per step.
// Written files are compared with the reference quantized to the file's depth: at most one step
// (1/255 or 1/65535) apart, where a value lies within float rounding of a half step.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "cli/subcommands.h"
#include "microsr/pairs.h"
#include "microsr/weights.h"
#include "synth/random.h"
#include "test_helpers.h"

namespace microsr {
namespace {

namespace fs = std::filesystem;
using namespace microsr::testing;

const std::string kInputs = data_path("pairs/inputs");

PairRecipe recipe_of(const std::string& spec) {  // "scale,sigma,min_size,resize,order"
  std::stringstream in(spec);
  std::string field[5];
  for (auto& f : field) std::getline(in, f, ',');
  PairRecipe r;
  r.scale = std::stoi(field[0]), r.blur_sigma = std::stod(field[1]), r.min_size = std::stoi(field[2]);
  r.resize = parse_pair_resize(field[3]), r.order = parse_degrade_order(field[4]);
  return r;
}

Tensor planes_of(const Image& img) {
  Tensor t = Tensor::empty({img.channels, img.height, img.width});
  std::copy(img.pixels.begin(), img.pixels.end(), t.f32());
  return t;
}

// The largest |file value - reference quantized to the file's depth|, in steps of that depth.
double worst_steps(const Image& file, const Tensor& reference) {
  const double top = file.bit_depth == 16 ? 65535.0 : 255.0;
  double worst = 0;
  for (std::size_t i = 0; i < file.pixels.size(); ++i) {
    const double expected = std::floor(std::clamp(double(reference.f32()[i]), 0.0, 1.0) * top + 0.5);
    worst = std::max(worst, std::abs(double(file.pixels[i]) * top - expected));
  }
  return worst;
}

int make_pairs(std::vector<std::string> args) { return run_cli(cli::run_make_pairs, std::move(args)); }

struct Scratch {
  fs::path root = temp_path("pairs");
  Scratch() { fs::remove_all(root), fs::create_directories(root); }
  ~Scratch() { fs::remove_all(root); }
  std::string at(const std::string& p) const { return (root / p).string(); }
};

std::string file_text(const std::string& path) {
  const auto bytes = read_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

// ---- making pairs -------------------------------------------------------------------------------

TEST(PairsMake, HrAndLrMatchTheReferenceForEveryRecipe) {
  std::map<std::string, std::string> meta;
  const StateDict ref = load_safetensors(data_path("pairs/reference.safetensors"), &meta);
  int cases = 0;
  double worst = 0;
  for (const auto& [variant, spec] : meta) {
    if (variant == "generator") continue;
    const PairRecipe recipe = recipe_of(spec);
    for (const char* input : {"rgb8.png", "gray16.tif", "small.png", "tiny16.tif"}) {
      const std::string key = std::string(input) + "." + variant;
      const Image hr = prepare_hr(read_image(kInputs + "/" + input), recipe);
      const Image lr = degrade_to_lr(hr, recipe);
      expect_close(planes_of(hr), ref.at("hr." + key), 2e-5, "hr." + key);
      expect_close(planes_of(lr), ref.at("lr." + key), 2e-5, "lr." + key);
      worst = std::max({worst, compare(planes_of(hr), ref.at("hr." + key)).max_abs,
                        compare(planes_of(lr), ref.at("lr." + key)).max_abs});
      ++cases;
    }
  }
  EXPECT_EQ(cases, 20);
  std::printf("[ info     ] %d input×recipe cases, max |diff| %.3g\n", cases, worst);
}

TEST(PairsMake, EnlargesShortCropsKeepingAspectThenModCrops) {
  Image img;
  img.width = 50, img.height = 10, img.channels = 4, img.bit_depth = 8;  // RGBA: alpha is dropped
  img.pixels.assign(std::size_t(4) * 50 * 10, 0.25f);
  img.metadata.has_resolution = true, img.metadata.x_resolution = img.metadata.y_resolution = 100;
  PairRecipe r;
  r.min_size = 30;  // rounded up to 32 for ×4: factor 3.2, 50 → 160, 10 → 32
  const Image hr = prepare_hr(img, r);
  EXPECT_EQ(hr.width, 160);
  EXPECT_EQ(hr.height, 32);
  EXPECT_EQ(hr.channels, 3);
  EXPECT_NEAR(hr.metadata.x_resolution, 320, 1e-9);
  for (float v : hr.pixels) ASSERT_NEAR(v, 0.25f, 1e-6);  // a constant stays constant
  img.width = 47, img.height = 130;
  img.pixels.assign(std::size_t(4) * 47 * 130, 0.5f);
  r.min_size = 128;  // 47 → 128, 130 → round(130 · 128/47) = 354 → mod-crop 352
  const Image tall = prepare_hr(img, r);
  EXPECT_EQ(tall.width, 128);
  EXPECT_EQ(tall.height, 352);
  EXPECT_NEAR(degrade_to_lr(tall, r).metadata.x_resolution, 100 * 128.0 / 47 / 4, 1e-9);
  r.min_size = 0;
  img.width = 3, img.height = 3;
  expect_error([&] { prepare_hr(img, r); }, "smaller than the scale 4");
}

// Issue 13, case 5: a 20000×1 strip would be enlarged to 2560000×128 (about 12 GB as floats);
// it is refused before anything is allocated, with the sizes.
TEST(PairsMake, AThinStripIsRefusedBeforeItsEnlargementIsAllocated) {
  Image strip;
  strip.width = 20000, strip.height = 1, strip.channels = 3;
  strip.pixels.assign(std::size_t(20000) * 3, 0.5f);
  PairRecipe recipe;
  recipe.min_size = 128;
  testing::expect_error([&] { prepare_hr(strip, recipe); }, "would make it 2560000×128 = 327680000 pixels");
  strip.width = 2000, strip.pixels.resize(std::size_t(2000) * 3);
  recipe.min_size = 32;  // 2000×1 → 64000×32: within the limit, enlarged as before
  EXPECT_EQ(prepare_hr(strip, recipe).height, 32);
}

TEST(PairsMake, CliWritesPairsAtTheInputDepthWithAManifest) {
  Scratch s;
  ASSERT_EQ(make_pairs({kInputs, "-o", s.at("out"), "--min-size", "24"}), 0);
  std::map<std::string, std::string> meta;
  const StateDict ref = load_safetensors(data_path("pairs/reference.safetensors"), &meta);
  const auto rows = read_manifest(s.at("out/manifest.csv"));
  ASSERT_EQ(rows.size(), 4u);
  const std::map<std::string, std::string> input_of = {
      {"rgb8", "rgb8.png"}, {"gray16", "gray16.tif"}, {"small", "small.png"}, {"tiny16", "tiny16.tif"}};
  for (const ManifestRow& row : rows) {
    SCOPED_TRACE(row.name);
    const std::string key = input_of.at(row.name) + ".default";
    const bool deep = row.name.ends_with("16");
    EXPECT_EQ(row.hr, "hr/" + row.name + (deep ? ".tif" : ".png"));
    EXPECT_EQ(row.bit_depth, deep ? 16 : 8);
    EXPECT_EQ(row.channels, deep ? 1 : 3);
    EXPECT_EQ(row.source, kInputs + "/" + input_of.at(row.name));
    EXPECT_EQ(row.sigma, 0.5);
    EXPECT_EQ(row.scale, 4);
    EXPECT_EQ(row.min_size, 24);
    EXPECT_EQ(row.resize, "matlab");
    EXPECT_EQ(row.order, "blur-then-resize");
    const Image hr = read_image(s.at("out/" + row.hr)), lr = read_image(s.at("out/" + row.lr));
    EXPECT_EQ(hr.bit_depth, row.bit_depth);
    EXPECT_EQ(lr.bit_depth, row.bit_depth);
    EXPECT_EQ(detect_image_format(s.at("out/" + row.lr)), deep ? ImageFormat::tiff : ImageFormat::png);
    EXPECT_EQ(std::make_pair(hr.width, hr.height), std::make_pair(row.hr_width, row.hr_height));
    EXPECT_EQ(std::make_pair(lr.width, lr.height), std::make_pair(row.lr_width, row.lr_height));
    // One quantization step at most: a 16-bit LR reduced to 8 bits would be ~128 steps off.
    EXPECT_LE(worst_steps(hr, ref.at("hr." + key)), 1.0 + 1e-3);
    EXPECT_LE(worst_steps(lr, ref.at("lr." + key)), 1.0 + 1e-3);
  }
  // A crop that needed no enlargement keeps its pixels exactly (its top-left 36×32 of 37×33).
  const Image source = read_image(kInputs + "/gray16.tif"), hr = read_image(s.at("out/hr/gray16.tif"));
  for (int y = 0; y < hr.height; ++y)
    for (int x = 0; x < hr.width; ++x) ASSERT_EQ(hr.pixels[y * hr.width + x], source.pixels[y * source.width + x]);
}

TEST(PairsMake, CliIsDeterministicKeepsExistingPairsAndGuardsTheRecipe) {
  Scratch s;
  ASSERT_EQ(make_pairs({kInputs, "-o", s.at("a"), "--min-size", "24", "--seed", "7"}), 0);
  ASSERT_EQ(make_pairs({kInputs, "-o", s.at("b"), "--min-size", "24"}), 0);
  const std::string manifest = file_text(s.at("a/manifest.csv"));
  for (const char* f : {"hr/rgb8.png", "lr/rgb8.png", "hr/tiny16.tif", "lr/tiny16.tif", "lr/gray16.tif"})
    EXPECT_EQ(read_bytes(s.at("a/") + f), read_bytes(s.at("b/") + f)) << f;
  // Again into the same folder: everything kept; without the manifest (as after a crash) it is
  // rebuilt from the files.
  ASSERT_EQ(make_pairs({kInputs, "-o", s.at("a"), "--min-size", "24"}), 0);
  EXPECT_EQ(file_text(s.at("a/manifest.csv")), manifest);
  fs::remove(s.at("a/manifest.csv"));
  fs::remove(s.at("a/lr/small.png"));  // an incomplete pair is remade
  ASSERT_EQ(make_pairs({kInputs, "-o", s.at("a"), "--min-size", "24"}), 0);
  EXPECT_EQ(file_text(s.at("a/manifest.csv")), manifest);
  EXPECT_EQ(read_bytes(s.at("a/lr/small.png")), read_bytes(s.at("b/lr/small.png")));
  // Another recipe into a folder made with this one: refused unless --overwrite.
  expect_error(
      [&] {
        make_pairs({kInputs, "-o", s.at("a"), "--min-size", "24", "--blur-sigma", "0.8"});
      },
      "--blur-sigma 0.5");
  ASSERT_EQ(make_pairs({kInputs, "-o", s.at("a"), "--min-size", "24", "--blur-sigma", "0.8", "--overwrite"}), 0);
  EXPECT_EQ(read_manifest(s.at("a/manifest.csv")).at(0).sigma, 0.8);
  EXPECT_NE(read_bytes(s.at("a/lr/rgb8.png")), read_bytes(s.at("b/lr/rgb8.png")));
}

TEST(PairsMake, CliReportsBadFilesAtTheEndAndUsageErrors) {
  Scratch s;
  fs::copy(kInputs, s.at("in"));
  write_bytes(s.at("in/broken.png"), {0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0});  // a truncated PNG
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(make_pairs({s.at("in"), "-o", s.at("out"), "--min-size", "24"}), 1);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("failed: " + s.at("in/broken.png")), std::string::npos) << log;
  EXPECT_EQ(read_manifest(s.at("out/manifest.csv")).size(), 4u);  // the others were made
  for (const auto& e : fs::recursive_directory_iterator(s.root))
    EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos) << e.path();

  expect_error([&] { make_pairs({s.at("missing"), "-o", s.at("out2")}); }, "does not exist");
  fs::create_directories(s.at("empty"));
  expect_error([&] { make_pairs({s.at("empty"), "-o", s.at("out2")}); }, "no images");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(make_pairs({s.at("in"), "-o", s.at("out2"), "--order", "sideways"}), 2);
  EXPECT_EQ(make_pairs({s.at("in"), "-o", s.at("out2"), "--resize", "lanczos"}), 2);
  EXPECT_EQ(make_pairs({s.at("in"), "-o", s.at("out2"), "--blur-sigma", "-1"}), 2);
  EXPECT_EQ(make_pairs({s.at("in"), "-o", s.at("out2"), "--scale", "0"}), 2);
  EXPECT_EQ(make_pairs({s.at("in")}), 2);
  EXPECT_EQ(make_pairs({s.at("in"), "-o", s.at("out2"), "--bogus"}), 2);
  ::testing::internal::GetCapturedStderr();
}

// ---- the manifest -------------------------------------------------------------------------------

TEST(PairsManifest, RoundTripsAwkwardTextAndRefusesBrokenFiles) {
  ManifestRow a, b;
  a.name = "disk, \"7\"", a.hr = "hr/x.png", a.lr = "lr/x.png", a.source = "crops/with\nnewline.png";
  a.hr_width = 128, a.hr_height = 132, a.lr_width = 32, a.lr_height = 33, a.sigma = 0.1, a.channels = 1;
  b.name = "b", b.hr = "hr/b.tif", b.lr = "lr/b.tif", b.bit_depth = 16, b.sigma = 1.0 / 3, b.scale = 2, b.min_size = 96;
  b.resize = "opencv", b.order = "resize-then-blur";
  const auto back = parse_manifest(manifest_csv({a, b}), "m.csv");
  ASSERT_EQ(back.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const ManifestRow& want = i ? b : a;
    const ManifestRow& got = back[i];
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.source, want.source);
    EXPECT_EQ(got.sigma, want.sigma);  // exact: written as the shortest round-trip decimal
    EXPECT_EQ(std::tie(got.hr, got.lr, got.resize, got.order), std::tie(want.hr, want.lr, want.resize, want.order));
    EXPECT_EQ(std::tie(got.hr_width, got.hr_height, got.lr_width, got.lr_height, got.bit_depth, got.channels, got.scale,
                       got.min_size),
              std::tie(want.hr_width, want.hr_height, want.lr_width, want.lr_height, want.bit_depth, want.channels,
                       want.scale, want.min_size));
  }
  const std::string header = manifest_csv({}).substr(0, manifest_csv({}).size() - 1);
  expect_error([] { parse_manifest("name,hr,lr\nx,y,z\n", "m.csv"); }, "no column 'hr_width'");
  expect_error([&] { parse_manifest(header + "\nx,h,l,1,2,3\n", "m.csv"); }, "m.csv, row 1: 6 fields");
  expect_error([&] { parse_manifest(header + "\nx,h,l,12a,1,1,1,8,3,s,0.5,4,128,matlab,o\n", "m.csv"); },
               "hr_width: expected an integer, found '12a'");
  expect_error([&] { parse_manifest(header + "\n\"open,h\n", "m.csv"); }, "not closed");
  expect_error([] { parse_manifest("", "m.csv"); }, "empty");
}

// ---- loading a pair folder ----------------------------------------------------------------------

TEST(PairSet, LoadsAsRgbFloatsKeeping16BitsWithOrWithoutManifest) {
  Scratch s;
  ASSERT_EQ(make_pairs({kInputs, "-o", s.at("p"), "--min-size", "24"}), 0);
  for (bool with_manifest : {true, false}) {
    SCOPED_TRACE(with_manifest ? "manifest" : "file names");
    if (!with_manifest) fs::remove(s.at("p/manifest.csv"));
    const PairSet set = PairSet::load(s.at("p"));
    EXPECT_EQ(set.scale, 4);
    ASSERT_EQ(set.size(), 4u);
    for (const TrainingPair& p : set.pairs) {
      EXPECT_EQ(p.hr.channels, 3);
      EXPECT_EQ(p.lr.channels, 3);
      EXPECT_EQ(p.hr.width, 4 * p.lr.width);
    }
    const auto gray = std::find_if(set.pairs.begin(), set.pairs.end(), [](auto& p) { return p.name == "gray16"; });
    ASSERT_NE(gray, set.pairs.end());
    const Image file = read_image(s.at("p/lr/gray16.tif"));
    const std::size_t plane = std::size_t(file.width) * file.height;
    int off_8bit_grid = 0;
    for (std::size_t i = 0; i < plane; ++i) {
      for (int c = 0; c < 3; ++c) ASSERT_EQ(gray->lr.pixels[c * plane + i], file.pixels[i]);  // gray → RGB
      const double v = file.pixels[i] * 65535.0;
      off_8bit_grid += std::fmod(std::round(v), 257.0) != 0;
    }
    EXPECT_GT(off_8bit_grid, int(plane) / 2);  // true 16-bit values, not 8-bit ones scaled up
  }
  EXPECT_EQ(PairSet::load(s.at("p"), 4).size(), 4u);
  expect_error([&] { PairSet::load(s.at("p"), 2); }, "is not LR");
}

TEST(PairSet, ReportsEveryProblemAtOnce) {
  Scratch s;
  expect_error([&] { PairSet::load(s.at("nowhere")); }, "does not exist");
  expect_error([&] { PairSet::load(s.root.string()); }, "no manifest.csv and no hr/ folder");
  ASSERT_EQ(make_pairs({kInputs, "-o", s.at("p"), "--min-size", "24"}), 0);
  Image wrong = read_image(s.at("p/lr/small.png"));
  wrong.width -= 1;
  wrong.pixels.resize(std::size_t(3) * wrong.width * wrong.height);
  write_image(s.at("p/lr/small.png"), wrong);
  write_bytes(s.at("p/hr/rgb8.png"), {1, 2, 3, 4, 5, 6, 7, 8});  // corrupt
  try {
    PairSet::load(s.at("p"));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("2 problems"), std::string::npos) << m;
    EXPECT_NE(m.find("lr/small.png is 8×6 but manifest.csv says 9×6"), std::string::npos) << m;
    EXPECT_NE(m.find("rgb8.png"), std::string::npos) << m;
  }
  fs::remove(s.at("p/manifest.csv"));
  fs::remove(s.at("p/hr/rgb8.png"));
  fs::remove(s.at("p/lr/tiny16.tif"));
  try {
    PairSet::load(s.at("p"));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("small: HR 36×24 is not LR 8×6 × 4"), std::string::npos) << m;
    EXPECT_NE(m.find("lr/rgb8.png has no HR partner"), std::string::npos) << m;
    EXPECT_NE(m.find("hr/tiny16.tif has no LR partner"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace microsr
