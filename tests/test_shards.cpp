// Sharded upscale and detect (issue 14, item 7): n shards, each run on its own, write together
// exactly the files of one unsharded run, byte for byte, and no file twice.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "../src/cli/subcommands.h"
#include "microsr/image_io.h"
#include "microsr/synth.h"
#include "microsr/weights.h"
#include "test_helpers.h"

namespace fs = std::filesystem;

namespace microsr {
namespace {

// Every regular file below `root`, by relative path, with its bytes.
std::map<std::string, std::vector<uint8_t>> files_below(const fs::path& root) {
  std::map<std::string, std::vector<uint8_t>> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = testing::read_bytes(e.path().string());
  return files;
}

std::vector<std::string> lines_of(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class Shards : public ::testing::Test {
 protected:
  std::string dir = testing::temp_path("shards"), model;
  void SetUp() override {
    fs::remove_all(dir);
    fs::create_directories(dir + "/in/sub");
    for (int field = 0; field < 5; ++field) {
      RenderOptions r;
      r.objective = Objective::x10, r.width = 160, r.height = 120;
      const std::string name = (field % 2 ? "/in/sub/field_" : "/in/field_") + std::to_string(field) + ".png";
      write_png(dir + name, render_chip_scene(make_chip_scene(3, field), r).image);
    }
    const StateDict fixture = load_safetensors(testing::data_path("rrdbnet/x4_f8_b2_g4.safetensors"));
    model = dir + "/tiny.safetensors";
    save_safetensors(model, testing::rrdbnet_weights_of(fixture));
  }
  void TearDown() override { fs::remove_all(dir); }
};

TEST_F(Shards, UpscaleShardsWriteTheWholeRunOnce) {
  auto upscale = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {dir + "/in", "-o", out, "--model", model, "--device", "cpu", "--tile", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::run_cli(cli::run_upscale, args);
  };
  ASSERT_EQ(upscale(dir + "/whole", {}), 0);
  const auto whole = files_below(dir + "/whole");
  ASSERT_EQ(whole.size(), 5u);
  std::map<std::string, std::vector<uint8_t>> union_of_shards;
  for (int i = 0; i < 3; ++i) {
    const std::string out = dir + "/shard" + std::to_string(i);
    ASSERT_EQ(upscale(out, {"--shard", std::to_string(i) + "/3"}), 0);
    if (!fs::exists(out)) continue;  // a shard may own no image
    for (auto& [name, bytes] : files_below(out))
      EXPECT_TRUE(union_of_shards.emplace(name, std::move(bytes)).second) << name << " written by two shards";
  }
  EXPECT_EQ(union_of_shards, whole);
}

TEST_F(Shards, DetectShardsFindTheSameDisksOnce) {
  std::vector<std::string> inputs;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/in"))
    if (e.is_regular_file()) inputs.push_back(e.path().string());
  std::sort(inputs.begin(), inputs.end());
  auto detect = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args = inputs;
    args.insert(args.end(), {"-o", out});
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::run_cli(cli::run_detect, args);
  };
  ASSERT_EQ(detect(dir + "/whole", {}), 0);
  const std::vector<std::string> whole_rows = lines_of(dir + "/whole/detections.csv");
  auto whole_files = files_below(dir + "/whole");
  whole_files.erase("detections.csv");

  std::multiset<std::string> rows;
  std::map<std::string, std::vector<uint8_t>> union_of_shards;
  for (int i = 0; i < 2; ++i) {
    const std::string out = dir + "/shard" + std::to_string(i);
    ASSERT_EQ(detect(out, {"--shard", std::to_string(i) + "/2"}), 0);
    const std::string csv = "detections_shard_" + std::to_string(i) + "_of_2.csv";
    const std::vector<std::string> lines = lines_of(fs::path(out) / csv);
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.front(), whole_rows.front()) << "the same header";
    rows.insert(lines.begin() + 1, lines.end());
    for (auto& [name, bytes] : files_below(out))
      if (name != csv) {
        EXPECT_TRUE(union_of_shards.emplace(name, std::move(bytes)).second) << name << " twice";
      }
  }
  EXPECT_EQ(rows, std::multiset<std::string>(whole_rows.begin() + 1, whole_rows.end()));
  EXPECT_EQ(union_of_shards, whole_files);
}

}  // namespace
}  // namespace microsr
