// The graph runtime's kernels against ONNX Runtime, one single-node model per op and attribute
// variant (tests/data/onnx/ops, made by tools/make_onnx_op_fixtures.py), plus torch_tiny.onnx; and
// the runtime's errors: unsupported op, missing or extra input, shapes that contradict the model.
#include <gtest/gtest.h>

#include <fstream>

#include "cpu/ref/onnx_ref.h"
#include "microsr/onnx_runtime.h"
#include "onnx_test_helpers.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using testing::data_path;
using testing::expect_error;
using testing::expect_value_close;
using testing::read_npy_folder;

std::vector<std::string> op_cases() {
  std::vector<std::string> names;
  std::ifstream in(data_path("onnx/ops/cases.txt"));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) names.push_back(line);
  return names;
}

// Runs tests/data/onnx/<folder>/model.onnx (or `model`) on its inputs and compares every output.
void expect_matches_fixture(const std::string& folder, const std::string& model, double relative) {
  OnnxSession session = OnnxSession::load(model);
  const std::map<std::string, OnnxValue> feeds = read_npy_folder(folder + "/inputs");
  const std::map<std::string, OnnxValue> expected = read_npy_folder(folder + "/expected");
  ASSERT_FALSE(expected.empty()) << folder << " has no expected outputs";
  for (int run = 0; run < 2; ++run) {  // the second run uses the plan the first one cached
    const std::map<std::string, OnnxValue> got = session.run(feeds);
    for (const auto& [name, value] : expected) {
      auto g = got.find(name);
      ASSERT_NE(g, got.end()) << folder << ": no output " << name;
      expect_value_close(g->second, value, relative, folder + " output " + name + " (run " + std::to_string(run + 1) + ")");
    }
  }
}

class OnnxRuntimeOps : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxRuntimeOps, MatchesOnnxRuntime) {
  const std::string folder = data_path("onnx/ops/" + GetParam());
  expect_matches_fixture(folder, folder + "/model.onnx", 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, OnnxRuntimeOps, ::testing::ValuesIn(op_cases()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

TEST(OnnxRuntimeOpsCoverage, EveryOpOfTheSamExportsHasAKernelAndAFixture) {
  const std::vector<std::string> sam_ops = {
      "Add", "Cast", "Concat", "Constant", "ConstantOfShape", "Conv", "ConvTranspose", "Cos", "Div", "Einsum", "Equal",
      "Erf", "Expand", "Floor", "Gather", "Gemm", "LayerNormalization", "MatMul", "MaxPool", "Mod", "Mul", "Not", "Pad",
      "Pow", "Range", "Reciprocal", "ReduceMax", "ReduceMean", "Relu", "Reshape", "Resize", "Shape", "Sin", "Slice",
      "Softmax", "Split", "Sqrt", "Squeeze", "Sub", "Tile", "Transpose", "Unsqueeze", "Where"};
  ASSERT_EQ(sam_ops.size(), 43u);
  std::set<std::string> fixture_ops;
  for (const std::string& name : op_cases()) {
    const OnnxModel m = load_onnx(data_path("onnx/ops/" + name + "/model.onnx"));
    for (const OnnxNode& n : m.graph.nodes) fixture_ops.insert(n.op_type);
  }
  EXPECT_GE(op_cases().size(), 100u);
  for (const std::string& op : sam_ops) {
    EXPECT_TRUE(onnx_ref::kernel_table().count(op)) << op << " has no kernel";
    // Constant is exercised by torch_tiny.onnx (23 Constant nodes), not by a single-node case.
    if (op != "Constant") {
      EXPECT_TRUE(fixture_ops.count(op)) << op << " has no fixture";
    }
  }
}

TEST(OnnxRuntimeModels, TorchTinyMatchesOnnxRuntime) {
  expect_matches_fixture(data_path("onnx/torch_tiny"), data_path("onnx/torch_tiny.onnx"), 1e-5);
  OnnxSession session = OnnxSession::load(data_path("onnx/torch_tiny.onnx"));
  const auto feeds = read_npy_folder(data_path("onnx/torch_tiny/inputs"));
  session.run(feeds);
  session.run(feeds);  // the second run skips the shape arithmetic the first one folded
  const OnnxRunStats& s = session.stats();
  EXPECT_EQ(s.nodes_in_model, 70);
  EXPECT_LT(s.nodes_after_load_folding, s.nodes_in_model);     // the Constant nodes are folded
  EXPECT_LT(s.nodes_executed, s.nodes_after_load_folding);     // and the Shape arithmetic per shape
  EXPECT_GT(s.peak_activation_bytes, 0);
  EXPECT_TRUE(s.seconds_per_op.count("MicrosrAttention"));  // MatMul → Softmax → MatMul, fused at load
  EXPECT_FALSE(s.seconds_per_op.count("Shape"));  // folded for these input shapes after the first run
}

// ---- errors ----

// A one-node model: `op` reading x (float32 [2, 3]) and writing y.
OnnxModel one_node_model(const std::string& op, const std::string& node_name = "the_node") {
  OnnxModel m;
  m.path = "test.onnx";
  m.opsets = {{"", 17}};
  OnnxValueInfo x;
  x.name = "x";
  x.kind = "tensor";
  x.elem_type = static_cast<int32_t>(OnnxType::float32);
  x.has_shape = true;
  x.shape = {OnnxDim{2, ""}, OnnxDim{std::nullopt, "width"}};
  m.graph.inputs = {x};
  OnnxValueInfo y = x;
  y.name = "y";
  m.graph.outputs = {y};
  OnnxNode n;
  n.name = node_name;
  n.op_type = op;
  n.inputs = {"x"};
  n.outputs = {"y"};
  m.graph.nodes = {n};
  return m;
}

TEST(OnnxRuntimeErrors, UnsupportedOpNamesTheOpAndTheNode) {
  expect_error([] { OnnxSession::from_model(one_node_model("NonMaxSuppression", "nms_7")); }, "NonMaxSuppression");
  expect_error([] { OnnxSession::from_model(one_node_model("NonMaxSuppression", "nms_7")); }, "'nms_7'");
  OnnxModel custom = one_node_model("Relu");
  custom.graph.nodes[0].domain = "com.microsoft";
  expect_error([&] { OnnxSession::from_model(custom); }, "com.microsoft");
}

TEST(OnnxRuntimeErrors, CycleAndDanglingInputAreErrors) {
  OnnxModel m = one_node_model("Relu");
  OnnxNode second = m.graph.nodes[0];
  second.name = "second";
  second.inputs = {"y"};
  second.outputs = {"z"};
  m.graph.nodes[0].inputs = {"z"};  // the_node reads z, which second makes from y: a cycle
  m.graph.nodes.push_back(second);
  expect_error([&] { OnnxSession::from_model(m); }, "cycle");
  OnnxModel dangling = one_node_model("Relu");
  dangling.graph.nodes[0].inputs = {"nowhere"};
  expect_error([&] { OnnxSession::from_model(dangling); }, "'nowhere'");
}

TEST(OnnxRuntimeErrors, FeedsAreChecked) {
  OnnxSession s = OnnxSession::from_model(one_node_model("Relu"));
  const OnnxValue good = OnnxValue::from_floats({2, 5}, std::vector<float>(10, -1.0f));
  EXPECT_EQ(s.run({{"x", good}}).at("y").floats, FloatBuffer(10, 0.0f));
  expect_error([&] { s.run({}); }, "input 'x' (float32 [2, width]) is missing");
  expect_error([&] { s.run({{"x", good}, {"extra", good}}); }, "'extra' is not an input");
  expect_error([&] { s.run({{"x", OnnxValue::from_floats({3, 5}, std::vector<float>(15))}}); },
               "declared float32 [2, width] but was given float32 [3, 5]");
  expect_error([&] { s.run({{"x", OnnxValue::from_floats({2}, std::vector<float>(2))}}); }, "float32 [2]");
  expect_error([&] { s.run({{"x", OnnxValue::from_integers({2, 2}, {1, 2, 3, 4})}}); }, "int64 [2, 2]");
}

TEST(OnnxRuntimeErrors, KernelErrorsNameTheNode) {
  OnnxModel m = one_node_model("Reshape", "reshape_3");
  OnnxTensor shape;
  shape.name = "target";
  shape.data_type = static_cast<int32_t>(OnnxType::int64);
  shape.dims = {2};
  shape.has_values = true;
  shape.integers = {4, 4};
  m.graph.initializers = {shape};
  m.graph.nodes[0].inputs = {"x", "target"};
  OnnxSession s = OnnxSession::from_model(m);
  expect_error([&] { s.run({{"x", OnnxValue::from_floats({2, 3}, std::vector<float>(6))}}); },
               "node 'reshape_3' (Reshape)");
  expect_error([&] { s.run({{"x", OnnxValue::from_floats({2, 3}, std::vector<float>(6))}}); }, "cannot become [4, 4]");
}

}  // namespace
}  // namespace microsr
