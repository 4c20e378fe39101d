// microsr evaluate: the study files (written, read back, merged), the resampling that puts a 4X
// result on the 10X grid, the reference-study loop, and sharded runs whose union is the whole run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "../src/cli/shard.h"
#include "../src/cli/subcommands.h"
#include "io/json_min.h"
#include "microsr/evaluate.h"
#include "microsr/synth.h"
#include "microsr/weights.h"
#include "test_helpers.h"

namespace fs = std::filesystem;

namespace microsr {
namespace {

StudyResult small_study() {
  StudyResult s;
  s.study = "sr_pairs", s.title = "a test, with \"quotes\"", s.convention = "skimage";
  s.metrics = {"psnr", "ssim"};
  s.better = {Better::higher, Better::higher};
  s.methods = {"bicubic", "tuned, v2"};
  s.compare = {{"bicubic", "tuned, v2"}};
  const double bicubic[] = {30.0, 31.5, 29.25, 30.75}, tuned[] = {31.0, 32.0, 30.5, 31.25};
  for (int i = 0; i < 4; ++i) {
    s.rows.push_back({"crop" + std::to_string(i), "bicubic", {bicubic[i], 0.9 + 0.01 * i}});
    s.rows.push_back({"crop" + std::to_string(i), "tuned, v2", {tuned[i], 0.92 + 0.01 * i}});
  }
  s.rows.push_back({"same", "bicubic", {INFINITY, 1.0}});  // identical images: PSNR ∞
  s.settings = {{"models", "tuned, v2=x.pth"}};
  s.notes = {"a 2-epoch fine-tune"};
  return s;
}

double number_at(const io::JsonValue& object, const char* key) {
  const io::JsonValue* v = object.get(key);
  EXPECT_NE(v, nullptr) << key;
  return v ? std::stod(v->text) : NAN;
}

TEST(StudyFiles, SummaryHoldsTheStatisticsOfTheCsvAndReadsBack) {
  const std::string dir = testing::temp_path("study_files");
  fs::remove_all(dir);
  const StudyResult s = small_study();
  write_study(dir, s);

  std::ifstream in(dir + "/summary.json");
  std::stringstream text;
  text << in.rdbuf();
  const io::JsonValue root = io::parse_json(text.str(), "summary.json");
  const io::JsonValue& summary = *root.get("summary");
  ASSERT_EQ(summary.array.size(), 4u);                                  // 2 methods × 2 metrics
  const std::vector<double> bicubic_psnr = {30.0, 31.5, 29.25, 30.75};  // "same" (∞) left out
  const Summary expected = summarize(bicubic_psnr);
  const io::JsonValue& first = summary.array[0];
  EXPECT_EQ(first.get("method")->text, "bicubic");
  EXPECT_EQ(number_at(first, "count"), 4);
  EXPECT_EQ(number_at(first, "mean"), expected.mean);  // %.17g reads back exactly
  EXPECT_EQ(number_at(first, "median"), expected.median);
  EXPECT_EQ(number_at(first, "low"), expected.mean_interval.low);
  EXPECT_EQ(number_at(first, "high"), expected.mean_interval.high);
  EXPECT_EQ(number_at(first, "left_out"), 1);
  const io::JsonValue& comparison = root.get("comparisons")->array.at(0);
  const PairedComparison c = compare_paired(bicubic_psnr, std::vector<double>{31.0, 32.0, 30.5, 31.25});
  EXPECT_EQ(number_at(comparison, "mean_difference"), c.mean_difference);
  EXPECT_EQ(comparison.get("winner")->text, "tuned, v2");
  EXPECT_EQ(number_at(comparison, "certainty"), c.certainty);

  const StudyResult back = read_study(dir);
  EXPECT_EQ(back.title, s.title);
  EXPECT_EQ(back.methods, s.methods);
  EXPECT_EQ(back.compare, s.compare);
  EXPECT_EQ(back.notes, s.notes);
  EXPECT_EQ(back.settings, s.settings);
  ASSERT_EQ(back.rows.size(), s.rows.size());
  for (std::size_t i = 0; i < s.rows.size(); ++i) {
    EXPECT_EQ(back.rows[i].image, s.rows[i].image);
    EXPECT_EQ(back.rows[i].method, s.rows[i].method);
    EXPECT_EQ(back.rows[i].values[0], s.rows[i].values[0]);  // %.10g of these values is exact
  }
  fs::remove_all(dir);
}

TEST(StudyFiles, MergeRefusesAnImageMeasuredTwice) {
  StudyResult a = small_study(), b = small_study();
  a.rows.resize(4), b.rows.erase(b.rows.begin(), b.rows.begin() + 4);
  const StudyResult merged = merge_studies({a, b});
  EXPECT_EQ(merged.rows.size(), small_study().rows.size());
  EXPECT_EQ(merged.notes.size(), 1u) << "each shard's notes once";
  testing::expect_error([&] { merge_studies({a, a}); }, "measured with bicubic in two shards");
}

// resample_area treats a pixel as a little square of constant value. On the 4X×4 grid
// (0.3125 µm) an image whose pixels follow a·x + b·y + c at their centres is, in that model, a
// staircase; its mean over each 10X pixel (0.5 µm, fractional offset) is computed here another
// way — from the staircase's running integral F(u) = Σ_{p<⌊u⌋} f(p) + (u − ⌊u⌋)·f(⌊u⌋) — and
// must agree to float precision: this pins down resample_area's offset and step as cross-mag
// uses them.
TEST(ResampleArea, PutsAnImageOnAnotherGridAsLittleSquares) {
  const double fine_um = 0.3125, coarse_um = 0.5;
  const int fine_w = 64, fine_h = 48, coarse_w = 30, coarse_h = 20;
  const double fine_left = -0.5 * fine_w * fine_um, coarse_left = -0.5 * coarse_w * coarse_um + 0.07;
  const double fine_top = -0.5 * fine_h * fine_um, coarse_top = -0.5 * coarse_h * coarse_um - 0.11;
  const double a = 0.02, b = -0.01, c = 0.5;
  auto centre_x = [&](int p) { return fine_left + (p + 0.5) * fine_um; };
  auto centre_y = [&](int p) { return fine_top + (p + 0.5) * fine_um; };
  Image fine;
  fine.width = fine_w, fine.height = fine_h, fine.channels = 1;
  fine.pixels.resize(std::size_t(fine_w) * fine_h);
  for (int y = 0; y < fine_h; ++y)
    for (int x = 0; x < fine_w; ++x)
      fine.pixels[std::size_t(y) * fine_w + x] = float(a * centre_x(x) + b * centre_y(y) + c);
  // The mean of the staircase p ↦ g(p) over [lo, hi] (edge coordinates, in fine pixels).
  auto staircase_mean = [](const std::function<double(int)>& g, double lo, double hi) {
    auto running = [&](double u) {
      const int whole = int(std::floor(u));
      double sum = 0;
      for (int p = 0; p < whole; ++p) sum += g(p);
      return sum + (u - whole) * g(whole);
    };
    return (running(hi) - running(lo)) / (hi - lo);
  };
  const double x0 = (coarse_left - fine_left) / fine_um, y0 = (coarse_top - fine_top) / fine_um;
  const double step = coarse_um / fine_um;
  const Image coarse = resample_area(fine, x0, y0, step, coarse_w, coarse_h);
  ASSERT_EQ(coarse.width, coarse_w);
  for (int j = 0; j < coarse_h; ++j)
    for (int i = 0; i < coarse_w; ++i) {
      const double expected = a * staircase_mean(centre_x, x0 + i * step, x0 + (i + 1) * step) +
                              b * staircase_mean(centre_y, y0 + j * step, y0 + (j + 1) * step) + c;
      ASSERT_NEAR(coarse.pixels[std::size_t(j) * coarse_w + i], expected, 2e-6) << i << "," << j;
    }
  // Integer geometry: 2×2 block means.
  const Image halves = resample_area(fine, 2, 4, 2.0, 8, 8);
  EXPECT_FLOAT_EQ(halves.pixels[0], 0.25f * (fine.pixels[4 * fine_w + 2] + fine.pixels[4 * fine_w + 3] +
                                             fine.pixels[5 * fine_w + 2] + fine.pixels[5 * fine_w + 3]));
  testing::expect_error([&] { resample_area(fine, 40, 0, 1.6, 20, 10); }, "outside");
}

TEST(ComparisonGrid, ColumnsSideBySideCutToTheRegion) {
  Image a;
  a.width = 300, a.height = 100, a.channels = 3;
  a.pixels.assign(std::size_t(3) * 300 * 100, 0.25f);
  for (int y = 40; y < 60; ++y) a.pixels[std::size_t(y) * 300 + 200] = 1.f;  // an edge to find
  const Image grid = comparison_grid({&a, &a, &a}, 64);
  EXPECT_EQ(grid.width, 3 * 64 + 2 * 4);
  EXPECT_EQ(grid.height, 64);
  EXPECT_EQ(grid.pixels[64], 1.f) << "the gap between columns is white";
}

// ---- the command -------------------------------------------------------------------------------

class EvaluateCli : public ::testing::Test {
 protected:
  static inline std::string dir, model;
  // Three tiny synthetic 4X fields with their ×4 truth, and a tiny random ×4 model.
  static void SetUpTestSuite() {
    dir = testing::temp_path("evaluate");
    fs::remove_all(dir);
    fs::create_directories(dir + "/frames");
    for (int field = 0; field < 3; ++field) {
      const ChipScene scene = make_chip_scene(7, field);
      RenderOptions r;
      r.objective = Objective::x4, r.width = 32, r.height = 24;
      const std::string stem = dir + "/frames/field_00" + std::to_string(field) + "_4x";
      write_tiff(stem + ".tif", render_chip_scene(scene, r).image);
      r.truth_scale = 4, r.noise = false;
      write_tiff(stem + "_truth4x.tif", render_chip_scene(scene, r).image);
    }
    const StateDict fixture = load_safetensors(testing::data_path("rrdbnet/x4_f8_b2_g4.safetensors"));
    model = dir + "/tiny.safetensors";
    save_safetensors(model, testing::rrdbnet_weights_of(fixture));
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }

  static int evaluate(std::vector<std::string> args) {
    args.insert(args.end(), {"--models", "tiny=" + model, "--device", "cpu"});
    return testing::run_cli(cli::run_evaluate, args);
  }
};

TEST_F(EvaluateCli, TruthMeasuresBicubicAndTheModelAgainstTheTruth) {
  ASSERT_EQ(evaluate({"truth", "--frames", dir + "/frames", "-o", dir + "/truth", "--grids", "1"}), 0);
  const StudyResult s = read_study(dir + "/truth");
  EXPECT_EQ(s.methods, (std::vector<std::string>{"bicubic", "tiny"}));
  ASSERT_EQ(s.rows.size(), 6u);
  ASSERT_EQ(s.grids.size(), 1u);
  EXPECT_TRUE(fs::is_regular_file(dir + "/truth/" + s.grids[0].file));
  // The bicubic row, recomputed here from the files.
  const Image frame = read_image(dir + "/frames/field_000_4x.tif");
  const Image truth = read_image(dir + "/frames/field_000_4x_truth4x.tif");
  const double expected = psnr(bicubic_enlarge(frame, 4), truth);
  const auto row = std::find_if(s.rows.begin(), s.rows.end(),
                                [](const StudyRow& r) { return r.image == "field_000_4x" && r.method == "bicubic"; });
  ASSERT_NE(row, s.rows.end());
  EXPECT_NEAR(row->values[0], expected, 1e-8 * expected);
}

// Issue 14, item 7: n shards, each run on its own, together measure every image exactly once,
// and their merge equals the unsharded run.
TEST_F(EvaluateCli, ShardsTogetherEqualTheWholeRun) {
  ASSERT_EQ(evaluate({"truth", "--frames", dir + "/frames", "-o", dir + "/whole", "--grids", "0"}), 0);
  std::vector<std::string> merge = {"merge", "-o", dir + "/merged"};
  std::multiset<std::string> measured;
  for (int i = 0; i < 3; ++i) {
    const std::string out = dir + "/shard" + std::to_string(i);
    ASSERT_EQ(evaluate({"truth", "--frames", dir + "/frames", "-o", out, "--grids", "0", "--shard",
                        std::to_string(i) + "/3"}),
              0);
    for (const StudyRow& r : read_study(out).rows) measured.insert(r.image + " " + r.method);
    merge.push_back(out);
  }
  EXPECT_EQ(measured.size(), 6u);
  for (const std::string& m : measured) EXPECT_EQ(measured.count(m), 1u) << m << " measured twice";
  ASSERT_EQ(testing::run_cli(cli::run_evaluate, merge), 0);
  const StudyResult whole = read_study(dir + "/whole"), merged = read_study(dir + "/merged");
  ASSERT_EQ(merged.rows.size(), whole.rows.size());
  for (std::size_t i = 0; i < whole.rows.size(); ++i) {
    EXPECT_EQ(merged.rows[i].image, whole.rows[i].image);
    EXPECT_EQ(merged.rows[i].method, whole.rows[i].method);
    EXPECT_EQ(merged.rows[i].values, whole.rows[i].values);
  }
  std::ifstream a(dir + "/whole/detailed_metrics.csv"), b(dir + "/merged/detailed_metrics.csv");
  std::stringstream ta, tb;
  ta << a.rdbuf(), tb << b.rdbuf();
  EXPECT_EQ(ta.str(), tb.str()) << "the merged CSV is the whole run's";
}

TEST_F(EvaluateCli, ModelsMayBeRepeated) {
  ASSERT_EQ(
      testing::run_cli(cli::run_evaluate, {"truth", "--frames", dir + "/frames", "-o", dir + "/two", "--grids", "0",
                                           "--models", "a=" + model, "--models", "b=" + model, "--device", "cpu"}),
      0);
  EXPECT_EQ(read_study(dir + "/two").methods, (std::vector<std::string>{"bicubic", "a", "b"}));
}

TEST_F(EvaluateCli, UsageErrors) {
  testing::expect_error([&] { evaluate({"truth", "-o", dir + "/x"}); }, "--frames");
  testing::expect_error([&] { evaluate({"sideways", "-o", dir + "/x"}); }, "unknown study");
  testing::expect_error([&] { evaluate({"sr-pairs", "-o", dir + "/x"}); }, "--pairs DIR or --hr PATH");
  testing::expect_error(
      [&] {
        testing::run_cli(cli::run_evaluate,
                         {"truth", "--frames", dir + "/frames", "-o", dir + "/x", "--models", "bicubic=a.pth"});
      },
      "baseline");
  testing::expect_error([&] { evaluate({"truth", "--frames", dir, "-o", dir + "/x", "--shard", "3/3"}); }, "shard");
}

TEST(Shard, FromTheOptionOrTheSchedulersEnvironment) {
  using cli::parse_shard;
  auto env = [](std::map<std::string, std::string> vars) {
    return [vars](const char* name) -> const char* {
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  };
  const auto none = env({});
  EXPECT_EQ(parse_shard("", none).count, 1);
  EXPECT_EQ(parse_shard("2/5", none).index, 2);
  EXPECT_EQ(parse_shard("2/5", none).count, 5);
  // An array 1-4: SLURM_ARRAY_TASK_ID 3 is the third task (index 2).
  const cli::Shard slurm = parse_shard(
      "", env({{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "1"}}));
  EXPECT_EQ(slurm.index, 2);
  EXPECT_EQ(slurm.count, 4);
  EXPECT_EQ(slurm.source, "SLURM");
  const cli::Shard k8s = parse_shard("", env({{"JOB_COMPLETION_INDEX", "0"}, {"MICROSR_SHARD_COUNT", "2"}}));
  EXPECT_EQ(k8s.index, 0);
  EXPECT_EQ(k8s.count, 2);
  testing::expect_error([&] { parse_shard("", env({{"JOB_COMPLETION_INDEX", "0"}})); }, "MICROSR_SHARD_COUNT");
  testing::expect_error([&] { parse_shard("5/5", none); }, "shard 5 of 5");
  testing::expect_error([&] { parse_shard("a/b", none); }, "I/N");
  // The option wins over the environment.
  EXPECT_EQ(parse_shard("0/2", env({{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "2"}})).index, 0);
  // Ownership is a partition: every name has exactly one owner, and it does not depend on order.
  for (const std::string name : {"a.png", "sub/b.tif", "c.jpg", "field_003_4x.tif"}) {
    int owners = 0;
    for (int i = 0; i < 3; ++i) owners += cli::Shard{i, 3, "test"}.owns(name);
    EXPECT_EQ(owners, 1) << name;
  }
}

}  // namespace
}  // namespace microsr
