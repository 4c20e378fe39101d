// Reference kernels of the fused ops that src/onnx/runtime_fuse.cpp puts in a graph (domain
// "microsr"). The spec of a fused node is the chain it replaced: MicrosrAttention and
// MicrosrMatMulBias run that chain op by op on the reference kernels of those ops; MicrosrGelu is
// the Erf formula as one plain loop, in the order of the exported nodes.
#include <cmath>

#include "cpu/ref/onnx_ref.h"

namespace microsr::onnx_ref {
namespace {

// Runs the reference kernel of `op` on `inputs` and returns its first output.
OnnxValue run_op(const char* op, std::vector<OnnxAttribute> attributes, const std::vector<const OnnxValue*>& inputs,
                 int64_t opset) {
  OnnxNode node;
  node.name = std::string("fused ") + op;
  node.op_type = op;
  node.attributes = std::move(attributes);
  node.inputs.assign(inputs.size(), "x");
  node.outputs = {"y"};
  const OpContext c{node, opset, inputs, nullptr};
  std::vector<OnnxValue> out = kernel_table().at(op)(c);
  return std::move(out.at(0));
}

std::vector<OnnxAttribute> int_attribute(const char* name, int64_t v) {
  OnnxAttribute a;
  a.name = name, a.type = OnnxAttributeType::int_, a.i = v;
  return {a};
}

std::vector<OnnxAttribute> perm_attribute(const std::vector<int64_t>& perm) {
  OnnxAttribute a;
  a.name = "perm", a.type = OnnxAttributeType::ints, a.ints = perm;
  return {a};
}

// MicrosrAttention(Q, K, V, shape1?, shape2?, bias...), attributes q_perm, k_perm, v_perm (a folded
// Transpose of that operand), scale_op ("Mul" or "Div") with scale, allowzero1, allowzero2, out_perm
// (a folded Transpose of the output), out_shape_input 1 (the last input is the shape of a folded
// Reshape before it, with out_allowzero), qkv_axis with qkv_squeeze and qkv_index (Q, K and V are the
// Squeezed parts qkv_index of an equal 3-way Split of input 0 along qkv_axis):
//   S = MatMul(Transpose(Q), Transpose(K)) [scale_op scale] → Reshape(shape1) → + bias... →
//       Reshape(shape2) → Softmax(axis -1) → MatMul(·, Transpose(V)) → Reshape(last input) → Transpose(out_perm)
std::vector<OnnxValue> attention(const OpContext& c) {
  const OnnxValue *q = &c.in(0), *k = &c.in(1), *v = &c.in(2);
  OnnxValue sq, sk, sv, tq, tk, tv;
  if (c.has_attr("qkv_axis")) {  // Q, K, V = Squeeze(Split(input 0, 3 equal parts)[qkv_index[j]])
    OnnxNode split;
    split.name = "fused Split", split.op_type = "Split", split.inputs = {"x"}, split.outputs = {"q", "k", "v"};
    split.attributes = int_attribute("axis", c.attr_int("qkv_axis", 0));
    std::vector<OnnxValue> parts = kernel_table().at("Split")(OpContext{split, c.opset, {&c.in(0)}, nullptr});
    const std::vector<int64_t> index = c.attr_ints("qkv_index"), axes = c.attr_ints("qkv_squeeze");
    require(index.size() == 3 && parts.size() == 3, "MicrosrAttention: qkv_index needs 3 entries");
    OnnxValue* squeezed[3] = {&sq, &sk, &sv};
    const OnnxValue axes_value = OnnxValue::from_integers({static_cast<int64_t>(axes.size())}, axes);
    for (int j = 0; j < 3; ++j) {
      const OnnxValue& part = parts.at(static_cast<std::size_t>(index[j]));
      OnnxAttribute a;
      a.name = "axes", a.type = OnnxAttributeType::ints, a.ints = axes;
      *squeezed[j] = c.opset >= 13 ? run_op("Squeeze", {}, {&part, &axes_value}, c.opset)
                                   : run_op("Squeeze", {a}, {&part}, c.opset);
    }
    q = &sq, k = &sk, v = &sv;
  }
  if (c.has_attr("q_perm")) tq = run_op("Transpose", perm_attribute(c.attr_ints("q_perm")), {q}, c.opset), q = &tq;
  if (c.has_attr("k_perm")) tk = run_op("Transpose", perm_attribute(c.attr_ints("k_perm")), {k}, c.opset), k = &tk;
  if (c.has_attr("v_perm")) tv = run_op("Transpose", perm_attribute(c.attr_ints("v_perm")), {v}, c.opset), v = &tv;
  OnnxValue s = run_op("MatMul", {}, {q, k}, c.opset);
  const std::string scale_op = c.attr_string("scale_op", "");
  if (!scale_op.empty()) {
    require(scale_op == "Mul" || scale_op == "Div", "scale_op must be Mul or Div, not '" + scale_op + "'");
    const OnnxValue scale = OnnxValue::from_floats({}, {c.attr_float("scale", 1.0f)});
    s = run_op(scale_op.c_str(), {}, {&s, &scale}, c.opset);
  }
  if (c.has(3)) s = run_op("Reshape", int_attribute("allowzero", c.attr_int("allowzero1", 0)), {&s, &c.in(3)}, c.opset);
  const std::size_t bias_end = c.inputs.size() - (c.attr_int("out_shape_input", 0) ? 1 : 0);
  for (std::size_t i = 5; i < bias_end; ++i) s = run_op("Add", {}, {&s, &c.in(i)}, c.opset);
  if (c.has(4)) s = run_op("Reshape", int_attribute("allowzero", c.attr_int("allowzero2", 0)), {&s, &c.in(4)}, c.opset);
  s = run_op("Softmax", int_attribute("axis", -1), {&s}, c.opset);
  OnnxValue y = run_op("MatMul", {}, {&s, v}, c.opset);
  if (c.attr_int("out_shape_input", 0))
    y = run_op("Reshape", int_attribute("allowzero", c.attr_int("out_allowzero", 0)), {&y, &c.in(c.inputs.size() - 1)},
               c.opset);
  if (c.has_attr("out_perm")) y = run_op("Transpose", perm_attribute(c.attr_ints("out_perm")), {&y}, c.opset);
  return outputs_of(std::move(y));
}

std::vector<OnnxValue> gelu(const OpContext& c);

// MicrosrMatMulBias(x, W, bias) = Add(MatMul(x, W), bias); attribute activation "Gelu": then
// MicrosrGelu of that.
std::vector<OnnxValue> matmul_bias(const OpContext& c) {
  OnnxValue y = run_op("MatMul", {}, {&c.in(0), &c.in(1)}, c.opset);
  y = run_op("Add", {}, {&y, &c.in(2)}, c.opset);
  const std::string activation = c.attr_string("activation", "");
  require(activation.empty() || activation == "Gelu", "MicrosrMatMulBias: unknown activation '" + activation + "'");
  if (activation.empty()) return outputs_of(std::move(y));
  OnnxNode node;
  node.name = "fused MicrosrGelu", node.op_type = "MicrosrGelu", node.inputs = {"x"}, node.outputs = {"y"};
  return gelu(OpContext{node, c.opset, {&y}, nullptr});
}

// MicrosrGelu(x) = x · (1 + erf(x / √2)) · 0.5, elementwise.
std::vector<OnnxValue> gelu(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  require(x.is_float(), "MicrosrGelu needs a float input, got " + x.describe());
  OnnxValue y = make_value(x.type, x.shape);
  const float sqrt2 = std::sqrt(2.0f);
  for (int64_t i = 0; i < x.numel(); ++i) y.floats[i] = x.floats[i] * (1.0f + std::erf(x.floats[i] / sqrt2)) * 0.5f;
  return outputs_of(std::move(y));
}

}  // namespace

void add_fused_ops(KernelTable& table) {
  table["MicrosrAttention"] = attention;
  table["MicrosrMatMulBias"] = matmul_bias;
  table["MicrosrGelu"] = gelu;
}

}  // namespace microsr::onnx_ref
