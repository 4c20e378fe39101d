// CPU convolution kernels: the reference against PyTorch on a hand-sized case, every optimized
// variant against the reference on odd shapes, and the elementwise references against values
// computed with PyTorch (pasted below; the one-liners that produced them are in the comments).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cpu/conv/variants.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_kernels.h"
#include "cpu/threads.h"
#include "microsr/backend.h"
#include "microsr/error.h"
#include "test_helpers.h"

namespace microsr::kernels {
namespace {

using testing::absolute;
using testing::random_values;

// ---- the reference itself, against PyTorch ----------------------------------------------------

// x[i] = (i % 7 - 3) / 4, w[i] = (i % 5 - 2) / 8, bias = {0.5, -0.25}: every value is dyadic, so
// float sums are exact and the comparison is exact. Expected values from /usr/bin/python3:
//   x=((torch.arange(24)%7-3)/4.).reshape(1,2,3,4); w=((torch.arange(36)%5-2)/8.).reshape(2,2,3,3)
//   y=F.conv2d(x,w,torch.tensor([0.5,-0.25]),padding=1);  y2=0.2*F.leaky_relu(y,0.2)+x
TEST(Conv2dRef, MatchesTorchOnSmallCase) {
  std::vector<float> x(24), w(36), y(24), y2(24);
  for (int i = 0; i < 24; ++i) x[i] = (i % 7 - 3) / 4.0f;
  for (int i = 0; i < 36; ++i) w[i] = (i % 5 - 2) / 8.0f;
  const float bias[2] = {0.5f, -0.25f};
  const float expected[24] = {0.78125, 0.375,    -0.03125, 0.1875, 0.15625,  0.78125,  2.0,     0.625,
                              0.375,   -0.0625,  -0.0625,  0.375,  -0.5625,  -0.65625, -0.3125, 0.5625,
                              0.5625,  -0.40625, -1.03125, -0.75,  -0.46875, -0.25,    0.65625, -0.125};
  const float expected_epilogue[24] = {-0.59375, -0.425,   -0.25125, 0.0375, 0.28125, 0.65625, 1.15,     -0.625,
                                       -0.425,   -0.2525,  -0.0025,  0.325,  0.4775,  0.72375, -0.7625,  -0.3875,
                                       -0.1375,  -0.01625, 0.20875,  0.47,   0.73125, -0.76,   -0.36875, -0.255};
  conv2d_same_ref(y.data(), x.data(), w.data(), bias, 2, 2, 3, 4, 3, {});
  ConvEpilogue epi;
  epi.has_lrelu = true, epi.scale = 0.2f, epi.residual = x.data();
  conv2d_same_ref(y2.data(), x.data(), w.data(), bias, 2, 2, 3, 4, 3, epi);
  for (int i = 0; i < 24; ++i) {
    EXPECT_EQ(y[i], expected[i]) << "element " << i;
    // 0.2*v is rounded once in float: allow 1 ulp-ish.
    EXPECT_NEAR(y2[i], expected_epilogue[i], 1e-6) << "element " << i;
  }
}

// ---- every variant against the reference ------------------------------------------------------

struct ConvCase {
  int cin, cout, h, w, k;
  bool bias, lrelu, residual;
  float scale;
};

std::string describe(const ConvCase& c) {
  char text[160];
  std::snprintf(text, sizeof text, "cin=%d cout=%d h=%d w=%d k=%d bias=%d lrelu=%d residual=%d scale=%g", c.cin, c.cout,
                c.h, c.w, c.k, c.bias, c.lrelu, c.residual, c.scale);
  return text;
}

// Small images cross every channel count; large ones use the RRDBNet-like channel counts and the
// odd ones. The epilogue options rotate through the list so each appears with several shapes.
std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> cases;
  const int channel_counts[] = {3, 13, 64, 127};
  const int out_counts[] = {3, 32, 64, 67};
  const int small_sizes[][2] = {{1, 1}, {2, 3}, {13, 7}};
  int rotation = 0;
  auto add = [&](int cin, int cout, int h, int w, int k) {
    const int r = rotation++;
    cases.push_back({cin, cout, h, w, k, r % 2 == 0, r % 3 != 1, r % 4 >= 2, (r % 5 == 0) ? 0.2f : 1.0f});
  };
  for (int k : {1, 3})
    for (int cin : channel_counts)
      for (int cout : out_counts)
        for (const auto& hw : small_sizes) add(cin, cout, hw[0], hw[1], k);
  for (int k : {1, 3}) {
    add(64, 32, 32, 32, k);
    add(127, 67, 32, 32, k);
    add(13, 3, 61, 64, k);
    add(64, 64, 61, 64, k);
  }
  add(3, 64, 61, 64, 3);
  add(192, 64, 16, 16, 3);  // RRDB conv5 channel count
  add(5, 7, 9, 11, 5);      // k = 5 (generic path)
  add(3, 4, 2, 2, 5);       // kernel larger than the image
  return cases;
}

// Tolerance: |variant - ref| <= 3e-5 * B + 1e-6, where B is the same convolution run on |x|, |w|,
// |bias| (the sum of |terms| feeding each output, times |scale|). Float summation in a different
// order, or Winograd's transforms, err by a few 1e-7..1e-6 of B; an indexing bug (one wrong or
// missing tap out of <= 1143) errs by >= 1e-3 of B, so the test catches it.
constexpr double kRelTolerance = 3e-5;

// One case's operands and reference results, computed once and shared by every variant's test.
struct ReferenceCase {
  std::vector<float> x, weight, bias, residual, expected, bound;
};

const ReferenceCase& reference_case(size_t index, const ConvCase& c) {
  static std::map<size_t, ReferenceCase> cache;
  auto found = cache.find(index);
  if (found != cache.end()) return found->second;
  const unsigned seed = 1234 + 10 * unsigned(index);
  const size_t in_size = size_t(c.cin) * c.h * c.w, out_size = size_t(c.cout) * c.h * c.w;
  ReferenceCase r;
  r.x = random_values(in_size, seed, -1.0f, 1.0f);
  r.weight = random_values(size_t(c.cout) * c.cin * c.k * c.k, seed + 1, -0.2f, 0.2f);
  r.bias = random_values(c.cout, seed + 2, -0.5f, 0.5f);
  r.residual = random_values(out_size, seed + 3, -1.0f, 1.0f);
  ConvEpilogue epi;
  epi.has_lrelu = c.lrelu, epi.scale = c.scale, epi.residual = c.residual ? r.residual.data() : nullptr;
  r.expected.resize(out_size);
  r.bound.resize(out_size);
  conv2d_same_ref(r.expected.data(), r.x.data(), r.weight.data(), c.bias ? r.bias.data() : nullptr, c.cin, c.cout, c.h,
                  c.w, c.k, epi);
  const std::vector<float> abs_x = absolute(r.x), abs_w = absolute(r.weight), abs_b = absolute(r.bias);
  conv2d_same_ref(r.bound.data(), abs_x.data(), abs_w.data(), c.bias ? abs_b.data() : nullptr, c.cin, c.cout, c.h, c.w,
                  c.k, {});
  return cache.emplace(index, std::move(r)).first->second;
}

void expect_matches_reference(const Conv2dVariant& variant, const ConvCase& c, const ReferenceCase& r) {
  const size_t out_size = size_t(c.cout) * c.h * c.w;
  ConvEpilogue epi;
  epi.has_lrelu = c.lrelu, epi.scale = c.scale, epi.residual = c.residual ? r.residual.data() : nullptr;
  std::vector<float> got(out_size, NAN);
  variant.fn(got.data(), r.x.data(), r.weight.data(), c.bias ? r.bias.data() : nullptr, c.cin, c.cout, c.h, c.w, c.k,
             epi);

  double worst_excess = -1.0;
  size_t worst = 0;
  for (size_t i = 0; i < out_size; ++i) {
    const double allowed = kRelTolerance * std::fabs(c.scale) * r.bound[i] + 1e-6;
    const double excess = std::fabs(double(got[i]) - r.expected[i]) - allowed;
    if (std::isnan(got[i]) || excess > worst_excess) {
      worst_excess = std::isnan(got[i]) ? INFINITY : excess;
      worst = i;
      if (std::isnan(got[i])) break;
    }
  }
  const size_t plane = size_t(c.h) * c.w;
  EXPECT_LE(worst_excess, 0.0) << variant.name << " " << describe(c) << "\n  worst element: co=" << worst / plane
                               << " y=" << (worst % plane) / c.w << " x=" << worst % c.w << " got " << got[worst]
                               << " expected " << r.expected[worst] << " (sum of |terms| " << r.bound[worst] << ")";
}

class ConvVariantTest : public ::testing::TestWithParam<size_t> {};

TEST_P(ConvVariantTest, MatchesReferenceOnOddShapes) {
  const Conv2dVariant& variant = conv2d_variants()[GetParam()];
  const std::vector<ConvCase> cases = conv_cases();
  for (size_t i = 0; i < cases.size(); ++i) expect_matches_reference(variant, cases[i], reference_case(i, cases[i]));
}

// The error each variant adds, measured against the convolution computed in double, on an
// RRDBNet conv5-sized layer (192 -> 64 channels) with weights of the trained network's scale
// (|w| ~ 0.02..0.05) and inputs like its features. Reported as max |y - exact| / max sum|terms|:
// float summation alone gives ~2e-7 (direct variants); Winograd F(4,3) adds rounding in its
// transforms (entries up to 8 and 1/24) and measures ~1.2e-6. Bound: 4e-6 — more means precision
// was lost (a transform constant off by 0.04% already errs by ~1e-4), not just reordered sums.
TEST_P(ConvVariantTest, ErrorVsDoublePrecisionIsSmall) {
  const Conv2dVariant& variant = conv2d_variants()[GetParam()];
  const int cin = 192, cout = 64, h = 24, w = 40;
  const auto x = random_values(size_t(cin) * h * w, 11, -1.0f, 1.0f);
  const auto weight = random_values(size_t(cout) * cin * 9, 12, -0.04f, 0.04f);
  const auto bias = random_values(cout, 13, -0.1f, 0.1f);
  std::vector<float> got(size_t(cout) * h * w);
  variant.fn(got.data(), x.data(), weight.data(), bias.data(), cin, cout, h, w, 3, {});
  double worst_error = 0.0, largest_terms = 0.0;
  std::vector<double> exact(size_t(h) * w), terms(size_t(h) * w);
  for (int co = 0; co < cout; ++co) {
    std::fill(exact.begin(), exact.end(), double(bias[co]));
    std::fill(terms.begin(), terms.end(), std::fabs(double(bias[co])));
    for (int ci = 0; ci < cin; ++ci)
      for (int ky = 0; ky < 3; ++ky)
        for (int kx = 0; kx < 3; ++kx) {
          const double wv = weight[((size_t(co) * cin + ci) * 3 + ky) * 3 + kx];
          for (int oy = 0; oy < h; ++oy) {
            const int iy = oy + ky - 1;
            if (iy < 0 || iy >= h) continue;
            for (int ox = std::max(0, 1 - kx); ox < std::min(w, w + 1 - kx); ++ox) {
              const double xv = x[(size_t(ci) * h + iy) * w + ox + kx - 1];
              exact[size_t(oy) * w + ox] += wv * xv;
              terms[size_t(oy) * w + ox] += std::fabs(wv * xv);
            }
          }
        }
    for (size_t i = 0; i < exact.size(); ++i) {
      worst_error = std::max(worst_error, std::fabs(got[co * exact.size() + i] - exact[i]));
      largest_terms = std::max(largest_terms, terms[i]);
    }
  }
  const double relative = worst_error / largest_terms;
  std::printf("  %s: max |error| %.3g, / max sum|terms| (%.3g) = %.3g\n", variant.name, worst_error, largest_terms,
              relative);
  RecordProperty("relative_error", std::to_string(relative));
  EXPECT_LT(relative, 4e-6) << variant.name;
}

INSTANTIATE_TEST_SUITE_P(AllVariants, ConvVariantTest, ::testing::Range<size_t>(0, conv2d_variants().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return std::string(conv2d_variants()[info.param].name);
                         });

TEST(ConvVariants, UnknownNameThrowsWithKnownList) {
  try {
    conv2d_variant("conv_v999");
    FAIL() << "expected microsr::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(conv2d_variants()[0].name), std::string::npos);
  }
}

// Packing once and calling conv2d_packed repeatedly gives the reference result, for every format.
TEST(ConvPacked, EveryFormatMatchesReference) {
  const int cin = 13, cout = 7, h = 9, w = 10, k = 3;
  const auto x = random_values(size_t(cin) * h * w, 7, -1, 1);
  const auto weight = random_values(size_t(cout) * cin * k * k, 8, -0.2f, 0.2f);
  const auto bias = random_values(cout, 9, -0.5f, 0.5f);
  std::vector<float> expected(size_t(cout) * h * w), got(expected.size());
  conv2d_same_ref(expected.data(), x.data(), weight.data(), bias.data(), cin, cout, h, w, k, {});
  for (ConvWeightFormat format : conv_weight_formats()) {
    const PackedConvWeights packed = pack_conv_weights(weight.data(), bias.data(), cin, cout, k, format);
    for (int repeat = 0; repeat < 2; ++repeat) {
      std::fill(got.begin(), got.end(), NAN);
      conv2d_packed(got.data(), x.data(), packed, h, w, {});
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], expected[i], 1e-5) << "format " << int(format) << " element " << i;
    }
  }
}

// conv2d_packed_upsampled2x (the Winograd kernels fill their padded copy from the small input) gives
// the same bits as upsample_nearest2x_ref then conv2d_packed, for every format (the others upsample
// first) on every instruction set this CPU runs, odd sizes and an epilogue; and the fp32 CPU
// backend's fused_upsample2x_conv (RRDBNet's conv_up1/conv_up2) the same bits as its two ops.
TEST(ConvPacked, UpsampledSameBitsAsUpsampleThenConv) {
  const int cin = 13, cout = 9, h = 5, w = 11, k = 3;
  const auto x = random_values(size_t(cin) * h * w, 17, -1, 1);
  const auto weight = random_values(size_t(cout) * cin * k * k, 18, -0.2f, 0.2f);
  const auto bias = random_values(cout, 19, -0.5f, 0.5f);
  ConvEpilogue epi;
  epi.has_lrelu = true, epi.lrelu_slope = 0.2f, epi.scale = 0.5f;
  std::vector<float> up(size_t(cin) * 4 * h * w), expected(size_t(cout) * 4 * h * w), got(expected.size());
  upsample_nearest2x_ref(up.data(), x.data(), cin, h, w);
  for (CpuIsa isa : {CpuIsa::kBaseline, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    if (!cpu_isa_at_least(isa)) continue;
    const CpuIsaScope scope(isa);
    for (ConvWeightFormat format : conv_weight_formats()) {
      SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " format " + std::to_string(int(format)));
      const PackedConvWeights packed = pack_conv_weights(weight.data(), bias.data(), cin, cout, k, format);
      conv2d_packed(expected.data(), up.data(), packed, 2 * h, 2 * w, epi);
      std::fill(got.begin(), got.end(), NAN);
      conv2d_packed_upsampled2x(got.data(), x.data(), packed, h, w, epi);
      int64_t differing = 0;
      for (size_t i = 0; i < got.size(); ++i) differing += !(got[i] == expected[i]);
      EXPECT_EQ(differing, 0);
    }
  }
  auto backend = make_cpu_backend();
  Tensor xt = Tensor::empty({2, cin, h, w}), wt = Tensor::empty({cout, cin, k, k}), bt = Tensor::empty({cout});
  for (int64_t i = 0; i < xt.numel(); ++i) xt.f32()[i] = x[i % x.size()] * (i < int64_t(x.size()) ? 1.0f : -0.5f);
  std::copy(weight.begin(), weight.end(), wt.f32());
  std::copy(bias.begin(), bias.end(), bt.f32());
  const auto prepared = backend->prepare_conv(wt, bt);
  ConvOptions opt;
  opt.lrelu = true, opt.lrelu_slope = 0.2f, opt.prepared = prepared.get();
  Tensor upt = Tensor::empty({2, cin, 2 * h, 2 * w}), two_ops = Tensor::empty({2, cout, 2 * h, 2 * w});
  backend->upsample_nearest2x(upt, xt);
  backend->conv2d(two_ops, upt, wt, bt, opt);
  const Tensor fused = backend->fused_upsample2x_conv(xt, opt);
  ASSERT_TRUE(fused.defined());
  ASSERT_EQ(fused.shape(), two_ops.shape());
  int64_t differing = 0;
  for (int64_t i = 0; i < fused.numel(); ++i) differing += fused.f32()[i] != two_ops.f32()[i];
  EXPECT_EQ(differing, 0);
}

// The Winograd kernels read their windows straight from the activations: where a window overhangs
// the image, conv_v5 masks its loads and conv_v3 copies the window onto the stack with zeros
// around it. The same image placed inside a larger zero-filled one (4 rows and columns before it,
// 72 after: its windows there are all inside) gives the same tiles on the same values, so the
// same bits, for sizes whose windows overhang every edge (widths around the 8- and 16-tile groups
// of 32 and 64 pixels, one-row images).
TEST(ConvPacked, EdgeWindowsSameBitsAsInsideALargerImage) {
  const int cin = 5, cout = 8, before = 4, after = 72;
  const auto weight = random_values(size_t(cout) * cin * 9, 41, -0.2f, 0.2f);
  const auto bias = random_values(cout, 42, -0.5f, 0.5f);
  ConvEpilogue epi;
  epi.has_lrelu = true, epi.lrelu_slope = 0.2f;
  for (CpuIsa isa : {CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    if (!cpu_isa_at_least(isa)) continue;
    const CpuIsaScope scope(isa);
    const PackedConvWeights packed = pack_conv_weights(weight.data(), bias.data(), cin, cout, 3);
    for (const auto& [h, w] : std::vector<std::pair<int, int>>{
             {1, 1}, {5, 3}, {4, 31}, {7, 33}, {4, 63}, {7, 64}, {9, 65}, {6, 66}, {3, 130}, {17, 16}}) {
      SCOPED_TRACE(std::string(cpu_isa_name(isa)) + " " + std::to_string(h) + "x" + std::to_string(w));
      const int big_h = before + h + after, big_w = before + w + after;
      const auto x = random_values(size_t(cin) * h * w, 40 + w, -1, 1);
      std::vector<float> big(size_t(cin) * big_h * big_w, 0.0f);
      for (int c = 0; c < cin; ++c)
        for (int i = 0; i < h; ++i)
          std::copy_n(x.data() + (size_t(c) * h + i) * w, w,
                      big.data() + (size_t(c) * big_h + before + i) * big_w + before);
      std::vector<float> got(size_t(cout) * h * w, NAN), big_out(size_t(cout) * big_h * big_w, NAN);
      conv2d_packed(got.data(), x.data(), packed, h, w, epi);
      conv2d_packed(big_out.data(), big.data(), packed, big_h, big_w, epi);
      int64_t differing = 0;
      for (int co = 0; co < cout; ++co)
        for (int i = 0; i < h; ++i)
          for (int j = 0; j < w; ++j)
            differing +=
                !(got[(size_t(co) * h + i) * w + j] == big_out[(size_t(co) * big_h + before + i) * big_w + before + j]);
      EXPECT_EQ(differing, 0);
    }
  }
}

TEST(ConvPacked, RejectsEvenKernel) {
  std::vector<float> weight(2 * 2 * 4);
  EXPECT_THROW(pack_conv_weights(weight.data(), nullptr, 2, 2, 2), Error);
}

// ---- elementwise references against PyTorch -----------------------------------------------------

// x = torch.arange(48.).reshape(1,2,4,6); F.pixel_unshuffle(x, 2).flatten()
TEST(ElementwiseRef, PixelUnshuffleMatchesTorch) {
  std::vector<float> x(48), y(48);
  for (int i = 0; i < 48; ++i) x[i] = float(i);
  const float expected[48] = {0,  2,  4,  12, 14, 16, 1,  3,  5,  13, 15, 17, 6,  8,  10, 18,
                              20, 22, 7,  9,  11, 19, 21, 23, 24, 26, 28, 36, 38, 40, 25, 27,
                              29, 37, 39, 41, 30, 32, 34, 42, 44, 46, 31, 33, 35, 43, 45, 47};
  pixel_unshuffle_ref(y.data(), x.data(), 2, 4, 6, 2);
  for (int i = 0; i < 48; ++i) EXPECT_EQ(y[i], expected[i]) << "element " << i;
}

// F.interpolate(torch.tensor([[[[1.,2,3],[4,5,6]]]]), scale_factor=2, mode='nearest').flatten()
TEST(ElementwiseRef, UpsampleNearest2xMatchesTorch) {
  const float x[6] = {1, 2, 3, 4, 5, 6};
  const float expected[24] = {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6};
  float y[24];
  upsample_nearest2x_ref(y, x, 1, 2, 3);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(y[i], expected[i]) << "element " << i;
}

// Closed form on a larger, multi-channel case: y[c][oy][ox] == x[c][oy/2][ox/2].
TEST(ElementwiseRef, UpsampleNearest2xIndexFormula) {
  const int c = 3, h = 5, w = 7;
  const auto x = random_values(size_t(c) * h * w, 3, -1, 1);
  std::vector<float> y(size_t(c) * 4 * h * w);
  upsample_nearest2x_ref(y.data(), x.data(), c, h, w);
  for (int ch = 0; ch < c; ++ch)
    for (int oy = 0; oy < 2 * h; ++oy)
      for (int ox = 0; ox < 2 * w; ++ox)
        ASSERT_EQ(y[(ch * 2 * h + oy) * 2 * w + ox], x[(ch * h + oy / 2) * w + ox / 2]);
}

// F.leaky_relu(torch.tensor([-2.,-0.5,0,0.5,3]), 0.2)
TEST(ElementwiseRef, LeakyReluMatchesTorch) {
  const float x[5] = {-2, -0.5f, 0, 0.5f, 3};
  const float expected[5] = {-0.4f, -0.1f, 0, 0.5f, 3};
  float y[5];
  leaky_relu_ref(y, x, 0.2f, 5);
  for (int i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(y[i], expected[i]);
  leaky_relu_ref(y, y, 0.2f, 5);  // in place
  EXPECT_FLOAT_EQ(y[0], -0.08f);
}

TEST(ElementwiseRef, ScaledAddInPlace) {
  float a[3] = {1, -2, 4};
  const float b[3] = {0.5f, 0.25f, -1};
  scaled_add_ref(a, a, 0.2f, b, 3);
  EXPECT_FLOAT_EQ(a[0], 0.7f);
  EXPECT_FLOAT_EQ(a[1], -0.15f);
  EXPECT_FLOAT_EQ(a[2], -0.2f);
}

// scaled_add (vectorized, split among threads) against the scalar reference, bit for bit: every
// instruction set this CPU runs, 1 and 2 threads, lengths around the vector width and the
// per-thread chunk, in place over either operand. A multiply-then-add (two roundings) or a
// chunk boundary that skips or repeats elements fails it.
TEST(ElementwiseFast, ScaledAddSameBitsAsReference) {
  int level_count = 0;
  const CpuIsa* levels = cpu_isa_levels(&level_count);
  for (int l = 0; l < level_count; ++l) {
    if (static_cast<int>(levels[l]) > static_cast<int>(detected_cpu_isa())) continue;
    const CpuIsaScope scope(levels[l]);
    for (int threads : {1, 2}) {
      const ThreadCount team(threads);
      for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{15}, int64_t{17}, int64_t{1} << 16, (int64_t{3} << 16) + 7,
                        (int64_t{1} << 18) + 13}) {
        SCOPED_TRACE(std::string(cpu_isa_name(levels[l])) + ", " + std::to_string(threads) + " threads, n " +
                     std::to_string(n));
        const std::vector<float> a = random_values(n, 11, -3.0f, 3.0f), b = random_values(n, 12);
        std::vector<float> expected(n), y(n, std::nanf("")), in_a = a, in_b = b;
        scaled_add_ref(expected.data(), a.data(), 0.2f, b.data(), n);
        scaled_add(y.data(), a.data(), 0.2f, b.data(), n);
        scaled_add(in_a.data(), in_a.data(), 0.2f, b.data(), n);
        scaled_add(in_b.data(), a.data(), 0.2f, in_b.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(std::bit_cast<uint32_t>(y[i]), std::bit_cast<uint32_t>(expected[i])) << "element " << i;
          ASSERT_EQ(std::bit_cast<uint32_t>(in_a[i]), std::bit_cast<uint32_t>(expected[i])) << "element " << i;
          ASSERT_EQ(std::bit_cast<uint32_t>(in_b[i]), std::bit_cast<uint32_t>(expected[i])) << "element " << i;
        }
      }
    }
  }
}

// The case that tells one rounding from two: 0.2f * a is inexact, and fma keeps the bits that a
// separate multiply rounds away.
TEST(ElementwiseFast, ScaledAddRoundsOnce) {
  const float a[16] = {1.0f + 0x1p-20f, 3.0f, -7.0f + 0x1p-18f, 0.1f, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  const float b[16] = {-0.2f, -0.6f, 1.4f, -0.02f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  float y[16];
  scaled_add(y, a, 0.2f, b, 16);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(y[i], std::fma(a[i], 0.2f, b[i])) << i;
  int differs_from_two_roundings = 0;
  for (int i = 0; i < 4; ++i) {
    const volatile float product = a[i] * 0.2f;  // rounded here: no contraction into an fma
    differs_from_two_roundings += y[i] != product + b[i];
  }
  EXPECT_GT(differs_from_two_roundings, 0) << "no element tells fma from multiply-then-add: pick other values";
}

}  // namespace
}  // namespace microsr::kernels
