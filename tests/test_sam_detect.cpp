// Detection with SAM (include/microsr/sam.h) on the random-weight SAM fixtures of
// tests/data/onnx/sam (tools/make_sam_fixtures.py) run by our ONNX engine: the mechanics — one
// encoder run per image, every accepted detection prompted, the CSV columns, the gate falling back
// to the classical result — on a `microsr synth` frame, through the library and the CLI.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/subcommands.h"
#include "microsr/error.h"
#include "microsr/sam.h"
#include "microsr/synth.h"
#include "test_helpers.h"

namespace microsr {
namespace {
namespace fs = std::filesystem;
using testing::data_path;
using testing::expect_error;
using testing::temp_path;

std::string encoder_path() { return data_path("onnx/sam/sam_vit_small_encoder/model.onnx"); }
std::string decoder_path() { return data_path("onnx/sam/sam_decoder_small/model.onnx"); }

// Counts the calls into the real segmenter it wraps.
class CountingSegmenter : public PromptSegmenter {
 public:
  explicit CountingSegmenter(std::unique_ptr<PromptSegmenter> inner) : inner_(std::move(inner)) {}
  int encodes = 0, decodes = 0;
  std::size_t prompts = 0;
  void encode(const Image& image) override {
    ++encodes;
    inner_->encode(image);
  }
  std::vector<PromptMask> decode_boxes(const std::vector<BoxPrompt>& p) override {
    ++decodes, prompts += p.size();
    return inner_->decode_boxes(p);
  }

 private:
  std::unique_ptr<PromptSegmenter> inner_;
};

// A 4X `microsr synth` frame, 400 × 300 pixels.
Image synth_frame() {
  RenderOptions options;
  options.objective = Objective::x4, options.width = 400, options.height = 300;
  return render_chip_scene(make_chip_scene(1, 0), options).image;
}

std::vector<std::string> log_lines;
void capture(const std::string& line) { log_lines.push_back(line); }

TEST(SamDetect, RandomModelIsPromptedOnceAndTheGateKeepsTheClassicalResult) {
  const Image image = synth_frame();
  const DetectParams params;
  const DetectionResult classical = detect_disks(image, params);
  int accepted = 0;
  for (const Detection& d : classical.detections) accepted += d.accepted;
  ASSERT_GE(accepted, 5);

  log_lines.clear();
  CountingSegmenter segmenter(load_onnx_segmenter(encoder_path(), decoder_path(), capture));
  DetectionResult refined = classical;
  const SamRefineCounts counts = refine_with_segmenter(image, refined, segmenter, params, SamGateParams{});
  EXPECT_EQ(segmenter.encodes, 1);
  EXPECT_EQ(segmenter.decodes, 1);
  EXPECT_EQ(segmenter.prompts, std::size_t(accepted));
  EXPECT_EQ(counts.prompted, accepted);
  // The model's own log: SAM, its 128-pixel input, all boxes in one decoder run.
  ASSERT_EQ(log_lines.size(), 3u);
  EXPECT_NE(log_lines[0].find("SAM: encoder"), std::string::npos) << log_lines[0];
  EXPECT_NE(log_lines[0].find("128x128"), std::string::npos) << log_lines[0];
  EXPECT_NE(log_lines[2].find(std::to_string(accepted) + " boxes in 1 call"), std::string::npos) << log_lines[2];

  // Random weights: no mask agrees with its disk, and every detection stays the classical one.
  ASSERT_EQ(refined.detections.size(), classical.detections.size());
  for (std::size_t i = 0; i < refined.detections.size(); ++i) {
    const Detection &d = refined.detections[i], &c = classical.detections[i];
    EXPECT_EQ(d.accepted, c.accepted);
    EXPECT_EQ(d.cx, c.cx);
    EXPECT_EQ(d.cy, c.cy);
    EXPECT_EQ(d.radius, c.radius);
    if (!c.accepted) {
      EXPECT_EQ(d.mask.verdict, MaskVerdict::not_prompted);
      continue;
    }
    EXPECT_NE(d.mask.verdict, MaskVerdict::none);
    EXPECT_NE(d.mask.verdict, MaskVerdict::not_prompted);
    EXPECT_NE(d.mask.verdict, MaskVerdict::used) << "detection " << d.id << " iou " << d.mask.iou;
    EXPECT_EQ(d.box, c.box);
    EXPECT_EQ(d.crop, c.crop);
    EXPECT_GE(d.mask.score, -1.0);  // a real number from iou_predictions
  }
  EXPECT_EQ(counts.used, 0);
}

TEST(SamDetect, FixedBatchDecoderIsCalledOncePerBox) {
  // segment-anything 1.0's export with the baked crop: point_coords [1, 2, 2].
  const Image image = synth_frame();
  DetectionResult result = detect_disks(image, DetectParams{});
  log_lines.clear();
  auto segmenter =
      load_onnx_segmenter(encoder_path(), data_path("onnx/sam/sam_decoder_small_baked_crop/model.onnx"), capture);
  const SamRefineCounts counts = refine_with_segmenter(image, result, *segmenter, DetectParams{}, SamGateParams{});
  ASSERT_GE(counts.prompted, 2);
  EXPECT_NE(log_lines[0].find("one box per call"), std::string::npos) << log_lines[0];
  EXPECT_NE(log_lines.back().find(std::to_string(counts.prompted) + " boxes in " + std::to_string(counts.prompted) +
                                  " calls"),
            std::string::npos)
      << log_lines.back();
}

TEST(SamDetect, Sam2EncoderIsRecognised) {
  log_lines.clear();
  load_onnx_segmenter(data_path("onnx/sam/sam2_hiera_small_encoder/model.onnx"), decoder_path(), capture);
  ASSERT_FALSE(log_lines.empty());
  EXPECT_EQ(log_lines[0].rfind("SAM2: encoder", 0), 0u) << log_lines[0];
}

TEST(SamDetect, WrongModelsAreClearErrors) {
  expect_error([] { load_onnx_segmenter(decoder_path(), encoder_path()); }, "this is a decoder");
  expect_error([] { load_onnx_segmenter(encoder_path(), encoder_path()); }, "expected a SAM / SAM2 decoder");
  expect_error([] { load_onnx_segmenter(data_path("onnx/torch_tiny.onnx"), decoder_path()); }, "torch_tiny.onnx");
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(SamDetect, CliWithAModelFolderFillsTheMaskColumns) {
  const std::string dir = temp_path("sam_detect_cli");
  fs::remove_all(dir);
  fs::create_directories(dir + "/model");
  fs::copy_file(encoder_path(), dir + "/model/tiny.encoder.onnx");  // samexporter's names
  fs::copy_file(decoder_path(), dir + "/model/tiny.decoder.onnx");
  const std::string input = dir + "/frame.png";
  write_png(input, synth_frame());
  ASSERT_EQ(testing::run_cli(cli::run_detect, {input, "-o", dir + "/out", "--sam", dir + "/model"}), 0);
  const std::vector<std::string> csv = lines_of(dir + "/out/detections.csv");
  ASSERT_GE(csv.size(), 2u);
  EXPECT_TRUE(csv[0].ends_with(",parent,mask_score,mask_area,mask_circularity,mask_iou,sam_used,sam_reason"));
  // Every row says what stage 3 did; with random weights nothing is used.
  for (std::size_t i = 1; i < csv.size(); ++i) {
    EXPECT_FALSE(csv[i].ends_with(",")) << csv[i];
    EXPECT_EQ(csv[i].find(",1,used"), std::string::npos) << csv[i];
  }
  // The same run with the two files named, and the classical CSV has the same first 15 columns.
  ASSERT_EQ(testing::run_cli(cli::run_detect, {input, "-o", dir + "/plain"}), 0);
  ASSERT_EQ(testing::run_cli(cli::run_detect, {input, "-o", dir + "/pair", "--sam", encoder_path(), decoder_path()}),
            0);
  const std::vector<std::string> plain = lines_of(dir + "/plain/detections.csv");
  const std::vector<std::string> pair = lines_of(dir + "/pair/detections.csv");
  ASSERT_EQ(plain.size(), csv.size());
  EXPECT_EQ(pair, csv);
  auto first_15 = [](const std::string& row) {
    std::size_t at = 0;
    for (int commas = 0; commas < 15 && at != std::string::npos; ++commas) at = row.find(',', at + 1);
    return row.substr(0, at);
  };
  for (std::size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(first_15(plain[i]), first_15(csv[i]));
  // A folder without the models and a swapped pair are errors, before any output.
  EXPECT_EQ(testing::run_cli(cli::run_detect, {input, "-o", dir + "/bad", "--sam", dir + "/out"}), 1);
  EXPECT_EQ(testing::run_cli(cli::run_detect, {input, "-o", dir + "/bad", "--sam", decoder_path(), encoder_path()}), 1);
  EXPECT_EQ(testing::run_cli(cli::run_detect, {input, "-o", dir + "/bad", "--sam-radius-ratio", "1.2"}), 2);
  EXPECT_FALSE(fs::exists(dir + "/bad"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace microsr
