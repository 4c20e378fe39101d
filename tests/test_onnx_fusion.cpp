// Graph fusion of the ONNX runtime (src/onnx/runtime_fuse.h): fused and unfused runs agree on the
// committed SAM fixtures and on hand-built graphs, each pattern is found where it occurs, chains
// that almost match stay unfused, and each fused fast kernel matches its reference on odd shapes.
#include <gtest/gtest.h>

#include <cstdlib>

#include "cpu/cpu_isa.h"
#include "cpu/onnx/attention.h"
#include "cpu/onnx/fast_ops.h"
#include "cpu/ref/onnx_ref.h"
#include "microsr/onnx_runtime.h"
#include "onnx_test_helpers.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using testing::data_path;
using testing::expect_value_close;
using testing::read_npy_folder;

// MICROSR_ONNX_NO_FUSION for the sessions loaded while it lives.
struct NoFusion {
  NoFusion() { setenv("MICROSR_ONNX_NO_FUSION", "1", 1); }
  ~NoFusion() { unsetenv("MICROSR_ONNX_NO_FUSION"); }
};

OnnxValue random_value(std::vector<int64_t> shape, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return OnnxValue::from_floats(std::move(shape), testing::random_values(static_cast<std::size_t>(n), seed, lo, hi));
}

int64_t fused(const OnnxSession& s, const std::string& op) {
  auto f = s.stats().fused_chains.find(op);
  return f == s.stats().fused_chains.end() ? 0 : f->second;
}

// ---- the SAM fixtures: fused == unfused, and the patterns are found -------------------------

void expect_fusion_keeps_results(const std::string& name, const std::vector<std::string>& expected_ops) {
  const std::string folder = data_path("onnx/sam/" + name);
  const auto feeds = read_npy_folder(folder + "/inputs");
  ASSERT_FALSE(feeds.empty()) << folder;
  OnnxSession fused_session = OnnxSession::load(folder + "/model.onnx");
  std::map<std::string, OnnxValue> plain;
  {
    NoFusion off;
    OnnxSession plain_session = OnnxSession::load(folder + "/model.onnx");
    EXPECT_TRUE(plain_session.stats().fused_chains.empty());
    plain = plain_session.run(feeds);
  }
  for (const std::string& op : expected_ops) EXPECT_GT(fused(fused_session, op), 0) << name << ": no " << op << " fused";
  EXPECT_LT(fused_session.stats().nodes_after_fusion, fused_session.stats().nodes_after_load_folding);
  for (int run = 0; run < 2; ++run) {  // the first run folds the shape arithmetic, the second uses the plan
    const auto got = fused_session.run(feeds);
    for (const auto& [out, value] : plain) {
      const auto d = expect_value_close(got.at(out), value, 1e-5, name + " " + out + " fused vs unfused");
      if (run == 1) std::printf("%s %s: fused vs unfused max diff %.2e of scale %.3g\n", name.c_str(), out.c_str(), d.max_abs, d.scale);
    }
  }
  std::string counts;
  for (const auto& [op, n] : fused_session.stats().fused_chains) counts += " " + op + "=" + std::to_string(n);
  std::printf("%s fused:%s\n", name.c_str(), counts.c_str());
}

TEST(OnnxFusion, SamVitEncoderFusedMatchesUnfused) {
  expect_fusion_keeps_results("sam_vit_small_encoder", {"MicrosrAttention", "MicrosrMatMulBias", "MicrosrGelu"});
}
TEST(OnnxFusion, Sam2HieraEncoderFusedMatchesUnfused) {
  expect_fusion_keeps_results("sam2_hiera_small_encoder", {"MicrosrAttention", "MicrosrMatMulBias", "MicrosrGelu",
                                                           "MicrosrMatMulBiasAdd", "MicrosrMatMulBias+WindowIn",
                                                           "MicrosrMaxPoolNhwc"});
}
TEST(OnnxFusion, SamDecoderFusedMatchesUnfused) {
  expect_fusion_keeps_results("sam_decoder_small", {"MicrosrAttention", "MicrosrMatMulBias", "MicrosrGelu"});
}

// ---- hand-built graphs ----------------------------------------------------------------------

// A model built node by node; inputs are float32 of any shape.
struct GraphBuilder {
  OnnxModel m;
  GraphBuilder() {
    m.path = "built.onnx";
    m.opsets = {{"", 17}};
  }
  void input(const std::string& name, OnnxType type = OnnxType::float32) {
    OnnxValueInfo v;
    v.name = name, v.kind = "tensor", v.elem_type = static_cast<int32_t>(type);
    m.graph.inputs.push_back(v);
  }
  void output(const std::string& name) {
    OnnxValueInfo v;
    v.name = name, v.kind = "tensor", v.elem_type = static_cast<int32_t>(OnnxType::float32);
    m.graph.outputs.push_back(v);
  }
  void floats(const std::string& name, std::vector<int64_t> dims, std::vector<double> values) {
    OnnxTensor t;
    t.name = name, t.data_type = static_cast<int32_t>(OnnxType::float32), t.dims = std::move(dims);
    t.has_values = true, t.doubles = std::move(values);
    m.graph.initializers.push_back(t);
  }
  void ints(const std::string& name, std::vector<int64_t> values) {
    OnnxTensor t;
    t.name = name, t.data_type = static_cast<int32_t>(OnnxType::int64), t.dims = {static_cast<int64_t>(values.size())};
    t.has_values = true, t.integers = std::move(values);
    m.graph.initializers.push_back(t);
  }
  OnnxNode& node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out) {
    OnnxNode n;
    n.name = op + "_" + std::to_string(m.graph.nodes.size());
    n.op_type = op, n.inputs = std::move(in), n.outputs = std::move(out);
    m.graph.nodes.push_back(n);
    return m.graph.nodes.back();
  }
  static void attr_int(OnnxNode& n, const std::string& name, int64_t v) {
    OnnxAttribute a;
    a.name = name, a.type = OnnxAttributeType::int_, a.i = v;
    n.attributes.push_back(a);
  }
  static void attr_ints(OnnxNode& n, const std::string& name, std::vector<int64_t> v) {
    OnnxAttribute a;
    a.name = name, a.type = OnnxAttributeType::ints, a.ints = std::move(v);
    n.attributes.push_back(a);
  }
};

// Runs the model fused and unfused on `feeds`; checks the counts of fused `op` and that both agree.
void expect_fused_count(const OnnxModel& model, const std::map<std::string, OnnxValue>& feeds, const std::string& op,
                        int64_t count, const std::string& what) {
  OnnxSession fused_session = OnnxSession::from_model(model);
  std::map<std::string, OnnxValue> plain;
  {
    NoFusion off;
    plain = OnnxSession::from_model(model).run(feeds);
  }
  EXPECT_EQ(fused(fused_session, op), count) << what;
  const auto got = fused_session.run(feeds);
  for (const auto& [out, value] : plain) expect_value_close(got.at(out), value, 1e-5, what + " " + out);
}

// Attention in SAM's form: MatMul(q, Transpose(k)) · 0.125, scores viewed as
// [B, qh, qw, kh, kw] plus rel_h [.., kh, 1] and rel_w [.., 1, kw] (graph inputs, not constants),
// back to [B, Nq, Nk], Softmax, MatMul(·, v). 12 queries (3 × 4), 35 keys (5 × 7), head dim 7.
struct RelPosAttention {
  GraphBuilder b;
  std::map<std::string, OnnxValue> feeds;
  RelPosAttention() {
    for (const char* name : {"q", "k", "v", "rel_h", "rel_w"}) b.input(name);
    b.floats("scale", {}, {0.125});
    b.ints("shape5", {6, 3, 4, 5, 7});
    b.ints("shape3", {6, 12, 35});
    GraphBuilder::attr_ints(b.node("Transpose", {"k"}, {"kt"}), "perm", {0, 2, 1});
    b.node("MatMul", {"q", "kt"}, {"s"});
    b.node("Mul", {"s", "scale"}, {"s_scaled"});
    b.node("Reshape", {"s_scaled", "shape5"}, {"s5"});
    b.node("Add", {"s5", "rel_h"}, {"s5h"});
    b.node("Add", {"rel_w", "s5h"}, {"s5hw"});
    b.node("Reshape", {"s5hw", "shape3"}, {"s3"});
    GraphBuilder::attr_int(b.node("Softmax", {"s3"}, {"p"}), "axis", -1);
    b.node("MatMul", {"p", "v"}, {"y"});
    b.output("y");
    feeds["q"] = random_value({6, 12, 7}, 1, -2, 2);
    feeds["k"] = random_value({6, 35, 7}, 2, -2, 2);
    feeds["v"] = random_value({6, 35, 5}, 3);
    feeds["rel_h"] = random_value({6, 3, 4, 5, 1}, 4);
    feeds["rel_w"] = random_value({6, 3, 4, 1, 7}, 5);
  }
};

TEST(OnnxFusion, RelPosAttentionFusesAndMatches) {
  RelPosAttention a;
  expect_fused_count(a.b.m, a.feeds, "MicrosrAttention", 1, "rel-pos attention");
}

TEST(OnnxFusion, AttentionWithAnIntermediateReadTwiceStaysUnfused) {
  RelPosAttention a;  // the scaled scores also feed a graph output
  a.b.node("Relu", {"s_scaled"}, {"extra"});
  a.b.output("extra");
  expect_fused_count(a.b.m, a.feeds, "MicrosrAttention", 0, "scores read twice");
}

TEST(OnnxFusion, AttentionWhoseProbabilitiesAreAGraphOutputStaysUnfused) {
  RelPosAttention a;
  a.b.output("p");
  expect_fused_count(a.b.m, a.feeds, "MicrosrAttention", 0, "probabilities are an output");
}

TEST(OnnxFusion, SoftmaxOnAnotherAxisStaysUnfused) {
  RelPosAttention a;
  for (OnnxNode& n : a.b.m.graph.nodes)
    if (n.op_type == "Softmax") n.attributes[0].i = 1;
  expect_fused_count(a.b.m, a.feeds, "MicrosrAttention", 0, "softmax over axis 1");
}

// Hiera's form: q, k, v [B, N, heads, d] transposed by the graph, the scale after the MatMul.
TEST(OnnxFusion, TransposedHeadsAttentionFusesAndMatches) {
  GraphBuilder b;
  for (const char* name : {"q", "k", "v"}) b.input(name);
  b.floats("scale", {1}, {0.37});
  GraphBuilder::attr_ints(b.node("Transpose", {"q"}, {"qt"}), "perm", {0, 2, 1, 3});
  GraphBuilder::attr_ints(b.node("Transpose", {"k"}, {"kt"}), "perm", {0, 2, 3, 1});
  GraphBuilder::attr_ints(b.node("Transpose", {"v"}, {"vt"}), "perm", {0, 2, 1, 3});
  b.node("MatMul", {"qt", "kt"}, {"s"});
  b.node("Div", {"s", "scale"}, {"s_scaled"});
  b.node("Softmax", {"s_scaled"}, {"p"});
  b.node("MatMul", {"p", "vt"}, {"y"});
  b.output("y");
  std::map<std::string, OnnxValue> feeds;
  feeds["q"] = random_value({2, 13, 3, 7}, 11, -2, 2);
  feeds["k"] = random_value({2, 37, 3, 7}, 12, -2, 2);
  feeds["v"] = random_value({2, 37, 3, 5}, 13);
  expect_fused_count(b.m, feeds, "MicrosrAttention", 1, "transposed-heads attention");
}

// The heads merged back by a Transpose of the output that keeps the last axis last: folded into the
// fused node (one node left); one that moves the last axis stays a node of its own.
TEST(OnnxFusion, AttentionOutputTransposeFoldsWhenItKeepsRows) {
  for (const bool keeps_rows : {true, false}) {
    GraphBuilder b;
    for (const char* name : {"q", "k", "v"}) b.input(name);
    GraphBuilder::attr_ints(b.node("Transpose", {"k"}, {"kt"}), "perm", {0, 1, 3, 2});
    b.node("MatMul", {"q", "kt"}, {"s"});
    b.node("Softmax", {"s"}, {"p"});
    b.node("MatMul", {"p", "v"}, {"o"});
    GraphBuilder::attr_ints(b.node("Transpose", {"o"}, {"y"}), "perm",
                            keeps_rows ? std::vector<int64_t>{0, 2, 1, 3} : std::vector<int64_t>{0, 1, 3, 2});
    b.output("y");
    std::map<std::string, OnnxValue> feeds;
    feeds["q"] = random_value({2, 3, 13, 7}, 14, -2, 2);
    feeds["k"] = random_value({2, 3, 37, 7}, 15, -2, 2);
    feeds["v"] = random_value({2, 3, 37, 5}, 16);
    const std::string what = keeps_rows ? "output transpose (0 2 1 3)" : "output transpose (0 1 3 2)";
    expect_fused_count(b.m, feeds, "MicrosrAttention", 1, what);
    EXPECT_EQ(OnnxSession::from_model(b.m).stats().nodes_after_fusion, keeps_rows ? 1 : 2) << what;
  }
}

// SAM's heads merged back: the output [B·heads, H·W, d] reshaped to [B, heads, H, W, d] and
// transposed to [B, H, W, heads, d]; both fold into the attention.
TEST(OnnxFusion, AttentionOutputReshapeAndTransposeFold) {
  GraphBuilder b;
  for (const char* name : {"q", "k", "v"}) b.input(name);
  b.input("heads", OnnxType::int64);  // a graph input: shapes are known at run time only
  GraphBuilder::attr_ints(b.node("Transpose", {"k"}, {"kt"}), "perm", {0, 2, 1});
  b.node("MatMul", {"q", "kt"}, {"s"});
  b.node("Softmax", {"s"}, {"p"});
  b.node("MatMul", {"p", "v"}, {"o"});
  b.node("Reshape", {"o", "heads"}, {"o5"});
  GraphBuilder::attr_ints(b.node("Transpose", {"o5"}, {"y"}), "perm", {0, 2, 3, 1, 4});
  b.output("y");
  std::map<std::string, OnnxValue> feeds;
  feeds["q"] = random_value({6, 20, 7}, 18, -2, 2);
  feeds["k"] = random_value({6, 31, 7}, 19, -2, 2);
  feeds["v"] = random_value({6, 31, 5}, 20);
  feeds["heads"] = OnnxValue::from_integers({5}, {2, 3, 4, 5, -1});
  expect_fused_count(b.m, feeds, "MicrosrAttention", 1, "output reshape + transpose");
  EXPECT_EQ(OnnxSession::from_model(b.m).stats().nodes_after_fusion, 1);
}

// Hiera's q, k, v: one tensor [B, N, 3, heads, d] split in 3 along axis 2 (given as -3 in one
// variant), each part squeezed and its heads transposed forward. The Split and Squeezes fold into the
// attention (one node left) unless a part has another reader.
TEST(OnnxFusion, QkvSplitFoldsIntoAttention) {
  for (const int variant : {0, 1, 2}) {  // 0: axis 2, 1: axis -3 and sizes given, 2: q also a graph output
    GraphBuilder b;
    b.input("qkv");
    const int64_t axis = variant == 1 ? -3 : 2;
    b.ints("axes", {axis});
    b.ints("sizes", {1, 1, 1});
    GraphBuilder::attr_int(
        b.node("Split", variant == 1 ? std::vector<std::string>{"qkv", "sizes"} : std::vector<std::string>{"qkv"},
               {"q5", "k5", "v5"}),
        "axis", axis);
    for (const char* x : {"q", "k", "v"}) b.node("Squeeze", {std::string(x) + "5", "axes"}, {std::string(x) + "4"});
    GraphBuilder::attr_ints(b.node("Transpose", {"q4"}, {"qt"}), "perm", {0, 2, 1, 3});
    GraphBuilder::attr_ints(b.node("Transpose", {"k4"}, {"kt"}), "perm", {0, 2, 3, 1});
    GraphBuilder::attr_ints(b.node("Transpose", {"v4"}, {"vt"}), "perm", {0, 2, 1, 3});
    b.node("MatMul", {"qt", "kt"}, {"s"});
    b.node("Softmax", {"s"}, {"p"});
    b.node("MatMul", {"p", "vt"}, {"o"});
    GraphBuilder::attr_ints(b.node("Transpose", {"o"}, {"y"}), "perm", {0, 2, 1, 3});
    b.output("y");
    if (variant == 2) b.output("q4");
    std::map<std::string, OnnxValue> feeds;
    feeds["qkv"] = random_value({2, 29, 3, 2, 7}, 17, -2, 2);
    const std::string what = "qkv split, variant " + std::to_string(variant);
    expect_fused_count(b.m, feeds, "MicrosrAttention", 1, what);
    // Folded: the attention alone. q4 also an output: K and V still fold (Hiera's pooled q), the
    // Split stays for q alone (its k and v outputs unnamed), with q's Squeeze and the attention.
    const OnnxSession s = OnnxSession::from_model(b.m);
    EXPECT_EQ(s.stats().nodes_after_fusion, variant == 2 ? 3 : 1) << what;
  }
}

// MatMul + constant bias, then GELU in its two exported node orders.
GraphBuilder mlp(bool half_first, double half, bool constant_bias) {
  GraphBuilder b;
  b.input("x");
  b.floats("w", {7, 37}, [] {
    std::vector<double> w;
    for (float f : testing::random_values(7 * 37, 21)) w.push_back(f);
    return w;
  }());
  if (constant_bias) {
    std::vector<double> bias;
    for (float f : testing::random_values(37, 22)) bias.push_back(f);
    b.floats("bias", {37}, bias);
  } else {
    b.input("bias");
  }
  b.floats("sqrt2", {}, {1.4142135623730951});
  b.floats("one", {}, {1.0});
  b.floats("half", {}, {half});
  b.node("MatMul", {"x", "w"}, {"xw"});
  b.node("Add", {"bias", "xw"}, {"h"});
  b.node("Div", {"h", "sqrt2"}, {"d"});
  b.node("Erf", {"d"}, {"e"});
  b.node("Add", {"e", "one"}, {"e1"});
  if (half_first) {
    b.node("Mul", {"h", "half"}, {"hh"});
    b.node("Mul", {"hh", "e1"}, {"y"});
  } else {
    b.node("Mul", {"h", "e1"}, {"he"});
    b.node("Mul", {"he", "half"}, {"y"});
  }
  b.output("y");
  return b;
}

TEST(OnnxFusion, MatMulBiasAndGeluFuseAndMatch) {
  std::map<std::string, OnnxValue> feeds = {{"x", random_value({3, 13, 7}, 23, -3, 3)}};
  for (bool half_first : {false, true}) {
    const GraphBuilder b = mlp(half_first, 0.5, true);
    expect_fused_count(b.m, feeds, "MicrosrMatMulBias", 1, "matmul + bias");
    expect_fused_count(b.m, feeds, "MicrosrGelu", 1, half_first ? "gelu (x*0.5)*(1+erf)" : "gelu (x*(1+erf))*0.5");
    expect_fused_count(b.m, feeds, "MicrosrMatMulBias+Gelu", 1, "gelu as the matmul's epilogue");
    EXPECT_EQ(OnnxSession::from_model(b.m).stats().nodes_after_fusion, 1);
  }
}

TEST(OnnxFusion, NonConstantBiasAndWrongGeluConstantStayUnfused) {
  std::map<std::string, OnnxValue> feeds = {{"x", random_value({3, 13, 7}, 23, -3, 3)}, {"bias", random_value({37}, 24)}};
  const GraphBuilder b = mlp(false, 0.4, false);
  expect_fused_count(b.m, feeds, "MicrosrMatMulBias", 0, "bias is a graph input");
  expect_fused_count(b.m, feeds, "MicrosrGelu", 0, "0.4 instead of 0.5");
}

// ---- each fused fast kernel against its reference on odd shapes ------------------------------

std::vector<OnnxValue> run_kernel(bool fast, const OnnxNode& node, const std::vector<const OnnxValue*>& inputs) {
  const onnx_ref::OpContext c{node, 17, inputs, nullptr};
  if (!fast) return onnx_ref::kernel_table().at(node.op_type)(c);
  std::vector<OnnxValue> out;
  EXPECT_TRUE(onnx_fast::all_fast_kernels().at(node.op_type)(c, out)) << node.op_type << ": the fast kernel declined";
  return out;
}

void expect_fast_matches_reference(const OnnxNode& node, const std::vector<const OnnxValue*>& inputs,
                                   const std::string& what, double tolerance = 2e-6) {
  const std::vector<OnnxValue> ref = run_kernel(false, node, inputs), fast = run_kernel(true, node, inputs);
  ASSERT_EQ(fast.size(), 1u) << what;
  expect_value_close(fast[0], ref[0], tolerance, what);
}

OnnxNode fused_node(const std::string& op, std::size_t inputs) {
  OnnxNode n;
  n.name = "fused", n.op_type = op, n.domain = "microsr";
  n.inputs.assign(inputs, "x");
  n.outputs = {"y"};
  return n;
}

TEST(OnnxFusionKernels, AttentionFastMatchesReference) {
  // 13 queries × 37 keys, head dim 7, value dim 5, two heads × two batches; K given untransposed
  // with k_perm, a [13, 37] bias and a rel-pos pair in the [4, 13, 37] view.
  const OnnxValue q = random_value({2, 2, 13, 7}, 31, -2, 2), k = random_value({2, 2, 37, 7}, 32, -2, 2);
  const OnnxValue v = random_value({2, 2, 37, 5}, 33), bias = random_value({13, 37}, 34);
  OnnxNode n = fused_node("MicrosrAttention", 6);
  GraphBuilder::attr_ints(n, "k_perm", {0, 1, 3, 2});
  OnnxAttribute op;
  op.name = "scale_op", op.type = OnnxAttributeType::string, op.s = "Div";
  OnnxAttribute scale;
  scale.name = "scale", scale.type = OnnxAttributeType::float_, scale.f = 2.6f;
  n.attributes.push_back(op), n.attributes.push_back(scale);
  expect_fast_matches_reference(n, {&q, &k, &v, nullptr, nullptr, &bias}, "attention with a [13, 37] bias");

  // Rel-pos form: scores [4, 13, 37] viewed as [4, 13, 1, 37] (split before the 1) → [4, 13, 37].
  const OnnxValue shape1 = OnnxValue::from_integers({4}, {4, 13, 37, 1}), shape2 = OnnxValue::from_integers({3}, {0, 0, -1});
  const OnnxValue q3 = random_value({4, 13, 7}, 35, -2, 2), kt3 = random_value({4, 7, 37}, 36, -2, 2);
  const OnnxValue v3 = random_value({4, 37, 5}, 37), rel = random_value({4, 1, 37, 1}, 38), rel2 = random_value({13, 1, 1}, 39);
  OnnxNode n3 = fused_node("MicrosrAttention", 7);
  expect_fast_matches_reference(n3, {&q3, &kt3, &v3, &shape1, &shape2, &rel, &rel2}, "attention with reshaped biases");

  // SAM's decomposed relative positions: 12 queries (3 × 4), 35 keys (5 × 7).
  const OnnxValue s5 = OnnxValue::from_integers({5}, {6, 3, 4, 5, 7}), s3 = OnnxValue::from_integers({3}, {6, 12, 35});
  const OnnxValue q6 = random_value({6, 12, 7}, 40, -2, 2), kt6 = random_value({6, 7, 35}, 41, -2, 2);
  const OnnxValue v6 = random_value({6, 35, 3}, 42), rh = random_value({6, 3, 4, 5, 1}, 43), rw = random_value({6, 3, 4, 1, 7}, 44);
  expect_fast_matches_reference(n3, {&q6, &kt6, &v6, &s5, &s3, &rh, &rw}, "attention with rel_h and rel_w");
}

// Both attention variants (attention.h) on shapes that exercise their blocking: ragged 12-row
// groups and 16-column panels, several query blocks per head, head dims past one 256 k block,
// strided Q rows (a folded Transpose), the transposed-heads layout and SAM's rel-pos biases.
TEST(OnnxFusionKernels, AttentionVariantsMatchReferenceOnBlockedShapes) {
  struct Restore {
    ~Restore() { onnx_fast::set_attention_variant(2); }
  } restore;
  // Heads transposed in Q ([2, 150, 3, 70] read as [2, 3, 150, 70]), K untransposed; 150 = 10 × 15
  // queries, 300 = 15 × 20 keys, values of 40 (a pair and a ragged panel), rel_h and rel_w.
  const OnnxValue q = random_value({2, 150, 3, 70}, 71, -1, 1), k = random_value({2, 3, 300, 70}, 72, -1, 1);
  const OnnxValue v = random_value({2, 3, 300, 40}, 73);
  const OnnxValue s5 = OnnxValue::from_integers({5}, {6, 10, 15, 15, 20}),
                  s4 = OnnxValue::from_integers({4}, {2, 3, 150, 300});
  const OnnxValue rh = random_value({6, 10, 15, 15, 1}, 74, -2, 2), rw = random_value({6, 10, 15, 1, 20}, 75, -2, 2);
  OnnxNode rel = fused_node("MicrosrAttention", 7);
  GraphBuilder::attr_ints(rel, "q_perm", {0, 2, 1, 3});
  GraphBuilder::attr_ints(rel, "k_perm", {0, 1, 3, 2});
  OnnxNode rel_out = rel;  // output heads merged back: [2, 150, 3, 40]
  GraphBuilder::attr_ints(rel_out, "out_perm", {0, 2, 1, 3});
  // Q with strided columns and a head dim of 260 (two k blocks): [4, 260, 50] read as [4, 50, 260].
  const OnnxValue qt = random_value({4, 260, 50}, 76, -0.3f, 0.3f), kt = random_value({4, 260, 33}, 77, -0.3f, 0.3f);
  const OnnxValue v2 = random_value({4, 33, 17}, 78);
  OnnxNode wide = fused_node("MicrosrAttention", 5);
  GraphBuilder::attr_ints(wide, "q_perm", {0, 2, 1});
  // One head, many keys (several query blocks), scaled by Mul, a [400, 4000] bias.
  const OnnxValue q1 = random_value({1, 400, 16}, 79), kt1 = random_value({1, 16, 4000}, 80),
                  v1 = random_value({1, 4000, 24}, 81);
  const OnnxValue bias1 = random_value({400, 4000}, 82, -3, 3);
  OnnxNode one = fused_node("MicrosrAttention", 6);
  OnnxAttribute op;
  op.name = "scale_op", op.type = OnnxAttributeType::string, op.s = "Mul";
  OnnxAttribute scale;
  scale.name = "scale", scale.type = OnnxAttributeType::float_, scale.f = 0.7f;
  one.attributes.push_back(op), one.attributes.push_back(scale);
  for (int variant : {1, 2}) {
    onnx_fast::set_attention_variant(variant);
    const std::string tag = " (variant " + std::to_string(variant) + ")";
    expect_fast_matches_reference(rel, {&q, &k, &v, &s5, &s4, &rh, &rw}, "rel-pos, transposed heads" + tag);
    expect_fast_matches_reference(rel_out, {&q, &k, &v, &s5, &s4, &rh, &rw}, "rel-pos, output transposed" + tag);
    expect_fast_matches_reference(wide, {&qt, &kt, &v2, nullptr, nullptr}, "head dim 260, strided Q" + tag);
    // float sums of 4000 products averaging to a tenth of their size: ~3e-7 of rounding
    expect_fast_matches_reference(one, {&q1, &kt1, &v1, nullptr, nullptr, &bias1}, "4000 keys" + tag, 1e-5);
  }
}

TEST(OnnxFusionKernels, AttentionFastDeclinesWhatItDoesNotCover) {
  // K broadcast over the batch: the reference's MatMul broadcasts, the fast kernel leaves it to it.
  const OnnxValue q = random_value({3, 13, 7}, 51), kt = random_value({1, 7, 37}, 52), v = random_value({3, 37, 5}, 53);
  const OnnxNode n = fused_node("MicrosrAttention", 5);
  const onnx_ref::OpContext c{n, 17, {&q, &kt, &v, nullptr, nullptr}, nullptr};
  std::vector<OnnxValue> out;
  EXPECT_FALSE(onnx_fast::all_fast_kernels().at("MicrosrAttention")(c, out));
  EXPECT_EQ(onnx_ref::kernel_table().at("MicrosrAttention")(c).at(0).shape, (std::vector<int64_t>{3, 13, 5}));
  // An output Transpose that moves the last axis: rows are no longer contiguous.
  const OnnxValue kt3 = random_value({3, 7, 37}, 54);
  OnnxNode moved = n;
  GraphBuilder::attr_ints(moved, "out_perm", {0, 2, 1});
  const onnx_ref::OpContext c2{moved, 17, {&q, &kt3, &v, nullptr, nullptr}, nullptr};
  EXPECT_FALSE(onnx_fast::all_fast_kernels().at("MicrosrAttention")(c2, out));
  EXPECT_EQ(onnx_ref::kernel_table().at("MicrosrAttention")(c2).at(0).shape, (std::vector<int64_t>{3, 5, 13}));
}

TEST(OnnxFusionKernels, AttentionOutputLayoutsMatchReference) {
  // [4, 6, 5] reshaped to [4, 2, 3, 5] and transposed to [4, 3, 2, 5]: rows i of one batch index
  // are not evenly spaced (offsets 0, 10, 20, 5, 15, 25), so they are written and then moved; so
  // are those of [2, 3, 4, 5] → [2, 4, 3, 5]; [2, 2, 6, 5] → [2, 6, 2, 5] (SAM's heads merged back)
  // is evenly spaced: written in place.
  const OnnxValue q = random_value({4, 6, 7}, 91, -2, 2), kt = random_value({4, 7, 9}, 92, -2, 2),
                  v = random_value({4, 9, 5}, 93);
  for (const auto& [shape, perm] : std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>>{
           {{4, 2, 3, 5}, {0, 2, 1, 3}}, {{2, 3, 4, 5}, {0, 2, 1, 3}}, {{2, 2, 6, -1}, {0, 2, 1, 3}}}) {
    OnnxNode n = fused_node("MicrosrAttention", 6);
    GraphBuilder::attr_int(n, "out_shape_input", 1);
    GraphBuilder::attr_ints(n, "out_perm", perm);
    const OnnxValue spec = OnnxValue::from_integers({static_cast<int64_t>(shape.size())}, shape);
    for (int variant : {1, 2}) {
      onnx_fast::set_attention_variant(variant);
      expect_fast_matches_reference(n, {&q, &kt, &v, nullptr, nullptr, &spec},
                                    "output layout, variant " + std::to_string(variant));
    }
  }
  onnx_fast::set_attention_variant(2);
}

TEST(OnnxFusionKernels, MatMulBiasAndGeluFastMatchReference) {
  const OnnxValue x = random_value({3, 13, 7}, 61), w = random_value({7, 37}, 62), bias = random_value({1, 37}, 63);
  expect_fast_matches_reference(fused_node("MicrosrMatMulBias", 3), {&x, &w, &bias}, "matmul + bias");
  const OnnxValue big = random_value({5, 1000, 29}, 64), wb = random_value({29, 67}, 65), bb = random_value({67}, 66);
  expect_fast_matches_reference(fused_node("MicrosrMatMulBias", 3), {&big, &wb, &bb}, "matmul + bias, packed GEMM");
  const OnnxValue g = random_value({7, 4111}, 67, -6, 6);
  expect_fast_matches_reference(fused_node("MicrosrGelu", 1), {&g}, "gelu");
  // GELU as the GEMM's epilogue, on every GEMM path (plain loops, 48 × 128 tiles, AVX-512 tiles of
  // 240 rows, ragged edges) at every instruction-set level this CPU has.
  OnnxNode with_gelu = fused_node("MicrosrMatMulBias", 3);
  OnnxAttribute act;
  act.name = "activation", act.type = OnnxAttributeType::string, act.s = "Gelu";
  with_gelu.attributes.push_back(act);
  const OnnxValue wide = random_value({29, 531}, 68), bw = random_value({531}, 69);
  for (kernels::CpuIsa isa : {kernels::CpuIsa::kBaseline, kernels::CpuIsa::kAvx2, kernels::CpuIsa::kAvx512}) {
    if (static_cast<int>(kernels::detected_cpu_isa()) < static_cast<int>(isa)) continue;
    kernels::CpuIsaScope scope(isa);
    const std::string tag = std::string(" (") + kernels::cpu_isa_name(isa) + ")";
    expect_fast_matches_reference(with_gelu, {&x, &w, &bias}, "matmul + bias + gelu, small" + tag);
    expect_fast_matches_reference(with_gelu, {&big, &wb, &bb}, "matmul + bias + gelu, n 67" + tag);
    expect_fast_matches_reference(with_gelu, {&big, &wide, &bw}, "matmul + bias + gelu, n 531" + tag);
  }
  OnnxNode relu = with_gelu;  // an activation the kernel does not know: the reference names it
  relu.attributes.back().s = "Relu";
  std::vector<OnnxValue> out;
  EXPECT_FALSE(onnx_fast::all_fast_kernels().at("MicrosrMatMulBias")(
      onnx_ref::OpContext{relu, 17, {&x, &w, &bias}, nullptr}, out));
}

// A window partition [1, H, W, C] → [windows, ws, ws, C] (the Reshape → Transpose → Reshape of
// Hiera and SAM ViT) and its reverse.
OnnxValue ints_value(std::vector<int64_t> v) {
  const auto n = static_cast<int64_t>(v.size());
  return OnnxValue::from_integers({n}, std::move(v));
}

OnnxNode with_window(const std::string& op, std::size_t inputs, const std::string& prefix) {
  OnnxNode n = fused_node(op, inputs);
  OnnxAttribute perm;
  perm.name = prefix + "perm", perm.type = OnnxAttributeType::ints, perm.ints = {0, 1, 3, 2, 4, 5};
  n.attributes.push_back(perm);
  return n;
}

TEST(OnnxFusionKernels, MatMulBiasWithWindowPartitionMatchesReference) {
  // x [1, 6, 10, 7] in windows of 3 × 5 (H 6 = 2 · 3, W 10 = 2 · 5): 4 windows of 15 tokens.
  const OnnxValue x = random_value({1, 6, 10, 7}, 71), w = random_value({7, 37}, 72), bias = random_value({37}, 73);
  const OnnxValue shape1 = ints_value({1, 2, 3, 2, 5, 7}), shape2 = ints_value({-1, 3, 5, 7});
  expect_fast_matches_reference(with_window("MicrosrMatMulBias", 5, "in_"), {&x, &w, &bias, &shape1, &shape2},
                                "window partition, small");
  // Big enough for the AVX-512 tiles: 64 × 64 tokens in windows of 8 (Hiera's stage 1 layout).
  const OnnxValue big = random_value({1, 64, 64, 24}, 74), wb = random_value({24, 150}, 75), bb = random_value({150}, 76);
  const OnnxValue big1 = ints_value({1, 8, 8, 8, 8, 24}), big2 = ints_value({-1, 8, 8, 24});
  expect_fast_matches_reference(with_window("MicrosrMatMulBias", 5, "in_"), {&big, &wb, &bb, &big1, &big2},
                                "window partition, packed GEMM", 1e-5);
  const OnnxValue odd = ints_value({1, 4, 3, 2, 5, 7});  // 4 · 3 rows of windows: not x's height
  std::vector<OnnxValue> out;
  const OnnxNode node = with_window("MicrosrMatMulBias", 5, "in_");
  EXPECT_FALSE(onnx_fast::all_fast_kernels().at("MicrosrMatMulBias")(
      onnx_ref::OpContext{node, 17, {&x, &w, &bias, &odd, &shape2}, nullptr}, out));
}

TEST(OnnxFusionKernels, MatMulBiasAddMatchesReference) {
  // residual + (x W + bias), plain and through a window unpartition, with the residual donated
  // (written in place) and not.
  const OnnxValue x = random_value({4, 15, 7}, 81), w = random_value({7, 37}, 82), bias = random_value({37}, 83);
  const OnnxValue residual = random_value({4, 15, 37}, 84);
  expect_fast_matches_reference(fused_node("MicrosrMatMulBiasAdd", 4), {&residual, &x, &w, &bias}, "matmul + bias + add");
  const OnnxValue windows = random_value({4, 3, 5, 7}, 85), image = random_value({1, 6, 10, 37}, 86);
  const OnnxValue shape1 = ints_value({1, 2, 2, 3, 5, 37}), shape2 = ints_value({1, 6, 10, 37});
  const OnnxNode node = with_window("MicrosrMatMulBiasAdd", 6, "out_");
  expect_fast_matches_reference(node, {&image, &windows, &w, &bias, &shape1, &shape2}, "window unpartition + add");
  const OnnxValue big = random_value({64, 8, 8, 24}, 87), wb = random_value({24, 96}, 88), bb = random_value({96}, 89);
  const OnnxValue big_image = random_value({1, 64, 64, 96}, 90);
  const OnnxValue big1 = ints_value({1, 8, 8, 8, 8, 96}), big2 = ints_value({1, 64, 64, 96});
  expect_fast_matches_reference(node, {&big_image, &big, &wb, &bb, &big1, &big2}, "unpartition + add, packed GEMM", 1e-5);
  // Donated: the output takes the residual's buffer.
  const std::vector<OnnxValue> ref = run_kernel(false, node, {&big_image, &big, &wb, &bb, &big1, &big2});
  OnnxValue donated = big_image;
  const float* buffer = donated.floats.data();
  std::vector<OnnxValue> out;
  ASSERT_TRUE(onnx_fast::all_fast_kernels().at("MicrosrMatMulBiasAdd")(
      onnx_ref::OpContext{node, 17, {&donated, &big, &wb, &bb, &big1, &big2}, &donated}, out));
  EXPECT_EQ(out.at(0).floats.data(), buffer);
  expect_value_close(out.at(0), ref.at(0), 1e-5, "unpartition + add, in place");
  // A residual that broadcasts is the reference's.
  const OnnxValue row = random_value({37}, 91);
  EXPECT_FALSE(onnx_fast::all_fast_kernels().at("MicrosrMatMulBiasAdd")(
      onnx_ref::OpContext{fused_node("MicrosrMatMulBiasAdd", 4), 17, {&row, &x, &w, &bias}, nullptr}, out));
}

// Hiera's windowed block in miniature: x [1, 6, 10, 7] → windows of 3 × 5 → MatMul + bias (the
// windows' shape also read by Shape, as Hiera's attention does) → MatMul + bias → back → + x;
// then an MLP layer → + residual. Fuses into MicrosrMatMulBias with in_perm, two MicrosrMatMulBiasAdd, and
// MicrosrShape nodes for the Shape readers; fused and unfused agree.
TEST(OnnxFusionKernels, MaxPoolNhwcMatchesReference) {
  OnnxNode node = fused_node("MicrosrMaxPoolNhwc", 1);
  OnnxAttribute kernel, strides;
  kernel.name = "kernel_shape", kernel.type = OnnxAttributeType::ints, kernel.ints = {2, 2};
  strides.name = "strides", strides.type = OnnxAttributeType::ints, strides.ints = {2, 2};
  node.attributes = {kernel, strides};
  const OnnxValue x = random_value({2, 9, 7, 13}, 95), big = random_value({1, 64, 64, 96}, 96);
  expect_fast_matches_reference(node, {&x}, "2 × 2 / 2, odd sizes", 0.0);
  expect_fast_matches_reference(node, {&big}, "2 × 2 / 2, Hiera's q pool", 0.0);
  node.attributes[0].ints = {3, 2}, node.attributes[1].ints = {1, 2};
  expect_fast_matches_reference(node, {&x}, "3 × 2 / (1, 2)", 0.0);
  OnnxAttribute pads;  // padding: the reference's
  pads.name = "pads", pads.type = OnnxAttributeType::ints, pads.ints = {1, 1, 1, 1};
  node.attributes.push_back(pads);
  std::vector<OnnxValue> out;
  EXPECT_FALSE(onnx_fast::all_fast_kernels().at("MicrosrMaxPoolNhwc")(onnx_ref::OpContext{node, 17, {&x}, nullptr}, out));
}

TEST(OnnxFusion, ChannelsLastMaxPoolFusesAndMatches) {
  GraphBuilder b;
  b.input("x");
  GraphBuilder::attr_ints(b.node("Transpose", {"x"}, {"nchw"}), "perm", {0, 3, 1, 2});
  OnnxNode& pool = b.node("MaxPool", {"nchw"}, {"pooled"});
  GraphBuilder::attr_ints(pool, "kernel_shape", {2, 2});
  GraphBuilder::attr_ints(pool, "strides", {2, 2});
  GraphBuilder::attr_ints(b.node("Transpose", {"pooled"}, {"y"}), "perm", {0, 2, 3, 1});
  b.output("y");
  std::map<std::string, OnnxValue> feeds = {{"x", random_value({1, 10, 6, 5}, 97)}};
  expect_fused_count(b.m, feeds, "MicrosrMaxPoolNhwc", 1, "channels-last max pool");
  b.output("pooled");  // the pooled value is a graph output: stays unfused
  expect_fused_count(b.m, feeds, "MicrosrMaxPoolNhwc", 0, "pooled value is a graph output");
}

std::vector<double> random_doubles(std::size_t n, unsigned seed) {
  std::vector<double> v;
  for (float f : testing::random_values(n, seed)) v.push_back(f);
  return v;
}

TEST(OnnxFusion, WindowPartitionAndResidualAddFuseAndMatch) {
  GraphBuilder b;
  b.input("x");
  b.floats("w1", {7, 7}, random_doubles(49, 1));
  b.floats("b1", {7}, random_doubles(7, 2));
  b.floats("w2", {7, 7}, random_doubles(49, 3));
  b.floats("b2", {7}, random_doubles(7, 4));
  b.floats("w3", {7, 7}, random_doubles(49, 6));
  b.floats("b3", {7}, random_doubles(7, 7));
  b.ints("part1", {1, 2, 3, 2, 5, 7});
  b.ints("part2", {-1, 3, 5, 7});
  b.ints("back2", {1, 6, 10, 7});
  b.ints("zero", {0});
  b.node("Reshape", {"x", "part1"}, {"x6"});
  GraphBuilder::attr_ints(b.node("Transpose", {"x6"}, {"xt"}), "perm", {0, 1, 3, 2, 4, 5});
  b.node("Reshape", {"xt", "part2"}, {"win"});
  b.node("Shape", {"win"}, {"win_shape"});  // the windows' count, as Hiera reads it
  b.node("Gather", {"win_shape", "zero"}, {"n_windows"});
  b.node("MatMul", {"win", "w1"}, {"h"});  // Hiera's qkv: reads the windows
  b.node("Add", {"h", "b1"}, {"hb"});
  b.node("MatMul", {"hb", "w3"}, {"p"});  // Hiera's proj: written back through the unpartition
  b.node("Add", {"p", "b3"}, {"pb"});
  b.node("Shape", {"pb"}, {"pb_shape"});  // the product's shape, as Hiera's unpartition reads it
  b.node("Reshape", {"pb", "part1"}, {"pb6"});
  GraphBuilder::attr_ints(b.node("Transpose", {"pb6"}, {"pbt"}), "perm", {0, 1, 3, 2, 4, 5});
  b.node("Reshape", {"pbt", "back2"}, {"y"});
  b.node("Add", {"x", "y"}, {"r1"});
  b.node("MatMul", {"r1", "w2"}, {"q"});
  b.node("Add", {"b2", "q"}, {"qb"});
  b.node("Add", {"qb", "r1"}, {"out"});
  b.output("out");
  b.output("n_windows");
  b.output("pb_shape");
  std::map<std::string, OnnxValue> feeds;
  feeds["x"] = random_value({1, 6, 10, 7}, 5);
  expect_fused_count(b.m, feeds, "MicrosrMatMulBiasAdd", 2, "residual adds");
  expect_fused_count(b.m, feeds, "MicrosrMatMulBias+WindowIn", 1, "window partition read in place");
  OnnxSession s = OnnxSession::from_model(b.m);
  for (int run = 0; run < 2; ++run) {  // the second run through the cached plan
    const auto got = s.run(feeds);
    EXPECT_EQ(got.at("n_windows").integers, std::vector<int64_t>{4});
    EXPECT_EQ(got.at("pb_shape").integers, (std::vector<int64_t>{4, 3, 5, 7}));
  }
}

}  // namespace
}  // namespace microsr
