// to_basicsr_names: every RRDBNet naming maps onto basicsr's.
//
// The mapping tables are checked on the full-size Real-ESRGAN layout (23 blocks) written out here,
// and end to end on tiny models that real torch.save wrote under each naming
// (tools/make_weight_fixtures.py): all must become the same basicsr state dict, value for value.
#include <gtest/gtest.h>

#include "microsr/weights.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using namespace microsr::testing;

// A state dict with these names; tensor i holds the single value i, so renames can be followed.
StateDict named(const std::vector<std::string>& names) {
  StateDict sd;
  for (std::size_t i = 0; i < names.size(); ++i) {
    Tensor t = Tensor::empty({1});
    t.f32()[0] = static_cast<float>(i);
    sd.add(names[i], t);
  }
  return sd;
}

std::vector<std::string> names_of(const StateDict& sd) {
  std::vector<std::string> names;
  for (const auto& [name, _] : sd.entries) names.push_back(name);
  return names;
}

// Module paths of RRDBNet x4 with `blocks` blocks under the three namings.
struct Namings {
  std::vector<std::string> basicsr, esrgan2019, sequential;
};
Namings rrdbnet_names(int blocks) {
  Namings n;
  auto add = [&](const std::string& b, const std::string& e, const std::string& s) {
    for (const char* p : {".weight", ".bias"}) {
      n.basicsr.push_back(b + p);
      n.esrgan2019.push_back(e + p);
      n.sequential.push_back(s + p);
    }
  };
  add("conv_first", "conv_first", "model.0");
  for (int b = 0; b < blocks; ++b)
    for (int k = 1; k <= 3; ++k)
      for (int j = 1; j <= 5; ++j) {
        const std::string tail = "." + std::to_string(b) + ".", kj = std::to_string(k) + ".conv" + std::to_string(j);
        add("body" + tail + "rdb" + kj, "RRDB_trunk" + tail + "RDB" + kj, "model.1.sub" + tail + "RDB" + kj + ".0");
      }
  add("conv_body", "trunk_conv", "model.1.sub." + std::to_string(blocks));
  add("conv_up1", "upconv1", "model.3");
  add("conv_up2", "upconv2", "model.6");
  add("conv_hr", "HRconv", "model.8");
  add("conv_last", "conv_last", "model.10");
  return n;
}

TEST(WeightNames, RealEsrganLayoutUnderEveryNaming) {
  const Namings n = rrdbnet_names(23);
  ASSERT_EQ(n.basicsr.size(), 2u * (1 + 23 * 15 + 5));
  EXPECT_EQ(names_of(to_basicsr_names(named(n.basicsr))), n.basicsr);  // unchanged
  EXPECT_EQ(names_of(to_basicsr_names(named(n.esrgan2019))), n.basicsr);
  EXPECT_EQ(names_of(to_basicsr_names(named(n.sequential))), n.basicsr);
  // Spot checks of the tables themselves, written out literally.
  const StateDict seq = to_basicsr_names(named({"model.1.sub.0.RDB1.conv1.0.weight", "model.1.sub.22.RDB3.conv5.0.bias",
                                                "model.1.sub.23.weight", "model.10.bias"}));
  EXPECT_EQ(names_of(seq), (std::vector<std::string>{"body.0.rdb1.conv1.weight", "body.22.rdb3.conv5.bias",
                                                     "conv_body.weight", "conv_last.bias"}));
  const StateDict old = to_basicsr_names(named({"RRDB_trunk.7.RDB2.conv4.weight", "HRconv.bias"}));
  EXPECT_EQ(names_of(old), (std::vector<std::string>{"body.7.rdb2.conv4.weight", "conv_hr.bias"}));
}

TEST(WeightNames, TensorsFollowTheirNames) {
  const StateDict out = to_basicsr_names(named({"upconv2.weight", "trunk_conv.bias"}));
  EXPECT_EQ(out.at("conv_up2.weight").f32()[0], 0.f);
  EXPECT_EQ(out.at("conv_body.bias").f32()[0], 1.f);
}

TEST(WeightNames, StripsModulePrefixes) {
  EXPECT_EQ(
      names_of(to_basicsr_names(named({"module.conv_first.weight", "module.module.RRDB_trunk.0.RDB1.conv1.bias"}))),
      (std::vector<std::string>{"conv_first.weight", "body.0.rdb1.conv1.bias"}));
}

TEST(WeightNames, UnknownKeysAreListed) {
  try {
    to_basicsr_names(named({"conv_first.weight", "encoder.weight", "body.0.rdb4.conv1.weight",
                            "body.0.rdb1.conv6.weight", "conv_first.running_mean", "body.01.rdb1.conv1.bias"}));
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const char* key : {"'encoder.weight'", "'body.0.rdb4.conv1.weight'", "'body.0.rdb1.conv6.weight'",
                            "'conv_first.running_mean'", "'body.01.rdb1.conv1.bias'"})
      EXPECT_NE(msg.find(key), std::string::npos) << key << " missing from: " << msg;
    EXPECT_NE(msg.find("5 key(s)"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("'conv_first.weight'"), std::string::npos) << msg;
  }
}

TEST(WeightNames, SequentialTrunkConvMustFollowTheLastBlock) {
  // Two blocks (0, 1): conv_body is model.1.sub.2; model.1.sub.5 is not a known parameter.
  const Namings n = rrdbnet_names(2);
  StateDict sd = named(n.sequential);
  sd.add("model.1.sub.5.weight", Tensor::zeros({1}));
  EXPECT_THROW(to_basicsr_names(sd), Error);
}

TEST(WeightNames, TwoKeysOntoOneNameIsAnError) {
  EXPECT_THROW(to_basicsr_names(named({"conv_body.weight", "trunk_conv.weight"})), Error);
  EXPECT_THROW(to_basicsr_names(named({"conv_hr.bias", "module.conv_hr.bias"})), Error);
}

TEST(WeightNames, AllTorchSavedNamingsGiveTheSameModel) {
  const StateDict reference = load_pth(fixture("tiny_basicsr_params_ema.pth"));
  for (const char* file :
       {"tiny_esrgan2019.pth", "tiny_sequential.pth", "tiny_module_state_dict.pth", "tiny_fp16.pth"}) {
    const StateDict sd = to_basicsr_names(load_pth(fixture(file)));
    ASSERT_EQ(names_of(sd), names_of(reference)) << file;
    for (std::size_t i = 0; i < sd.size(); ++i) {
      const Tensor& a = sd.entries[i].second;
      const Tensor& b = reference.entries[i].second;
      ASSERT_EQ(a.shape(), b.shape()) << file << " " << sd.entries[i].first;
      EXPECT_TRUE(std::equal(a.f32(), a.f32() + a.numel(), b.f32())) << file << " " << sd.entries[i].first;
    }
  }
}

}  // namespace
}  // namespace microsr
