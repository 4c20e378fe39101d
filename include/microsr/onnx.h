// ONNX models read by our own protobuf decoder (src/onnx/): the model, its graph, nodes,
// attributes, initializers (raw_data, typed fields or external data files) and value infos.
// No protobuf library, no ONNX Runtime. docs/onnx.md describes what is read and the bounds.
//
// load_onnx() throws microsr::Error naming the file, the message and field, and what was expected
// and found, for a truncated, corrupt or hostile file; it never reads outside the file's bytes,
// nor outside the model's folder for external data.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "microsr/tensor.h"

namespace microsr {

// TensorProto.DataType: the element types of ONNX tensors (the numbers are ONNX's).
enum class OnnxType : int32_t {
  undefined = 0,
  float32 = 1,
  uint8 = 2,
  int8 = 3,
  uint16 = 4,
  int16 = 5,
  int32 = 6,
  int64 = 7,
  string = 8,
  boolean = 9,
  float16 = 10,
  float64 = 11,
  uint32 = 12,
  uint64 = 13,
  complex64 = 14,
  complex128 = 15,
  bfloat16 = 16,
};
// "float32", "int64", ...; "type 17" for one we have no name for.
std::string onnx_type_name(int32_t type);
// Bytes per element as stored in raw_data, or 0 for types we do not decode (string, complex,
// 8-bit and 4-bit floats, 4-bit integers).
std::size_t onnx_type_size(int32_t type);

// A tensor: an initializer, a Constant node's value, or an attribute's tensor. Its elements are
// in exactly one of three places, by type:
//   float32, float16, bfloat16                   -> `floats`, a float32 microsr Tensor (widened)
//   int64, int32, int16, int8, uint8, uint16, uint32, bool -> `integers`
//   float64                                      -> `doubles`
// Other types (string, uint64, complex, ...) keep their name, type and dims only: has_values false.
struct OnnxTensor {
  std::string name;
  int32_t data_type = 0;
  std::vector<int64_t> dims;
  bool has_values = false;
  Tensor floats;
  std::vector<int64_t> integers;
  std::vector<double> doubles;
  // Where the elements came from: external data (a file beside the model) or inside the model.
  bool external = false;
  std::string external_location;  // relative to the model's folder
  int64_t external_offset = 0;
  int64_t external_length = 0;

  int64_t numel() const;
  // The bytes the elements take as stored (numel × the stored element size; 0 when not decoded).
  int64_t stored_bytes() const;
};

// A dimension of a value's shape: a number (dim_value), a name (dim_param), or neither (unknown).
struct OnnxDim {
  std::optional<int64_t> value;
  std::string param;
  std::string str() const;  // "32", "batch" or "?"
};

// A graph input, output or intermediate value: its name and, for tensors, type and shape.
struct OnnxValueInfo {
  std::string name;
  std::string kind;  // "tensor", "sequence", "map", "optional", "sparse_tensor", "" (no type)
  int32_t elem_type = 0;
  bool has_shape = false;  // false: rank unknown
  std::vector<OnnxDim> shape;
  std::string type_str() const;  // "float32 [batch, 3, 64, 64]"
};

struct OnnxGraph;

// AttributeProto.AttributeType: which of the value fields below is in use.
enum class OnnxAttributeType : int32_t {
  undefined = 0,
  float_ = 1,
  int_ = 2,
  string = 3,
  tensor = 4,
  graph = 5,
  floats = 6,
  ints = 7,
  strings = 8,
  tensors = 9,
  graphs = 10,
  sparse_tensor = 11,
  sparse_tensors = 12,
  type_proto = 13,
  type_protos = 14,
};

struct OnnxAttribute {
  std::string name;
  OnnxAttributeType type = OnnxAttributeType::undefined;
  float f = 0.0f;
  int64_t i = 0;
  std::string s;  // bytes, not necessarily UTF-8
  std::optional<OnnxTensor> t;
  std::shared_ptr<OnnxGraph> g;  // a subgraph (If, Loop, Scan): kept, not used yet
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<OnnxTensor> tensors;
  std::vector<std::shared_ptr<OnnxGraph>> graphs;
};

// Attributes built in code (nodes the fusion pass writes, models the tests assemble).
OnnxAttribute int_attr(const std::string& name, int64_t v);
OnnxAttribute ints_attr(const std::string& name, std::vector<int64_t> v);
OnnxAttribute float_attr(const std::string& name, float v);
OnnxAttribute string_attr(const std::string& name, std::string v);

struct OnnxNode {
  std::string name;
  std::string op_type;
  std::string domain;               // "" (or "ai.onnx"): the standard operators
  std::vector<std::string> inputs;  // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::vector<OnnxAttribute> attributes;
  const OnnxAttribute* attribute(const std::string& name) const;  // nullptr when absent
};

struct OnnxGraph {
  std::string name;
  std::vector<OnnxNode> nodes;
  std::vector<OnnxTensor> initializers;
  std::vector<OnnxValueInfo> inputs;  // may list initializers too (IR version < 4)
  std::vector<OnnxValueInfo> outputs;
  std::vector<OnnxValueInfo> value_infos;
  const OnnxTensor* initializer(const std::string& name) const;  // nullptr when absent
};

struct OnnxOpset {
  std::string domain;  // "" is the standard domain, ai.onnx
  int64_t version = 0;
};

struct OnnxModel {
  std::string path;
  int64_t ir_version = 0;
  std::vector<OnnxOpset> opsets;
  std::string producer_name, producer_version, domain, doc_string;
  int64_t model_version = 0;
  std::vector<std::pair<std::string, std::string>> metadata;
  OnnxGraph graph;
};

// Reads an .onnx file and the external data files it names (relative to its folder).
OnnxModel load_onnx(const std::string& path);
// The same from bytes in memory: `path` names them in errors, and its folder holds external data.
OnnxModel parse_onnx(std::span<const uint8_t> bytes, const std::string& path);

// Graph inputs that are not initializers: what a caller must feed.
std::vector<const OnnxValueInfo*> onnx_runtime_inputs(const OnnxModel& model);

// Node count per op type ("Conv", or "com.microsoft:FusedConv" outside the standard domain),
// most frequent first, ties by name.
std::vector<std::pair<std::string, int64_t>> onnx_op_histogram(const OnnxGraph& graph);

// The report of `microsr onnx info`: inputs and outputs with type and shape, opsets, producer,
// op histogram, initializers with their element and byte counts, external data.
std::string describe_onnx(const OnnxModel& model);

}  // namespace microsr
