// PyTorch .pth loading and saving.
//
// Fixtures: tests/data/weights/*.pth, written by real torch.save (and Python's zipfile for the
// malicious and deflated ones) by tools/make_weight_fixtures.py. Their values follow a closed
// form (below) that this file recomputes, so every comparison is exact (tolerance 0: float32,
// float16 and bfloat16 all represent the pattern exactly, and widening is exact).
// Saved files are checked by real torch.load through tools/check_saved_pth.py when
// /usr/bin/python3 has torch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "io/pickle_reader.h"
#include "io/zip_archive.h"
#include "microsr/weights.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using namespace microsr::testing;

using namespace std::string_literals;  // pickles below contain NUL bytes

// The tiny RRDBNet of make_weight_fixtures.py (in 3, out 3, num_feat 4, grow 2, 2 blocks), in
// basicsr's order, written out here independently of the script.
std::vector<std::pair<std::string, Shape>> tiny_basicsr_layout() {
  const int64_t feat = 4, grow = 2;
  std::vector<std::pair<std::string, Shape>> layout;
  auto conv = [&](const std::string& name, int64_t cout, int64_t cin) {
    layout.push_back({name + ".weight", {cout, cin, 3, 3}});
    layout.push_back({name + ".bias", {cout}});
  };
  conv("conv_first", feat, 3);
  for (int b = 0; b < 2; ++b)
    for (int r = 1; r <= 3; ++r)
      for (int j = 1; j <= 5; ++j)
        conv("body." + std::to_string(b) + ".rdb" + std::to_string(r) + ".conv" + std::to_string(j),
             j == 5 ? feat : grow, feat + (j - 1) * grow);
  for (const char* name : {"conv_body", "conv_up1", "conv_up2", "conv_hr"}) conv(name, feat, feat);
  conv("conv_last", 3, feat);
  return layout;
}

// Checks names (in order), shapes and every value of the tiny model; `sign` -1 for "params".
void expect_tiny_basicsr(const StateDict& sd, float sign = 1.0f) {
  const auto layout = tiny_basicsr_layout();
  ASSERT_EQ(sd.size(), layout.size());
  for (std::size_t t = 0; t < layout.size(); ++t) {
    const auto& [name, tensor] = sd.entries[t];
    ASSERT_EQ(name, layout[t].first);
    ASSERT_EQ(tensor.shape(), layout[t].second) << name;
    const float* v = tensor.f32();
    for (int64_t i = 0; i < tensor.numel(); ++i) ASSERT_EQ(v[i], sign * pattern(t, i)) << name << " element " << i;
  }
}

// ---- torch files --------------------------------------------------------------------------------

TEST(PthLoad, PrefersParamsEmaOverParams) {
  expect_tiny_basicsr(load_pth(fixture("tiny_basicsr_params_ema.pth")));  // "params" holds -pattern
}

// A fine-tuned file holds both sets; `upscale --weights params|params_ema` picks one by name.
TEST(PthLoad, AWeightGroupCanBeChosenByName) {
  const std::string path = fixture("tiny_basicsr_params_ema.pth");
  expect_tiny_basicsr(load_pth(path, "params_ema"));
  expect_tiny_basicsr(load_pth(path, "params"), -1.0f);  // the fixture's "params" holds -pattern
  testing::expect_error([&] { load_pth(path, "model"); }, "no weight group 'model' (it has: params, params_ema)");
  testing::expect_error([&] { load_pth(fixture("tiny_fp16.pth"), "params"); }, "one unnamed state dict");
  testing::expect_error([&] { load_rrdbnet_weights(fixture("tiny_basicsr.safetensors"), "params"); },
                        "only a .pth file holds named weight groups");
}

TEST(PthLoad, KeepsStoredNamesOfEveryNaming) {
  const StateDict esrgan = load_pth(fixture("tiny_esrgan2019.pth"));
  EXPECT_EQ(esrgan.entries.front().first, "conv_first.weight");
  EXPECT_NE(esrgan.find("RRDB_trunk.1.RDB3.conv5.bias"), nullptr);
  EXPECT_NE(esrgan.find("HRconv.weight"), nullptr);
  const StateDict sequential = load_pth(fixture("tiny_sequential.pth"));
  EXPECT_NE(sequential.find("model.1.sub.0.RDB1.conv1.0.weight"), nullptr);
  EXPECT_NE(sequential.find("model.1.sub.2.bias"), nullptr);  // conv_body after 2 blocks
  EXPECT_NE(sequential.find("model.10.weight"), nullptr);
  expect_tiny_basicsr(to_basicsr_names(esrgan));
  expect_tiny_basicsr(to_basicsr_names(sequential));
}

TEST(PthLoad, UnwrapsStateDictOfATrainingCheckpoint) {
  // The checkpoint also holds ints, floats, a 2^40 int, lists, None, bools and tuples.
  const StateDict sd = load_pth(fixture("tiny_module_state_dict.pth"));
  EXPECT_EQ(sd.entries.front().first, "module.conv_first.weight");
  expect_tiny_basicsr(to_basicsr_names(sd));
}

TEST(PthLoad, WidensFloat16Exactly) { expect_tiny_basicsr(load_pth(fixture("tiny_fp16.pth"))); }

class PthSpecialTensors : public ::testing::TestWithParam<const char*> {};

TEST_P(PthSpecialTensors, WidenedAndStridedValuesAreExact) {
  const StateDict sd = load_pth(fixture(GetParam()));
  const float inf = std::numeric_limits<float>::infinity();
  // float16: max, -max, smallest subnormal 2^-24, smallest normal 2^-14, -0, ±inf, 1/3 -> 0x3555.
  EXPECT_EQ(values(sd.at("f16_specials")),
            (std::vector<float>{65504.f, -65504.f, 0x1p-24f, 0x1p-14f, -0.f, inf, -inf, 0x1.554p-2f}));
  EXPECT_TRUE(std::signbit(sd.at("f16_specials").f32()[4]));
  // bfloat16: 1/3 -> 0x3eab, 2^-130 (subnormal) and 3e38 -> 0x7f62 = 0x1.c4p+127.
  EXPECT_EQ(values(sd.at("bf16_values")), (std::vector<float>{1.f, -2.5f, 0x1.56p-2f, 0x1p-130f, 0x1.c4p+127f}));
  // Views of base[r][c] = 6 r + c (a 4x6 arange): transposed, sliced at an offset, one row.
  const Tensor& transposed = sd.at("transposed");
  ASSERT_EQ(transposed.shape(), (Shape{6, 4}));
  for (int c = 0; c < 6; ++c)
    for (int r = 0; r < 4; ++r) EXPECT_EQ(transposed.f32()[c * 4 + r], 6 * r + c);
  EXPECT_EQ(sd.at("sliced").shape(), (Shape{2, 3}));
  EXPECT_EQ(values(sd.at("sliced")), (std::vector<float>{8, 9, 10, 14, 15, 16}));
  EXPECT_EQ(values(sd.at("shared_row")), (std::vector<float>{18, 19, 20, 21, 22, 23}));
  EXPECT_EQ(sd.at("scalar").shape(), Shape{});
  EXPECT_EQ(sd.at("scalar").f32()[0], 3.5f);
  EXPECT_EQ(sd.at("empty").shape(), (Shape{0, 3}));
}

INSTANTIATE_TEST_SUITE_P(Pth, PthSpecialTensors,                             // "Pth/..." so --gtest_filter=Pth* runs it
                         ::testing::Values("special_tensors.pth",            // pickle protocol 2
                                           "special_tensors_protocol4.pth",  // STACK_GLOBAL, FRAME
                                           "special_tensors_deflated.pth"));  // deflated entries

TEST(PthLoad, RefusesPicklesThatWouldRunCode) {
  expect_error([] { load_pth(fixture("malicious_os_system.pth")); },
               "refusing to unpickle 'os.system' — only tensors and containers are allowed");
  expect_error([] { load_pth(fixture("malicious_eval_protocol4.pth")); }, "refusing to unpickle 'builtins.eval'");
}

TEST(PthStateDict, AtNamesTheMissingKey) {
  StateDict sd;
  sd.add("a", Tensor::zeros({1}));
  EXPECT_EQ(sd.find("b"), nullptr);
  EXPECT_EQ(&sd.at("a"), sd.find("a"));
  expect_error([&] { sd.at("conv_first.weight"); }, "no tensor 'conv_first.weight'");
}

// ---- saving -----------------------------------------------------------------------------------

bool have_torch_python() { return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0; }

TEST(PthSave, RoundTripsWithAndWithoutWrapper) {
  const StateDict original = load_pth(fixture("tiny_basicsr_params_ema.pth"));
  for (const std::string wrapper : {"", "params_ema", "params"}) {
    const std::string path = temp_path("roundtrip_" + wrapper + ".pth");
    save_pth(path, original, wrapper);
    expect_tiny_basicsr(load_pth(path));
    // Every stored tensor's data starts on a 64-byte boundary, as torch's writer places them.
    const std::vector<uint8_t> bytes = read_bytes(path);
    io::ZipReader zip(path);
    for (const io::ZipEntry& e : zip.entries()) {
      const uint64_t h = e.local_header_offset;
      const uint64_t data = h + 30 + (bytes[h + 26] | bytes[h + 27] << 8) + (bytes[h + 28] | bytes[h + 29] << 8);
      EXPECT_EQ(data % 64, 0u) << e.name;
    }
    std::remove(path.c_str());
  }
}

TEST(PthSave, TorchLoadReadsOurFile) {
  const std::string path = temp_path("for_torch.pth");
  save_pth(path, load_pth(fixture("tiny_basicsr_params_ema.pth")), "params_ema");
  if (!have_torch_python()) GTEST_SKIP() << "/usr/bin/python3 with torch not found; round trip only";
  const std::string cmd = "/usr/bin/python3 " MICROSR_SOURCE_DIR "/tools/check_saved_pth.py " + path + " " +
                          fixture("tiny_basicsr_params_ema.pth") +
                          " --wrapper params_ema --reference-wrapper params_ema";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::remove(path.c_str());
}

TEST(PthSave, RefusesNonFloat32Tensors) {
  StateDict sd;
  sd.add("half", Tensor::zeros({2}, DType::f16));
  expect_error([&] { save_pth(temp_path("f16.pth"), sd); }, "must be f32");
}

// ---- malformed archives and pickles -----------------------------------------------------------

TEST(PthMalformed, RejectsNonZipFiles) {
  const std::string path = temp_path("not_zip.pth");
  write_bytes(path, {0x80, 0x02, 'N', '.'});  // too short to be a ZIP archive at all
  expect_error([&] { load_pth(path); }, "not a ZIP archive");
  expect_error([] { load_pth(fixture("no_such_file.pth")); }, "cannot open");
  // A bare pickle long enough to hold an end record: what torch.save wrote before PyTorch 1.6.
  const uint8_t magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  std::vector<uint8_t> legacy(200, 'N');
  std::copy(std::begin(magic), std::end(magic), legacy.begin());
  write_bytes(path, legacy);
  expect_error([&] { load_pth(path); }, "before PyTorch 1.6");
  write_bytes(path, std::vector<uint8_t>(200, 'x'));
  expect_error([&] { load_pth(path); }, "not a ZIP archive (200 bytes");
}

// A .pth cut short (an interrupted copy) is called that, not an old PyTorch format (issue 13,
// case 9).
TEST(PthMalformed, ATruncatedArchiveSaysSo) {
  const std::vector<uint8_t> bytes = read_bytes(fixture("tiny_fp16.pth"));
  const std::string path = temp_path("cut.pth");
  write_bytes(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2));
  try {
    load_pth(path);
    ADD_FAILURE() << "a half .pth loaded";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("truncated or damaged ZIP archive"), std::string::npos) << message;
    EXPECT_EQ(message.find("PyTorch"), std::string::npos) << message;
  }
}

TEST(PthMalformed, EveryTruncationThrowsError) {
  const std::vector<uint8_t> bytes = read_bytes(fixture("special_tensors.pth"));
  const std::string path = temp_path("truncated.pth");
  for (std::size_t n = 0; n < bytes.size(); n += fuzz_stride(7)) {
    write_bytes(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + n));
    EXPECT_THROW(load_pth(path), Error) << "truncated to " << n << " bytes";
  }
}

TEST(PthMalformed, CorruptedBytesThrowErrorOrLoad) {
  // Flip every byte in turn: the result must be a clean Error or a successful load, never a crash
  // (run under -fsanitize=address to check for out-of-bounds reads).
  const std::vector<uint8_t> bytes = read_bytes(fixture("special_tensors_protocol4.pth"));
  const std::string path = temp_path("flipped.pth");
  int errors = 0, tries = 0;
  for (std::size_t i = 0; i < bytes.size(); i += fuzz_stride(5), ++tries) {
    std::vector<uint8_t> bad = bytes;
    bad[i] ^= 0x5a;
    write_bytes(path, bad);
    try {
      load_pth(path);
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, tries / 2);  // CRCs catch every change to the data
}

TEST(PthMalformed, BadCentralDirectoryOffsets) {
  // torch.save always writes ZIP64 end records: [ZIP64 end (56)][locator (20)][end record (22)].
  const std::vector<uint8_t> bytes = read_bytes(fixture("tiny_fp16.pth"));
  const std::size_t locator = bytes.size() - 22 - 20;
  ASSERT_EQ(bytes[locator], 0x50);  // "PK\x06\x07"
  ASSERT_EQ(bytes[locator + 2], 0x06);
  ASSERT_EQ(bytes[locator + 3], 0x07);
  const std::size_t zip64_end = locator - 56;

  std::vector<uint8_t> bad = bytes;
  bad.at(zip64_end + 48 + 5) = 0x7f;  // ZIP64 central directory offset far past the end
  write_bytes(temp_path("bad_cd.pth"), bad);
  expect_error([] { load_pth(temp_path("bad_cd.pth")); }, "central directory");

  bad = bytes;
  bad.at(locator + 8) ^= 0x10;  // locator points somewhere that is not a ZIP64 end record
  write_bytes(temp_path("bad_locator.pth"), bad);
  expect_error([] { load_pth(temp_path("bad_locator.pth")); }, "ZIP64");

  bad = bytes;
  bad.at(zip64_end + 32) = 0xff;  // claims 255+ entries in the same directory
  write_bytes(temp_path("bad_count.pth"), bad);
  expect_error([] { load_pth(temp_path("bad_count.pth")); }, "entries cannot fit");
}

// A torch-layout archive around a hand-written pickle, plus storage "0" of `storage_bytes`.
std::string archive_with_pickle(const std::string& name, const std::string& pickle, std::size_t storage_bytes = 16,
                                const std::string& byteorder = "") {
  const std::string path = temp_path(name);
  io::ZipWriter zip(path);
  zip.add("archive/data.pkl", pickle.data(), pickle.size());
  if (!byteorder.empty()) zip.add("archive/byteorder", byteorder.data(), byteorder.size());
  const std::vector<uint8_t> storage(storage_bytes, 0);
  zip.add("archive/data/0", storage.data(), storage.size());
  zip.add("archive/version", "3\n", 2);
  zip.finish();
  return path;
}

// Pickle text of {"w": tensor(shape, stride) on FloatStorage "0"} (protocol 2; shape and stride
// as BININT1 values).
std::string tensor_pickle(std::vector<uint8_t> shape, std::vector<uint8_t> stride, uint8_t offset = 0) {
  std::string p = "\x80\x02}X\x01\x00\x00\x00w"s;
  p += "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
       "ctorch\nFloatStorage\n"
       "X\x01\x00\x00\x00"
       "0X\x03\x00\x00\x00"
       "cpuK\x04tQK"s;
  p += static_cast<char>(offset);
  p += '(';
  for (uint8_t d : shape) p += std::string("K") + static_cast<char>(d);
  p += "t(";
  for (uint8_t s : stride) p += std::string("K") + static_cast<char>(s);
  p += "t\x89}tRs.";
  return p;
}

TEST(PthMalformed, HandWrittenPicklesAreValidated) {
  // Sanity: the hand-written pickle itself loads.
  EXPECT_EQ(load_pth(archive_with_pickle("ok.pth", tensor_pickle({2, 2}, {2, 1}))).at("w").shape(), (Shape{2, 2}));
  expect_error(
      [] {
        load_pth(archive_with_pickle("oob.pth", tensor_pickle({3, 2}, {2, 1})));
      },
      "needs element 5 but its storage holds 4");
  expect_error([] { load_pth(archive_with_pickle("offset.pth", tensor_pickle({4}, {1}, 1))); }, "needs element 4");
  expect_error(
      [] {
        load_pth(archive_with_pickle("expand.pth", tensor_pickle({200, 200, 3}, {0, 0, 1})));
      },
      "overlapping or expanded views are not supported");
  expect_error([] { load_pth(archive_with_pickle("rank.pth", tensor_pickle({2, 2}, {1}))); }, "2 sizes but 1 strides");
  expect_error([] { load_pth(archive_with_pickle("nostorage.pth", tensor_pickle({1}, {1}), 0)); },
               "needs element 0 but its storage holds 0");
  expect_error([] { load_pth(archive_with_pickle("order.pth", tensor_pickle({1}, {1}), 16, "big")); },
               "only little-endian");
  expect_error([] { load_pth(archive_with_pickle("opcode.pth", "\x80\x02\xff.")); }, "unsupported pickle opcode 0xff");
  expect_error([] { load_pth(archive_with_pickle("underflow.pth", "\x80\x02s.")); }, "stack underflow");
  expect_error([] { load_pth(archive_with_pickle("memo.pth", "\x80\x02h\x05.")); }, "memo entry 5 unset");
  expect_error(
      [] {
        load_pth(archive_with_pickle("short.pth",
                                     "\x80\x02X\xff\x00\x00\x00"
                                     "ab"s));
      },
      "truncated");
  expect_error(
      [] { load_pth(archive_with_pickle("wide.pth", std::string("\x80\x02\x8a\x09") + std::string(9, 'x') + ".")); },
      "wider than 64 bits");
  expect_error([] { load_pth(archive_with_pickle("notdict.pth", "\x80\x02K\x07.")); }, "found a int");
  expect_error([] { load_pth(archive_with_pickle("value.pth", "\x80\x02}X\x01\x00\x00\x00wK\x07s."s)); },
               "entry 'w' is a int, not a tensor");
  expect_error([] { load_pth(archive_with_pickle("proto.pth", "\x80\x07}.")); }, "unsupported pickle protocol 7");
  expect_error(
      [] {
        load_pth(archive_with_pickle("newobj.pth",
                                     "\x80\x02\x63"
                                     "collections\nOrderedDict\n)\x81."));
      },
      "unsupported pickle opcode 0x81");
}

TEST(PthMalformed, MutatedPicklesThrowErrorOrParse) {
  // Byte flips inside data.pkl are caught by the ZIP's CRC, so mutate the pickle itself: every
  // byte with three masks straight into the unpickler, and every 9th into a re-zipped archive
  // (with the original storages) through the whole loader.
  const std::string source = fixture("special_tensors_protocol4.pth");
  const io::ZipReader zip(source);
  const io::ZipEntry* pkl = zip.find("special_tensors_protocol4/data.pkl");
  ASSERT_NE(pkl, nullptr);
  const std::vector<uint8_t> pickle = zip.read(*pkl);
  int parsed = 0;
  for (std::size_t i = 0; i < pickle.size(); ++i)
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::vector<uint8_t> bad = pickle;
      bad[i] ^= mask;
      try {
        io::PickleDocument doc(bad, "mutated");
        ++parsed;
      } catch (const Error&) {
      }
    }
  EXPECT_GT(parsed, 0);  // some flips only change values, and those must still parse
  const std::string path = temp_path("mutated.pth");
  for (std::size_t i = 0; i < pickle.size(); i += fuzz_stride(9)) {
    std::vector<uint8_t> bad = pickle;
    bad[i] ^= 0xff;
    io::ZipWriter out(path);
    out.add("archive/data.pkl", bad.data(), bad.size());
    for (const io::ZipEntry& e : zip.entries())
      if (e.name.find("/data/") != std::string::npos) {
        const std::vector<uint8_t> storage = zip.read(e);
        out.add("archive" + e.name.substr(e.name.find('/')), storage.data(), storage.size());
      }
    out.finish();
    try {
      load_pth(path);
    } catch (const Error&) {
    }
  }
}

TEST(PthMalformed, DeepAndCyclicPicklesDoNotCrash) {
  // 200000 nested lists, then a list that contains itself: no recursion may blow the stack.
  std::string deep = "\x80\x02";
  for (int i = 0; i < 200000; ++i) deep += "]q\x01";  // each new list memoised... then nested:
  for (int i = 0; i < 199999; ++i) deep += "a";
  deep +=
      "0]q\x02h\x02"
      "a}X\x01\x00\x00\x00xh\x02s."s;
  expect_error([&] { load_pth(archive_with_pickle("deep.pth", deep)); }, "entry 'x' is a list");
}

}  // namespace
}  // namespace microsr
