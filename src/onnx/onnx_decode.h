// ONNX message decoding on top of the wire reader (onnx_messages.cpp) and the conversion of a
// TensorProto's fields into an OnnxTensor's values, external data included (onnx_tensor_data.cpp).
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "microsr/onnx.h"

namespace microsr::onnx_detail {

// Messages nest (a graph's node's attribute holds a subgraph, whose node ...); each level costs
// stack, so a hostile file could nest deeper than the stack holds. Real exports nest a few levels.
inline constexpr int kMaxNestingDepth = 64;

struct DecodeContext {
  std::string file;                    // for error messages
  std::filesystem::path model_folder;  // external data paths are relative to it, and stay inside it
};

// A TensorProto's fields as read, before its elements are decoded.
struct TensorFields {
  std::string name;
  int32_t data_type = 0;
  std::vector<int64_t> dims;
  bool has_raw_data = false;
  std::span<const uint8_t> raw_data;
  std::vector<float> float_data;
  std::vector<int64_t> int32_data;  // int32, int16, int8, uint8, uint16, bool, float16/bfloat16 bits
  std::vector<int64_t> int64_data;
  std::vector<double> double_data;
  std::vector<uint64_t> uint64_data;  // uint32, uint64
  int64_t string_count = 0;
  bool has_segment = false;
  int64_t data_location = 0;                                       // 0 in the model, 1 external
  std::vector<std::pair<std::string, std::string>> external_data;  // location, offset, length, ...
};

// The whole model from the file's bytes.
OnnxModel decode_model(std::span<const uint8_t> bytes, const DecodeContext& context);

// The OnnxTensor of `fields`: dims checked, elements decoded from raw_data, the typed field or
// the external file. `where` names the tensor in errors.
OnnxTensor make_tensor(TensorFields&& fields, const DecodeContext& context, const std::string& where);

}  // namespace microsr::onnx_detail
