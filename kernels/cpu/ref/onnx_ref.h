// The ONNX op kernels of the graph runtime (src/onnx/runtime*.cpp): plain-loop references, one
// file per op family (onnx_*_ref.cpp), registered by op type in one table.
//
// A kernel takes the node (for its attributes), the opset of the standard domain (opset 13 moved
// Split/Squeeze/Unsqueeze axes from attributes to inputs, opset 18 the Reduce* axes) and its input
// values (nullptr for an omitted optional input), and returns its outputs in node order. It throws
// microsr::Error on bad shapes or attributes; the runtime adds the node's name.
// Values are row-major OnnxValues: floats in `floats`, integers and bools in `integers`.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "microsr/onnx_runtime.h"

namespace microsr::onnx_ref {

struct OpContext {
  const OnnxNode& node;
  int64_t opset = 17;
  std::vector<const OnnxValue*> inputs;  // nullptr: omitted optional input
  // Input 0's value when no later node reads it (set by the runtime, else null): a fast kernel may
  // move its buffer into an output of the same shape and compute in place (inputs[0] points at the
  // same object, so the kernel must read input 0 through the output it moved it to).
  OnnxValue* donated = nullptr;

  bool has(std::size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const OnnxValue& in(std::size_t i) const;  // throws when absent
  std::size_t output_count() const { return node.outputs.size(); }

  // Attributes with defaults.
  int64_t attr_int(const std::string& name, int64_t fallback) const;
  float attr_float(const std::string& name, float fallback) const;
  std::string attr_string(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& name, std::vector<int64_t> fallback = {}) const;
  bool has_attr(const std::string& name) const { return node.attribute(name) != nullptr; }
};

using OpKernel = std::function<std::vector<OnnxValue>(const OpContext&)>;
using KernelTable = std::map<std::string, OpKernel>;

// Every op type we run, by ONNX op_type (standard domain only).
const KernelTable& kernel_table();

// Each family adds its ops to the table.
void add_elementwise_ops(KernelTable& table);
void add_shape_ops(KernelTable& table);
void add_movement_ops(KernelTable& table);
void add_reduce_ops(KernelTable& table);
void add_conv_ops(KernelTable& table);
void add_resize_ops(KernelTable& table);
void add_matmul_ops(KernelTable& table);
void add_fused_ops(KernelTable& table);  // onnx_fused_ref.cpp: the microsr-domain ops of graph fusion

// ---- helpers shared by the families (onnx_common_ref.cpp) ----

// An OnnxTensor (initializer, Constant attribute) as a value.
OnnxValue value_from_tensor(const OnnxTensor& t);

// A new value of `type` and `shape`, zero-filled in the right storage.
OnnxValue make_value(int32_t type, std::vector<int64_t> shape);
// The same with its float elements left uninitialised (integers still zero): only for a kernel
// that writes every element (a fresh output's zero-fill is a pass over memory it would overwrite).
OnnxValue make_output(int32_t type, std::vector<int64_t> shape);

// A kernel's outputs, moved in. (Not `return {out};`: a braced list's elements are const, so
// the vector would copy each one, a full pass over every activation.)
template <class... Values>
std::vector<OnnxValue> outputs_of(Values&&... values) {
  std::vector<OnnxValue> list;
  list.reserve(sizeof...(values));
  (list.push_back(std::forward<Values>(values)), ...);
  return list;
}

// The elements of an integer value (int64, int32, bool ...) or of a float value, as int64.
std::vector<int64_t> as_integers(const OnnxValue& v);
// Element i of any value as double.
double element(const OnnxValue& v, int64_t i);

// Numpy broadcasting of two shapes; throws naming both.
std::vector<int64_t> broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b);
// For each element of `out_shape`, the index into a value of shape `in_shape` broadcast to it.
std::vector<int64_t> broadcast_index(const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape);

// Row-major strides of a shape.
std::vector<int64_t> strides_of(const std::vector<int64_t>& shape);

// The shape Reshape(data of shape `in`, target) gives (0 copies a dimension unless allowzero, one
// -1 is inferred), or nothing when the target does not fit (the Reshape kernel names the problem).
std::optional<std::vector<int64_t>> reshaped_shape(const std::vector<int64_t>& in, const OnnxValue& target,
                                                   bool allowzero);
// An axis in [-rank, rank) made non-negative; throws naming it.
int64_t normalize_axis(int64_t axis, int64_t rank, const char* what);

std::string shape_text(const std::vector<int64_t>& shape);

// Copies the elements at `indices` of `src` into a new value of `shape` (same type).
OnnxValue gather_elements(const OnnxValue& src, const std::vector<int64_t>& shape,
                          const std::vector<int64_t>& indices);

}  // namespace microsr::onnx_ref
