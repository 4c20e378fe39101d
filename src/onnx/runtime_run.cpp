// Running the graph (runtime_impl.h): feed checks, the plan for the feed shapes, dispatch of each
// node to its kernel, the memory plan (each activation freed after its last reader), stats.
#include <algorithm>
#include <chrono>
#include <numeric>

#include "cpu/ref/onnx_ref.h"
#include "onnx/runtime_impl.h"

namespace microsr {
namespace {

using namespace onnx_runtime;

void check_feeds(const std::vector<OnnxValueInfo>& inputs, const std::map<std::string, OnnxValue>& feeds) {
  std::string declared;
  for (const OnnxValueInfo& in : inputs) declared += (declared.empty() ? "" : ", ") + in.name + " " + in.type_str();
  for (const auto& [name, value] : feeds) {
    bool known = false;
    for (const OnnxValueInfo& in : inputs) known = known || in.name == name;
    require(known, "input '" + name + "' is not an input of the model; its inputs are: " + declared);
  }
  for (const OnnxValueInfo& in : inputs) {
    auto f = feeds.find(in.name);
    require(f != feeds.end(), "input '" + in.name + "' (" + in.type_str() + ") is missing; the model's inputs are: " + declared);
    const OnnxValue& v = f->second;
    require(static_cast<int64_t>(v.is_float() ? v.floats.size() : v.integers.size()) == v.numel(),
            "input '" + in.name + "': " + v.describe() + " holds " +
                std::to_string(v.is_float() ? v.floats.size() : v.integers.size()) + " elements");
    const OnnxValue declared_kind = OnnxValue{in.elem_type ? in.elem_type : v.type, {}, {}, {}};
    require(declared_kind.is_float() == v.is_float(),
            "input '" + in.name + "' is declared " + in.type_str() + " but was given " + v.describe());
    if (!in.has_shape) continue;
    bool fits = in.shape.size() == v.shape.size();
    for (std::size_t d = 0; fits && d < in.shape.size(); ++d)
      fits = !in.shape[d].value || *in.shape[d].value == v.shape[d];
    require(fits, "input '" + in.name + "' is declared " + in.type_str() + " but was given " + v.describe());
  }
}

// Ops whose output holds the input's elements unchanged, in the same order: when the node is the
// last reader of its input, the output takes the input's buffer instead of a copy.
const std::set<std::string> kViewOps = {"Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity", "Expand"};

// Whether node's input 0 may be moved into its output: a view op (Expand only when it broadcasts to
// the input's own shape), an activation (not a feed or constant) that no later node reads, not a
// graph output, and not read twice by this node.
bool can_move_input(const OnnxNode& node, const std::vector<const OnnxValue*>& inputs, bool is_activation,
                    bool last_reader, bool kept) {
  if (!kViewOps.count(node.op_type) || !is_activation || !last_reader || kept) return false;
  for (std::size_t i = 1; i < node.inputs.size(); ++i)
    if (node.inputs[i] == node.inputs[0]) return false;
  if (node.op_type == "Expand") {
    if (inputs.size() < 2 || !inputs[1] || inputs[1]->is_float()) return false;
    return onnx_ref::broadcast_shapes(inputs[0]->shape, inputs[1]->integers) == inputs[0]->shape;
  }
  return true;
}

int64_t value_bytes(const OnnxValue& v) {
  return static_cast<int64_t>(v.floats.size() * sizeof(float) + v.integers.size() * sizeof(int64_t));
}

}  // namespace

std::map<std::string, OnnxValue> OnnxSession::run(const std::map<std::string, OnnxValue>& feeds) {
  Impl& s = *impl_;
  check_feeds(s.inputs, feeds);
  std::vector<std::vector<int64_t>> key;
  std::vector<std::string> feed_names;
  for (const OnnxValueInfo& in : s.inputs) {
    key.push_back(feeds.at(in.name).shape);
    feed_names.push_back(in.name);
  }
  auto found = s.plans.find(key);
  if (found == s.plans.end()) found = s.plans.emplace(key, make_plan(s.nodes, s.constants, feed_names)).first;
  Plan& plan = found->second;

  // The first run for these shapes runs every node and keeps the shape-constant outputs.
  const bool first = !plan.shape_values_ready;
  std::vector<std::size_t> order = plan.executed;
  if (first) {
    order.resize(s.nodes.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
  }
  const std::map<std::string, std::size_t> last = last_uses(s.nodes, order);
  std::set<std::string> keep;  // graph outputs are never freed
  for (const OnnxValueInfo& out : s.outputs) keep.insert(out.name);

  std::map<std::string, OnnxValue> activations;
  int64_t live = 0, peak = 0;
  auto lookup = [&](const std::string& name) -> const OnnxValue* {
    if (auto a = activations.find(name); a != activations.end()) return &a->second;
    if (auto f = feeds.find(name); f != feeds.end()) return &f->second;
    if (auto v = plan.shape_values.find(name); v != plan.shape_values.end()) return &v->second;
    if (auto c = s.constants.find(name); c != s.constants.end()) return &c->second;
    return nullptr;
  };
  OnnxRunStats& stats = s.stats;
  stats.seconds_per_op.clear();
  for (std::size_t p = 0; p < order.size(); ++p) {
    const OnnxNode& node = s.nodes[order[p]];
    std::vector<const OnnxValue*> inputs;
    for (const std::string& in : node.inputs) {
      const OnnxValue* v = in.empty() ? nullptr : lookup(in);
      require(in.empty() || v, node_label(node) + ": input '" + in + "' has no value (an internal error)");
      inputs.push_back(v);
    }
    const auto start = std::chrono::steady_clock::now();
    std::vector<OnnxValue> outputs;
    auto moved = node.inputs.empty() ? activations.end() : activations.find(node.inputs[0]);
    auto l0 = node.inputs.empty() ? last.end() : last.find(node.inputs[0]);
    if (can_move_input(node, inputs, moved != activations.end(), l0 != last.end() && l0->second == p,
                       !node.inputs.empty() && keep.count(node.inputs[0]))) {
      // The kernel sees the input's type and shape without its elements, then the output takes them.
      OnnxValue& source = moved->second;
      const OnnxValue shape_only{source.type, source.shape, {}, {}};
      inputs[0] = &shape_only;
      outputs = node.op_type == "Expand" ? onnx_ref::outputs_of(shape_only) : run_node(node, s.opset, inputs);
      outputs[0].floats = std::move(source.floats);
      outputs[0].integers = std::move(source.integers);
      live -= value_bytes(outputs[0]);
      activations.erase(moved);
    } else if (moved != activations.end() && l0 != last.end() && l0->second == p && !keep.count(node.inputs[0]) &&
               std::count(node.inputs.begin(), node.inputs.end(), node.inputs[0]) == 1) {
      // Input 0 dies here: the kernel may compute in its buffer.
      const int64_t bytes = value_bytes(moved->second);
      outputs = run_node(node, s.opset, inputs, &moved->second);
      if (value_bytes(moved->second) == 0) live -= bytes;  // taken by an output, counted again below
    } else {
      outputs = run_node(node, s.opset, inputs);
    }
    stats.seconds_per_op[node.op_type] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (std::size_t i = 0; i < node.outputs.size() && i < outputs.size(); ++i) {
      const std::string& name = node.outputs[i];
      if (name.empty()) continue;
      if (plan.shape_constant[order[p]]) {
        plan.shape_values[name] = std::move(outputs[i]);
      } else {
        live += value_bytes(outputs[i]);
        activations[name] = std::move(outputs[i]);
      }
    }
    peak = std::max(peak, live);
    // The memory plan: free what no later node reads.
    for (const std::string& in : node.inputs) {
      auto l = last.find(in);
      if (in.empty() || l == last.end() || l->second != p || keep.count(in)) continue;
      if (auto a = activations.find(in); a != activations.end()) {
        live -= value_bytes(a->second);
        activations.erase(a);
      }
    }
    for (const std::string& out : node.outputs)  // an output nobody reads
      if (!out.empty() && !last.count(out) && !keep.count(out))
        if (auto a = activations.find(out); a != activations.end()) {
          live -= value_bytes(a->second);
          activations.erase(a);
        }
  }
  plan.shape_values_ready = true;
  stats.nodes_executed = static_cast<int64_t>(plan.executed.size());
  stats.peak_activation_bytes = peak;

  std::map<std::string, OnnxValue> result;
  for (const OnnxValueInfo& out : s.outputs) {
    const OnnxValue* v = lookup(out.name);
    require(v != nullptr, "graph output '" + out.name + "' was not computed");
    auto a = activations.find(out.name);
    result[out.name] = a != activations.end() ? std::move(a->second) : *v;
  }
  return result;
}

}  // namespace microsr
