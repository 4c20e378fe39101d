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
// Squeezed parts qkv_index of an equal 3-way Split of input qkv_source (default 0) along qkv_axis;
// an index of -1: that operand is its own input):
//   S = MatMul(Transpose(Q), Transpose(K)) [scale_op scale] → Reshape(shape1) → + bias... →
//       Reshape(shape2) → Softmax(axis -1) → MatMul(·, Transpose(V)) → Reshape(last input) → Transpose(out_perm)
std::vector<OnnxValue> attention(const OpContext& c) {
  const OnnxValue *q = &c.in(0), *k = &c.in(1), *v = &c.in(2);
  OnnxValue sq, sk, sv, tq, tk, tv;
  if (c.has_attr("qkv_axis")) {  // Q, K, V = Squeeze(Split(input qkv_source, 3 equal parts)[qkv_index[j]])
    OnnxNode split;
    split.name = "fused Split", split.op_type = "Split", split.inputs = {"x"}, split.outputs = {"q", "k", "v"};
    split.attributes = int_attribute("axis", c.attr_int("qkv_axis", 0));
    const OnnxValue& source = c.in(static_cast<std::size_t>(c.attr_int("qkv_source", 0)));
    std::vector<OnnxValue> parts = kernel_table().at("Split")(OpContext{split, c.opset, {&source}, nullptr});
    const std::vector<int64_t> index = c.attr_ints("qkv_index"), axes = c.attr_ints("qkv_squeeze");
    require(index.size() == 3 && parts.size() == 3, "MicrosrAttention: qkv_index needs 3 entries");
    OnnxValue* squeezed[3] = {&sq, &sk, &sv};
    const OnnxValue axes_value = OnnxValue::from_integers({static_cast<int64_t>(axes.size())}, axes);
    const OnnxValue* own[3] = {q, k, v};
    for (int j = 0; j < 3; ++j) {
      if (index[j] < 0) {  // -1: operand j is input j itself
        *squeezed[j] = *own[j];
        continue;
      }
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

// Reshape(x, shape1) → Transpose(perm) → Reshape(shape2), allowzero from the attributes
// `<prefix>allowzero1` and `<prefix>allowzero2` (a window partition or its reverse).
OnnxValue reshape_transpose_reshape(const OpContext& c, const OnnxValue& x, const OnnxValue& shape1,
                                    const OnnxValue& shape2, const std::string& prefix) {
  OnnxValue y = run_op("Reshape", int_attribute("allowzero", c.attr_int(prefix + "allowzero1", 0)), {&x, &shape1}, c.opset);
  y = run_op("Transpose", perm_attribute(c.attr_ints(prefix + "perm")), {&y}, c.opset);
  return run_op("Reshape", int_attribute("allowzero", c.attr_int(prefix + "allowzero2", 0)), {&y, &shape2}, c.opset);
}

// MicrosrMatMulBias(x, W, bias, [shape1, shape2]) = Add(MatMul(x, W), bias); attribute activation
// "Gelu": then MicrosrGelu of that. Attribute in_perm: x is first Reshape(shape1) →
// Transpose(in_perm) → Reshape(shape2) (allowzero: in_allowzero1, in_allowzero2).
std::vector<OnnxValue> matmul_bias(const OpContext& c) {
  OnnxValue moved;
  const OnnxValue* x = &c.in(0);
  if (c.has_attr("in_perm")) moved = reshape_transpose_reshape(c, *x, c.in(3), c.in(4), "in_"), x = &moved;
  OnnxValue y = run_op("MatMul", {}, {x, &c.in(1)}, c.opset);
  y = run_op("Add", {}, {&y, &c.in(2)}, c.opset);
  const std::string activation = c.attr_string("activation", "");
  require(activation.empty() || activation == "Gelu", "MicrosrMatMulBias: unknown activation '" + activation + "'");
  if (activation.empty()) return outputs_of(std::move(y));
  OnnxNode node;
  node.name = "fused MicrosrGelu", node.op_type = "MicrosrGelu", node.inputs = {"x"}, node.outputs = {"y"};
  return gelu(OpContext{node, c.opset, {&y}, nullptr});
}

// MicrosrMatMulBiasAdd(residual, x, W, bias, [shape1, shape2]) = Add(residual, MatMul(x, W) + bias);
// attribute out_perm: the product is first Reshape(shape1) → Transpose(out_perm) → Reshape(shape2)
// (allowzero: out_allowzero1, out_allowzero2).
std::vector<OnnxValue> matmul_bias_add(const OpContext& c) {
  OnnxValue y = run_op("MatMul", {}, {&c.in(1), &c.in(2)}, c.opset);
  y = run_op("Add", {}, {&y, &c.in(3)}, c.opset);
  if (c.has_attr("out_perm")) y = reshape_transpose_reshape(c, y, c.in(4), c.in(5), "out_");
  return outputs_of(run_op("Add", {}, {&c.in(0), &y}, c.opset));
}

// MicrosrShape: a value with the shape a hidden value of a fused chain has, and no elements (only
// Shape nodes read it). Attribute of = "MatMul": inputs (x, W [K, N]), the shape of MatMul(x, W);
// of = "Window": inputs (x, shape1, shape2), attributes perm, allowzero1, allowzero2, the shape of
// Reshape(x, shape1) → Transpose(perm) → Reshape(shape2).
std::vector<OnnxValue> shape_of(const OpContext& c) {
  const std::string of = c.attr_string("of", "");
  const OnnxValue& x = c.in(0);
  OnnxValue out{x.type, {}, {}, {}};
  if (of == "MatMul") {
    const OnnxValue& w = c.in(1);
    require(!x.shape.empty() && w.shape.size() == 2 && x.shape.back() == w.shape[0],
            "MicrosrShape: MatMul of " + x.describe() + " and " + w.describe());
    out.shape = x.shape;
    out.shape.back() = w.shape[1];
    return outputs_of(std::move(out));
  }
  require(of == "Window", "MicrosrShape: unknown of '" + of + "'");
  const std::optional<std::vector<int64_t>> shape1 = reshaped_shape(x.shape, c.in(1), c.attr_int("allowzero1", 0));
  const std::vector<int64_t> perm = c.attr_ints("perm");
  require(shape1 && shape1->size() == perm.size(), "MicrosrShape: Reshape of " + x.describe() + " then perm");
  std::vector<int64_t> moved;
  for (int64_t p : perm) {
    const int64_t axis = p < 0 ? p + static_cast<int64_t>(perm.size()) : p;
    require(axis >= 0 && axis < static_cast<int64_t>(perm.size()), "MicrosrShape: bad perm");
    moved.push_back((*shape1)[axis]);
  }
  const std::optional<std::vector<int64_t>> shape2 = reshaped_shape(moved, c.in(2), c.attr_int("allowzero2", 0));
  require(shape2.has_value(), "MicrosrShape: the second Reshape does not fit");
  out.shape = *shape2;
  return outputs_of(std::move(out));
}

// MicrosrMaxPoolNhwc(x [N, H, W, C]) = Transpose(0, 2, 3, 1) of MaxPool(Transpose(0, 3, 1, 2) of x),
// with the MaxPool's attributes.
std::vector<OnnxValue> max_pool_nhwc(const OpContext& c) {
  OnnxValue t = run_op("Transpose", perm_attribute({0, 3, 1, 2}), {&c.in(0)}, c.opset);
  OnnxValue p = run_op("MaxPool", c.node.attributes, {&t}, c.opset);
  return outputs_of(run_op("Transpose", perm_attribute({0, 2, 3, 1}), {&p}, c.opset));
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
  table["MicrosrMatMulBiasAdd"] = matmul_bias_add;
  table["MicrosrShape"] = shape_of;
  table["MicrosrMaxPoolNhwc"] = max_pool_nhwc;
  table["MicrosrGelu"] = gelu;
}

}  // namespace microsr::onnx_ref
