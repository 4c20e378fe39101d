// SAM and SAM2 exports (random weights, small configurations; tests/data/onnx/sam, made by
// tools/make_sam_fixtures.py) run in our graph runtime: every output within 1e-4 of its own scale
// of both ONNX Runtime and eager PyTorch. The baked-crop decoder (segment-anything 1.0's export)
// computes `masks` with the crop of its dummy image, so there its graph (and ORT) differs from
// PyTorch on purpose: that output is compared with ORT only.
#include <gtest/gtest.h>

#include "microsr/onnx_runtime.h"
#include "onnx_test_helpers.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using testing::data_path;
using testing::expect_value_close;
using testing::read_npy_folder;

// `encoder`: every Shape node reads a value whose shape the feed shapes fix, so none is left after the
// first run. The decoders keep a few: the mask size comes from the *values* of orig_im_size.
void expect_sam_parity(const std::string& model, bool encoder, const std::set<std::string>& differs_from_torch = {}) {
  const std::string folder = data_path("onnx/sam/" + model);
  OnnxSession session = OnnxSession::load(folder + "/model.onnx");
  const auto feeds = read_npy_folder(folder + "/inputs");
  const auto ort = read_npy_folder(folder + "/expected_ort");
  const auto torch = read_npy_folder(folder + "/expected_torch");
  ASSERT_FALSE(ort.empty());
  for (int run = 1; run <= 2; ++run) {  // run 2 uses the plan with the shape arithmetic folded
    const auto got = session.run(feeds);
    for (const auto& [name, expected] : ort) {
      ASSERT_TRUE(got.count(name)) << model << ": no output " << name;
      const std::string what = model + " " + name + " run " + std::to_string(run);
      const auto d = expect_value_close(got.at(name), expected, 1e-4, what + " vs ORT");
      std::printf("%s: max diff %.2e of scale %.3g vs ORT", what.c_str(), d.max_abs, d.scale);
      if (!differs_from_torch.count(name)) {
        const auto t = expect_value_close(got.at(name), torch.at(name), 1e-4, what + " vs torch");
        std::printf(", %.2e vs torch", t.max_abs);
      }
      std::printf("\n");
    }
  }
  const OnnxRunStats& s = session.stats();
  std::printf("%s: nodes %lld in the model, %lld after load folding, %lld executed; peak activations %lld bytes\n",
              model.c_str(), static_cast<long long>(s.nodes_in_model), static_cast<long long>(s.nodes_after_load_folding),
              static_cast<long long>(s.nodes_executed), static_cast<long long>(s.peak_activation_bytes));
  EXPECT_LT(s.nodes_after_load_folding, s.nodes_in_model * (encoder ? 2 : 3) / (encoder ? 3 : 4))
      << "load folding removed too little";
  EXPECT_LT(s.nodes_executed, s.nodes_after_load_folding / 2) << "shape folding removed too little";
  if (encoder) {
    EXPECT_FALSE(s.seconds_per_op.count("Shape")) << "Shape nodes still run after the first run";
  }
}

TEST(OnnxRuntimeSam, VitEncoderMatchesOrtAndTorch) { expect_sam_parity("sam_vit_small_encoder", true); }
TEST(OnnxRuntimeSam, DecoderMatchesOrtAndTorch) { expect_sam_parity("sam_decoder_small", false); }
TEST(OnnxRuntimeSam, BakedCropDecoderMatchesOrt) { expect_sam_parity("sam_decoder_small_baked_crop", false, {"masks"}); }
TEST(OnnxRuntimeSam, Sam2HieraEncoderMatchesOrtAndTorch) { expect_sam_parity("sam2_hiera_small_encoder", true); }

// The decoder's shapes depend on input values (the mask size on orig_im_size) and on the prompt
// count: a second feed-shape set gets its own plan, and new orig_im_size values give new masks.
TEST(OnnxRuntimeSam, DecoderPlansPerShapeAndFollowsOrigImSize) {
  const std::string folder = data_path("onnx/sam/sam_decoder_small");
  OnnxSession session = OnnxSession::load(folder + "/model.onnx");
  auto feeds = read_npy_folder(folder + "/inputs");
  const auto first = session.run(feeds);
  // One prompt instead of two: the first prompt's outputs must be the same as before.
  auto one = feeds;
  for (const char* name : {"point_coords", "point_labels"}) {
    OnnxValue& v = one.at(name);
    const int64_t per_prompt = v.numel() / v.shape[0];
    v.shape[0] = 1;
    v.floats.resize(per_prompt);
  }
  const auto single = session.run(one);
  const OnnxValue& masks2 = first.at("masks");
  const OnnxValue& masks1 = single.at("masks");
  ASSERT_EQ(masks1.shape[0], 1);
  const OnnxValue head = OnnxValue::from_floats(masks1.shape, std::vector<float>(masks2.floats.begin(),
                                                                                 masks2.floats.begin() + masks1.numel()));
  expect_value_close(masks1, head, 1e-5, "masks of the first prompt, run alone");
  // Another image size: orig_im_size's values, not its shape, change the masks' shape.
  feeds.at("orig_im_size").floats = {40.0f, 50.0f};
  const auto resized = session.run(feeds);
  EXPECT_EQ(resized.at("masks").shape, (std::vector<int64_t>{2, 4, 40, 50}));
}

}  // namespace
}  // namespace microsr
