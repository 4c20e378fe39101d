// .npy files (include/microsr/npy.h): every dtype we read, written and read back, against bytes
// numpy writes (tests/data/onnx/ops fixtures come from numpy.save), and malformed files.
#include <gtest/gtest.h>

#include <cstring>

#include "microsr/npy.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using testing::expect_error;

// A .npy file by hand: version `major`, header text `dict`, then `data`.
std::vector<uint8_t> npy_bytes(const std::string& dict, const std::vector<uint8_t>& data, int major = 1) {
  std::string header = dict;
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  for (std::size_t b = 0; b < (major == 1 ? 2u : 4u); ++b) out.push_back(static_cast<uint8_t>(header.size() >> (8 * b)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

template <class T>
std::vector<uint8_t> raw(std::vector<T> v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

TEST(Npy, ReadsEveryDtype) {
  const std::string shape = "'fortran_order': False, 'shape': (3,), }";
  auto read = [&](const std::string& descr, const std::vector<uint8_t>& data, int major = 1) {
    return parse_npy(npy_bytes("{'descr': '" + descr + "', " + shape, data, major), "t.npy");
  };
  EXPECT_EQ(read("<f4", raw<float>({1.5f, -2, 3})).floats, (FloatBuffer{1.5f, -2, 3}));
  EXPECT_EQ(read("<f2", raw<uint16_t>({0x3C00, 0xC000, 0x3800})).floats, (FloatBuffer{1, -2, 0.5f}));
  const OnnxValue d = read("<f8", raw<double>({0.25, 1e3, -7}), 2);
  EXPECT_EQ(d.floats, (FloatBuffer{0.25f, 1000, -7}));
  EXPECT_EQ(d.type, static_cast<int32_t>(OnnxType::float64));
  EXPECT_EQ(read("<i8", raw<int64_t>({-5, 1LL << 40, 0})).integers, (std::vector<int64_t>{-5, 1LL << 40, 0}));
  EXPECT_EQ(read("<i4", raw<int32_t>({-5, 7, 0})).integers, (std::vector<int64_t>{-5, 7, 0}));
  EXPECT_EQ(read("|b1", {1, 0, 1}).integers, (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(read("|u1", {255, 0, 7}).integers, (std::vector<int64_t>{255, 0, 7}));
  EXPECT_EQ(read("|b1", {1, 0, 1}).type, static_cast<int32_t>(OnnxType::boolean));
}

TEST(Npy, ShapesScalarsAndEmpty) {
  const OnnxValue s = parse_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", raw<float>({4})), "s");
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.floats, FloatBuffer{4});
  const OnnxValue e = parse_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0), }", {}), "e");
  EXPECT_EQ(e.shape, (std::vector<int64_t>{2, 0}));
  const OnnxValue m = parse_npy(npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1, 2), }",
                                          raw<int64_t>({1, 2, 3, 4})), "m");
  EXPECT_EQ(m.shape, (std::vector<int64_t>{2, 1, 2}));
}

TEST(Npy, RoundTripsEveryType) {
  const std::vector<OnnxType> types = {OnnxType::int64, OnnxType::int32, OnnxType::boolean, OnnxType::uint8, OnnxType::int8};
  for (OnnxType t : types) {
    const std::vector<int64_t> v = t == OnnxType::boolean ? std::vector<int64_t>{1, 0, 1, 1, 0, 0}
                                   : t == OnnxType::uint8 ? std::vector<int64_t>{0, 1, 2, 200, 255, 9}
                                                          : std::vector<int64_t>{-3, 0, 5, 100, -100, 7};
    const OnnxValue x = OnnxValue::from_integers({2, 3}, v, t);
    const OnnxValue y = parse_npy(encode_npy(x), "round trip");
    EXPECT_EQ(y.type, x.type) << onnx_type_name(x.type);
    EXPECT_EQ(y.shape, x.shape);
    EXPECT_EQ(y.integers, x.integers) << onnx_type_name(x.type);
  }
  OnnxValue f = OnnxValue::from_floats({3, 1}, {0.1f, -2.5f, 3e7f});
  EXPECT_EQ(parse_npy(encode_npy(f), "f").floats, f.floats);
  f.type = static_cast<int32_t>(OnnxType::float16);
  EXPECT_EQ(parse_npy(encode_npy(f), "h").floats, (FloatBuffer{half_to_float(float_to_half(0.1f)), -2.5f, INFINITY}));
  const std::vector<uint8_t> bytes = encode_npy(OnnxValue::from_floats({}, {1.0f}));
  EXPECT_EQ((10 + bytes[8]) % 64, 0) << "data must start on a 64-byte boundary";
  EXPECT_NE(std::string(bytes.begin(), bytes.end()).find("'shape': ()"), std::string::npos);
}

TEST(Npy, ReadsWhatNumpyWrote) {
  // numpy.save of tools/make_onnx_op_fixtures.py: float32 [2, 3, 4] and int64 [3].
  const OnnxValue x = read_npy(testing::data_path("onnx/ops/add_broadcast/inputs/a.npy"));
  EXPECT_EQ(x.shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(x.type, static_cast<int32_t>(OnnxType::float32));
  const OnnxValue i = read_npy(testing::data_path("onnx/ops/add_int64/inputs/a.npy"));
  EXPECT_EQ(i.integers, (std::vector<int64_t>{1, 2, 3}));
  const OnnxValue b = read_npy(testing::data_path("onnx/ops/not/inputs/a.npy"));
  EXPECT_EQ(b.type, static_cast<int32_t>(OnnxType::boolean));
}

TEST(Npy, RefusesWhatItCannotRead) {
  const std::vector<uint8_t> data = raw<float>({1, 2, 3});
  auto with = [&](const std::string& dict) { return npy_bytes(dict, data); };
  expect_error([&] { parse_npy(with("{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }"), "f.npy"); }, "Fortran");
  expect_error([&] { parse_npy(with("{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }"), "b.npy"); }, "'>f4'");
  expect_error([&] { parse_npy(with("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }"), "c.npy"); }, "'<c8'");
  expect_error([&] { parse_npy(with("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }"), "o.npy"); }, "'|O'");
  expect_error([&] { parse_npy(with("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"), "t.npy"); }, "truncated data");
  expect_error([&] { parse_npy(with("{'descr': '<f4', 'fortran_order': False, 'shape': (x,), }"), "s.npy"); }, "bad shape");
  expect_error([&] { parse_npy(with("{'fortran_order': False, 'shape': (3,), }"), "d.npy"); }, "no 'descr'");
  std::vector<uint8_t> bad_magic = with("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }");
  bad_magic[1] = 'X';
  expect_error([&] { parse_npy(bad_magic, "m.npy"); }, "not a .npy file");
  std::vector<uint8_t> v4 = with("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }");
  v4[6] = 4;
  expect_error([&] { parse_npy(v4, "v.npy"); }, "version 4");
  const std::vector<uint8_t> whole = with("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }");
  for (std::size_t cut = 0; cut < whole.size(); ++cut)  // every truncation is an Error, never a crash
    expect_error([&] { parse_npy(std::span(whole.data(), cut), "cut.npy"); }, "cut.npy");
  expect_error([] { read_npy("/nonexistent/x.npy"); }, "/nonexistent/x.npy");
}

}  // namespace
}  // namespace microsr
