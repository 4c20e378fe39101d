// safetensors loading and saving.
//
// Fixtures: tests/data/weights/*.safetensors, written by the real `safetensors` package through
// tools/make_weight_fixtures.py. Values are checked exactly (tolerance 0): closed forms for the
// special values and the pattern ((37 i + 11 t) mod 255 - 127) / 128, and, for the tiny model,
// equality with the same model saved by torch.save (read by load_pth, itself checked against the
// closed form in test_pth.cpp). Saved files are read back by the real package through
// tools/check_saved_pth.py when `python3` has safetensors installed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>

#include "microsr/weights.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using namespace microsr::testing;

TEST(SafetensorsLoad, TinyModelEqualsTheTorchSavedOne) {
  const StateDict st = load_safetensors(fixture("tiny_basicsr.safetensors"));
  const StateDict pth = load_pth(fixture("tiny_basicsr_params_ema.pth"));
  ASSERT_EQ(st.size(), pth.size());
  for (const auto& [name, tensor] : pth.entries) {
    const Tensor* other = st.find(name);
    ASSERT_NE(other, nullptr) << name;
    EXPECT_EQ(other->shape(), tensor.shape()) << name;
    EXPECT_EQ(values(*other), values(tensor)) << name;
  }
  EXPECT_EQ(st.at("conv_first.weight").f32()[5], pattern(0, 5));
}

TEST(SafetensorsLoad, WidensF16AndBF16Exactly) {
  const StateDict sd = load_safetensors(fixture("mixed_dtypes.safetensors"));
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(values(sd.at("f16_specials")),
            (std::vector<float>{65504.f, -65504.f, 0x1p-24f, 0x1p-14f, -0.f, inf, -inf, 0x1.554p-2f}));
  EXPECT_TRUE(std::signbit(sd.at("f16_specials").f32()[4]));
  EXPECT_EQ(values(sd.at("bf16_values")), (std::vector<float>{1.f, -2.5f, 0x1.56p-2f, 0x1p-130f, 0x1.c4p+127f}));
  EXPECT_EQ(values(sd.at("f32_matrix")), (std::vector<float>{-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f}));
  EXPECT_EQ(sd.at("f32_matrix").shape(), (Shape{2, 3}));
  const Tensor& f16 = sd.at("f16_pattern");
  const Tensor& bf16 = sd.at("bf16_pattern");
  ASSERT_EQ(f16.shape(), (Shape{3, 4}));
  ASSERT_EQ(bf16.shape(), (Shape{2, 2, 3}));
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(f16.f32()[i], pattern(0, i)) << i;
    EXPECT_EQ(bf16.f32()[i], pattern(1, i)) << i;
  }
  EXPECT_EQ(sd.at("scalar").shape(), Shape{});
  EXPECT_EQ(sd.at("scalar").f32()[0], -1.25f);
  // File order is data order; the real writer puts the 4-byte types first.
  EXPECT_EQ(sd.entries.front().first, "f32_matrix");
}

TEST(SafetensorsSave, RoundTripsInOrder) {
  StateDict sd = load_pth(fixture("tiny_basicsr_params_ema.pth"));
  sd.add("scalar", Tensor::zeros({}));
  sd.add("empty", Tensor::zeros({0, 5}));
  sd.add("needs \"escaping\"\n", Tensor::zeros({1}));
  const std::string path = temp_path("roundtrip.safetensors");
  save_safetensors(path, sd);
  const std::vector<uint8_t> bytes = read_bytes(path);
  EXPECT_EQ(bytes[0] % 8, 0);  // header padded with spaces so the data start 8-byte aligned
  const StateDict back = load_safetensors(path);
  ASSERT_EQ(back.size(), sd.size());
  for (std::size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ(back.entries[i].first, sd.entries[i].first);
    EXPECT_EQ(back.entries[i].second.shape(), sd.entries[i].second.shape());
    EXPECT_EQ(values(back.entries[i].second), values(sd.entries[i].second));
  }
  std::remove(path.c_str());
}

TEST(SafetensorsSave, RealPackageReadsOurFile) {
  const std::string path = temp_path("for_package.safetensors");
  save_safetensors(path, load_safetensors(fixture("tiny_basicsr.safetensors")));
  if (std::system("python3 -c 'import safetensors.numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with the safetensors package not found (pip install safetensors numpy)";
  const std::string cmd = "python3 " MICROSR_SOURCE_DIR "/tools/check_saved_pth.py --safetensors " + path + " " +
                          fixture("tiny_basicsr.safetensors");
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::remove(path.c_str());
}

TEST(SafetensorsSave, RejectsDuplicateNamesAndOtherDtypes) {
  StateDict twice;
  twice.add("a", Tensor::zeros({1}));
  twice.add("a", Tensor::zeros({1}));
  expect_error([&] { save_safetensors(temp_path("dup.safetensors"), twice); }, "reserved or repeated");
  StateDict half;
  half.add("h", Tensor::zeros({1}, DType::f16));
  expect_error([&] { save_safetensors(temp_path("f16.safetensors"), half); }, "must be f32");
}

// ---- malformed files --------------------------------------------------------------------------

// [u64 length][header][data] with the length field set to `declared` (default: the true length).
std::string write_raw(const std::string& name, const std::string& header, std::size_t data_bytes,
                      uint64_t declared = UINT64_MAX) {
  const uint64_t length = declared == UINT64_MAX ? header.size() : declared;
  std::vector<uint8_t> bytes(8);
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(length >> (8 * i));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.resize(bytes.size() + data_bytes, 0);
  const std::string path = temp_path(name);
  write_bytes(path, bytes);
  return path;
}

TEST(SafetensorsMalformed, HeaderProblems) {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_EQ(load_safetensors(write_raw("ok.st", ok, 8)).at("a").shape(), Shape{2});
  expect_error(
      [] {
        write_bytes(temp_path("tiny.st"), {1, 2, 3});
        load_safetensors(temp_path("tiny.st"));
      },
      "header length is missing");
  expect_error([&] { load_safetensors(write_raw("past_eof.st", ok, 8, 1000)); }, "runs past the end");
  expect_error([&] { load_safetensors(write_raw("huge_len.st", ok, 8, UINT64_MAX - 1)); }, "runs past the end");
  expect_error([] { load_safetensors(write_raw("garbage.st", "{\"a\": nonsense}", 0)); }, "invalid JSON");
  expect_error([] { load_safetensors(write_raw("trailing_comma.st", "{\"a\":{},}", 0)); }, "invalid JSON");
  expect_error([] { load_safetensors(write_raw("not_object.st", "[1, 2]", 0)); }, "does not start with '{'");
  expect_error([] { load_safetensors(write_raw("deep.st", "{\"a\":" + std::string(5000, '['), 0)); },
               "nesting deeper than 64");
  expect_error(
      [] {
        load_safetensors(write_raw("dup.st", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{}})", 0));
      },
      "duplicate key");
  expect_error([] { load_safetensors(write_raw("meta.st", R"({"__metadata__":{"k":1}})", 0)); }, "must be a string");
  expect_error(
      [] {
        load_safetensors(
            write_raw("unknown_field.st", R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4],"x":1}})", 4));
      },
      "unknown field 'x'");
}

TEST(SafetensorsMalformed, TensorProblems) {
  auto one = [](const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return R"({"t":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}";
  };
  expect_error([&] { load_safetensors(write_raw("f64.st", one("F64", "[1]", "[0,8]"), 8)); },
               "dtype F64; only F32, F16 and BF16");
  expect_error([&] { load_safetensors(write_raw("size.st", one("F16", "[3]", "[0,8]"), 8)); },
               "needs 6 bytes but data_offsets span 8");
  expect_error([&] { load_safetensors(write_raw("range.st", one("F32", "[2]", "[0,8]"), 4)); },
               "the data section holds 4 bytes");
  expect_error([&] { load_safetensors(write_raw("neg.st", one("F32", "[-1]", "[0,0]"), 0)); }, "non-negative integers");
  expect_error([&] { load_safetensors(write_raw("frac.st", one("F32", "[1.5]", "[0,6]"), 6)); },
               "non-negative integers");
  expect_error([&] { load_safetensors(write_raw("reversed.st", one("F32", "[0]", "[8,4]"), 8)); }, "begin <= end");
  expect_error([&] { load_safetensors(write_raw("overflow.st", one("F32", "[2305843009213693952,4]", "[0,0]"), 0)); },
               "shape too large");
  expect_error([&] { load_safetensors(write_raw("hole.st", one("F32", "[1]", "[4,8]"), 8)); },
               "4 unused bytes before tensor 't'");
  expect_error([&] { load_safetensors(write_raw("tail.st", one("F32", "[1]", "[0,4]"), 12)); },
               "8 bytes after the last tensor");
  const std::string overlap =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  expect_error([&] { load_safetensors(write_raw("overlap.st", overlap, 8)); }, "overlaps 'a'");
}

TEST(SafetensorsMalformed, EveryTruncationAndByteFlipIsHandled) {
  const std::vector<uint8_t> bytes = read_bytes(fixture("mixed_dtypes.safetensors"));
  const std::string path = temp_path("fuzz.safetensors");
  for (std::size_t n = 0; n < bytes.size(); n += fuzz_stride(3)) {
    write_bytes(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + n));
    EXPECT_THROW(load_safetensors(path), Error) << "truncated to " << n;
  }
  for (std::size_t i = 0; i < bytes.size(); i += fuzz_stride(3)) {
    std::vector<uint8_t> bad = bytes;
    bad[i] ^= 0x5a;
    write_bytes(path, bad);
    try {
      load_safetensors(path);  // a flip inside tensor data still loads; anything else must throw
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace microsr
