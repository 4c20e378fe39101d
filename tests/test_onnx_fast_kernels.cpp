// The fast ONNX kernels (kernels/cpu/onnx/) against the reference kernels (kernels/cpu/ref/) on odd
// shapes that hit every ragged edge: the 6×16 GEMM blocks, row tails of the vector loops,
// broadcasting patterns, transposes. Each case runs at every instruction-set level this CPU has
// (baseline, avx2, avx512).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "cpu/cpu_isa.h"
#include "cpu/onnx/fast_ops.h"
#include "cpu/onnx/gemm.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using kernels::CpuIsa;

OnnxValue random_value(std::vector<int64_t> shape, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return OnnxValue::from_floats(std::move(shape), testing::random_values(static_cast<std::size_t>(n), seed, lo, hi));
}

// The ISA levels to walk: baseline, and avx2 and avx512 when this CPU has them.
std::vector<CpuIsa> isa_levels() {
  std::vector<CpuIsa> levels = {CpuIsa::kBaseline};
  for (CpuIsa isa : {CpuIsa::kAvx2, CpuIsa::kAvx512})
    if (static_cast<int>(kernels::detected_cpu_isa()) >= static_cast<int>(isa)) levels.push_back(isa);
  return levels;
}

// Runs `op` through its fast kernel (which must accept these inputs) and through the reference,
// and compares every output within `tolerance` of the reference's largest magnitude.
void expect_fast_matches_reference(const std::string& op, std::vector<OnnxAttribute> attributes,
                                   const std::vector<OnnxValue>& inputs, double tolerance, const std::string& what) {
  OnnxNode node;
  node.name = what, node.op_type = op, node.attributes = std::move(attributes);
  std::vector<const OnnxValue*> pointers;
  for (const OnnxValue& v : inputs) pointers.push_back(&v);
  const onnx_ref::OpContext context{node, 17, pointers};
  const std::vector<OnnxValue> expected = onnx_ref::kernel_table().at(op)(context);
  // Every ISA level; then once more with input 0 donated (OpContext::donated), as the runtime does
  // at its last use: kernels that compute in place must give the same result.
  std::vector<CpuIsa> levels = isa_levels();
  levels.push_back(levels.back());
  for (std::size_t level = 0; level < levels.size(); ++level) {
    const CpuIsa isa = levels[level];
    kernels::CpuIsaScope scope(isa);
    std::vector<OnnxValue> got;
    OnnxValue donated_copy = inputs[0];
    onnx_ref::OpContext run_context = context;
    if (level + 1 == levels.size()) run_context.inputs[0] = &donated_copy, run_context.donated = &donated_copy;
    ASSERT_TRUE(onnx_fast::all_fast_kernels().at(op)(run_context, got)) << what << ": the fast kernel declined";
    ASSERT_EQ(got.size(), expected.size()) << what;
    for (std::size_t o = 0; o < got.size(); ++o) {
      ASSERT_EQ(got[o].shape, expected[o].shape) << what << " output " << o;
      double scale = 1e-30, worst = 0.0;
      int64_t at = 0;
      for (float v : expected[o].floats) scale = std::max(scale, double(std::fabs(v)));
      for (std::size_t i = 0; i < got[o].floats.size(); ++i) {
        const double d = std::fabs(double(got[o].floats[i]) - expected[o].floats[i]);
        if (!(d <= worst)) worst = d, at = static_cast<int64_t>(i);
      }
      EXPECT_LE(worst, tolerance * scale) << what << " (" << kernels::cpu_isa_name(isa)
                                          << (level + 1 == levels.size() ? ", input 0 donated" : "") << ") output " << o
                                          << ": worst element #" << at << " is " << got[o].floats[at] << ", expected "
                                          << expected[o].floats[at];
    }
  }
}

TEST(OnnxFastGemm, StridedOperandsBiasAlphaAndAccumulateMatchPlainLoops) {
  // The last rows reach the AVX-512 variant 2's paths: several row tiles (m > 240) and k blocks
  // (k > 256), full-width tiles (m > 720), B pairs outer (B's k block over 1 MiB: n > 1024), B
  // read in place with a packed ragged last pair (one row tile, n > 128).
  const int64_t shapes[][3] = {{1, 1, 1},     {6, 16, 1},     {13, 7, 5},     {5, 17, 33},   {64, 64, 300},
                               {127, 33, 70}, {50, 130, 9},   {25, 40, 600},  {7, 300, 257}, {13, 161, 40},
                               {250, 290, 520}, {733, 150, 70}, {30, 700, 3}, {250, 1100, 260}};
  unsigned seed = 1;
  for (const auto& s : shapes)
    for (int variant = 0; variant < 4; ++variant) {
      const int64_t m = s[0], n = s[1], k = s[2];
      const bool ta = variant & 1, tb = variant & 2;
      const std::vector<float> a = testing::random_values(m * k, seed++), b = testing::random_values(k * n, seed++);
      const std::vector<float> bias = testing::random_values(std::max(m, n), seed++);
      const std::vector<float> start = testing::random_values(m * (n + 3), seed++);
      onnx_fast::GemmArgs g;
      g.m = m, g.n = n, g.k = k, g.alpha = variant == 3 ? 0.5f : 1.0f;
      g.a = a.data(), g.a_row = ta ? 1 : k, g.a_col = ta ? m : 1;
      g.b = b.data(), g.b_row = tb ? 1 : n, g.b_col = tb ? k : 1;
      g.ldc = n + 3;  // C rows with a gap: nothing past column n may be written
      g.bias_col = variant == 1 ? bias.data() : nullptr;
      g.bias_row = variant == 2 ? bias.data() : nullptr;
      g.accumulate = variant == 3;
      std::vector<std::pair<CpuIsa, int>> runs;  // (level, AVX-512 GEMM variant)
      for (CpuIsa isa : isa_levels()) runs.push_back({isa, 2});
      if (runs.back().first == CpuIsa::kAvx512) runs.push_back({CpuIsa::kAvx512, 1});
      for (const auto& [isa, gemm_variant] : runs) {
        kernels::CpuIsaScope scope(isa);
        onnx_fast::set_gemm_avx512_variant(gemm_variant);
        std::vector<float> fast = start, ref = start;
        g.c = fast.data();
        onnx_fast::gemm_f32(g);
        g.c = ref.data();
        onnx_fast::gemm_f32_ref(g);
        double worst = 0;
        for (std::size_t i = 0; i < fast.size(); ++i) worst = std::max(worst, double(std::fabs(fast[i] - ref[i])));
        // Each term is below 1 in magnitude: k · 1e-6 bounds the float rounding.
        EXPECT_LE(worst, 1e-6 * (k + 2)) << m << "x" << n << "x" << k << " variant " << variant << " "
                                         << kernels::cpu_isa_name(isa) << " gemm v" << gemm_variant;
        onnx_fast::set_gemm_avx512_variant(2);
      }
    }
}

TEST(OnnxFastGemm, RowsAnywhereMatchPlainLoops) {
  // GemmArgs::a_rows / c_rows: A's rows read from, C's rows written to, a shuffled layout (a window
  // partition's), with the column bias and accumulation, on the AVX-512 tiles (several row tiles
  // and k blocks, ragged edges) and the copying fallback (small products, lower ISA levels).
  const int64_t shapes[][3] = {{5, 7, 3}, {13, 40, 9}, {250, 96, 96}, {731, 291, 300}, {37, 530, 17}};
  unsigned seed = 500;
  for (const auto& s : shapes)
    for (int variant = 0; variant < 4; ++variant) {
      const int64_t m = s[0], n = s[1], k = s[2];
      const bool rows_a = variant != 1, rows_c = variant != 0;
      // Row i of A at a reversed, spaced-out position; row i of C at a rotated one.
      std::vector<int64_t> a_rows(m), c_rows(m);
      for (int64_t i = 0; i < m; ++i) a_rows[i] = (m - 1 - i) * (k + 2), c_rows[i] = ((i * 7) % m) * (n + 1);
      bool distinct = true;  // (i · 7) mod m is a permutation unless 7 divides m
      if (m % 7 == 0) distinct = false;
      if (!distinct) continue;
      const std::vector<float> a = testing::random_values(m * (k + 2), seed++), b = testing::random_values(k * n, seed++);
      const std::vector<float> bias = testing::random_values(n, seed++), start = testing::random_values(m * (n + 1), seed++);
      onnx_fast::GemmArgs g;
      g.m = m, g.n = n, g.k = k;
      g.a = a.data(), g.a_row = k + 2;
      g.b = b.data(), g.b_row = n;
      g.ldc = n + 1;
      if (rows_a) g.a_rows = a_rows.data();
      if (rows_c) g.c_rows = c_rows.data();
      g.bias_col = variant >= 2 ? bias.data() : nullptr;
      g.accumulate = variant == 3;
      for (CpuIsa isa : isa_levels()) {
        kernels::CpuIsaScope scope(isa);
        std::vector<float> fast = start, ref = start;
        g.c = fast.data();
        onnx_fast::gemm_f32(g);
        g.c = ref.data();
        onnx_fast::gemm_f32_ref(g);
        double worst = 0;
        for (std::size_t i = 0; i < fast.size(); ++i) worst = std::max(worst, double(std::fabs(fast[i] - ref[i])));
        EXPECT_LE(worst, 1e-6 * (k + 2)) << m << "x" << n << "x" << k << " variant " << variant << " "
                                         << kernels::cpu_isa_name(isa);
      }
    }
}

TEST(OnnxFastKernels, MatMulWithBatchBroadcastAndVectors) {
  expect_fast_matches_reference("MatMul", {}, {random_value({3, 1, 13, 37}, 1), random_value({4, 37, 19}, 2)}, 1e-5, "batched");
  expect_fast_matches_reference("MatMul", {}, {random_value({2, 5, 64}, 3), random_value({64, 200}, 4)}, 1e-5, "weights");
  expect_fast_matches_reference("MatMul", {}, {random_value({37}, 5), random_value({2, 37, 7}, 6)}, 1e-5, "1-D A");
  expect_fast_matches_reference("MatMul", {}, {random_value({2, 3, 40, 37}, 9), random_value({1, 1, 37, 70}, 10)}, 1e-5, "batches folded into rows");
  expect_fast_matches_reference("MatMul", {}, {random_value({3, 9, 37}, 7), random_value({37}, 8)}, 1e-5, "1-D B");
}

TEST(OnnxFastKernels, GemmWithTransposesAlphaBetaAndEveryBiasShape) {
  const OnnxValue a = random_value({23, 17}, 1), at = random_value({17, 23}, 2);
  const OnnxValue b = random_value({17, 29}, 3), bt = random_value({29, 17}, 4);
  const std::vector<std::vector<int64_t>> bias_shapes = {{29}, {1, 29}, {23, 1}, {23, 29}, {}};
  unsigned seed = 10;
  for (int t = 0; t < 4; ++t)
    for (const auto& bias_shape : bias_shapes)
      expect_fast_matches_reference(
          "Gemm", {int_attr("transA", t & 1), int_attr("transB", t >> 1), float_attr("alpha", 0.7f), float_attr("beta", 1.3f)},
          {t & 1 ? at : a, t >> 1 ? bt : b, random_value(bias_shape, seed++)}, 1e-5,
          "Gemm trans " + std::to_string(t) + " bias rank " + std::to_string(bias_shape.size()));
  expect_fast_matches_reference("Gemm", {}, {a, b}, 1e-5, "Gemm without C");
}

TEST(OnnxFastKernels, EinsumRelativePositionEquations) {
  const OnnxValue q = random_value({2, 7, 5, 19}, 1);
  expect_fast_matches_reference("Einsum", {string_attr("equation", "bhwc,hkc->bhwk")}, {q, random_value({7, 11, 19}, 2)}, 1e-5, "rel_h");
  expect_fast_matches_reference("Einsum", {string_attr("equation", "bhwc,wkc->bhwk")}, {q, random_value({5, 11, 19}, 3)}, 1e-5, "rel_w");
  // Several 12-row groups, a ragged pair of 16-column panels, C past one 16 × 16 transpose block.
  const OnnxValue q2 = random_value({3, 29, 26, 70}, 4);
  expect_fast_matches_reference("Einsum", {string_attr("equation", "bhwc,hkc->bhwk")},
                                {q2, random_value({29, 37, 70}, 5)}, 1e-5, "rel_h, 29 x 26");
  expect_fast_matches_reference("Einsum", {string_attr("equation", "bhwc,wkc->bhwk")},
                                {q2, random_value({26, 37, 70}, 6)}, 1e-5, "rel_w, 29 x 26");
}

TEST(OnnxFastKernels, ConvIm2colAndOneByOne) {
  const OnnxValue x = random_value({2, 5, 19, 23}, 1);
  expect_fast_matches_reference("Conv", {ints_attr("pads", {1, 1, 1, 1})}, {x, random_value({7, 5, 3, 3}, 2), random_value({7}, 3)},
                                1e-5, "3x3 pad 1 with bias");
  expect_fast_matches_reference("Conv", {}, {x, random_value({9, 5, 1, 1}, 4)}, 1e-5, "1x1");
  expect_fast_matches_reference("Conv", {ints_attr("strides", {4, 4})}, {x, random_value({17, 5, 4, 4}, 5), random_value({17}, 6)},
                                1e-5, "patch embedding 4x4 stride 4");
  expect_fast_matches_reference("Conv", {ints_attr("strides", {2, 1}), ints_attr("dilations", {1, 2}), ints_attr("pads", {0, 2, 1, 0})},
                                {x, random_value({3, 5, 2, 3}, 7)}, 1e-5, "strided, dilated, uneven pads");
}

TEST(OnnxFastKernels, ConvTransposeWithStrideEqualToKernel) {
  const OnnxValue x = random_value({2, 5, 7, 9}, 1);
  expect_fast_matches_reference("ConvTranspose", {ints_attr("strides", {2, 2})},
                                {x, random_value({5, 3, 2, 2}, 2), random_value({3}, 3)}, 1e-5, "2x2 stride 2 with bias");
  expect_fast_matches_reference("ConvTranspose", {ints_attr("strides", {3, 2}), ints_attr("kernel_shape", {3, 2})},
                                {x, random_value({5, 4, 3, 2}, 4)}, 1e-5, "3x2 stride 3x2");
  expect_fast_matches_reference("ConvTranspose", {ints_attr("strides", {1, 3})},
                                {x, random_value({5, 2, 1, 3}, 5), random_value({2}, 6)}, 1e-5, "1x3 stride 1x3 with bias");
}

TEST(OnnxFastKernels, BinaryOpsOnEveryBroadcastPattern) {
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> cases = {
      {{3, 5, 37}, {3, 5, 37}}, {{3, 5, 37}, {}},         {{}, {3, 5, 37}},         {{3, 5, 37}, {37}},
      {{3, 5, 37}, {5, 1}},     {{3, 1, 37}, {1, 5, 1}},  {{2, 3, 4, 5}, {3, 1, 1}}, {{1, 7, 1}, {4, 1, 9}},
      {{6, 1}, {1, 1}}};
  unsigned seed = 1;
  for (const char* op : {"Add", "Sub", "Mul", "Div"})
    for (const auto& [sa, sb] : cases)
      expect_fast_matches_reference(op, {}, {random_value(sa, seed++), random_value(sb, seed++, 0.5f, 2.0f)}, 1e-6,
                                    std::string(op) + " " + onnx_ref::shape_text(sa) + " " + onnx_ref::shape_text(sb));
}

TEST(OnnxFastKernels, ErfSoftmaxAndLayerNormOnRaggedRows) {
  expect_fast_matches_reference("Erf", {}, {random_value({3, 1001}, 1, -5.0f, 5.0f)}, 5e-7, "Erf");
  for (int64_t width : {1, 7, 8, 33, 200})
    expect_fast_matches_reference("Softmax", {}, {random_value({3, 5, width}, 2, -30.0f, 30.0f)}, 1e-6,
                                  "Softmax width " + std::to_string(width));
  expect_fast_matches_reference("Softmax", {int_attr("axis", 2)}, {random_value({2, 3, 65}, 3)}, 1e-6, "Softmax axis 2");
  expect_fast_matches_reference("LayerNormalization", {float_attr("epsilon", 1e-6f)},
                                {random_value({4, 9, 37}, 4, 2.0f, 5.0f), random_value({37}, 5), random_value({37}, 6)}, 1e-5,
                                "LayerNorm with bias");
  expect_fast_matches_reference("LayerNormalization", {int_attr("axis", 1)},
                                {random_value({5, 3, 11}, 7), random_value({3, 11}, 8)}, 1e-5, "LayerNorm over 2 axes");
}

TEST(OnnxFastKernels, TransposeOfCommonAndOddPermutations) {
  const OnnxValue x = random_value({2, 3, 5, 7}, 1);
  for (const std::vector<int64_t>& perm : std::vector<std::vector<int64_t>>{
           {0, 2, 1, 3}, {0, 2, 3, 1}, {0, 3, 1, 2}, {3, 2, 1, 0}, {1, 0, 2, 3}, {0, 1, 2, 3}, {2, 0, 3, 1}})
    expect_fast_matches_reference("Transpose", {ints_attr("perm", perm)}, {x}, 0.0, "perm " + onnx_ref::shape_text(perm));
  expect_fast_matches_reference("Transpose", {}, {random_value({4, 1, 6}, 2)}, 0.0, "reversed, with a 1");
  // Tiled 2-D transposes inside: ragged 16 × 16 tiles, several other axes around them.
  expect_fast_matches_reference("Transpose", {ints_attr("perm", {0, 2, 1})}, {random_value({3, 37, 50}, 3)}, 0.0, "batched 2-D");
  expect_fast_matches_reference("Transpose", {ints_attr("perm", {2, 0, 3, 1})}, {random_value({5, 3, 33, 2}, 4)}, 0.0,
                                "axis 2 to the front, last axis strided");
}

TEST(OnnxFastKernels, SliceWithClampingNegativeStepsAndAxes) {
  const OnnxValue x = random_value({3, 6, 7, 5}, 1);
  auto ints = [](std::vector<int64_t> v) { return OnnxValue::from_integers({static_cast<int64_t>(v.size())}, v); };
  const int64_t big = std::numeric_limits<int64_t>::max();
  expect_fast_matches_reference("Slice", {}, {x, ints({0, 1}), ints({2, big})}, 0.0, "leading axes, clamped end");
  expect_fast_matches_reference("Slice", {}, {x, ints({-3, 1}), ints({big, 6}), ints({-1, 2}), ints({1, 2})}, 0.0,
                                "negative axis, step 2");
  expect_fast_matches_reference("Slice", {}, {x, ints({-1, 4}), ints({-big, 0}), ints({2, 1}), ints({-2, -1})}, 0.0,
                                "negative steps");
  expect_fast_matches_reference("Slice", {}, {x, ints({4}), ints({2}), ints({3})}, 0.0, "empty");
}

TEST(OnnxFastKernels, SplitAndConstantPad) {
  const OnnxValue x = random_value({3, 7, 10, 5}, 1);
  auto ints = [](std::vector<int64_t> v) { return OnnxValue::from_integers({static_cast<int64_t>(v.size())}, v); };
  OnnxNode node;
  node.op_type = "Split", node.outputs = {"a", "b", "c"}, node.attributes = {int_attr("axis", -2)};
  const OnnxValue sizes = ints({2, 0, 8});
  for (int variant = 0; variant < 2; ++variant) {
    const onnx_ref::OpContext context{node, 17, variant ? std::vector<const OnnxValue*>{&x, &sizes} : std::vector<const OnnxValue*>{&x}};
    const std::vector<OnnxValue> expected = onnx_ref::kernel_table().at("Split")(context);
    std::vector<OnnxValue> got;
    ASSERT_TRUE(onnx_fast::all_fast_kernels().at("Split")(context, got));
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t o = 0; o < got.size(); ++o) {
      EXPECT_EQ(got[o].shape, expected[o].shape) << "variant " << variant << " output " << o;
      EXPECT_EQ(got[o].floats, expected[o].floats) << "variant " << variant << " output " << o;
    }
  }
  expect_fast_matches_reference("Pad", {}, {x, ints({0, 1, 2, 0, 0, 3, 0, 4})}, 0.0, "Pad zeros");
  expect_fast_matches_reference("Pad", {}, {x, ints({1, 2, 0, 3}), OnnxValue::from_floats({}, {2.5f}), ints({1, -1})}, 0.0,
                                "Pad 2.5 on two axes");
}

TEST(OnnxFastKernels, ReductionsOverLastAxesChannelsAndAll) {
  auto ints = [](std::vector<int64_t> v) { return OnnxValue::from_integers({static_cast<int64_t>(v.size())}, v); };
  // Large offsets (values near 100 ± 1) make float accumulation visibly worse than double.
  const OnnxValue x = random_value({3, 37, 5, 41}, 1, 99.0f, 101.0f);
  const std::vector<std::vector<int64_t>> axis_sets = {{1}, {-1}, {2, 3}, {0, 1}, {1, 2}, {0}, {3, 1, 2}, {1, 2, 3, 0}};
  for (const auto& axes : axis_sets)
    for (int64_t keep : {0, 1}) {
      const std::string what = onnx_ref::shape_text(axes) + " keepdims " + std::to_string(keep);
      for (const char* op : {"ReduceMean", "ReduceMax", "ReduceMin"})
        expect_fast_matches_reference(op, {ints_attr("axes", axes), int_attr("keepdims", keep)}, {x}, 1e-7,
                                      std::string(op) + " " + what);
      expect_fast_matches_reference("ReduceSum", {int_attr("keepdims", keep)}, {x, ints(axes)}, 1e-7, "ReduceSum " + what);
    }
  expect_fast_matches_reference("ReduceMean", {}, {x}, 1e-7, "ReduceMean of everything");
  // Size-1 axes between the reduced ones; a single-row channel reduction; long rows (the tails of
  // the 16-wide row loop).
  expect_fast_matches_reference("ReduceMean", {ints_attr("axes", {1, 3})}, {random_value({2, 9, 1, 1, 700}, 2)}, 1e-7,
                                "ReduceMean axes 1, 3 with a 1 between");
  expect_fast_matches_reference("ReduceMean", {ints_attr("axes", {1})}, {random_value({1, 64, 33, 35}, 3)}, 1e-7,
                                "channel LayerNorm mean, NCHW");
  for (int64_t width : {1, 3, 15, 16, 17, 1001})
    expect_fast_matches_reference("ReduceSum", {}, {random_value({7, width}, 4), ints({-1})}, 1e-7,
                                  "ReduceSum rows of " + std::to_string(width));
}

TEST(OnnxFastKernels, ResizeLinearAndNearestOnTheLastTwoAxes) {
  auto ints = [](std::vector<int64_t> v) { return OnnxValue::from_integers({static_cast<int64_t>(v.size())}, v); };
  const OnnxValue none = OnnxValue::from_floats({0}, {});
  const OnnxValue x = random_value({2, 3, 13, 17}, 1);
  const std::vector<std::vector<int64_t>> sizes = {{2, 3, 52, 68}, {2, 3, 9, 40}, {2, 3, 13, 5}, {2, 3, 1, 1}, {2, 3, 13, 17}, {2, 3, 70, 17}};
  for (const char* coords : {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"})
    for (const auto& size : sizes) {
      const std::string what = std::string(coords) + " to " + onnx_ref::shape_text(size);
      expect_fast_matches_reference("Resize", {string_attr("mode", "linear"), string_attr("coordinate_transformation_mode", coords)},
                                    {x, none, none, ints(size)}, 1e-6, "linear " + what);
      for (const char* nearest : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"})
        expect_fast_matches_reference("Resize", {string_attr("coordinate_transformation_mode", coords), string_attr("nearest_mode", nearest)},
                                      {x, none, none, ints(size)}, 0.0, std::string("nearest ") + nearest + " " + what);
    }
  // Scales (the output size rounded down), sizes for the last two axes only, and a 3-D input.
  expect_fast_matches_reference("Resize", {string_attr("mode", "linear")},
                                {x, none, OnnxValue::from_floats({4}, {1.0f, 1.0f, 2.5f, 0.7f})}, 1e-6, "linear scales");
  expect_fast_matches_reference("Resize", {string_attr("mode", "linear"), ints_attr("axes", {2, 3})}, {x, none, none, ints({40, 21})},
                                1e-6, "linear, axes 2 and 3");
  expect_fast_matches_reference("Resize", {string_attr("mode", "linear")}, {random_value({5, 11, 7}, 2), none, none, ints({5, 33, 30})},
                                1e-6, "linear 3-D");
}

TEST(OnnxFastKernels, PowWithAConstantExponentAndExpand) {
  const OnnxValue x = random_value({3, 5, 37}, 1, 0.1f, 3.0f);
  for (float p : {2.0f, 0.5f, 1.0f, 3.0f, -1.5f})
    expect_fast_matches_reference("Pow", {}, {x, OnnxValue::from_floats({}, {p})}, 1e-6, "Pow " + std::to_string(p));
  expect_fast_matches_reference("Pow", {}, {x, OnnxValue::from_integers({1}, {2})}, 0.0, "Pow by an integer 2");
  expect_fast_matches_reference("Pow", {}, {x, OnnxValue::from_floats({1, 1, 1, 1}, {2.0f})}, 0.0, "Pow, exponent of higher rank");
  auto ints = [](std::vector<int64_t> v) { return OnnxValue::from_integers({static_cast<int64_t>(v.size())}, v); };
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> cases = {
      {{1, 7, 5, 9}, {4, 7, 5, 9}}, {{7, 1}, {2, 7, 33}}, {{1, 5, 1}, {3, 5, 19}}, {{3, 1, 9}, {1, 6, 1}},
      {{4}, {3, 1, 4}},             {{2, 3}, {2, 3}},     {{37, 1}, {37, 40}},   {{1}, {}}};
  unsigned seed = 2;
  for (const auto& [from, to] : cases)
    expect_fast_matches_reference("Expand", {}, {random_value(from, seed++), ints(to)}, 0.0,
                                  "Expand " + onnx_ref::shape_text(from) + " to " + onnx_ref::shape_text(to));
}

TEST(OnnxFastKernels, DeclineWhatTheyDoNotCover) {
  const OnnxValue x = random_value({1, 4, 5, 5}, 1), w = random_value({4, 2, 3, 3}, 2);
  OnnxNode node;
  node.op_type = "Conv", node.attributes = {int_attr("group", 2)};
  const onnx_ref::OpContext grouped{node, 17, {&x, &w}};
  std::vector<OnnxValue> out;
  EXPECT_FALSE(onnx_fast::all_fast_kernels().at("Conv")(grouped, out));
  EXPECT_TRUE(out.empty());
  node.op_type = "Softmax", node.attributes = {int_attr("axis", 1)};
  const onnx_ref::OpContext middle_axis{node, 17, {&x}};
  EXPECT_FALSE(onnx_fast::all_fast_kernels().at("Softmax")(middle_axis, out));
  // Reduced axes on both sides of a kept one; cubic Resize; a Resize of the channel axis.
  node.op_type = "ReduceMean", node.attributes = {ints_attr("axes", {1, 3})};
  const onnx_ref::OpContext split_axes{node, 17, {&x}};
  EXPECT_FALSE(onnx_fast::all_fast_kernels().at("ReduceMean")(split_axes, out));
  const OnnxValue none = OnnxValue::from_floats({0}, {}), sizes = OnnxValue::from_integers({4}, {1, 4, 10, 10});
  const OnnxValue channel_sizes = OnnxValue::from_integers({4}, {1, 8, 5, 5});
  node.op_type = "Resize", node.attributes = {string_attr("mode", "cubic")};
  const onnx_ref::OpContext cubic{node, 17, {&x, &none, &none, &sizes}};
  EXPECT_FALSE(onnx_fast::all_fast_kernels().at("Resize")(cubic, out));
  node.attributes = {string_attr("mode", "linear")};
  const onnx_ref::OpContext channels{node, 17, {&x, &none, &none, &channel_sizes}};
  EXPECT_FALSE(onnx_fast::all_fast_kernels().at("Resize")(channels, out));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace microsr
