// ONNX's messages (onnx.proto) decoded from the wire: ModelProto, GraphProto, NodeProto,
// AttributeProto, TensorProto, ValueInfoProto with TypeProto and TensorShapeProto. Fields we do
// not use (doc strings of nodes, training info, functions, sparse initializers, ...) are skipped.
#include <memory>

#include "onnx/onnx_decode.h"
#include "onnx/protobuf_wire.h"

namespace microsr::onnx_detail {

namespace {

using onnx_wire::append_doubles;
using onnx_wire::append_floats;
using onnx_wire::append_int64s;
using onnx_wire::append_uint64s;
using onnx_wire::as_float;
using onnx_wire::as_int64;
using onnx_wire::as_string;
using onnx_wire::Field;
using onnx_wire::MessageReader;
using Bytes = std::span<const uint8_t>;

// Field numbers of onnx.proto, by message.
namespace model_field {
constexpr uint32_t ir_version = 1, producer_name = 2, producer_version = 3, domain = 4, model_version = 5,
                   doc_string = 6, graph = 7, opset_import = 8, metadata_props = 14;
}
namespace opset_field {
constexpr uint32_t domain = 1, version = 2;
}
namespace entry_field {  // StringStringEntryProto
constexpr uint32_t key = 1, value = 2;
}
namespace graph_field {
constexpr uint32_t node = 1, name = 2, initializer = 5, input = 11, output = 12, value_info = 13;
}
namespace node_field {
constexpr uint32_t input = 1, output = 2, name = 3, op_type = 4, attribute = 5, domain = 7;
}
namespace attribute_field {
constexpr uint32_t name = 1, f = 2, i = 3, s = 4, t = 5, g = 6, floats = 7, ints = 8, strings = 9, tensors = 10,
                   graphs = 11, type = 20;
}
namespace tensor_field {
constexpr uint32_t dims = 1, data_type = 2, segment = 3, float_data = 4, int32_data = 5, string_data = 6,
                   int64_data = 7, name = 8, raw_data = 9, double_data = 10, uint64_data = 11, external_data = 13,
                   data_location = 14;
}
namespace value_info_field {
constexpr uint32_t name = 1, type = 2;
}
namespace type_field {  // TypeProto: which kind of value (a oneof)
constexpr uint32_t tensor_type = 1, sequence_type = 4, map_type = 5, opaque_type = 7, sparse_tensor_type = 8,
                   optional_type = 9;
}
namespace tensor_type_field {  // TypeProto.Tensor
constexpr uint32_t elem_type = 1, shape = 2;
}
namespace shape_field {  // TensorShapeProto and its Dimension
constexpr uint32_t dim = 1;
constexpr uint32_t dim_value = 1, dim_param = 2;
}  // namespace shape_field

class Decoder {
 public:
  explicit Decoder(const DecodeContext& context) : context_(context) {}

  OnnxModel model(Bytes bytes) {
    OnnxModel m;
    m.path = context_.file;
    MessageReader r(bytes, context_.file + ": ModelProto", 0);
    bool has_graph = false;
    for (Field f; r.next(f);) {
      switch (f.number) {
        case model_field::ir_version:
          m.ir_version = as_int64(r, f, "ModelProto.ir_version");
          break;
        case model_field::producer_name:
          m.producer_name = as_string(r, f, "ModelProto.producer_name");
          break;
        case model_field::producer_version:
          m.producer_version = as_string(r, f, "ModelProto.producer_version");
          break;
        case model_field::domain:
          m.domain = as_string(r, f, "ModelProto.domain");
          break;
        case model_field::model_version:
          m.model_version = as_int64(r, f, "ModelProto.model_version");
          break;
        case model_field::doc_string:
          m.doc_string = as_string(r, f, "ModelProto.doc_string");
          break;
        case model_field::graph:
          if (has_graph) r.fail("ModelProto has two graphs", f.offset);
          has_graph = true;
          m.graph = graph(r, f, context_.file + ": graph", 1);
          break;
        case model_field::opset_import:
          m.opsets.push_back(opset(r, f));
          break;
        case model_field::metadata_props:
          m.metadata.push_back(string_entry(r, f, context_.file + ": metadata_props"));
          break;
        default:
          break;  // unknown or unused: skipped
      }
    }
    if (!has_graph)
      throw Error(context_.file + ": ModelProto has no graph (field 7); " +
                  (bytes.empty() ? "the file is empty" : "this is not an ONNX model, or it is truncated"));
    return m;
  }

 private:
  // A nested message's reader, refusing to go deeper than kMaxNestingDepth.
  MessageReader nested(const MessageReader& parent, const Field& f, const char* what, std::string where,
                       int depth) const {
    const Bytes bytes = onnx_wire::as_bytes(parent, f, what);
    if (depth > kMaxNestingDepth)
      parent.fail(std::string(what) + ": messages nested more than " + std::to_string(kMaxNestingDepth) + " deep",
                  f.offset);
    return MessageReader(bytes, std::move(where), parent.offset_of(bytes));
  }

  OnnxOpset opset(const MessageReader& parent, const Field& field) {
    MessageReader r = nested(parent, field, "ModelProto.opset_import", context_.file + ": opset_import", 1);
    OnnxOpset o;
    for (Field f; r.next(f);) {
      if (f.number == opset_field::domain) o.domain = as_string(r, f, "OperatorSetIdProto.domain");
      if (f.number == opset_field::version) o.version = as_int64(r, f, "OperatorSetIdProto.version");
    }
    return o;
  }

  std::pair<std::string, std::string> string_entry(const MessageReader& parent, const Field& field,
                                                   const std::string& where) {
    MessageReader r = nested(parent, field, "StringStringEntryProto", where, 1);
    std::pair<std::string, std::string> entry;
    for (Field f; r.next(f);) {
      if (f.number == entry_field::key) entry.first = as_string(r, f, "StringStringEntryProto.key");
      if (f.number == entry_field::value) entry.second = as_string(r, f, "StringStringEntryProto.value");
    }
    return entry;
  }

  OnnxGraph graph(const MessageReader& parent, const Field& field, const std::string& where, int depth) {
    MessageReader r = nested(parent, field, "GraphProto", where, depth);
    OnnxGraph g;
    for (Field f; r.next(f);) {
      switch (f.number) {
        case graph_field::node:
          g.nodes.push_back(node(r, f, where + ".node[" + std::to_string(g.nodes.size()) + "]", depth + 1));
          break;
        case graph_field::name:
          g.name = as_string(r, f, "GraphProto.name");
          break;
        case graph_field::initializer:
          g.initializers.push_back(
              tensor(r, f, where + ".initializer[" + std::to_string(g.initializers.size()) + "]", depth + 1));
          break;
        case graph_field::input:
          g.inputs.push_back(value_info(r, f, where + ".input[" + std::to_string(g.inputs.size()) + "]", depth + 1));
          break;
        case graph_field::output:
          g.outputs.push_back(value_info(r, f, where + ".output[" + std::to_string(g.outputs.size()) + "]", depth + 1));
          break;
        case graph_field::value_info:
          g.value_infos.push_back(
              value_info(r, f, where + ".value_info[" + std::to_string(g.value_infos.size()) + "]", depth + 1));
          break;
        default:
          break;
      }
    }
    return g;
  }

  OnnxNode node(const MessageReader& parent, const Field& field, const std::string& where, int depth) {
    MessageReader r = nested(parent, field, "NodeProto", where, depth);
    OnnxNode n;
    std::vector<Field> attribute_fields;  // decoded after the name is known, for better errors
    for (Field f; r.next(f);) {
      switch (f.number) {
        case node_field::input:
          n.inputs.push_back(as_string(r, f, "NodeProto.input"));
          break;
        case node_field::output:
          n.outputs.push_back(as_string(r, f, "NodeProto.output"));
          break;
        case node_field::name:
          n.name = as_string(r, f, "NodeProto.name");
          break;
        case node_field::op_type:
          n.op_type = as_string(r, f, "NodeProto.op_type");
          break;
        case node_field::domain:
          n.domain = as_string(r, f, "NodeProto.domain");
          break;
        case node_field::attribute:
          attribute_fields.push_back(f);
          break;
        default:
          break;
      }
    }
    const std::string named = where + " (" + (n.op_type.empty() ? "?" : n.op_type) +
                              (n.name.empty() ? std::string() : " '" + n.name + "'") + ")";
    for (const Field& f : attribute_fields)
      n.attributes.push_back(
          attribute(r, f, named + ".attribute[" + std::to_string(n.attributes.size()) + "]", depth + 1));
    return n;
  }

  OnnxAttribute attribute(const MessageReader& parent, const Field& field, const std::string& where, int depth) {
    MessageReader r = nested(parent, field, "AttributeProto", where, depth);
    OnnxAttribute a;
    std::vector<Field> tensor_fields, graph_fields;
    for (Field f; r.next(f);) {
      switch (f.number) {
        case attribute_field::name:
          a.name = as_string(r, f, "AttributeProto.name");
          break;
        case attribute_field::type:
          a.type = static_cast<OnnxAttributeType>(as_int64(r, f, "AttributeProto.type"));
          break;
        case attribute_field::f:
          a.f = as_float(r, f, "AttributeProto.f");
          break;
        case attribute_field::i:
          a.i = as_int64(r, f, "AttributeProto.i");
          break;
        case attribute_field::s:
          a.s = as_string(r, f, "AttributeProto.s");
          break;
        case attribute_field::floats:
          append_floats(r, f, "AttributeProto.floats", a.floats);
          break;
        case attribute_field::ints:
          append_int64s(r, f, "AttributeProto.ints", a.ints);
          break;
        case attribute_field::strings:
          a.strings.push_back(as_string(r, f, "AttributeProto.strings"));
          break;
        case attribute_field::t:
        case attribute_field::tensors:
        case attribute_field::g:
        case attribute_field::graphs:
          (f.number == attribute_field::t || f.number == attribute_field::tensors ? tensor_fields : graph_fields)
              .push_back(f);
          break;
        default:
          break;
      }
    }
    const std::string named = where + " '" + a.name + "'";
    for (const Field& f : tensor_fields) {
      if (f.number == attribute_field::t) {
        if (a.t) r.fail("AttributeProto.t given twice", f.offset);
        a.t = tensor(r, f, named + ".t", depth + 1);
      } else {
        a.tensors.push_back(tensor(r, f, named + ".tensors[" + std::to_string(a.tensors.size()) + "]", depth + 1));
      }
    }
    for (const Field& f : graph_fields) {
      if (f.number == attribute_field::g) {
        if (a.g) r.fail("AttributeProto.g given twice", f.offset);
        a.g = std::make_shared<OnnxGraph>(graph(r, f, named + ".g", depth + 1));
      } else {
        a.graphs.push_back(std::make_shared<OnnxGraph>(
            graph(r, f, named + ".graphs[" + std::to_string(a.graphs.size()) + "]", depth + 1)));
      }
    }
    return a;
  }

  OnnxTensor tensor(const MessageReader& parent, const Field& field, const std::string& where, int depth) {
    MessageReader r = nested(parent, field, "TensorProto", where, depth);
    TensorFields t;
    for (Field f; r.next(f);) {
      switch (f.number) {
        case tensor_field::dims:
          append_int64s(r, f, "TensorProto.dims", t.dims);
          break;
        case tensor_field::data_type:
          t.data_type = static_cast<int32_t>(as_int64(r, f, "TensorProto.data_type"));
          break;
        case tensor_field::segment:
          t.has_segment = true;
          break;
        case tensor_field::float_data:
          append_floats(r, f, "TensorProto.float_data", t.float_data);
          break;
        case tensor_field::int32_data:
          append_int64s(r, f, "TensorProto.int32_data", t.int32_data);
          break;
        case tensor_field::string_data:
          onnx_wire::as_bytes(r, f, "TensorProto.string_data");
          ++t.string_count;
          break;
        case tensor_field::int64_data:
          append_int64s(r, f, "TensorProto.int64_data", t.int64_data);
          break;
        case tensor_field::name:
          t.name = as_string(r, f, "TensorProto.name");
          break;
        case tensor_field::raw_data:
          t.raw_data = onnx_wire::as_bytes(r, f, "TensorProto.raw_data");
          t.has_raw_data = true;
          break;
        case tensor_field::double_data:
          append_doubles(r, f, "TensorProto.double_data", t.double_data);
          break;
        case tensor_field::uint64_data:
          append_uint64s(r, f, "TensorProto.uint64_data", t.uint64_data);
          break;
        case tensor_field::external_data:
          t.external_data.push_back(string_entry(r, f, where + ".external_data"));
          break;
        case tensor_field::data_location:
          t.data_location = as_int64(r, f, "TensorProto.data_location");
          break;
        default:
          break;
      }
    }
    const std::string named = t.name.empty() ? where : where + " '" + t.name + "'";
    return make_tensor(std::move(t), context_, named);
  }

  OnnxValueInfo value_info(const MessageReader& parent, const Field& field, const std::string& where, int depth) {
    MessageReader r = nested(parent, field, "ValueInfoProto", where, depth);
    OnnxValueInfo v;
    for (Field f; r.next(f);) {
      if (f.number == value_info_field::name) v.name = as_string(r, f, "ValueInfoProto.name");
      if (f.number == value_info_field::type) type(r, f, where + ".type", depth + 1, v);
    }
    return v;
  }

  void type(const MessageReader& parent, const Field& field, const std::string& where, int depth, OnnxValueInfo& v) {
    MessageReader r = nested(parent, field, "TypeProto", where, depth);
    for (Field f; r.next(f);) {
      switch (f.number) {
        case type_field::tensor_type:
          v.kind = "tensor";
          tensor_type(r, f, where + ".tensor_type", depth + 1, v);
          break;
        case type_field::sparse_tensor_type:
          v.kind = "sparse_tensor";
          tensor_type(r, f, where + ".sparse_tensor_type", depth + 1, v);
          break;
        case type_field::sequence_type:
          v.kind = "sequence";  // element types of sequences, maps and optionals: not needed yet
          break;
        case type_field::map_type:
          v.kind = "map";
          break;
        case type_field::optional_type:
          v.kind = "optional";
          break;
        case type_field::opaque_type:
          v.kind = "opaque";
          break;
        default:
          break;
      }
    }
  }

  void tensor_type(const MessageReader& parent, const Field& field, const std::string& where, int depth,
                   OnnxValueInfo& v) {
    MessageReader r = nested(parent, field, "TypeProto.Tensor", where, depth);
    for (Field f; r.next(f);) {
      if (f.number == tensor_type_field::elem_type)
        v.elem_type = static_cast<int32_t>(as_int64(r, f, "TypeProto.Tensor.elem_type"));
      if (f.number == tensor_type_field::shape) {
        v.has_shape = true;
        v.shape.clear();
        MessageReader shape = nested(r, f, "TensorShapeProto", where + ".shape", depth + 1);
        for (Field d; shape.next(d);)
          if (d.number == shape_field::dim) v.shape.push_back(dimension(shape, d, where + ".shape.dim", depth + 2));
      }
    }
  }

  OnnxDim dimension(const MessageReader& parent, const Field& field, const std::string& where, int depth) {
    MessageReader r = nested(parent, field, "TensorShapeProto.Dimension", where, depth);
    OnnxDim d;
    for (Field f; r.next(f);) {
      if (f.number == shape_field::dim_value) d.value = as_int64(r, f, "Dimension.dim_value");
      if (f.number == shape_field::dim_param) d.param = as_string(r, f, "Dimension.dim_param");
    }
    return d;
  }

  const DecodeContext& context_;
};

}  // namespace

OnnxModel decode_model(std::span<const uint8_t> bytes, const DecodeContext& context) {
  return Decoder(context).model(bytes);
}

}  // namespace microsr::onnx_detail
