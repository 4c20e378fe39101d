// load_onnx(), the small helpers of the ONNX structs, and the report of `microsr onnx info`.
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "io/file_bytes.h"
#include "onnx/onnx_decode.h"

namespace microsr {

std::string onnx_type_name(int32_t type) {
  static const char* const kNames[] = {"undefined", "float32", "uint8",     "int8",       "uint16",  "int16",
                                       "int32",     "int64",   "string",    "bool",       "float16", "float64",
                                       "uint32",    "uint64",  "complex64", "complex128", "bfloat16"};
  if (type >= 0 && type < int32_t(std::size(kNames))) return kNames[type];
  return "type " + std::to_string(type);
}

std::size_t onnx_type_size(int32_t type) {
  switch (static_cast<OnnxType>(type)) {
    case OnnxType::uint8:
    case OnnxType::int8:
    case OnnxType::boolean:
      return 1;
    case OnnxType::uint16:
    case OnnxType::int16:
    case OnnxType::float16:
    case OnnxType::bfloat16:
      return 2;
    case OnnxType::float32:
    case OnnxType::int32:
    case OnnxType::uint32:
      return 4;
    case OnnxType::int64:
    case OnnxType::float64:
    case OnnxType::uint64:
    case OnnxType::complex64:
      return 8;
    case OnnxType::complex128:
      return 16;
    default:
      return 0;
  }
}

int64_t OnnxTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

int64_t OnnxTensor::stored_bytes() const { return numel() * static_cast<int64_t>(onnx_type_size(data_type)); }

std::string OnnxDim::str() const {
  if (value) return std::to_string(*value);
  return param.empty() ? "?" : param;
}

std::string OnnxValueInfo::type_str() const {
  if (kind.empty()) return "(no type)";
  std::string out = kind == "tensor" ? onnx_type_name(elem_type) : kind + " of " + onnx_type_name(elem_type);
  if (kind != "tensor" && kind != "sparse_tensor") return kind;
  if (!has_shape) return out + " [rank unknown]";
  out += " [";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + shape[i].str();
  return out + "]";
}

OnnxAttribute int_attr(const std::string& name, int64_t v) {
  OnnxAttribute a;
  a.name = name, a.type = OnnxAttributeType::int_, a.i = v;
  return a;
}
OnnxAttribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  OnnxAttribute a;
  a.name = name, a.type = OnnxAttributeType::ints, a.ints = std::move(v);
  return a;
}
OnnxAttribute float_attr(const std::string& name, float v) {
  OnnxAttribute a;
  a.name = name, a.type = OnnxAttributeType::float_, a.f = v;
  return a;
}
OnnxAttribute string_attr(const std::string& name, std::string v) {
  OnnxAttribute a;
  a.name = name, a.type = OnnxAttributeType::string, a.s = std::move(v);
  return a;
}

const OnnxAttribute* OnnxNode::attribute(const std::string& wanted) const {
  for (const OnnxAttribute& a : attributes)
    if (a.name == wanted) return &a;
  return nullptr;
}

const OnnxTensor* OnnxGraph::initializer(const std::string& wanted) const {
  for (const OnnxTensor& t : initializers)
    if (t.name == wanted) return &t;
  return nullptr;
}

OnnxModel load_onnx(const std::string& path) { return parse_onnx(io::read_file_bytes(path), path); }

OnnxModel parse_onnx(std::span<const uint8_t> bytes, const std::string& path) {
  onnx_detail::DecodeContext context;
  context.file = path;
  context.model_folder = std::filesystem::path(path).parent_path();
  if (context.model_folder.empty()) context.model_folder = ".";
  return onnx_detail::decode_model(bytes, context);
}

std::vector<const OnnxValueInfo*> onnx_runtime_inputs(const OnnxModel& model) {
  std::set<std::string> initialized;
  for (const OnnxTensor& t : model.graph.initializers) initialized.insert(t.name);
  std::vector<const OnnxValueInfo*> out;
  for (const OnnxValueInfo& v : model.graph.inputs)
    if (!initialized.count(v.name)) out.push_back(&v);
  return out;
}

std::vector<std::pair<std::string, int64_t>> onnx_op_histogram(const OnnxGraph& graph) {
  std::map<std::string, int64_t> counts;
  for (const OnnxNode& n : graph.nodes)
    ++counts[n.domain.empty() || n.domain == "ai.onnx" ? n.op_type : n.domain + ":" + n.op_type];
  std::vector<std::pair<std::string, int64_t>> out(counts.begin(), counts.end());
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

namespace {

std::string padded(std::string s, std::size_t width) {
  if (s.size() < width) s.resize(width, ' ');
  return s;
}

std::string with_unit(int64_t bytes) {
  char text[64];
  if (bytes >= (int64_t{1} << 20))
    std::snprintf(text, sizeof text, "%lld bytes (%.1f MiB)", (long long)bytes, bytes / 1048576.0);
  else
    std::snprintf(text, sizeof text, "%lld bytes", (long long)bytes);
  return text;
}

}  // namespace

std::string describe_onnx(const OnnxModel& model) {
  const OnnxGraph& g = model.graph;
  std::string out = model.path + "\n";
  out += "  ir_version " + std::to_string(model.ir_version) + ", opset";
  for (std::size_t i = 0; i < model.opsets.size(); ++i) {
    const OnnxOpset& o = model.opsets[i];
    out += (i ? ", " : " ") + (o.domain.empty() ? std::string("ai.onnx") : o.domain) + " " + std::to_string(o.version);
  }
  if (model.opsets.empty()) out += " (none declared)";
  out += "\n  producer " + (model.producer_name.empty() ? std::string("(unnamed)") : model.producer_name) +
         (model.producer_version.empty() ? "" : " " + model.producer_version) + "\n";
  out += "  graph '" + g.name + "': " + std::to_string(g.nodes.size()) + " nodes\n";

  std::size_t width = 8;
  const std::vector<const OnnxValueInfo*> inputs = onnx_runtime_inputs(model);
  for (const OnnxValueInfo* v : inputs) width = std::max(width, v->name.size() + 2);
  for (const OnnxValueInfo& v : g.outputs) width = std::max(width, v.name.size() + 2);
  out += "  inputs:\n";
  for (const OnnxValueInfo* v : inputs) out += "    " + padded(v->name, width) + v->type_str() + "\n";
  out += "  outputs:\n";
  for (const OnnxValueInfo& v : g.outputs) out += "    " + padded(v.name, width) + v.type_str() + "\n";

  int64_t elements = 0, bytes = 0, external_tensors = 0, external_bytes = 0;
  std::set<std::string> external_files;
  for (const OnnxTensor& t : g.initializers) {
    elements += t.numel();
    bytes += t.stored_bytes();
    if (t.external) {
      ++external_tensors;
      external_bytes += t.stored_bytes();
      external_files.insert(t.external_location);
    }
  }
  out += "  initializers: " + std::to_string(g.initializers.size()) + ", " + std::to_string(elements) +
         " parameters, " + with_unit(bytes) + "\n";
  if (external_tensors)
    out += "  external weights: " + std::to_string(external_tensors) + " tensors, " + with_unit(external_bytes) +
           " in " + std::to_string(external_files.size()) + " file(s): " +
           [&] {
             std::string names;
             for (const std::string& f : external_files) names += (names.empty() ? "" : ", ") + f;
             return names;
           }() +
           "\n";
  else
    out += "  external weights: none (all inside the model file)\n";

  const auto histogram = onnx_op_histogram(g);
  out += "  ops (" + std::to_string(histogram.size()) + " types):\n";
  std::size_t op_width = 8;
  for (const auto& [op, count] : histogram) op_width = std::max(op_width, op.size() + 2);
  for (const auto& [op, count] : histogram) out += "    " + padded(op, op_width) + std::to_string(count) + "\n";
  return out;
}

}  // namespace microsr
