// ONNX ops that make or reinterpret shapes without moving elements: Shape, Reshape, Flatten,
// Squeeze, Unsqueeze, Constant, ConstantOfShape, Range, Size.
#include <algorithm>
#include <cmath>

#include "cpu/ref/onnx_ref.h"

namespace microsr::onnx_ref {
namespace {


OnnxValue with_shape(const OnnxValue& x, std::vector<int64_t> shape) {
  OnnxValue out = x;
  out.shape = std::move(shape);
  return out;
}

// Shape(data) with the optional start/end slice of opset 15.
std::vector<OnnxValue> shape_op(const OpContext& c) {
  const std::vector<int64_t>& s = c.in(0).shape;
  const auto rank = static_cast<int64_t>(s.size());
  auto clamp = [rank](int64_t a) { return std::clamp(a < 0 ? a + rank : a, int64_t{0}, rank); };
  const int64_t start = clamp(c.attr_int("start", 0)), end = clamp(c.attr_int("end", rank));
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) dims.push_back(s[i]);
  const auto n = static_cast<int64_t>(dims.size());
  return outputs_of(OnnxValue::from_integers({n}, std::move(dims)));
}

// Reshape(data, shape): 0 copies the input's dimension (unless allowzero), -1 is inferred.
std::vector<OnnxValue> reshape(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  std::vector<int64_t> target = as_integers(c.in(1));
  const bool allow_zero = c.attr_int("allowzero", 0) != 0;
  int64_t known = 1, infer = -1;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allow_zero) {
      require(i < x.shape.size(), "Reshape: 0 at position " + std::to_string(i) + " but the input " +
                                      x.describe() + " has no such dimension");
      target[i] = x.shape[i];
    }
    if (target[i] == -1) {
      require(infer < 0, "Reshape: more than one -1 in " + shape_text(target));
      infer = static_cast<int64_t>(i);
    } else {
      require(target[i] >= 0, "Reshape: negative dimension in " + shape_text(target));
      known *= target[i];
    }
  }
  if (infer >= 0) {
    require(known > 0 && x.numel() % known == 0,
            "Reshape: cannot infer -1 reshaping " + x.describe() + " to " + shape_text(target));
    target[infer] = x.numel() / known;
  }
  require(known * (infer >= 0 ? target[infer] : 1) == x.numel(),
          "Reshape: " + x.describe() + " cannot become " + shape_text(target));
  return outputs_of(with_shape(x, target));
}

std::vector<OnnxValue> flatten(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  const auto rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = c.attr_int("axis", 1);
  if (axis < 0) axis += rank;
  require(axis >= 0 && axis <= rank, "Flatten: axis outside the rank of " + x.describe());
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.shape[i];
  return outputs_of(with_shape(x, {outer, outer ? x.numel() / outer : 0}));
}

// The axes of Squeeze/Unsqueeze/Reduce: input 1 from opset 13 (attribute before).
std::vector<int64_t> axes_of(const OpContext& c, std::size_t input) {
  if (c.has(input)) return as_integers(c.in(input));
  return c.attr_ints("axes");
}

std::vector<OnnxValue> squeeze(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  const auto rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> axes = axes_of(c, 1);
  std::vector<bool> drop(rank, false);
  if (axes.empty()) {
    for (int64_t i = 0; i < rank; ++i) drop[i] = x.shape[i] == 1;
  } else {
    for (int64_t a : axes) {
      const int64_t axis = normalize_axis(a, rank, "Squeeze axis");
      require(x.shape[axis] == 1, "Squeeze: axis " + std::to_string(a) + " of " + x.describe() + " is not 1");
      drop[axis] = true;
    }
  }
  std::vector<int64_t> shape;
  for (int64_t i = 0; i < rank; ++i)
    if (!drop[i]) shape.push_back(x.shape[i]);
  return outputs_of(with_shape(x, shape));
}

std::vector<OnnxValue> unsqueeze(const OpContext& c) {
  const OnnxValue& x = c.in(0);
  const std::vector<int64_t> axes = axes_of(c, 1);
  const auto rank = static_cast<int64_t>(x.shape.size() + axes.size());
  std::vector<bool> inserted(rank, false);
  for (int64_t a : axes) {
    const int64_t axis = normalize_axis(a, rank, "Unsqueeze axis");
    require(!inserted[axis], "Unsqueeze: axis " + std::to_string(a) + " given twice");
    inserted[axis] = true;
  }
  std::vector<int64_t> shape;
  std::size_t next = 0;
  for (int64_t i = 0; i < rank; ++i) shape.push_back(inserted[i] ? 1 : x.shape.at(next++));
  return outputs_of(with_shape(x, shape));
}

std::vector<OnnxValue> constant(const OpContext& c) {
  if (const OnnxAttribute* a = c.node.attribute("value")) {
    require(a->t.has_value(), "Constant: the value attribute holds no tensor");
    return outputs_of(value_from_tensor(*a->t));
  }
  if (const OnnxAttribute* a = c.node.attribute("value_float")) return outputs_of(OnnxValue::from_floats({}, {a->f}));
  if (const OnnxAttribute* a = c.node.attribute("value_floats"))
    return outputs_of(OnnxValue::from_floats({static_cast<int64_t>(a->floats.size())}, a->floats));
  if (const OnnxAttribute* a = c.node.attribute("value_int")) return outputs_of(OnnxValue::from_integers({}, {a->i}));
  if (const OnnxAttribute* a = c.node.attribute("value_ints"))
    return outputs_of(OnnxValue::from_integers({static_cast<int64_t>(a->ints.size())}, a->ints));
  throw Error("Constant: no value, value_float(s) or value_int(s) attribute (sparse and string values are not supported)");
}

// ConstantOfShape(shape): filled with the one element of the `value` attribute (float32 0 by default).
std::vector<OnnxValue> constant_of_shape(const OpContext& c) {
  const std::vector<int64_t> shape = as_integers(c.in(0));
  OnnxValue fill = OnnxValue::from_floats({1}, {0.0f});
  if (const OnnxAttribute* a = c.node.attribute("value")) fill = value_from_tensor(*a->t);
  require(fill.numel() == 1, "ConstantOfShape: value must hold one element, found " + fill.describe());
  OnnxValue out = make_value(fill.type, shape);
  if (out.is_float())
    std::fill(out.floats.begin(), out.floats.end(), fill.floats[0]);
  else
    std::fill(out.integers.begin(), out.integers.end(), fill.integers[0]);
  return outputs_of(std::move(out));
}

// Range(start, limit, delta): ceil((limit - start) / delta) elements.
std::vector<OnnxValue> range(const OpContext& c) {
  const OnnxValue& start = c.in(0);
  const double s = element(start, 0), limit = element(c.in(1), 0), delta = element(c.in(2), 0);
  require(delta != 0.0, "Range: delta is 0");
  const auto n = static_cast<int64_t>(std::max(0.0, std::ceil((limit - s) / delta)));
  OnnxValue out = make_value(start.type, {n});
  for (int64_t i = 0; i < n; ++i) {
    if (out.is_float())
      out.floats[i] = static_cast<float>(start.floats[0] + static_cast<float>(i) * static_cast<float>(delta));
    else
      out.integers[i] = start.integers[0] + i * static_cast<int64_t>(delta);
  }
  return outputs_of(std::move(out));
}

}  // namespace

void add_shape_ops(KernelTable& t) {
  t["Shape"] = shape_op;
  t["Size"] = [](const OpContext& c) { return outputs_of(OnnxValue::from_integers({}, {c.in(0).numel()})); };
  t["Reshape"] = reshape;
  t["Flatten"] = flatten;
  t["Squeeze"] = squeeze;
  t["Unsqueeze"] = unsqueeze;
  t["Constant"] = constant;
  t["ConstantOfShape"] = constant_of_shape;
  t["Range"] = range;
}

}  // namespace microsr::onnx_ref
