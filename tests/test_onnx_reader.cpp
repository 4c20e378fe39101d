// The ONNX reader (src/onnx/) against what the `onnx` Python package reads from the same files
// (tests/data/onnx/expected.json, written by tools/make_onnx_fixtures.py), and against truncated,
// corrupted and hostile files, which must give a microsr::Error and never a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "cli/subcommands.h"
#include "io/json_min.h"
#include "microsr/onnx.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using io::JsonValue;
using testing::data_path;
using testing::fuzz_stride;
using testing::read_bytes;
using testing::temp_path;
using testing::write_bytes;

std::string onnx_fixture(const std::string& name) { return data_path("onnx/" + name); }

const JsonValue& expected_for(const std::string& model) {
  static const JsonValue root = [] {
    const std::vector<uint8_t> bytes = read_bytes(onnx_fixture("expected.json"));
    return io::parse_json(std::string(bytes.begin(), bytes.end()), "expected.json");
  }();
  const JsonValue* entry = root.get(model);
  if (!entry) throw Error("expected.json has no entry " + model);
  return *entry;
}

const JsonValue& at(const JsonValue& object, const std::string& key) {
  const JsonValue* v = object.get(key);
  if (!v) throw Error("expected.json: no key " + key);
  return *v;
}
int64_t integer(const JsonValue& v) { return std::stoll(v.text); }
double number(const JsonValue& v) { return std::stod(v.text); }

std::vector<std::string> dims_text(const OnnxValueInfo& v) {
  std::vector<std::string> out;
  for (const OnnxDim& d : v.shape) out.push_back(d.str());
  return out;
}

void expect_value_info(const OnnxValueInfo& found, const JsonValue& expected) {
  SCOPED_TRACE("value " + found.name);
  EXPECT_EQ(found.name, at(expected, "name").text);
  EXPECT_EQ(found.elem_type, integer(at(expected, "elem_type")));
  const JsonValue& dims = at(expected, "dims");
  if (dims.type == JsonValue::Type::null) {
    EXPECT_FALSE(found.has_shape);
    return;
  }
  ASSERT_TRUE(found.has_shape);
  std::vector<std::string> want;
  for (const JsonValue& d : dims.array) want.push_back(d.text);
  EXPECT_EQ(dims_text(found), want);
}

void expect_tensor(const OnnxTensor& found, const JsonValue& expected) {
  SCOPED_TRACE("tensor " + found.name);
  EXPECT_EQ(found.name, at(expected, "name").text);
  EXPECT_EQ(found.data_type, integer(at(expected, "data_type")));
  std::vector<int64_t> dims;
  for (const JsonValue& d : at(expected, "dims").array) dims.push_back(integer(d));
  EXPECT_EQ(found.dims, dims);
  EXPECT_EQ(found.external, at(expected, "external").boolean);
  ASSERT_TRUE(found.has_values);
  const std::vector<JsonValue>& values = at(expected, "values").array;
  ASSERT_EQ(found.numel(), int64_t(values.size()));
  const int32_t type = found.data_type;
  if (type == int32_t(OnnxType::float32) || type == int32_t(OnnxType::float16) || type == int32_t(OnnxType::bfloat16)) {
    ASSERT_TRUE(found.floats.defined());
    EXPECT_EQ(found.floats.shape(), Shape(dims.begin(), dims.end()));
    for (std::size_t i = 0; i < values.size(); ++i)
      EXPECT_EQ(found.floats.f32()[i], static_cast<float>(number(values[i]))) << "element " << i;
  } else if (type == int32_t(OnnxType::float64)) {
    for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(found.doubles.at(i), number(values[i])) << i;
  } else {
    for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(found.integers.at(i), integer(values[i])) << i;
  }
}

void expect_model_matches_reference(const std::string& name) {
  SCOPED_TRACE(name);
  const OnnxModel model = load_onnx(onnx_fixture(name));
  const JsonValue& want = expected_for(name);
  EXPECT_EQ(model.ir_version, integer(at(want, "ir_version")));
  EXPECT_EQ(model.producer_name, at(want, "producer_name").text);
  EXPECT_EQ(model.producer_version, at(want, "producer_version").text);
  EXPECT_EQ(model.graph.name, at(want, "graph_name").text);
  const std::vector<JsonValue>& opsets = at(want, "opsets").array;
  ASSERT_EQ(model.opsets.size(), opsets.size());
  for (std::size_t i = 0; i < opsets.size(); ++i) {
    EXPECT_EQ(model.opsets[i].domain, at(opsets[i], "domain").text);
    EXPECT_EQ(model.opsets[i].version, integer(at(opsets[i], "version")));
  }
  const std::vector<std::pair<std::string, JsonValue>>& metadata = at(want, "metadata").object;
  ASSERT_EQ(model.metadata.size(), metadata.size());
  for (std::size_t i = 0; i < metadata.size(); ++i) {
    EXPECT_EQ(model.metadata[i].first, metadata[i].first);
    EXPECT_EQ(model.metadata[i].second, metadata[i].second.text);
  }

  const std::vector<const OnnxValueInfo*> inputs = onnx_runtime_inputs(model);
  ASSERT_EQ(inputs.size(), at(want, "inputs").array.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) expect_value_info(*inputs[i], at(want, "inputs").array[i]);
  ASSERT_EQ(model.graph.outputs.size(), at(want, "outputs").array.size());
  for (std::size_t i = 0; i < model.graph.outputs.size(); ++i)
    expect_value_info(model.graph.outputs[i], at(want, "outputs").array[i]);
  ASSERT_EQ(model.graph.value_infos.size(), at(want, "value_infos").array.size());
  for (std::size_t i = 0; i < model.graph.value_infos.size(); ++i)
    expect_value_info(model.graph.value_infos[i], at(want, "value_infos").array[i]);

  std::map<std::string, int64_t> histogram, want_histogram;
  for (const auto& [op, count] : onnx_op_histogram(model.graph)) histogram[op] = count;
  for (const auto& [op, count] : at(want, "op_histogram").object) want_histogram[op] = integer(count);
  EXPECT_EQ(histogram, want_histogram);

  const std::vector<JsonValue>& nodes = at(want, "nodes").array;
  ASSERT_EQ(model.graph.nodes.size(), nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const OnnxNode& n = model.graph.nodes[i];
    EXPECT_EQ(n.name, at(nodes[i], "name").text);
    EXPECT_EQ(n.op_type, at(nodes[i], "op_type").text);
    EXPECT_EQ(n.domain, at(nodes[i], "domain").text);
    std::vector<std::string> ins, outs;
    for (const JsonValue& v : at(nodes[i], "inputs").array) ins.push_back(v.text);
    for (const JsonValue& v : at(nodes[i], "outputs").array) outs.push_back(v.text);
    EXPECT_EQ(n.inputs, ins) << n.name;
    EXPECT_EQ(n.outputs, outs) << n.name;
    ASSERT_EQ(n.attributes.size(), at(nodes[i], "attributes").array.size()) << n.name;
  }

  const std::vector<JsonValue>& initializers = at(want, "initializers").array;
  ASSERT_EQ(model.graph.initializers.size(), initializers.size());
  int64_t parameters = 0;
  for (std::size_t i = 0; i < initializers.size(); ++i) {
    expect_tensor(model.graph.initializers[i], initializers[i]);
    parameters += model.graph.initializers[i].numel();
  }
  EXPECT_EQ(parameters, integer(at(want, "parameters")));
}

TEST(OnnxReader, HelperModelMatchesReference) { expect_model_matches_reference("helper_model.onnx"); }
TEST(OnnxReader, ExternalDataModelMatchesReference) { expect_model_matches_reference("external/model.onnx"); }
TEST(OnnxReader, TorchExportMatchesReference) { expect_model_matches_reference("torch_tiny.onnx"); }

TEST(OnnxReader, AttributesOfEveryTypeMatchReference) {
  const OnnxModel model = load_onnx(onnx_fixture("helper_model.onnx"));
  const JsonValue& want = expected_for("helper_model.onnx");
  for (std::size_t n = 0; n < model.graph.nodes.size(); ++n) {
    const OnnxNode& node = model.graph.nodes[n];
    const std::vector<JsonValue>& attributes = at(at(want, "nodes").array[n], "attributes").array;
    for (std::size_t i = 0; i < attributes.size(); ++i) {
      const OnnxAttribute& a = node.attributes.at(i);
      const JsonValue& w = attributes[i];
      SCOPED_TRACE(node.name + "." + a.name);
      EXPECT_EQ(a.name, at(w, "name").text);
      ASSERT_EQ(int64_t(a.type), integer(at(w, "type")));
      const JsonValue& value = at(w, "value");
      switch (a.type) {
        case OnnxAttributeType::float_:
          EXPECT_EQ(a.f, float(number(value)));
          break;
        case OnnxAttributeType::int_:
          EXPECT_EQ(a.i, integer(value));
          break;
        case OnnxAttributeType::string:
          EXPECT_EQ(a.s, value.text);
          break;
        case OnnxAttributeType::tensor:
          ASSERT_TRUE(a.t.has_value());
          expect_tensor(*a.t, value);
          break;
        case OnnxAttributeType::graph:
          ASSERT_NE(a.g, nullptr);
          EXPECT_EQ(a.g->name, at(value, "name").text);
          EXPECT_EQ(int64_t(a.g->nodes.size()), integer(at(value, "nodes")));
          break;
        case OnnxAttributeType::floats:
          ASSERT_EQ(a.floats.size(), value.array.size());
          for (std::size_t k = 0; k < a.floats.size(); ++k) EXPECT_EQ(a.floats[k], float(number(value.array[k])));
          break;
        case OnnxAttributeType::ints:
          ASSERT_EQ(a.ints.size(), value.array.size());
          for (std::size_t k = 0; k < a.ints.size(); ++k) EXPECT_EQ(a.ints[k], integer(value.array[k]));
          break;
        case OnnxAttributeType::strings:
          ASSERT_EQ(a.strings.size(), value.array.size());
          for (std::size_t k = 0; k < a.strings.size(); ++k) EXPECT_EQ(a.strings[k], value.array[k].text);
          break;
        case OnnxAttributeType::tensors:
          ASSERT_EQ(a.tensors.size(), value.array.size());
          for (std::size_t k = 0; k < a.tensors.size(); ++k) expect_tensor(a.tensors[k], value.array[k]);
          break;
        default:
          ADD_FAILURE() << "unexpected attribute type " << int(a.type);
      }
    }
  }
  // Every attribute type the reader parses is in the fixture, so none of the cases above is idle.
  std::set<OnnxAttributeType> seen;
  for (const OnnxNode& node : model.graph.nodes)
    for (const OnnxAttribute& a : node.attributes) seen.insert(a.type);
  EXPECT_EQ(seen.size(), 9u);
  const OnnxNode& constant = model.graph.nodes.at(2);
  ASSERT_EQ(constant.op_type, "Constant");
  ASSERT_NE(constant.attribute("value"), nullptr);
  EXPECT_EQ(constant.attribute("value")->t->floats.f32()[0], 2.0f);
}

TEST(OnnxReader, ExternalDataLocationOffsetLength) {
  const OnnxModel model = load_onnx(onnx_fixture("external/model.onnx"));
  const JsonValue& want = expected_for("external/model.onnx");
  int external = 0;
  for (std::size_t i = 0; i < model.graph.initializers.size(); ++i) {
    const OnnxTensor& t = model.graph.initializers[i];
    const JsonValue& w = at(want, "initializers").array[i];
    if (!t.external) continue;
    ++external;
    EXPECT_EQ(t.external_location, at(w, "external_location").text);
    EXPECT_EQ(t.external_offset, w.get("external_offset") ? std::stoll(w.get("external_offset")->text) : 0);
    EXPECT_EQ(t.external_length, std::stoll(at(w, "external_length").text));
    EXPECT_EQ(t.external_length, t.stored_bytes());
  }
  EXPECT_EQ(external, 3);
  // The fp16 initializer in the side file is widened to float32.
  const OnnxTensor* half = model.graph.initializer("half_scale");
  ASSERT_NE(half, nullptr);
  EXPECT_EQ(half->data_type, int32_t(OnnxType::float16));
  EXPECT_EQ(half->floats.dtype(), DType::f32);
}

// ---- a small protobuf writer for hostile files -------------------------------------------------

struct Proto {
  std::vector<uint8_t> bytes;
  Proto& raw_varint(uint64_t v) {
    do {
      bytes.push_back(uint8_t((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
      v >>= 7;
    } while (v);
    return *this;
  }
  Proto& varint(uint32_t field, uint64_t v) { return raw_varint(uint64_t{field} << 3).raw_varint(v); }
  Proto& data(uint32_t field, const std::vector<uint8_t>& b) {
    raw_varint((uint64_t{field} << 3) | 2).raw_varint(b.size());
    bytes.insert(bytes.end(), b.begin(), b.end());
    return *this;
  }
  Proto& text(uint32_t field, const std::string& s) { return data(field, std::vector<uint8_t>(s.begin(), s.end())); }
  Proto& message(uint32_t field, const Proto& m) { return data(field, m.bytes); }
};

// ModelProto{ir_version 8, graph{initializer: tensor}}.
std::vector<uint8_t> model_with_initializer(const Proto& tensor) {
  Proto graph;
  graph.text(2, "g").message(5, tensor);
  Proto model;
  model.varint(1, 8).message(7, graph);
  return model.bytes;
}

// A float32 TensorProto of these dims, with raw_data of `raw_bytes` bytes.
Proto float_tensor(const std::vector<int64_t>& dims, std::size_t raw_bytes, const std::string& name = "w") {
  Proto t;
  for (int64_t d : dims) t.varint(1, static_cast<uint64_t>(d));
  t.varint(2, 1).text(8, name).data(9, std::vector<uint8_t>(raw_bytes, 0));
  return t;
}

std::string load_error(const std::vector<uint8_t>& bytes, const std::string& file = "hostile.onnx") {
  const std::string path = temp_path(file);
  write_bytes(path, bytes);
  try {
    load_onnx(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded)";
}

TEST(OnnxMalformed, TruncatedFileOnDisk) {
  const std::vector<uint8_t> bytes = read_bytes(onnx_fixture("helper_model.onnx"));
  write_bytes(temp_path("cut.onnx"), std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2));
  EXPECT_THROW(load_onnx(temp_path("cut.onnx")), Error);
}

TEST(OnnxMalformed, HandMadeModelLoads) {  // the writer above makes valid files: the hostile cases are real
  const std::string path = temp_path("handmade.onnx");
  write_bytes(path, model_with_initializer(float_tensor({2, 3}, 24)));
  const OnnxModel model = load_onnx(path);
  ASSERT_EQ(model.graph.initializers.size(), 1u);
  EXPECT_EQ(model.graph.initializers[0].numel(), 6);
}

TEST(OnnxMalformed, LengthLargerThanTheFile) {
  Proto model;
  model.varint(1, 8).raw_varint((7 << 3) | 2).raw_varint(1000).raw_varint(0);
  const std::string error = load_error(model.bytes);
  EXPECT_NE(error.find("length 1000 but only 1 bytes left"), std::string::npos) << error;
  EXPECT_NE(error.find("hostile.onnx"), std::string::npos) << error;
}

TEST(OnnxMalformed, HugeDimsProduct) {
  std::string error = load_error(model_with_initializer(float_tensor({1 << 30, 1 << 30, 1 << 30}, 4)));
  EXPECT_NE(error.find("more than 2^40 elements"), std::string::npos) << error;
  // Under the bound but far more than the file holds: refused before anything is allocated.
  error = load_error(model_with_initializer(float_tensor({1000000, 1000000}, 4)));
  EXPECT_NE(error.find("raw_data holds 4 bytes"), std::string::npos) << error;
}

TEST(OnnxMalformed, NegativeDims) {
  const std::string error = load_error(model_with_initializer(float_tensor({2, -3}, 24)));
  EXPECT_NE(error.find("dims[1] is -3"), std::string::npos) << error;
  EXPECT_NE(error.find("initializer[0] 'w'"), std::string::npos) << error;
}

TEST(OnnxMalformed, VarintLongerThanTenBytes) {
  Proto model;
  model.raw_varint(1 << 3);
  for (int i = 0; i < 11; ++i) model.bytes.push_back(0x80);
  model.bytes.push_back(0x01);
  std::string error = load_error(model.bytes);
  EXPECT_NE(error.find("varint longer than 10 bytes"), std::string::npos) << error;
  // In a packed field too (TensorProto.dims).
  Proto dims;
  for (int i = 0; i < 12; ++i) dims.bytes.push_back(0xff);
  Proto tensor;
  tensor.data(1, dims.bytes).varint(2, 1);
  error = load_error(model_with_initializer(tensor));
  EXPECT_NE(error.find("packed varint longer than 10 bytes"), std::string::npos) << error;
}

TEST(OnnxMalformed, NestingTooDeep) {
  // graph{node{attribute{g: graph{node{...}}}}}: three message levels per round.
  Proto graph;
  graph.text(2, "innermost");
  for (int level = 0; level < 40; ++level) {
    Proto attribute;
    attribute.text(1, "body").varint(20, 5).message(6, graph);
    Proto node;
    node.text(4, "If").message(5, attribute);
    Proto outer;
    outer.message(1, node);
    graph = outer;
  }
  Proto model;
  model.varint(1, 8).message(7, graph);
  const std::string error = load_error(model.bytes);
  EXPECT_NE(error.find("nested more than 64 deep"), std::string::npos) << error;
}

TEST(OnnxMalformed, WrongWireTypeAndPackedFloatLength) {
  Proto tensor;
  tensor.varint(1, 2).varint(2, 1).data(4, std::vector<uint8_t>(7, 0));  // 7 bytes of packed floats
  std::string error = load_error(model_with_initializer(tensor));
  EXPECT_NE(error.find("TensorProto.float_data: packed 4-byte values, but the field holds 7 bytes"), std::string::npos)
      << error;
  Proto model;
  model.text(1, "eight");  // ir_version as a string
  error = load_error(model.bytes);
  EXPECT_NE(error.find("ModelProto.ir_version: expected a varint field, found length-delimited"), std::string::npos)
      << error;
}

TEST(OnnxMalformed, EmptyFileAndMissingGraph) {
  EXPECT_NE(load_error({}).find("has no graph"), std::string::npos);
  Proto model;
  model.varint(1, 8);
  EXPECT_NE(load_error(model.bytes).find("has no graph"), std::string::npos);
}

// A model whose initializer "w" (float32, `count` elements) lies in an external file.
std::vector<uint8_t> external_model(const std::string& location, int64_t count, const std::string& offset,
                                    const std::string& length) {
  Proto t;
  t.varint(1, static_cast<uint64_t>(count)).varint(2, 1).text(8, "w").varint(14, 1);
  auto entry = [](const std::string& key, const std::string& value) {
    Proto e;
    e.text(1, key).text(2, value);
    return e;
  };
  t.message(13, entry("location", location));
  if (!offset.empty()) t.message(13, entry("offset", offset));
  if (!length.empty()) t.message(13, entry("length", length));
  return model_with_initializer(t);
}

TEST(OnnxMalformed, ExternalDataBoundedToTheModelFolder) {
  namespace fs = std::filesystem;
  const fs::path folder = temp_path("external_folder");
  fs::create_directories(folder / "inner");
  write_bytes((folder / "outside.bin").string(), std::vector<uint8_t>(64, 0));
  write_bytes((folder / "inner" / "weights.bin").string(), std::vector<uint8_t>(64, 0));
  const std::string model = (folder / "inner" / "model.onnx").string();
  auto error_of = [&](const std::vector<uint8_t>& bytes) {
    write_bytes(model, bytes);
    try {
      load_onnx(model);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(loaded)");
  };
  EXPECT_EQ(error_of(external_model("weights.bin", 4, "16", "16")), "(loaded)");
  EXPECT_NE(error_of(external_model("../outside.bin", 4, "", "16")).find("leaves the model's folder"),
            std::string::npos);
  EXPECT_NE(error_of(external_model("sub/../../outside.bin", 4, "", "16")).find("leaves the model's folder"),
            std::string::npos);
  EXPECT_NE(error_of(external_model((folder / "outside.bin").string(), 4, "", "16")).find("is absolute"),
            std::string::npos);
  fs::remove(folder / "inner" / "link.bin");
  fs::create_symlink(folder / "outside.bin", folder / "inner" / "link.bin");
  EXPECT_NE(error_of(external_model("link.bin", 4, "", "16")).find("outside the model's folder"), std::string::npos);
  EXPECT_NE(error_of(external_model("missing.bin", 4, "", "16")).find("does not exist"), std::string::npos);
  // offset + length past the end, offset past the end, a length that does not match the dims.
  std::string e = error_of(external_model("weights.bin", 4, "56", "16"));
  EXPECT_NE(e.find("offset 56 + length 16 is past the end"), std::string::npos) << e;
  e = error_of(external_model("weights.bin", 4, "100", ""));
  EXPECT_NE(e.find("offset 100 is past the end"), std::string::npos) << e;
  e = error_of(external_model("weights.bin", 4, "0", "12"));
  EXPECT_NE(e.find("holds 12 bytes but the tensor needs 16"), std::string::npos) << e;
  e = error_of(external_model("weights.bin", 4, "-4", "16"));
  EXPECT_NE(e.find("offset '-4' is not a non-negative integer"), std::string::npos) << e;
  e = error_of(external_model("weights.bin", 1 << 30, "0", ""));
  EXPECT_NE(e.find("holds 64 bytes but the tensor needs 4294967296"), std::string::npos) << e;
}

// ---- fuzz-style: truncations and byte flips ------------------------------------------------------

// The end offsets of the top-level fields of a ModelProto, and where its graph field ends (read
// here with a few lines of our own, not with the reader under test).
std::vector<std::size_t> top_level_field_ends(const std::vector<uint8_t>& b, std::size_t& graph_end) {
  std::vector<std::size_t> ends;
  std::size_t pos = 0;
  auto varint = [&] {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const uint8_t byte = b.at(pos++);
      v |= uint64_t{byte & 0x7fu} << shift;
      if (!(byte & 0x80)) return v;
    }
  };
  while (pos < b.size()) {
    const uint64_t key = varint();
    switch (key & 7) {
      case 0:
        varint();
        break;
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      case 2:
        pos += varint();
        break;
    }
    if ((key >> 3) == 7) graph_end = pos;
    ends.push_back(pos);
  }
  return ends;
}

TEST(OnnxMalformed, EveryTruncationThrowsErrorOrIsAFieldBoundary) {
  // Every byte: parsing from memory costs microseconds. A protobuf message cut between two of its top-level fields is
  // itself a valid message, so a truncation there may load; a cut anywhere else must be an Error.
  for (const std::string name : {"helper_model.onnx", "torch_tiny.onnx"}) {
    const std::vector<uint8_t> bytes = read_bytes(onnx_fixture(name));
    std::size_t graph_end = 0;
    const std::vector<std::size_t> ends = top_level_field_ends(bytes, graph_end);
    ASSERT_GT(graph_end, 0u);
    const std::set<std::size_t> boundaries(ends.begin(), ends.end());
    const std::string path = onnx_fixture(name);  // in memory: only its name and folder are used
    int loaded = 0;
    for (std::size_t n = 0; n < bytes.size(); n += fuzz_stride(1)) {
      const bool may_load = boundaries.count(n) && n >= graph_end;
      try {
        parse_onnx(std::span<const uint8_t>(bytes.data(), n), path);
        ++loaded;
        EXPECT_TRUE(may_load) << name << " truncated to " << n << " bytes loaded";
      } catch (const Error&) {
        EXPECT_FALSE(may_load) << name << " truncated at a field boundary " << n;
      }
    }
    EXPECT_LT(loaded, 10) << name;
  }
}

TEST(OnnxMalformed, CorruptedBytesThrowErrorOrLoad) {
  // Flip every byte in turn: a clean Error or a successful load, never a crash (run under
  // -fsanitize=address with MICROSR_FUZZ_EVERY_BYTE=1 to check for out-of-bounds reads).
  for (const std::string name : {"helper_model.onnx", "torch_tiny.onnx", "external/model.onnx"}) {
    const std::vector<uint8_t> bytes = read_bytes(onnx_fixture(name));
    const std::string path = onnx_fixture(name);  // in memory, but beside the fixture's external data
    int errors = 0;
    for (std::size_t i = 0; i < bytes.size(); i += fuzz_stride(name == "torch_tiny.onnx" ? 3 : 1)) {
      for (const uint8_t mask : {uint8_t{0x5a}, uint8_t{0x80}, uint8_t{0xff}}) {
        std::vector<uint8_t> bad = bytes;
        bad[i] ^= mask;
        try {
          parse_onnx(bad, path);
        } catch (const Error&) {
          ++errors;
        }
      }
    }
    EXPECT_GT(errors, 0) << name;
  }
}

// ---- microsr onnx info ---------------------------------------------------------------------

TEST(OnnxInfo, PrintsInputsOutputsAndOpHistogram) {
  const std::string path = onnx_fixture("torch_tiny.onnx");
  ::testing::internal::CaptureStdout();
  const int status = testing::run_cli(cli::run_onnx, {"info", path});
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(status, 0);
  // One line per op type, most frequent first, with the count the onnx package finds.
  const JsonValue& want = expected_for("torch_tiny.onnx");
  std::vector<std::pair<int64_t, std::string>> ordered;
  for (const auto& [op, count] : at(want, "op_histogram").object) ordered.push_back({-integer(count), op});
  std::sort(ordered.begin(), ordered.end());
  std::size_t last = out.find("ops (16 types):");
  ASSERT_NE(last, std::string::npos) << out;
  for (const auto& [negative_count, op] : ordered) {
    std::string line = "    " + op;
    line.resize(4 + std::string("LayerNormalization").size() + 2, ' ');
    line += std::to_string(-negative_count) + "\n";
    const std::size_t at_line = out.find(line, last);
    EXPECT_NE(at_line, std::string::npos) << "no line '" << line << "' in order in:\n" << out;
    if (at_line != std::string::npos) last = at_line;
  }
  EXPECT_NE(out.find("image     float32 [batch, 3, 6, 6]"), std::string::npos) << out;
  EXPECT_NE(out.find("features  float32 [batch, 8, 6, 6]"), std::string::npos) << out;
  EXPECT_NE(out.find("opset ai.onnx 17"), std::string::npos) << out;
  EXPECT_NE(out.find("producer pytorch 1.13.0"), std::string::npos) << out;
  EXPECT_NE(out.find("initializers: 8, 528 parameters, 2112 bytes"), std::string::npos) << out;
  EXPECT_NE(out.find("external weights: none"), std::string::npos) << out;

  const std::string external = describe_onnx(load_onnx(onnx_fixture("external/model.onnx")));
  EXPECT_NE(external.find("external weights: 3 tensors, 640 bytes in 1 file(s): weights.bin"), std::string::npos)
      << external;
  const std::string helper = describe_onnx(load_onnx(onnx_fixture("helper_model.onnx")));
  EXPECT_NE(helper.find("w       float32 [?, n, 5]"), std::string::npos) << helper;
  EXPECT_NE(helper.find("test.microsr:EveryAttribute  1"), std::string::npos) << helper;
}

TEST(OnnxInfo, UsageErrors) {
  EXPECT_THROW(testing::run_cli(cli::run_onnx, {}), UsageError);
  EXPECT_THROW(testing::run_cli(cli::run_onnx, {"run", onnx_fixture("torch_tiny.onnx")}), UsageError);
  EXPECT_THROW(testing::run_cli(cli::run_onnx, {"info"}), UsageError);
  EXPECT_THROW(testing::run_cli(cli::run_onnx, {"info", "a.onnx", "b.onnx"}), UsageError);
  EXPECT_THROW(testing::run_cli(cli::run_onnx, {"info", "/nonexistent/model.onnx"}), Error);
}

}  // namespace
}  // namespace microsr
