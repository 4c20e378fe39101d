// ncnn .param/.bin loading: a tiny model written here in ncnn's format (fp16 and fp32 weight
// tags) must come back as the same basicsr-named tensors; malformed pairs must be refused with a
// clear error. The real RealESRGAN_x4plus pair is checked for structure when it was fetched (its
// values are checked end to end by RealESRGANx4plus.MatchesPyTorchOnAMicrodiskImage).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#include "microsr/rrdbnet.h"
#include "test_helpers.h"

using namespace microsr;
using namespace microsr::testing;

namespace {

struct NcnnFiles {
  std::string param, bin;
};

// Writes `weights` (basicsr names, RRDBNet order) as an ncnn pair the way Real-ESRGAN's
// converter lays it out: Convolution layers in order with fused LeakyReLU where basicsr has one.
NcnnFiles write_ncnn(const StateDict& weights, const RRDBNetConfig& cfg, bool fp16, const std::string& stem) {
  const auto table = cfg.parameter_table();
  std::ostringstream layers;
  std::ofstream bin(stem + ".bin", std::ios::binary);
  int count = 0;
  for (std::size_t i = 0; i < table.size(); i += 2) {
    const std::string key = table[i].name.substr(0, table[i].name.size() - 7);
    const Tensor& w = weights.at(key + ".weight");
    const bool lrelu =
        key.starts_with("conv_up") || key == "conv_hr" || (key.starts_with("body.") && !key.ends_with("conv5"));
    if (key == "conv_up1" || key == "conv_up2") layers << "Interp up_" << key << " 1 1 a b 0=1 1=2.0 2=2.0\n", ++count;
    layers << "Convolution " << key << " 1 1 a b 0=" << w.dim(0) << " 1=3 4=1 5=1 6=" << w.numel()
           << (lrelu ? " 9=2 -23310=1,2.000000e-01" : "") << "\n";
    ++count;
    const uint32_t tag = fp16 ? 0x01306B47u : 0u;
    bin.write(reinterpret_cast<const char*>(&tag), 4);
    if (fp16) {
      std::vector<uint16_t> h(w.numel() + (w.numel() & 1), 0);
      for (int64_t j = 0; j < w.numel(); ++j) h[j] = float_to_half(w.f32()[j]);
      bin.write(reinterpret_cast<const char*>(h.data()), h.size() * 2);
    } else {
      bin.write(reinterpret_cast<const char*>(w.f32()), w.bytes());
    }
    const Tensor& b = weights.at(key + ".bias");
    bin.write(reinterpret_cast<const char*>(b.f32()), b.bytes());
  }
  std::ofstream param(stem + ".param");
  param << "7767517\n" << count << " " << count + 1 << "\n" << layers.str();
  return {stem + ".param", stem + ".bin"};
}

StateDict tiny_weights(RRDBNetConfig* cfg) {
  const StateDict w =
      microsr::testing::rrdbnet_weights_of(load_safetensors(data_path("rrdbnet/x4_f8_b2_g4.safetensors")));
  *cfg = infer_rrdbnet_config(w);
  return w;
}

TEST(Ncnn, LoadsFp32AndFp16Weights) {
  RRDBNetConfig cfg;
  const StateDict w = tiny_weights(&cfg);
  for (bool fp16 : {false, true}) {
    const NcnnFiles f = write_ncnn(w, cfg, fp16, temp_path(fp16 ? "f16" : "f32"));
    const StateDict loaded = load_ncnn_rrdbnet(f.param, f.bin);
    ASSERT_EQ(loaded.size(), w.size());
    for (const auto& [name, t] : w.entries) {
      const Tensor& got = loaded.at(name);
      ASSERT_EQ(got.shape(), t.shape()) << name;
      for (int64_t i = 0; i < t.numel(); ++i) {
        const float expected =
            fp16 && name.ends_with(".weight") ? half_to_float(float_to_half(t.f32()[i])) : t.f32()[i];
        ASSERT_EQ(got.f32()[i], expected) << name << "[" << i << "]";
      }
    }
    EXPECT_EQ(infer_rrdbnet_config(loaded).describe(), cfg.describe());
    // Either file of the pair names the model.
    EXPECT_EQ(load_rrdbnet_weights(f.bin).size(), w.size());
    std::remove(f.param.c_str());
    std::remove(f.bin.c_str());
  }
}

// Runs `mutate` on a fresh tiny pair and expects load_ncnn_rrdbnet to throw an Error whose
// message contains `expected_words`.
void expect_refused(const std::string& name, const std::function<void(NcnnFiles&)>& mutate,
                    const std::string& expected_words) {
  RRDBNetConfig cfg;
  const StateDict w = tiny_weights(&cfg);
  NcnnFiles f = write_ncnn(w, cfg, true, temp_path(name));
  mutate(f);
  try {
    load_ncnn_rrdbnet(f.param, f.bin);
    ADD_FAILURE() << name << ": a malformed pair was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected_words), std::string::npos) << name << ": message was: " << e.what();
  }
  std::remove(f.param.c_str());
  std::remove(f.bin.c_str());
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_all(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

TEST(Ncnn, RefusesMalformedPairs) {
  expect_refused(
      "truncated_bin",
      [](NcnnFiles& f) {
        std::string b = read_all(f.bin);
        write_all(f.bin, b.substr(0, b.size() - 100));
      },
      "truncated");
  expect_refused(
      "extra_bytes", [](NcnnFiles& f) { write_all(f.bin, read_all(f.bin) + "junk"); }, "bytes left");
  expect_refused(
      "bad_magic", [](NcnnFiles& f) { write_all(f.param, "1234\n" + read_all(f.param).substr(8)); }, "7767517");
  expect_refused(
      "missing_layer",
      [](NcnnFiles& f) {
        std::string p = read_all(f.param);
        const auto first = p.find("Convolution body.0.rdb1.conv2");
        p.erase(first, p.find('\n', first) - first + 1);
        write_all(f.param, p);
      },
      "layers");
  expect_refused(
      "wrong_activation",
      [](NcnnFiles& f) {
        std::string p = read_all(f.param);
        const auto at = p.find(" 9=2", p.find("Convolution body.0.rdb1.conv1"));
        p.replace(at, 4, " 9=1");
        write_all(f.param, p);
      },
      "LeakyReLU");
  expect_refused(
      "int8_tag",
      [](NcnnFiles& f) {
        std::string b = read_all(f.bin);
        const uint32_t tag = 0x000D4B38;
        std::memcpy(b.data(), &tag, 4);
        write_all(f.bin, b);
      },
      "quantised");
  expect_refused(
      "garbage_value",
      [](NcnnFiles& f) {
        std::string p = read_all(f.param);
        p.replace(p.find("0=8"), 3, "0=x");
        write_all(f.param, p);
      },
      "cannot read");
  expect_refused(
      "missing_file", [](NcnnFiles& f) { std::remove(f.bin.c_str()); }, "cannot open");
  // A layer type RRDBNet does not have is named with its line (issue 13, case 9).
  expect_refused(
      "unknown_layer",
      [](NcnnFiles& f) {
        std::string p = read_all(f.param);
        p.insert(p.find("Convolution body.0.rdb1.conv2"), "Deconvolution mystery_layer 1 1 a b 0=8\n");
        write_all(f.param, p);
      },
      "layer mystery_layer has type Deconvolution");
  // Found by tools/fuzz_and_sanitize.sh: a kernel of 2^31 - 1 overflowed num_output · kernel² (UBSan).
  expect_refused(
      "huge_kernel",
      [](NcnnFiles& f) {
        std::string p = read_all(f.param);
        p.replace(p.find(" 1=3", p.find("Convolution conv_first")), 4, " 1=2147483647");
        write_all(f.param, p);
      },
      "convolution conv_first has inconsistent sizes (num_output 8, kernel 2147483647");
}

TEST(Ncnn, RealESRGANx4plusStructure) {
  const std::string dir = models_dir();
  if (dir.empty() || !std::filesystem::exists(dir + "/realesrgan-x4plus.param"))
    GTEST_SKIP() << "the ncnn RealESRGAN_x4plus pair was not fetched (run tools/fetch_weights.sh)";
  const StateDict sd = load_ncnn_rrdbnet(dir + "/realesrgan-x4plus.param", dir + "/realesrgan-x4plus.bin");
  const RRDBNetConfig cfg = infer_rrdbnet_config(sd);
  EXPECT_EQ(cfg.num_block, 23);
  EXPECT_EQ(cfg.num_feat, 64);
  EXPECT_EQ(cfg.num_grow_ch, 32);
  EXPECT_EQ(cfg.parameter_count(), 16697987);
}

}  // namespace
