// NaN and Inf never become a black image that is written as if it were fine (issue 13, case 1):
// weights holding them are refused at load, whatever the file format, naming the tensor; a
// forward pass whose output overflows fails that image with a message, on every backend.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "microsr/upscale.h"
#include "microsr/weights.h"
#include "test_helpers.h"

using namespace microsr;
using namespace microsr::testing;

namespace {

StateDict tiny_weights() { return rrdbnet_weights_of(load_safetensors(data_path("rrdbnet/x4_f8_b2_g4.safetensors"))); }

Tensor& entry(StateDict& sd, const std::string& name) {
  for (auto& [key, t] : sd.entries)
    if (key == name) return t;
  throw Error("no " + name);
}

TEST(NonFinite, WeightsWithNanOrInfAreRefusedAtLoadInEveryFormat) {
  const std::string bad = "body.1.rdb2.conv3.weight";
  for (const float value : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    StateDict w = tiny_weights();
    Tensor& t = entry(w, bad);
    t = t.clone();  // the fixture's storage is shared; poison a copy
    t.f32()[7] = value;
    t.f32()[9] = -value;
    for (const std::string ext : {".safetensors", ".pth"}) {
      const std::string path = temp_path("poisoned" + ext);
      if (ext == ".pth")
        save_pth(path, w, "params_ema");
      else
        save_safetensors(path, w);
      expect_error([&] { load_rrdbnet_weights(path); }, "tensor " + bad);
      expect_error([&] { load_rrdbnet_weights(path); }, "2 NaN or infinite value(s), the first at index 7");
      std::filesystem::remove(path);
    }
  }
  // The same weights, finite, load.
  const std::string path = temp_path("finite.safetensors");
  save_safetensors(path, tiny_weights());
  EXPECT_NO_THROW(load_rrdbnet_weights(path));
  std::filesystem::remove(path);
}

TEST(NonFinite, HalfAndBfloat16TensorsAreJudgedByTheirBits) {
  for (DType dtype : {DType::f16, DType::bf16}) {
    StateDict sd;
    Tensor t = Tensor::zeros({4}, dtype);
    t.data<uint16_t>()[2] = dtype == DType::f16 ? 0x3C00 : 0x3F80;  // 1.0: fine
    sd.add("conv_first.weight", t);
    EXPECT_NO_THROW(check_weights_finite(sd, "half"));
    t.data<uint16_t>()[3] = dtype == DType::f16 ? 0xFC00 : 0xFF80;  // -Inf
    expect_error([&] { check_weights_finite(sd, "half"); }, "the first at index 3");
  }
}

// Large tensors are counted on every core (an upscaled image is checked whole): the count and
// the first index stay exact wherever the bad values fall, including the very last element,
// and every kind of non-finite value counts while the largest finite ones do not.
TEST(NonFinite, LargeTensorsAreCountedExactly) {
  const int64_t n = 3'000'001;  // above the parallel threshold, odd so the chunks are uneven
  Tensor t = Tensor::zeros({n});
  t.f32()[0] = std::numeric_limits<float>::max();
  t.f32()[1] = -std::numeric_limits<float>::max();
  t.f32()[2] = std::numeric_limits<float>::denorm_min();
  EXPECT_EQ(find_non_finite(t).count, 0);
  EXPECT_EQ(find_non_finite(t).first, -1);
  t.f32()[n - 1] = std::numeric_limits<float>::quiet_NaN();
  t.f32()[2'000'001] = -std::numeric_limits<float>::infinity();
  t.f32()[1'500'000] = std::numeric_limits<float>::infinity();
  t.f32()[999'999] = -std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(find_non_finite(t).count, 4);
  EXPECT_EQ(find_non_finite(t).first, 999'999);

  Tensor h = Tensor::zeros({n}, DType::f16);
  h.data<uint16_t>()[5] = 0x7BFF;          // 65504, the largest finite half
  h.data<uint16_t>()[n - 1] = 0x7E00;      // NaN
  h.data<uint16_t>()[1'234'567] = 0xFC00;  // -Inf
  EXPECT_EQ(find_non_finite(h).count, 2);
  EXPECT_EQ(find_non_finite(h).first, 1'234'567);
}

TEST(NonFinite, AnOverflowingForwardPassFailsTheImageInsteadOfWritingBlack) {
  // Finite weights, scaled so that the activations overflow float32 on any non-zero input.
  StateDict w = tiny_weights();
  for (auto& [name, t] : w.entries) {
    t = t.clone();
    if (name.ends_with(".weight"))
      for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] *= 1e30f;
  }
  auto backend = make_cpu_backend();
  RRDBNet net(infer_rrdbnet_config(w), w, *backend);
  Image in;
  in.width = 12, in.height = 9, in.channels = 3;
  in.pixels.assign(std::size_t(12) * 9 * 3, 0.5f);
  UpscaleOptions opt;
  opt.tiles.tile = 6;  // four tiles: the message names the first bad one
  expect_error([&] { upscale_image(net, *backend, in, opt); },
               "NaN or infinite value(s) for the tile at input rows 0-");
}

}  // namespace
