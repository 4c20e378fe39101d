// The per-feed-shape plan of the graph runtime (runtime_impl.h): which nodes are shape-constant for
// the given feed shapes, and the last use of each value for the memory plan.
#include <map>
#include <set>

#include "onnx/runtime_impl.h"

namespace microsr::onnx_runtime {
namespace {

// Ops whose output shape depends on the *values* of inputs after the first (axes, sizes, pads,
// repeats...): their output shape is fixed by the feed shapes only when those inputs are
// shape-constant. Range and ConstantOfShape take their shape from every input's values.
const std::set<std::string> kShapeFromLaterInputs = {
    "Reshape", "Expand", "Tile", "Resize", "Slice", "Pad", "Split", "Squeeze", "Unsqueeze", "ReduceMean",
    "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "TopK", "Upsample", "OneHot", "Clip"};
const std::set<std::string> kShapeFromAllInputs = {"Range", "ConstantOfShape"};
// Fused ops (runtime_fuse.h) whose output shape depends on the values of their inputs from this one
// on (the shapes of folded Reshapes; the weights before it are constants anyway).
const std::map<std::string, std::size_t> kFusedShapeInputsFrom = {
    {"MicrosrMatMulBias", 3}, {"MicrosrMatMulBiasAdd", 4}, {"MicrosrShape", 1}};

}  // namespace

Plan make_plan(const std::vector<OnnxNode>& nodes, const std::map<std::string, OnnxValue>& constants,
               const std::vector<std::string>& feed_names) {
  Plan plan;
  std::set<std::string> known_value;  // values fixed once the feed shapes are: constants, shape arithmetic
  std::set<std::string> known_shape;  // values whose shape the feed shapes fix
  for (const auto& [name, value] : constants) known_value.insert(name), known_shape.insert(name);
  for (const std::string& f : feed_names) known_shape.insert(f);
  auto is = [](const std::set<std::string>& set, const std::string& name) { return name.empty() || set.count(name); };

  plan.shape_constant.assign(nodes.size(), false);
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    const OnnxNode& node = nodes[n];
    bool all_values = true, all_shapes = true, later_values = true;
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      all_values = all_values && is(known_value, node.inputs[i]);
      all_shapes = all_shapes && is(known_shape, node.inputs[i]);
      if (i > 0) later_values = later_values && is(known_value, node.inputs[i]);
    }
    const bool reads_shape_only = node.op_type == "Shape" || node.op_type == "Size";
    const bool value_fixed = reads_shape_only ? all_shapes : all_values;
    bool shape_fixed = all_shapes;
    if (kShapeFromLaterInputs.count(node.op_type)) shape_fixed = all_shapes && later_values;
    if (kShapeFromAllInputs.count(node.op_type)) shape_fixed = all_values;
    if (auto f = kFusedShapeInputsFrom.find(node.op_type); f != kFusedShapeInputsFrom.end())
      for (std::size_t i = f->second; i < node.inputs.size(); ++i) shape_fixed = shape_fixed && is(known_value, node.inputs[i]);
    plan.shape_constant[n] = value_fixed;
    if (!value_fixed) plan.executed.push_back(n);
    for (const std::string& out : node.outputs) {
      if (value_fixed) known_value.insert(out);
      if (value_fixed || shape_fixed) known_shape.insert(out);
    }
  }
  return plan;
}

std::map<std::string, std::size_t> last_uses(const std::vector<OnnxNode>& nodes, const std::vector<std::size_t>& order) {
  std::map<std::string, std::size_t> last;
  for (std::size_t p = 0; p < order.size(); ++p)
    for (const std::string& in : nodes[order[p]].inputs)
      if (!in.empty()) last[in] = p;
  return last;
}

}  // namespace microsr::onnx_runtime
