// The baked-crop check of SAM decoder exports (src/onnx/sam_checks.cpp) on the fixtures that
// tools/make_sam_fixtures.py exports with random weights: segment-anything 1.0's SamOnnxModel
// (crop of its 1500x2250 dummy image baked in: 85 x 128 at the fixture's 128² input) and our
// fixed-crop export.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "cli/subcommands.h"
#include "microsr/onnx.h"
#include "microsr/onnx_sam_checks.h"
#include "test_helpers.h"

namespace microsr {
namespace {

std::string sam_fixture(const std::string& name) { return testing::data_path("onnx/sam/" + name + "/model.onnx"); }

// The fixed export with the run-time ends of its mask crop replaced by an initializer holding
// `ends` (what a baked export holds in the same place).
OnnxModel fixed_decoder_with_constant_crop_ends(int64_t ends) {
  OnnxModel model = load_onnx(sam_fixture("sam_decoder_small"));
  std::string resized;
  for (const OnnxNode& node : model.graph.nodes) {
    if (node.op_type == "Resize" && resized.empty()) resized = node.outputs.at(0);
  }
  OnnxTensor constant;
  constant.name = "test_constant_crop_end";
  constant.data_type = static_cast<int32_t>(OnnxType::int64);
  constant.dims = {1};
  constant.has_values = true;
  constant.integers = {ends};
  model.graph.initializers.push_back(constant);
  int replaced = 0;
  for (OnnxNode& node : model.graph.nodes) {
    if (node.op_type == "Slice" && node.inputs.at(0) == resized) {
      node.inputs.at(2) = constant.name;
      ++replaced;
    }
  }
  EXPECT_EQ(replaced, 1) << "the fixed export should crop rows with one Slice right after its first Resize";
  return model;
}

TEST(OnnxSamChecks, BakedCropExportIsFoundWithItsSize) {
  const OnnxModel model = load_onnx(sam_fixture("sam_decoder_small_baked_crop"));
  const SamCropCheck check = check_sam_decoder_crop(model);
  EXPECT_TRUE(check.is_sam_decoder);
  EXPECT_TRUE(check.baked_crop);
  EXPECT_EQ(check.baked_height, 85);  // round(1500 * 128 / 2250)
  EXPECT_EQ(check.baked_width, 128);
  const std::string warning = sam_decoder_crop_warning(model);
  EXPECT_NE(warning.find("85 x 128"), std::string::npos) << warning;
  EXPECT_NE(warning.find("docs/sam.md"), std::string::npos) << warning;
  EXPECT_NE(warning.find("orig_im_size"), std::string::npos) << warning;
}

TEST(OnnxSamChecks, FixedCropExportIsSilent) {
  const OnnxModel model = load_onnx(sam_fixture("sam_decoder_small"));
  const SamCropCheck check = check_sam_decoder_crop(model);
  EXPECT_TRUE(check.is_sam_decoder);
  EXPECT_FALSE(check.baked_crop);
  EXPECT_EQ(check.baked_height, -1);
  EXPECT_EQ(check.baked_width, -1);
  EXPECT_EQ(sam_decoder_crop_warning(model), "");
}

TEST(OnnxSamChecks, OtherModelsAreNotSamDecoders) {
  for (const std::string& path : {testing::data_path("onnx/torch_tiny.onnx"), sam_fixture("sam_vit_small_encoder"),
                                  sam_fixture("sam2_hiera_small_encoder")}) {
    const OnnxModel model = load_onnx(path);
    EXPECT_FALSE(is_sam_decoder_export(model)) << path;
    EXPECT_FALSE(check_sam_decoder_crop(model).baked_crop) << path;
    EXPECT_EQ(sam_decoder_crop_warning(model), "") << path;
  }
}

TEST(OnnxSamChecks, ConstantEndsInTheFixedGraphAreFoundAndOpenEndsAreNot) {
  // The check looks at the graph's structure, not at names: the same edit a baked export has.
  const SamCropCheck baked = check_sam_decoder_crop(fixed_decoder_with_constant_crop_ends(50));
  EXPECT_TRUE(baked.baked_crop);
  EXPECT_EQ(baked.baked_height, 50);
  EXPECT_EQ(baked.baked_width, -1);  // the column crop still reads orig_im_size
  // `x[..., 0:]` is written with INT64_MAX as its end: no crop, nothing to warn about.
  const SamCropCheck open =
      check_sam_decoder_crop(fixed_decoder_with_constant_crop_ends(std::numeric_limits<int64_t>::max()));
  EXPECT_FALSE(open.baked_crop);
}

TEST(OnnxSamChecks, OnnxInfoPrintsTheWarningOnlyForTheBakedExport) {
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(testing::run_cli(cli::run_onnx, {"info", sam_fixture("sam_decoder_small_baked_crop")}), 0);
  const std::string baked = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(baked.find("warning: this SAM decoder crops its upscaled masks to a fixed 85 x 128"), std::string::npos)
      << baked;
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(testing::run_cli(cli::run_onnx, {"info", sam_fixture("sam_decoder_small")}), 0);
  const std::string fixed = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(fixed.find("orig_im_size"), std::string::npos) << fixed;
  EXPECT_EQ(fixed.find("warning"), std::string::npos) << fixed;
}

}  // namespace
}  // namespace microsr
