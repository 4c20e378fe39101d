// The graph runtime's internals (include/microsr/onnx_runtime.h is the interface):
//   runtime_load.cpp  topological order, the op check, constant folding at load
//   runtime_plan.cpp  the per-feed-shape plan: shape-constant nodes, the memory plan
//   runtime_run.cpp   feed checks, dispatch, stats
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "microsr/onnx_runtime.h"

namespace microsr::onnx_runtime {

// What the graph looks like for one set of feed shapes. Nodes whose inputs derive only from
// constants and from the output of Shape on a value whose shape the feed shapes fix are
// "shape-constant": the first run computes them and keeps their outputs in `shape_values`; later
// runs skip them.
struct Plan {
  std::vector<bool> shape_constant;  // per node of Impl::nodes
  std::vector<std::size_t> executed;  // the other nodes, in order
  bool shape_values_ready = false;
  std::map<std::string, OnnxValue> shape_values;
};

Plan make_plan(const std::vector<OnnxNode>& nodes, const std::map<std::string, OnnxValue>& constants,
               const std::vector<std::string>& feed_names);

// For each value read by the nodes at `order` (positions in that list): the last position that reads
// it. Values not in the map are never read.
std::map<std::string, std::size_t> last_uses(const std::vector<OnnxNode>& nodes, const std::vector<std::size_t>& order);

// Sorts `nodes` so that each comes after the producers of its inputs (keeping the file's order where
// it can). Throws naming a node on a cycle or on an input no node, initializer or graph input makes.
std::vector<OnnxNode> topological_order(const std::vector<OnnxNode>& nodes, const std::set<std::string>& available);

// Throws naming the op type and node for an op without a kernel.
void check_supported(const std::vector<OnnxNode>& nodes);

// Runs one node on its inputs; a kernel error is rethrown naming the node.
// `donated`: input 0's value when this node is its last reader (kernels may reuse its buffer).
std::vector<OnnxValue> run_node(const OnnxNode& node, int64_t opset, const std::vector<const OnnxValue*>& inputs,
                                OnnxValue* donated = nullptr);

// "node 'name' (Op)" for messages.
std::string node_label(const OnnxNode& node);

}  // namespace microsr::onnx_runtime

namespace microsr {

struct OnnxSession::Impl {
  OnnxModel model;  // the graph's nodes are moved out into `nodes`
  int64_t opset = 17;
  std::vector<OnnxNode> nodes;  // topological order, after folding at load
  std::map<std::string, OnnxValue> constants;  // initializers and folded outputs still read
  std::vector<OnnxValueInfo> inputs, outputs;
  OnnxRunStats stats;
  std::map<std::vector<std::vector<int64_t>>, onnx_runtime::Plan> plans;  // by feed shapes, in input order
};

}  // namespace microsr
