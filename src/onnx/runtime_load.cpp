// The graph runtime at load: topological order, the op check, constant folding (runtime_impl.h).
#include <malloc.h>

#include <queue>

#include "cpu/onnx/fast_ops.h"
#include "cpu/ref/onnx_ref.h"
#include "onnx/runtime_fuse.h"
#include "onnx/runtime_impl.h"

namespace microsr::onnx_runtime {

std::string node_label(const OnnxNode& node) {
  return "node '" + node.name + "' (" + (node.domain.empty() ? "" : node.domain + ":") + node.op_type + ")";
}

void check_supported(const std::vector<OnnxNode>& nodes) {
  const onnx_ref::KernelTable& table = onnx_ref::kernel_table();
  for (const OnnxNode& node : nodes) {
    const bool standard = node.domain.empty() || node.domain == "ai.onnx";
    if (standard && table.count(node.op_type)) continue;
    std::string known;
    for (const auto& [op, kernel] : table) known += (known.empty() ? "" : ", ") + op;
    throw Error(node_label(node) + ": op type '" + node.op_type + "'" +
                (standard ? "" : " of domain '" + node.domain + "'") +
                " is not supported by microsr's ONNX runtime; supported ops: " + known);
  }
}

std::vector<OnnxNode> topological_order(const std::vector<OnnxNode>& nodes, const std::set<std::string>& available) {
  std::map<std::string, std::size_t> producer;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (const std::string& out : nodes[i].outputs)
      if (!out.empty()) producer[out] = i;
  // Kahn's algorithm; the lowest index first, so an already sorted file keeps its order.
  std::vector<std::size_t> waiting(nodes.size(), 0);
  std::vector<std::vector<std::size_t>> consumers(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (const std::string& in : nodes[i].inputs) {
      if (in.empty() || available.count(in)) continue;
      auto p = producer.find(in);
      require(p != producer.end(), node_label(nodes[i]) + " reads '" + in +
                                       "', which no node, initializer or graph input provides");
      ++waiting[i];
      consumers[p->second].push_back(i);
    }
  }
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (waiting[i] == 0) ready.push(i);
  std::vector<OnnxNode> sorted;
  sorted.reserve(nodes.size());
  while (!ready.empty()) {
    const std::size_t i = ready.top();
    ready.pop();
    sorted.push_back(nodes[i]);
    for (std::size_t c : consumers[i])
      if (--waiting[c] == 0) ready.push(c);
  }
  if (sorted.size() != nodes.size()) {
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (waiting[i] > 0)
        throw Error("the graph has a cycle: " + node_label(nodes[i]) + " depends (indirectly) on its own output");
  }
  return sorted;
}

std::vector<OnnxValue> run_node(const OnnxNode& node, int64_t opset, const std::vector<const OnnxValue*>& inputs,
                                OnnxValue* donated) {
  const onnx_ref::OpContext context{node, opset, inputs, donated};
  std::vector<OnnxValue> outputs;
  try {
    // The fast kernel when there is one and it covers these inputs, else the reference.
    const onnx_fast::FastTable& fast = onnx_fast::fast_kernel_table();
    auto f = fast.find(node.op_type);
    if (f == fast.end() || !f->second(context, outputs)) outputs = onnx_ref::kernel_table().at(node.op_type)(context);
  } catch (const std::exception& e) {
    std::string shapes;
    for (const OnnxValue* v : inputs) shapes += (shapes.empty() ? "" : ", ") + (v ? v->describe() : "(none)");
    throw Error(node_label(node) + " with inputs " + shapes + ": " + e.what());
  }
  require(outputs.size() >= node.outputs.size() || node.op_type == "Split",
          node_label(node) + ": the kernel made " + std::to_string(outputs.size()) + " outputs, the node names " +
              std::to_string(node.outputs.size()));
  return outputs;
}

}  // namespace microsr::onnx_runtime

namespace microsr {

using namespace onnx_runtime;

namespace {

// Activations of a full-size encoder are tens to hundreds of MiB each and live for one or two
// nodes. glibc serves such blocks with mmap and unmaps them on free, so every node would pay page
// faults on fresh memory (measured: a 50 MiB Add or Softmax took 2-3× its compute time). Serving
// them from the heap, and not trimming it, lets a freed activation's pages be reused at once.
// (Process-wide glibc settings; an arena planned by lifetimes would make this unnecessary.)
void keep_large_buffers_in_heap() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return true;
  }();
  (void)done;
}

}  // namespace

OnnxSession OnnxSession::load(const std::string& path) { return from_model(load_onnx(path)); }

OnnxSession OnnxSession::from_model(OnnxModel model) {
  keep_large_buffers_in_heap();
  auto impl = std::make_unique<Impl>();
  for (const OnnxOpset& o : model.opsets)
    if (o.domain.empty() || o.domain == "ai.onnx") impl->opset = o.version;
  std::set<std::string> available;
  for (const OnnxTensor& t : model.graph.initializers) {
    impl->constants[t.name] = onnx_ref::value_from_tensor(t);
    available.insert(t.name);
  }
  for (const OnnxValueInfo* in : onnx_runtime_inputs(model)) {
    impl->inputs.push_back(*in);
    available.insert(in->name);
  }
  impl->outputs = model.graph.outputs;
  check_supported(model.graph.nodes);
  std::vector<OnnxNode> sorted = topological_order(model.graph.nodes, available);
  model.graph.nodes.clear();
  model.graph.initializers.clear();  // now in `constants`
  impl->stats.nodes_in_model = static_cast<int64_t>(sorted.size());

  // Constant folding: a node whose inputs are all constants runs once, here.
  for (OnnxNode& node : sorted) {
    bool foldable = true;
    std::vector<const OnnxValue*> inputs;
    for (const std::string& in : node.inputs) {
      if (in.empty()) {
        inputs.push_back(nullptr);
        continue;
      }
      auto c = impl->constants.find(in);
      if (c == impl->constants.end()) {
        foldable = false;
        break;
      }
      inputs.push_back(&c->second);
    }
    if (!foldable) {
      impl->nodes.push_back(std::move(node));
      continue;
    }
    std::vector<OnnxValue> outputs = run_node(node, impl->opset, inputs);
    for (std::size_t i = 0; i < node.outputs.size() && i < outputs.size(); ++i)
      if (!node.outputs[i].empty()) impl->constants[node.outputs[i]] = std::move(outputs[i]);
  }
  impl->stats.nodes_after_load_folding = static_cast<int64_t>(impl->nodes.size());

  // Fusion (runtime_fuse.h): chains such as attention become one node each.
  if (!fusion_disabled()) impl->stats.fused_chains = fuse_graph(impl->nodes, impl->constants, impl->outputs, impl->opset);
  impl->stats.nodes_after_fusion = static_cast<int64_t>(impl->nodes.size());

  // Drop the constants nothing reads any more (folded-away weights, shape arithmetic).
  std::set<std::string> read;
  for (const OnnxNode& node : impl->nodes) read.insert(node.inputs.begin(), node.inputs.end());
  for (const OnnxValueInfo& out : impl->outputs) read.insert(out.name);
  for (auto it = impl->constants.begin(); it != impl->constants.end();)
    it = read.count(it->first) ? std::next(it) : impl->constants.erase(it);
  impl->model = std::move(model);
  return OnnxSession(std::move(impl));
}

OnnxSession::OnnxSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OnnxSession::OnnxSession(OnnxSession&&) noexcept = default;
OnnxSession& OnnxSession::operator=(OnnxSession&&) noexcept = default;
OnnxSession::~OnnxSession() = default;

const std::vector<OnnxValueInfo>& OnnxSession::inputs() const { return impl_->inputs; }
const std::vector<OnnxValueInfo>& OnnxSession::outputs() const { return impl_->outputs; }
const OnnxRunStats& OnnxSession::stats() const { return impl_->stats; }

}  // namespace microsr
