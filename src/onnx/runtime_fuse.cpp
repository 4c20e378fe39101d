// The fusion pass of the graph runtime (runtime_fuse.h): pattern matchers over the load-time graph.
#include "onnx/runtime_fuse.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>

namespace microsr::onnx_runtime {
namespace {

bool standard(const OnnxNode& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

// The graph around the nodes being matched: who makes each value, who reads it and how often,
// which nodes an earlier match already took.
class GraphIndex {
 public:
  GraphIndex(const std::vector<OnnxNode>& nodes, const std::map<std::string, OnnxValue>& constants,
             const std::vector<OnnxValueInfo>& outputs)
      : nodes_(nodes), constants_(constants), taken_(nodes.size(), false) {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      for (const std::string& out : nodes[i].outputs)
        if (!out.empty()) producer_[out] = i;
      const bool shape_only = standard(nodes[i]) && (nodes[i].op_type == "Shape" || nodes[i].op_type == "Size");
      for (const std::string& in : nodes[i].inputs) {
        if (in.empty()) continue;
        ++reads_[in], reader_[in] = i;
        if (shape_only)
          shape_readers_[in].push_back(i);
        else
          value_reader_[in] = i;
      }
    }
    for (const OnnxValueInfo& o : outputs) graph_outputs_.insert(o.name);
  }

  const OnnxNode& node(std::size_t i) const { return nodes_[i]; }
  bool taken(std::size_t i) const { return taken_[i]; }
  void take(const std::vector<std::size_t>& chain) {
    for (std::size_t i : chain) taken_[i] = true;
  }

  // The node that makes `value`, when a node does and no match took it.
  std::optional<std::size_t> producer(const std::string& value) const {
    auto p = producer_.find(value);
    if (p == producer_.end() || taken_[p->second]) return std::nullopt;
    return p->second;
  }
  // Whether `value` may vanish inside a fused chain: made by a node not yet taken, read exactly once
  // (by the next node of the chain), not a graph output.
  bool intermediate(const std::string& value) const {
    auto r = reads_.find(value);
    return !value.empty() && r != reads_.end() && r->second == 1 && !graph_outputs_.count(value) &&
           producer(value).has_value();
  }
  // The one reader of an intermediate value (call intermediate() first).
  std::size_t reader(const std::string& value) const { return reader_.at(value); }
  // Like intermediate(), except that any number of Shape/Size nodes may read the value too (they
  // need its shape only: a fused node that hides the value still outputs its shape, without
  // elements, under the same name). value_reader() is then its one other reader.
  bool intermediate_but_shape(const std::string& value) const {
    auto r = reads_.find(value);
    auto s = shape_readers_.find(value);
    const int64_t shape_reads = s == shape_readers_.end() ? 0 : static_cast<int64_t>(s->second.size());
    return !value.empty() && r != reads_.end() && r->second == shape_reads + 1 && value_reader_.count(value) &&
           !graph_outputs_.count(value) && producer(value).has_value();
  }
  std::size_t value_reader(const std::string& value) const { return value_reader_.at(value); }
  bool shape_read(const std::string& value) const { return shape_readers_.count(value) > 0; }

  // A float constant of one element and rank <= 2 (so broadcasting it never changes a shape of rank 2 on).
  std::optional<float> scalar(const std::string& value) const {
    const OnnxValue* c = constant(value);
    if (!c || !c->is_float() || c->numel() != 1 || c->shape.size() > 2) return std::nullopt;
    return c->floats[0];
  }
  const OnnxValue* constant(const std::string& value) const {
    auto c = constants_.find(value);
    return c == constants_.end() ? nullptr : &c->second;
  }

 private:
  const std::vector<OnnxNode>& nodes_;
  const std::map<std::string, OnnxValue>& constants_;
  std::vector<bool> taken_;
  std::map<std::string, std::size_t> producer_, reader_, value_reader_;
  std::map<std::string, std::vector<std::size_t>> shape_readers_;
  std::map<std::string, int64_t> reads_;
  std::set<std::string> graph_outputs_;
};

bool near(std::optional<float> v, double target) { return v && std::fabs(*v - target) <= 1e-4 * std::fabs(target); }

bool is_op(const OnnxNode& n, const char* op, std::size_t inputs) {
  return standard(n) && n.op_type == op && n.inputs.size() == inputs && n.outputs.size() == 1;
}

// A match: the chain's nodes (the last one in topological order is where the fused node goes) and
// the fused node.
struct Match {
  std::vector<std::size_t> chain;
  OnnxNode fused;
  // Chain nodes kept in place as other nodes (instead of dropped): MicrosrShape nodes giving the
  // shape of a hidden value that Shape nodes read.
  std::vector<std::pair<std::size_t, OnnxNode>> shape_nodes;
};

// ---- attention --------------------------------------------------------------------------------

struct AttentionChain {
  std::vector<std::size_t> nodes;
  std::string q, k, v, shape1, shape2;
  std::vector<std::string> biases;  // nearest the Softmax first while matching
  std::vector<int64_t> q_perm, k_perm, v_perm;
  std::string scale_op;  // "Mul", "Div" or ""
  float scale = 1.0f;
  int64_t allowzero1 = 0, allowzero2 = 0;
};

// Walks back from the Softmax input `value` to the first MatMul. Forward, the chain is
//   MatMul → [Mul|Div scalar] → [Reshape (shape1)] → Add* → [Reshape (shape2)] → Softmax
// (a single Reshape is taken as shape2 when no Add follows it). Backtracks over which Add operand
// continues the chain.
bool match_scores(const GraphIndex& g, const std::string& value, AttentionChain& c) {
  if (!g.intermediate(value)) return false;
  const std::size_t idx = *g.producer(value);
  const OnnxNode& p = g.node(idx);
  if (is_op(p, "MatMul", 2)) {
    c.q = p.inputs[0], c.k = p.inputs[1];
    c.nodes.push_back(idx);
    return true;
  }
  if (!c.scale_op.empty()) return false;  // only the MatMul comes before the scale
  if ((is_op(p, "Mul", 2) || is_op(p, "Div", 2)) && p.inputs[0] != p.inputs[1]) {
    for (std::size_t side = 0; side < (p.op_type == "Mul" ? 2u : 1u); ++side) {
      const std::optional<float> s = g.scalar(p.inputs[1 - side]);
      if (!s) continue;
      AttentionChain saved = c;
      c.scale_op = p.op_type, c.scale = *s;
      c.nodes.push_back(idx);
      if (match_scores(g, p.inputs[side], c)) return true;
      c = saved;
    }
    return false;
  }
  if (!c.shape1.empty()) return false;  // only a scale or the MatMul before the first Reshape
  if (is_op(p, "Reshape", 2)) {
    AttentionChain saved = c;
    const int64_t allowzero = p.attribute("allowzero") ? p.attribute("allowzero")->i : 0;
    if (c.shape2.empty() && c.biases.empty())
      c.shape2 = p.inputs[1], c.allowzero2 = allowzero;
    else
      c.shape1 = p.inputs[1], c.allowzero1 = allowzero;
    c.nodes.push_back(idx);
    if (match_scores(g, p.inputs[0], c)) return true;
    c = saved;
    return false;
  }
  if (is_op(p, "Add", 2) && p.inputs[0] != p.inputs[1]) {
    for (std::size_t side = 0; side < 2; ++side) {
      AttentionChain saved = c;
      c.biases.push_back(p.inputs[1 - side]);
      c.nodes.push_back(idx);
      if (match_scores(g, p.inputs[side], c)) return true;
      c = saved;
    }
  }
  return false;
}

// A Transpose with an explicit perm that only this chain reads: the fused kernel reads its input
// through strides instead.
void fold_transpose(const GraphIndex& g, std::string& value, std::vector<int64_t>& perm, std::vector<std::size_t>& nodes) {
  if (!g.intermediate(value)) return;
  const std::size_t idx = *g.producer(value);
  const OnnxNode& t = g.node(idx);
  const OnnxAttribute* a = t.attribute("perm");
  if (!is_op(t, "Transpose", 1) || !a || a->ints.empty()) return;
  perm = a->ints;
  value = t.inputs[0];
  nodes.push_back(idx);
}

// Q, K and V as the three outputs of one Split into equal parts, each through a Squeeze of the
// split axis (Hiera's qkv = Linear(x).reshape(B, N, 3, heads, d).unbind(2)), read only by this
// chain: the kernel reads all three from the Split's input. Sets `source` and the attributes.
struct QkvSplit {
  std::string source;
  int64_t axis = 0;
  std::vector<int64_t> squeeze_axes, index;
};

// With `kv_only`, Q is left alone (Hiera's pooled q goes through MaxPool first) and only K and V
// must be Squeezed parts of the Split; the Split stays for q, its k and v outputs unnamed (not
// copied). Sets `split_node` to the Split's index.
std::optional<QkvSplit> fold_qkv_split(const GraphIndex& g, const AttentionChain& c, int64_t opset,
                                       std::vector<std::size_t>& nodes, bool kv_only = false,
                                       std::size_t* split_node = nullptr) {
  QkvSplit q;
  std::optional<std::size_t> split;
  std::vector<std::size_t> found;
  if (kv_only) q.index.push_back(-1);
  std::vector<const std::string*> operands = {&c.k, &c.v};
  if (!kv_only) operands.insert(operands.begin(), &c.q);
  for (const std::string* operand : operands) {
    if (!g.intermediate(*operand)) return std::nullopt;
    const std::size_t sq = *g.producer(*operand);
    const OnnxNode& squeeze = g.node(sq);
    if (!standard(squeeze) || squeeze.op_type != "Squeeze" || squeeze.outputs.size() != 1 || squeeze.inputs.empty() ||
        !g.intermediate(squeeze.inputs[0]))
      return std::nullopt;
    std::vector<int64_t> axes;
    if (opset >= 13) {
      const OnnxValue* a = squeeze.inputs.size() == 2 ? g.constant(squeeze.inputs[1]) : nullptr;
      if (!a || a->is_float()) return std::nullopt;
      for (int64_t i = 0; i < a->numel(); ++i) axes.push_back(a->integers.at(i));
    } else if (const OnnxAttribute* a = squeeze.attribute("axes")) {
      axes = a->ints;
    }
    if (axes.size() != 1 || (!q.squeeze_axes.empty() && axes != q.squeeze_axes)) return std::nullopt;
    q.squeeze_axes = axes;
    const std::size_t sp = *g.producer(squeeze.inputs[0]);
    const OnnxNode& node = g.node(sp);
    if (split && *split != sp) return std::nullopt;
    if (!standard(node) || node.op_type != "Split" || node.inputs.empty() || node.inputs.size() > 2 ||
        node.outputs.size() != 3 || node.attribute("split"))
      return std::nullopt;
    if (node.inputs.size() == 2) {  // equal parts only: sizes, when given, a constant [s, s, s]
      const OnnxValue* sizes = g.constant(node.inputs[1]);
      if (!sizes || sizes->is_float() || sizes->numel() != 3 || sizes->integers.size() != 3 ||
          sizes->integers[0] != sizes->integers[1] || sizes->integers[0] != sizes->integers[2])
        return std::nullopt;
    }
    split = sp;
    for (int64_t i = 0; i < 3; ++i)
      if (node.outputs[i] == squeeze.inputs[0]) q.index.push_back(i);
    found.push_back(sq);
  }
  const OnnxNode& node = g.node(*split);
  q.source = node.inputs[0];
  q.axis = node.attribute("axis") ? node.attribute("axis")->i : 0;
  if (q.index.size() != 3 || q.index[0] == q.index[1] || q.index[0] == q.index[2] || q.index[1] == q.index[2])
    return std::nullopt;
  nodes.insert(nodes.end(), found.begin(), found.end());
  nodes.push_back(*split);
  if (split_node) *split_node = *split;
  return q;
}

std::optional<Match> match_attention(const GraphIndex& g, std::size_t idx, int64_t opset) {
  const OnnxNode& m2 = g.node(idx);
  if (!is_op(m2, "MatMul", 2) || !g.intermediate(m2.inputs[0])) return std::nullopt;
  const std::size_t sidx = *g.producer(m2.inputs[0]);
  const OnnxNode& softmax = g.node(sidx);
  if (!is_op(softmax, "Softmax", 1)) return std::nullopt;
  const OnnxAttribute* axis = softmax.attribute("axis");
  if ((axis ? axis->i : (opset >= 13 ? -1 : 1)) != -1) return std::nullopt;  // a rank is not known here
  AttentionChain c;
  c.nodes = {idx, sidx};
  if (!match_scores(g, softmax.inputs[0], c)) return std::nullopt;
  c.v = m2.inputs[1];
  fold_transpose(g, c.q, c.q_perm, c.nodes);
  if (c.k != c.q) fold_transpose(g, c.k, c.k_perm, c.nodes);
  fold_transpose(g, c.v, c.v_perm, c.nodes);
  std::optional<QkvSplit> qkv;
  std::optional<OnnxNode> q_only_split;  // the kv-only fold: the Split, left copying q alone
  std::size_t split_index = 0;
  if (c.q != c.k && c.k != c.v && c.q != c.v) qkv = fold_qkv_split(g, c, opset, c.nodes);
  if (qkv) {
    c.q = c.k = c.v = qkv->source;
  } else if (c.q != c.k && c.k != c.v && c.q != c.v) {
    qkv = fold_qkv_split(g, c, opset, c.nodes, true, &split_index);
    if (qkv) {
      c.k = c.v = qkv->source;
      q_only_split = g.node(split_index);
      q_only_split->outputs[qkv->index[1]].clear();
      q_only_split->outputs[qkv->index[2]].clear();
    }
  }
  // A Transpose of the output that keeps its last axis last (heads merged back into tokens), maybe
  // after a Reshape (SAM's [B, heads, H, W, d]): the kernel writes its rows where
  // they would end up.
  std::vector<int64_t> out_perm;
  std::string out_shape;  // the Reshape's shape (known at run time only in SAM's exports)
  int64_t out_allowzero = 0;
  std::vector<std::string> outputs = m2.outputs;
  auto reader_of = [&](const std::string& value) -> std::optional<std::size_t> {
    if (!g.intermediate(value) || g.taken(g.reader(value))) return std::nullopt;
    return g.reader(value);
  };
  std::optional<std::size_t> ridx = reader_of(m2.outputs[0]), tidx = ridx;
  if (ridx && is_op(g.node(*ridx), "Reshape", 2)) tidx = reader_of(g.node(*ridx).outputs[0]);
  if (tidx && *tidx != *ridx) {  // through the Reshape
    const OnnxNode& t = g.node(*tidx);
    const OnnxAttribute* a = t.attribute("perm");
    if (is_op(t, "Transpose", 1) && a && a->ints.size() >= 2 &&
        a->ints.back() == static_cast<int64_t>(a->ints.size()) - 1) {
      out_perm = a->ints, outputs = t.outputs;
      out_shape = g.node(*ridx).inputs[1];
      const OnnxAttribute* z = g.node(*ridx).attribute("allowzero");
      out_allowzero = z ? z->i : 0;
      c.nodes.push_back(*ridx), c.nodes.push_back(*tidx);
    }
  } else if (tidx) {
    const OnnxNode& t = g.node(*tidx);
    const OnnxAttribute* a = t.attribute("perm");
    if (is_op(t, "Transpose", 1) && a && a->ints.size() >= 2 &&
        a->ints.back() == static_cast<int64_t>(a->ints.size()) - 1) {
      out_perm = a->ints, outputs = t.outputs;
      c.nodes.push_back(*tidx);
    }
  }

  Match m;
  m.chain = c.nodes;
  OnnxNode& f = m.fused;
  f.name = softmax.name + "/MicrosrAttention";
  f.op_type = "MicrosrAttention";
  f.domain = "microsr";
  f.inputs = {c.q, c.k, c.v, c.shape1, c.shape2};
  f.inputs.insert(f.inputs.end(), c.biases.rbegin(), c.biases.rend());  // in the order they are added
  f.outputs = outputs;
  if (!out_perm.empty()) f.attributes.push_back(ints_attr("out_perm", out_perm));
  if (!out_shape.empty()) {  // the last input, after the biases
    f.inputs.push_back(out_shape);
    f.attributes.push_back(int_attr("out_shape_input", 1));
  }
  if (out_allowzero) f.attributes.push_back(int_attr("out_allowzero", out_allowzero));
  if (qkv) {
    f.attributes.push_back(int_attr("qkv_axis", qkv->axis));
    f.attributes.push_back(ints_attr("qkv_squeeze", qkv->squeeze_axes));
    f.attributes.push_back(ints_attr("qkv_index", qkv->index));
  }
  if (q_only_split) {  // K and V read from input 1 (the Split's input), Q is input 0
    f.attributes.push_back(int_attr("qkv_source", 1));
    m.shape_nodes.emplace_back(split_index, std::move(*q_only_split));
  }
  if (!c.q_perm.empty()) f.attributes.push_back(ints_attr("q_perm", c.q_perm));
  if (!c.k_perm.empty()) f.attributes.push_back(ints_attr("k_perm", c.k_perm));
  if (!c.v_perm.empty()) f.attributes.push_back(ints_attr("v_perm", c.v_perm));
  if (!c.scale_op.empty()) {
    f.attributes.push_back(string_attr("scale_op", c.scale_op));
    f.attributes.push_back(float_attr("scale", c.scale));
  }
  if (c.allowzero1) f.attributes.push_back(int_attr("allowzero1", c.allowzero1));
  if (c.allowzero2) f.attributes.push_back(int_attr("allowzero2", c.allowzero2));
  return m;
}

// ---- MatMul + bias ----------------------------------------------------------------------------

std::optional<Match> match_matmul_bias(const GraphIndex& g, std::size_t idx) {
  const OnnxNode& add = g.node(idx);
  if (!is_op(add, "Add", 2)) return std::nullopt;
  for (std::size_t side = 0; side < 2; ++side) {
    const std::string &product = add.inputs[side], &bias_name = add.inputs[1 - side];
    if (!g.intermediate(product)) continue;
    const std::size_t midx = *g.producer(product);
    const OnnxNode& mm = g.node(midx);
    const OnnxValue* w = g.constant(mm.inputs.size() == 2 ? mm.inputs[1] : "");
    const OnnxValue* bias = g.constant(bias_name);
    if (!is_op(mm, "MatMul", 2) || !w || !bias || !w->is_float() || !bias->is_float() || w->shape.size() != 2 ||
        bias->shape.empty() || bias->shape.back() != w->shape[1] || bias->numel() != w->shape[1])
      continue;
    Match m;
    m.chain = {midx, idx};
    m.fused.name = add.name + "/MicrosrMatMulBias";
    m.fused.op_type = "MicrosrMatMulBias";
    m.fused.domain = "microsr";
    m.fused.inputs = {mm.inputs[0], mm.inputs[1], bias_name};
    m.fused.outputs = add.outputs;
    return m;
  }
  return std::nullopt;
}

// ---- window partition / unpartition around MatMul + bias, residual Add ----------------------

// Reshape(shape1) → Transpose(perm keeping the last axis last) → Reshape(shape2), read back from the
// second Reshape's output `value`; the two values inside have one reader each.
struct WindowChain {
  std::vector<std::size_t> nodes;  // Reshape 2, Transpose, Reshape 1
  std::string input, shape1, shape2;
  std::vector<int64_t> perm;
  int64_t allowzero1 = 0, allowzero2 = 0;
};

int64_t allowzero_of(const OnnxNode& n) { return n.attribute("allowzero") ? n.attribute("allowzero")->i : 0; }

bool keeps_last_axis(const OnnxNode& t) {
  const OnnxAttribute* a = t.attribute("perm");
  return is_op(t, "Transpose", 1) && a && a->ints.size() >= 2 &&
         a->ints.back() == static_cast<int64_t>(a->ints.size()) - 1;
}

std::optional<WindowChain> window_chain_ending(const GraphIndex& g, const std::string& value) {
  WindowChain w;
  std::optional<std::size_t> r2 = g.producer(value);
  if (!r2 || !is_op(g.node(*r2), "Reshape", 2)) return std::nullopt;
  const std::string& moved = g.node(*r2).inputs[0];
  if (!g.intermediate(moved)) return std::nullopt;
  const std::size_t t = *g.producer(moved);
  if (!keeps_last_axis(g.node(t))) return std::nullopt;
  const std::string& first = g.node(t).inputs[0];
  if (!g.intermediate(first)) return std::nullopt;
  const std::size_t r1 = *g.producer(first);
  if (!is_op(g.node(r1), "Reshape", 2)) return std::nullopt;
  w.nodes = {*r2, t, r1};
  w.input = g.node(r1).inputs[0];
  w.shape1 = g.node(r1).inputs[1], w.shape2 = g.node(*r2).inputs[1];
  w.perm = g.node(t).attribute("perm")->ints;
  w.allowzero1 = allowzero_of(g.node(r1)), w.allowzero2 = allowzero_of(g.node(*r2));
  return w;
}

// A node computing only the shape of `value` (MicrosrShape, no elements), for the Shape nodes that
// read a value a fused chain hides; it takes the place of that value's producer.
OnnxNode shape_node(const std::string& value, const char* of, std::vector<std::string> inputs,
                    std::vector<OnnxAttribute> attributes) {
  OnnxNode n;
  n.name = value + "/MicrosrShape";
  n.op_type = "MicrosrShape";
  n.domain = "microsr";
  n.inputs = std::move(inputs);
  n.outputs = {value};
  n.attributes = std::move(attributes);
  n.attributes.push_back(string_attr("of", of));
  return n;
}

std::vector<OnnxAttribute> window_attributes(const WindowChain& w, const std::string& prefix) {
  std::vector<OnnxAttribute> a = {ints_attr(prefix + "perm", w.perm)};
  if (w.allowzero1) a.push_back(int_attr(prefix + "allowzero1", w.allowzero1));
  if (w.allowzero2) a.push_back(int_attr(prefix + "allowzero2", w.allowzero2));
  return a;
}

// A MicrosrMatMulBias whose x is a window partition: the GEMM reads x's rows in place.
//   Reshape(shape1) → Transpose(perm) → Reshape(shape2) → MicrosrMatMulBias
//   ⇒ MicrosrMatMulBias(x, W, bias, shape1, shape2) with in_perm
std::optional<Match> match_matmul_bias_window_in(const GraphIndex& g, std::size_t idx) {
  const OnnxNode& mm = g.node(idx);
  if (mm.domain != "microsr" || mm.op_type != "MicrosrMatMulBias" || mm.inputs.size() != 3 || mm.outputs.size() != 1 ||
      mm.attribute("in_perm") || !g.intermediate_but_shape(mm.inputs[0]) || g.value_reader(mm.inputs[0]) != idx)
    return std::nullopt;
  const std::optional<WindowChain> w = window_chain_ending(g, mm.inputs[0]);
  if (!w) return std::nullopt;
  Match m;
  m.chain = {w->nodes[2], w->nodes[1], w->nodes[0], idx};
  m.fused = mm;
  m.fused.name = mm.name + "/WindowIn";
  m.fused.inputs = {w->input, mm.inputs[1], mm.inputs[2], w->shape1, w->shape2};
  for (OnnxAttribute& a : window_attributes(*w, "in_")) m.fused.attributes.push_back(std::move(a));
  if (g.shape_read(mm.inputs[0]))  // Hiera's attention reads the windows' shape
    m.shape_nodes.emplace_back(w->nodes[0], shape_node(mm.inputs[0], "Window", {w->input, w->shape1, w->shape2},
                                                       window_attributes(*w, "")));
  return m;
}

// Add(residual, MicrosrMatMulBias(x, W, bias) [→ Reshape → Transpose → Reshape]) ⇒
// MicrosrMatMulBiasAdd(residual, x, W, bias, [shape1, shape2]) with out_perm: the GEMM accumulates
// into the residual (taken over when the Add is its last reader), writing each row where the
// window unpartition puts it.
std::optional<Match> match_matmul_bias_add(const GraphIndex& g, std::size_t idx) {
  const OnnxNode& add = g.node(idx);
  if (!is_op(add, "Add", 2) || add.inputs[0] == add.inputs[1]) return std::nullopt;
  for (std::size_t side = 0; side < 2; ++side) {
    const std::string& operand = add.inputs[side];
    std::optional<WindowChain> w;
    std::string product = operand;
    if (const auto p = g.producer(operand); p && is_op(g.node(*p), "Reshape", 2)) {
      if (!g.intermediate(operand)) continue;
      w = window_chain_ending(g, operand);
      if (!w) continue;
      product = g.node(w->nodes[2]).inputs[0];
    }
    if (!g.intermediate_but_shape(product)) continue;
    const std::size_t midx = *g.producer(product);
    const OnnxNode& mm = g.node(midx);
    if (mm.domain != "microsr" || mm.op_type != "MicrosrMatMulBias" || mm.inputs.size() != 3 || mm.outputs.size() != 1 ||
        !mm.attributes.empty() || g.value_reader(product) != (w ? w->nodes[2] : idx))
      continue;
    Match m;
    m.chain = {midx, idx};
    if (w) m.chain.insert(m.chain.end(), w->nodes.begin(), w->nodes.end());
    OnnxNode& f = m.fused;
    f.name = add.name + "/MicrosrMatMulBiasAdd";
    f.op_type = "MicrosrMatMulBiasAdd";
    f.domain = "microsr";
    f.inputs = {add.inputs[1 - side], mm.inputs[0], mm.inputs[1], mm.inputs[2]};
    f.outputs = add.outputs;
    if (w) {
      f.inputs.push_back(w->shape1), f.inputs.push_back(w->shape2);
      f.attributes = window_attributes(*w, "out_");
    }
    if (g.shape_read(product))  // Hiera's unpartition reads the product's shape (its window count)
      m.shape_nodes.emplace_back(midx, shape_node(product, "MatMul", {mm.inputs[0], mm.inputs[1]}, {}));
    return m;
  }
  return std::nullopt;
}

// ---- max pooling of channels-last values ---------------------------------------------------

bool transpose_with(const OnnxNode& t, std::vector<int64_t> perm) {
  const OnnxAttribute* a = t.attribute("perm");
  return is_op(t, "Transpose", 1) && a && a->ints == perm;
}

// Transpose(0, 3, 1, 2) → MaxPool → Transpose(0, 2, 3, 1): a max pool of a channels-last value
// (Hiera's q and shortcut pooling) ⇒ MicrosrMaxPoolNhwc(x) with the MaxPool's attributes, pooled in
// place of the three copies.
std::optional<Match> match_max_pool_nhwc(const GraphIndex& g, std::size_t idx) {
  const OnnxNode& back = g.node(idx);
  if (!transpose_with(back, {0, 2, 3, 1}) || !g.intermediate(back.inputs[0])) return std::nullopt;
  const std::size_t pidx = *g.producer(back.inputs[0]);
  const OnnxNode& pool = g.node(pidx);
  if (!is_op(pool, "MaxPool", 1) || !g.intermediate(pool.inputs[0])) return std::nullopt;
  const std::size_t tidx = *g.producer(pool.inputs[0]);
  if (!transpose_with(g.node(tidx), {0, 3, 1, 2})) return std::nullopt;
  Match m;
  m.chain = {tidx, pidx, idx};
  m.fused.name = pool.name + "/MicrosrMaxPoolNhwc";
  m.fused.op_type = "MicrosrMaxPoolNhwc";
  m.fused.domain = "microsr";
  m.fused.inputs = {g.node(tidx).inputs[0]};
  m.fused.outputs = back.outputs;
  m.fused.attributes = pool.attributes;
  return m;
}

// ---- GELU (Erf form) --------------------------------------------------------------------------

// The node reading the intermediate `value`, when it is `op` with `inputs` inputs; its index.
std::optional<std::size_t> next(const GraphIndex& g, const std::string& value, const char* op, std::size_t inputs) {
  if (!g.intermediate(value)) return std::nullopt;
  const std::size_t r = g.reader(value);
  if (g.taken(r) || !is_op(g.node(r), op, inputs)) return std::nullopt;
  return r;
}

// The operand of binary node n that is not `value` (n reads value once).
const std::string& other(const OnnxNode& n, const std::string& value) { return n.inputs[0] == value ? n.inputs[1] : n.inputs[0]; }

// Erf(x / √2) (or x · (1/√2)) → Add 1 → then either Mul x → Mul 0.5, or Mul (x · 0.5).
std::optional<Match> match_gelu(const GraphIndex& g, std::size_t eidx) {
  const OnnxNode& erf = g.node(eidx);
  if (!is_op(erf, "Erf", 1) || !g.intermediate(erf.inputs[0])) return std::nullopt;
  const std::size_t didx = *g.producer(erf.inputs[0]);
  const OnnxNode& d = g.node(didx);
  std::string x;
  if (is_op(d, "Div", 2) && near(g.scalar(d.inputs[1]), std::sqrt(2.0))) x = d.inputs[0];
  if (is_op(d, "Mul", 2))
    for (std::size_t side = 0; side < 2; ++side)
      if (near(g.scalar(d.inputs[1 - side]), std::sqrt(0.5))) x = d.inputs[side];
  if (x.empty()) return std::nullopt;
  const std::optional<std::size_t> aidx = next(g, erf.outputs[0], "Add", 2);
  if (!aidx || !near(g.scalar(other(g.node(*aidx), erf.outputs[0])), 1.0)) return std::nullopt;
  const std::string& a = g.node(*aidx).outputs[0];
  const std::optional<std::size_t> m1 = next(g, a, "Mul", 2);
  if (!m1) return std::nullopt;
  const std::string& o = other(g.node(*m1), a);
  Match m;
  if (o == x) {  // (x · (1 + erf)) · 0.5
    const std::optional<std::size_t> m2 = next(g, g.node(*m1).outputs[0], "Mul", 2);
    if (!m2 || !near(g.scalar(other(g.node(*m2), g.node(*m1).outputs[0])), 0.5)) return std::nullopt;
    m.chain = {didx, eidx, *aidx, *m1, *m2};
  } else {  // (x · 0.5) · (1 + erf)
    if (!g.intermediate(o)) return std::nullopt;
    const std::size_t h = *g.producer(o);
    const OnnxNode& half = g.node(h);
    if (!is_op(half, "Mul", 2) || other(half, x) == x || (half.inputs[0] != x && half.inputs[1] != x) ||
        !near(g.scalar(other(half, x)), 0.5))
      return std::nullopt;
    m.chain = {didx, eidx, *aidx, h, *m1};
  }
  const OnnxNode& last = g.node(m.chain.back());
  m.fused.name = erf.name + "/MicrosrGelu";
  m.fused.op_type = "MicrosrGelu";
  m.fused.domain = "microsr";
  m.fused.inputs = {x};
  m.fused.outputs = last.outputs;
  return m;
}

// ---- MatMul + bias + GELU ---------------------------------------------------------------------

// A MicrosrGelu of a MicrosrMatMulBias that nothing else reads (both fused by the passes above):
// one MicrosrMatMulBias with activation "Gelu", which its kernel runs on each GEMM tile.
std::optional<Match> match_matmul_bias_gelu(const GraphIndex& g, std::size_t idx) {
  const OnnxNode& gelu = g.node(idx);
  if (gelu.domain != "microsr" || gelu.op_type != "MicrosrGelu" || gelu.inputs.size() != 1 ||
      !g.intermediate(gelu.inputs[0]))
    return std::nullopt;
  const std::size_t midx = *g.producer(gelu.inputs[0]);
  const OnnxNode& mm = g.node(midx);
  if (mm.domain != "microsr" || mm.op_type != "MicrosrMatMulBias" || mm.attribute("activation")) return std::nullopt;
  Match m;
  m.chain = {midx, idx};
  m.fused = mm;
  m.fused.name = mm.name + "/Gelu";
  m.fused.attributes.push_back(string_attr("activation", "Gelu"));
  m.fused.outputs = gelu.outputs;
  return m;
}

// One matcher over every node; each match replaces its chain's last node and drops the others.
template <class Matcher>
int64_t apply(std::vector<OnnxNode>& nodes, const std::map<std::string, OnnxValue>& constants,
              const std::vector<OnnxValueInfo>& outputs, Matcher matcher) {
  GraphIndex g(nodes, constants, outputs);
  std::vector<std::optional<OnnxNode>> replaced(nodes.size());
  std::vector<bool> dropped(nodes.size(), false);
  int64_t count = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (g.taken(i)) continue;
    std::optional<Match> m = matcher(g, i);
    if (!m) continue;
    std::set<std::size_t> chain(m->chain.begin(), m->chain.end());
    bool fresh = chain.size() == m->chain.size();
    for (std::size_t n : chain) fresh = fresh && !g.taken(n);
    if (!fresh) continue;
    g.take(m->chain);
    const std::size_t last = *chain.rbegin();  // topological order: every other chain node feeds it
    for (std::size_t n : chain) dropped[n] = n != last;
    replaced[last] = std::move(m->fused);
    for (auto& [n, node] : m->shape_nodes) dropped[n] = false, replaced[n] = std::move(node);
    ++count;
  }
  std::vector<OnnxNode> kept;
  kept.reserve(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (dropped[i]) continue;
    kept.push_back(replaced[i] ? std::move(*replaced[i]) : std::move(nodes[i]));
  }
  nodes = std::move(kept);
  return count;
}

}  // namespace

bool fusion_disabled() {
  const char* v = std::getenv("MICROSR_ONNX_NO_FUSION");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

std::map<std::string, int64_t> fuse_graph(std::vector<OnnxNode>& nodes, const std::map<std::string, OnnxValue>& constants,
                                          const std::vector<OnnxValueInfo>& graph_outputs, int64_t opset) {
  std::map<std::string, int64_t> counts;
  auto count = [&](const char* op, int64_t n) {
    if (n > 0) counts[op] += n;
  };
  count("MicrosrAttention", apply(nodes, constants, graph_outputs, [&](const GraphIndex& g, std::size_t i) {
          return match_attention(g, i, opset);
        }));
  count("MicrosrMatMulBias", apply(nodes, constants, graph_outputs, match_matmul_bias));
  count("MicrosrGelu", apply(nodes, constants, graph_outputs, match_gelu));
  count("MicrosrMatMulBias+Gelu", apply(nodes, constants, graph_outputs, match_matmul_bias_gelu));
  count("MicrosrMaxPoolNhwc", apply(nodes, constants, graph_outputs, match_max_pool_nhwc));
  count("MicrosrMatMulBiasAdd", apply(nodes, constants, graph_outputs, match_matmul_bias_add));
  count("MicrosrMatMulBias+WindowIn", apply(nodes, constants, graph_outputs, match_matmul_bias_window_in));
  return counts;
}

}  // namespace microsr::onnx_runtime
