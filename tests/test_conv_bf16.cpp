// The bf16 convolution (kernels/cpu/conv/bf16.h) against the fp32 reference conv2d_same_ref, on
// odd shapes, with tolerances derived from the arithmetic:
//  * against the reference run on bf16-rounded x and w: only the summation order differs, so
//    |y - ref| <= 2 n 2^-24 Σ|x'||w'| (n = cin k k terms, fp32 accumulation in both);
//  * against the reference on the original fp32 values: each term x w is computed as
//    x(1+e1) w(1+e2) with |e| <= 2^-8 (round to nearest, 8 significant bits), so
//    |y - ref| <= (2^-7 + 2^-16) Σ|x||w|
//    plus the summation bound above; the epilogue multiplies errors by |scale| (LeakyReLU's slope
//    is below 1). A wrong tap, channel or packing offset is off by a whole |x w| term: far outside.
// The kernels run only where the CPU has them (AMX); elsewhere the tests check the error message.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cpu/conv/bf16.h"
#include "cpu/conv/bf16_kernels.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_kernels.h"
#include "microsr/backend.h"
#include "microsr/error.h"
#include "bf16_dense_block_reference.h"
#include "test_helpers.h"

namespace microsr::kernels {

// tests/amx_emulation/amx_emulated_kernels_avx512bf16.cpp: conv_v6 (version 6), conv_v7 (7) or conv_v9
// (9, on a pixel-major input) with the tile instructions emulated. Call only where avx512_bf16 runs.
void amx_emulated_conv(int version, const Bf16Output& out, const float* x, int fill_channels,
                       const PackedBf16ConvWeights& packed, const Bf16Input& in, int h, int w, const ConvEpilogue& epi);

namespace {

using testing::random_values;

using testing_bf16::Bf16KernelScope;

TEST(Bf16Rounding, NearestEvenAndNaN) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bf16(1.0f + 1.0f / 256), 0x3F80);          // tie: stays on the even 1.0
  EXPECT_EQ(float_to_bf16(1.0f + 3.0f / 256), 0x3F82);          // tie: up to the even neighbour
  EXPECT_EQ(float_to_bf16(1.0f + 1.0f / 256 + 1e-6f), 0x3F81);  // just above the tie: up
  EXPECT_EQ(float_to_bf16(-2.5f), 0xC020);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
  EXPECT_EQ(bf16_to_float(0x3F81), 1.0f + 1.0f / 128);
}

struct Bf16Case {
  int cin, cout, h, w, k;
  bool bias, lrelu, residual;
  float scale;
};

std::string describe(const Bf16Case& c) {
  char text[160];
  std::snprintf(text, sizeof text, "cin=%d cout=%d h=%d w=%d k=%d bias=%d lrelu=%d residual=%d scale=%g", c.cin, c.cout,
                c.h, c.w, c.k, c.bias, c.lrelu, c.residual, c.scale);
  return text;
}

// RRDBNet's shapes (cin 64..192, cout 32 / 64, the 3-channel first and last convs), odd sizes and
// channel counts that are no multiple of the 32 x 16 blocks, k 1 and 5, every epilogue option.
std::vector<Bf16Case> bf16_cases() {
  return {
      {96, 32, 13, 7, 3, true, true, true, 0.2f},   {64, 32, 9, 40, 3, true, true, false, 1.0f},
      {192, 64, 6, 33, 3, true, false, true, 0.2f}, {3, 64, 11, 17, 3, true, false, false, 1.0f},
      {64, 3, 8, 70, 3, true, false, false, 1.0f},  {13, 67, 5, 3, 3, false, true, true, 1.0f},
      {127, 16, 1, 1, 3, true, true, false, 1.0f},  {160, 32, 2, 64, 3, false, false, true, 0.2f},
      {40, 20, 7, 9, 1, true, true, false, 1.0f},   {33, 48, 9, 11, 5, true, false, true, 0.5f},
  };
}

std::vector<float> rounded(const std::vector<float>& v) {
  std::vector<float> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = bf16_to_float(float_to_bf16(v[i]));
  return r;
}

std::vector<float> magnitudes(const std::vector<float>& v) {
  std::vector<float> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = std::fabs(v[i]);
  return r;
}

TEST(Bf16Conv, MatchesReferenceWithinBf16Bound) {
  if (const char* why = conv_bf16_unavailable_reason()) GTEST_SKIP() << why;
  for (const std::string& kernel : conv_bf16_kernels()) {
    SCOPED_TRACE(kernel);
    const Bf16KernelScope scope(kernel);
    unsigned seed = 1;
    for (const Bf16Case& c : bf16_cases()) {
      SCOPED_TRACE(describe(c));
      const int64_t pixels = static_cast<int64_t>(c.h) * c.w;
      const auto x = random_values(c.cin * pixels, seed++);
      const auto w = random_values(static_cast<size_t>(c.cout) * c.cin * c.k * c.k, seed++, -0.3f, 0.3f);
      const auto bias = random_values(c.cout, seed++);
      const auto residual = random_values(c.cout * pixels, seed++);
      // conv_v10 runs 3x3 layers as Winograd, whose rounding this bound does not describe:
      // tests/test_conv_bf16_winograd.cpp checks those against their own bounds (k 1 and 5 run v8 here).
      if (kernel == "conv_v10_winograd23_dpbf16" && c.k == 3) continue;
      ConvEpilogue epi;
      epi.has_lrelu = c.lrelu, epi.scale = c.scale;
      // The residual aliases y (as RRDBNet's fused adds may): y starts as the residual.
      std::vector<float> y = c.residual ? residual : std::vector<float>(c.cout * pixels, 7.0f);
      std::vector<float> ref_exact(c.cout * pixels), ref_rounded(c.cout * pixels), abs_sum(c.cout * pixels);
      ConvEpilogue ref_epi = epi;
      ref_epi.residual = c.residual ? residual.data() : nullptr;
      const float* b = c.bias ? bias.data() : nullptr;
      conv2d_same_ref(ref_exact.data(), x.data(), w.data(), b, c.cin, c.cout, c.h, c.w, c.k, ref_epi);
      conv2d_same_ref(ref_rounded.data(), rounded(x).data(), rounded(w).data(), b, c.cin, c.cout, c.h, c.w, c.k,
                      ref_epi);
      conv2d_same_ref(abs_sum.data(), magnitudes(x).data(), magnitudes(w).data(), nullptr, c.cin, c.cout, c.h, c.w, c.k,
                      {});
      epi.residual = c.residual ? y.data() : nullptr;
      conv2d_bf16(y.data(), x.data(), w.data(), b, c.cin, c.cout, c.h, c.w, c.k, epi);

      const double n = static_cast<double>(c.cin) * c.k * c.k;
      const double sum_bound = 2 * n * std::ldexp(1.0, -24);
      double worst_rounded = 0, worst_exact = 0;
      int64_t worst_at = 0;
      for (int64_t i = 0; i < c.cout * pixels; ++i) {
        const double s = std::fabs(c.scale) * abs_sum[i], slack = 1e-6 * (1 + std::fabs(ref_exact[i]));
        const double tol_rounded = (sum_bound + std::ldexp(1.0, -16)) * s + slack;  // + bf16(x)-vs-x in abs_sum
        const double tol_exact = (std::ldexp(1.0, -7) + std::ldexp(1.0, -16) + sum_bound) * s + slack;
        const double e_rounded = std::fabs(y[i] - ref_rounded[i]) / tol_rounded;
        const double e_exact = std::fabs(y[i] - ref_exact[i]) / tol_exact;
        if (e_exact > worst_exact) worst_exact = e_exact, worst_at = i;
        worst_rounded = std::max(worst_rounded, e_rounded);
      }
      EXPECT_LE(worst_rounded, 1.0) << "against the reference on bf16-rounded inputs (error / tolerance)";
      EXPECT_LE(worst_exact, 1.0) << "against the fp32 reference, worst at element " << worst_at << ": " << y[worst_at]
                                  << " vs " << ref_exact[worst_at];
    }
  }
}

// The packed form reused across calls and sizes (the input copy is grown, never shrunk) gives the
// same bits as a fresh pack.
TEST(Bf16Conv, PackedReuseAcrossSizes) {
  if (const char* why = conv_bf16_unavailable_reason()) GTEST_SKIP() << why;
  for (const std::string& kernel : conv_bf16_kernels()) {
    SCOPED_TRACE(kernel);
    const Bf16KernelScope scope(kernel);
    const int cin = 64, cout = 32;
    const auto w = random_values(static_cast<size_t>(cout) * cin * 9, 5, -0.2f, 0.2f);
    const auto bias = random_values(cout, 6);
    const PackedBf16ConvWeights packed = pack_conv_weights_bf16(w.data(), bias.data(), cin, cout, 3);
    for (auto [h, wd] : {std::pair{40, 70}, std::pair{3, 5}, std::pair{40, 70}}) {
      const auto x = random_values(static_cast<size_t>(cin) * h * wd, 7);
      std::vector<float> a(static_cast<size_t>(cout) * h * wd), b(a.size());
      conv2d_bf16_packed(a.data(), x.data(), packed, h, wd, {});
      conv2d_bf16(b.data(), x.data(), w.data(), bias.data(), cin, cout, h, wd, 3, {});
      EXPECT_EQ(a, b) << h << "x" << wd;
    }
  }
}

// The AMX kernels' indexing checked on any CPU with avx512_bf16: v6 and v7 with emulated tiles
// against the reference on bf16-rounded inputs (bound as in MatchesReferenceWithinBf16Bound), on
// the odd shapes above (channel blocks 1..6, partial pixel groups, k 1, 3, 5, cout 3..67). The
// input copy starts as NaN everywhere, so a cell the fill misses shows up.
TEST(Bf16Conv, AmxKernelsEmulatedMatchReference) {
  if (!cpu_isa_at_least(CpuIsa::kAvx512Bf16)) GTEST_SKIP() << "needs avx512_bf16 (the input fill and epilogue)";
  unsigned seed = 700;
  for (const Bf16Case& c : bf16_cases()) {
    SCOPED_TRACE(describe(c));
    const int64_t pixels = static_cast<int64_t>(c.h) * c.w;
    const auto x = random_values(c.cin * pixels, seed++);
    const auto w = random_values(static_cast<size_t>(c.cout) * c.cin * c.k * c.k, seed++, -0.3f, 0.3f);
    const auto bias = random_values(c.cout, seed++);
    const auto residual = random_values(c.cout * pixels, seed++);
    const PackedBf16ConvWeights packed =
        pack_conv_weights_bf16(w.data(), c.bias ? bias.data() : nullptr, c.cin, c.cout, c.k);
    ConvEpilogue epi;
    epi.has_lrelu = c.lrelu, epi.scale = c.scale, epi.residual = c.residual ? residual.data() : nullptr;
    std::vector<float> expected(c.cout * pixels), abs_sum(c.cout * pixels);
    conv2d_same_ref(expected.data(), rounded(x).data(), rounded(w).data(), c.bias ? bias.data() : nullptr, c.cin,
                    c.cout, c.h, c.w, c.k, epi);
    conv2d_same_ref(abs_sum.data(), magnitudes(x).data(), magnitudes(w).data(), nullptr, c.cin, c.cout, c.h, c.w, c.k,
                    {});
    Bf16Input in;
    in.pad = c.k / 2, in.wp = (c.w + 31) / 32 * 32, in.cols = in.wp + 2 * in.pad;
    in.pairs = packed.cin_padded / 2, in.rows = c.h + 2 * in.pad;
    in.row_elems = static_cast<int64_t>(in.pairs) * in.cols * 2;
    for (int version : {6, 7, 9}) {
      SCOPED_TRACE("conv_v" + std::to_string(version) + " emulated");
      in.pixel_major = version == 9;
      std::vector<uint16_t, CacheLineAllocator<uint16_t>> copy(in.rows * in.row_elems, 0x7FC0);  // NaN
      in.data = copy.data();
      std::vector<float> y(c.cout * pixels, 7.0f);
      Bf16Output out;
      out.y = y.data();
      amx_emulated_conv(version, out, x.data(), c.cin, packed, in, c.h, c.w, epi);
      const double sum_bound = 2.0 * c.cin * c.k * c.k * std::ldexp(1.0, -24) + std::ldexp(1.0, -16);
      double worst = 0;
      for (int64_t i = 0; i < c.cout * pixels; ++i) {
        const double tol = sum_bound * std::fabs(c.scale) * abs_sum[i] + 1e-6 * (1 + std::fabs(expected[i]));
        const double e = std::fabs(y[i] - expected[i]) / tol;
        worst = std::isnan(e) ? 1e9 : std::max(worst, e);
      }
      EXPECT_LE(worst, 1.0) << "error / tolerance";
    }
  }
}

// conv_v9's own dense epilogue (pixel-major bf16, no transpose) on CPUs without AMX: a dense block
// run through the emulated kernel with x1..x4 kept in a pixel-major buffer gives the same bits as
// the same kernel's five plain convolutions on an fp32 concatenation (as Bf16DenseBlock checks with
// the real kernels on AMX); nf = 6, g = 4 puts the activations at channels no multiple of 16.
TEST(Bf16Conv, AmxV9EmulatedDenseBlockSameBitsAsPlainConvs) {
  if (!cpu_isa_at_least(CpuIsa::kAvx512Bf16)) GTEST_SKIP() << "needs avx512_bf16 (the input fill and epilogue)";
  auto pixel_major_input = [](int cin_padded, int h, int w) {
    Bf16Input in;
    in.pad = 1, in.wp = (w + 31) / 32 * 32, in.cols = in.wp + 2, in.pairs = cin_padded / 2, in.rows = h + 2;
    in.pixel_major = true;
    in.row_elems = static_cast<int64_t>(in.pairs) * in.cols * 2;
    return in;
  };
  unsigned seed = 900;
  for (const auto& [nf, g, h, w] : {std::array{64, 32, 5, 37}, std::array{6, 4, 4, 9}}) {
    SCOPED_TRACE("nf=" + std::to_string(nf) + " g=" + std::to_string(g));
    const int64_t pixels = static_cast<int64_t>(h) * w;
    std::vector<PackedBf16ConvWeights> layers;
    for (int j = 0; j < 5; ++j) {
      const int cin = nf + j * g, cout = j < 4 ? g : nf;
      const auto weight = random_values(static_cast<size_t>(cout) * cin * 9, seed++, -0.1f, 0.1f);
      const auto bias = random_values(cout, seed++, -0.1f, 0.1f);
      layers.push_back(pack_conv_weights_bf16(weight.data(), bias.data(), cin, cout, 3));
    }
    const auto x = random_values(nf * pixels, seed++);
    ConvEpilogue act, residual;
    act.has_lrelu = true, act.lrelu_slope = 0.2f;
    residual.scale = 0.2f, residual.residual = x.data();

    // Five plain convolutions, each on its own freshly filled copy of the fp32 concatenation.
    std::vector<float> concat((nf + 4 * g) * pixels), expected(nf * pixels), fused(nf * pixels, 7.0f);
    std::copy(x.begin(), x.end(), concat.begin());
    for (int j = 0; j < 5; ++j) {
      Bf16Input in = pixel_major_input(layers[j].cin_padded, h, w);
      std::vector<uint16_t, CacheLineAllocator<uint16_t>> copy(in.rows * in.row_elems, 0x7FC0);  // NaN
      in.data = copy.data();
      Bf16Output out;
      out.y = j < 4 ? concat.data() + (nf + j * g) * pixels : expected.data();
      amx_emulated_conv(9, out, concat.data(), layers[j].cin, layers[j], in, h, w, j < 4 ? act : residual);
    }

    // The block: x filled once, x1..x4 written by the epilogues into the buffer conv5 reads.
    Bf16Input dense = pixel_major_input(layers[4].cin_padded, h, w);
    std::vector<uint16_t, CacheLineAllocator<uint16_t>> buffer(dense.rows * dense.row_elems, 0);
    dense.data = buffer.data();
    for (int j = 0; j < 4; ++j) {
      Bf16Output to_dense;
      to_dense.dense = &dense, to_dense.channel0 = nf + j * g;
      amx_emulated_conv(9, to_dense, j == 0 ? x.data() : nullptr, nf, layers[j], dense, h, w, act);
    }
    Bf16Output to_out;
    to_out.y = fused.data();
    amx_emulated_conv(9, to_out, nullptr, 0, layers[4], dense, h, w, residual);
    int64_t differing = 0;
    for (int64_t i = 0; i < nf * pixels; ++i) differing += fused[i] != expected[i];
    EXPECT_EQ(differing, 0);
  }
}

// The conv on a nearest x2 upsampling filled straight into the bf16 input copy gives the same bits
// as upsample_nearest2x_ref followed by the conv (the same values rounded once); odd channel
// counts and sizes whose upsampled width is no multiple of the 32-pixel blocks.
TEST(Bf16Conv, UpsampledSameBitsAsUpsampleThenConv) {
  if (const char* why = conv_bf16_unavailable_reason()) GTEST_SKIP() << why;
  struct Case {
    int cin, cout, h, w;
  };
  for (const std::string& kernel : conv_bf16_kernels()) {
    SCOPED_TRACE(kernel);
    const Bf16KernelScope scope(kernel);
    unsigned seed = 500;
    for (const Case c : {Case{64, 64, 5, 7}, Case{13, 20, 3, 17}, Case{64, 32, 8, 16}, Case{3, 16, 1, 1}}) {
      SCOPED_TRACE(std::to_string(c.cin) + "->" + std::to_string(c.cout) + " " + std::to_string(c.h) + "x" +
                   std::to_string(c.w));
      const int64_t big = 4 * static_cast<int64_t>(c.h) * c.w;
      const auto x = random_values(static_cast<size_t>(c.cin) * c.h * c.w, seed++);
      const auto w = random_values(static_cast<size_t>(c.cout) * c.cin * 9, seed++, -0.2f, 0.2f);
      const auto bias = random_values(c.cout, seed++);
      const PackedBf16ConvWeights packed = pack_conv_weights_bf16(w.data(), bias.data(), c.cin, c.cout, 3);
      ConvEpilogue act;
      act.has_lrelu = true, act.lrelu_slope = 0.2f;
      std::vector<float> up(c.cin * big), expected(c.cout * big), fused(c.cout * big, 7.0f);
      upsample_nearest2x_ref(up.data(), x.data(), c.cin, c.h, c.w);
      conv2d_bf16_packed(expected.data(), up.data(), packed, 2 * c.h, 2 * c.w, act);
      conv2d_bf16_packed_upsampled2x(fused.data(), x.data(), packed, c.h, c.w, act);
      int64_t differing = 0, first = -1;
      for (int64_t i = 0; i < c.cout * big; ++i)
        if (fused[i] != expected[i]) differing++, first = first < 0 ? i : first;
      EXPECT_EQ(differing, 0) << "first at " << first << ": " << (first >= 0 ? fused[first] : 0) << " vs "
                              << (first >= 0 ? expected[first] : 0);
    }
  }
}

// Two convs after the upsampling with the first one's output kept in bf16 (conv_up2 then conv_hr):
// the same bits as upsample_nearest2x_ref and two conv2d_bf16_packed calls; odd sizes, a first conv
// with fewer channels than the 32-channel blocks of the second one's input copy, a 1x1 second conv,
// and sizes changing between calls and coming back (the buffer between them keeps its padding).
TEST(Bf16Conv, UpsampledPairSameBitsAsSeparateConvs) {
  if (const char* why = conv_bf16_unavailable_reason()) GTEST_SKIP() << why;
  struct Case {
    int cin, mid, cout, k2, h, w;
  };
  for (const std::string& kernel : conv_bf16_kernels()) {
    SCOPED_TRACE(kernel);
    const Bf16KernelScope scope(kernel);
    unsigned seed = 800;
    for (const Case c : {Case{64, 64, 64, 3, 5, 7}, Case{13, 20, 3, 3, 3, 17}, Case{32, 48, 16, 1, 4, 16},
                         Case{64, 64, 64, 3, 5, 7}, Case{64, 64, 64, 3, 5, 8}}) {
      SCOPED_TRACE(std::to_string(c.cin) + "->" + std::to_string(c.mid) + "->" + std::to_string(c.cout) + " " +
                   std::to_string(c.h) + "x" + std::to_string(c.w));
      const int64_t big = 4 * static_cast<int64_t>(c.h) * c.w;
      const auto x = random_values(static_cast<size_t>(c.cin) * c.h * c.w, seed++);
      const auto w1 = random_values(static_cast<size_t>(c.mid) * c.cin * 9, seed++, -0.2f, 0.2f);
      const auto w2 = random_values(static_cast<size_t>(c.cout) * c.mid * c.k2 * c.k2, seed++, -0.2f, 0.2f);
      const auto b1 = random_values(c.mid, seed++), b2 = random_values(c.cout, seed++);
      const PackedBf16ConvWeights conv1 = pack_conv_weights_bf16(w1.data(), b1.data(), c.cin, c.mid, 3);
      const PackedBf16ConvWeights conv2 = pack_conv_weights_bf16(w2.data(), b2.data(), c.mid, c.cout, c.k2);
      ConvEpilogue act1, epi2;
      act1.has_lrelu = true, act1.lrelu_slope = 0.2f;
      epi2.has_lrelu = true, epi2.lrelu_slope = 0.1f, epi2.scale = 0.5f;
      std::vector<float> up(c.cin * big), middle(c.mid * big), expected(c.cout * big), fused(c.cout * big, 7.0f);
      upsample_nearest2x_ref(up.data(), x.data(), c.cin, c.h, c.w);
      conv2d_bf16_packed(middle.data(), up.data(), conv1, 2 * c.h, 2 * c.w, act1);
      conv2d_bf16_packed(expected.data(), middle.data(), conv2, 2 * c.h, 2 * c.w, epi2);
      conv2d_bf16_upsampled2x_pair(fused.data(), x.data(), conv1, act1, conv2, epi2, c.h, c.w);
      int64_t differing = 0, first = -1;
      for (int64_t i = 0; i < c.cout * big; ++i)
        if (fused[i] != expected[i]) differing++, first = first < 0 ? i : first;
      EXPECT_EQ(differing, 0) << "first at " << first << ": " << (first >= 0 ? fused[first] : 0) << " vs "
                              << (first >= 0 ? expected[first] : 0);
    }
  }
}

// The CPU backend's fused_upsample2x_conv (RRDBNet's conv_up1 / conv_up2 in bf16) against its own
// upsample_nearest2x + conv2d with the same prepared weights and LeakyReLU: the same bits, batch 2.
TEST(Bf16Backend, FusedUpsampleConvSameBitsAsTwoOps) {
  if (const char* why = conv_bf16_unavailable_reason()) GTEST_SKIP() << why;
  CpuOptions options;
  options.precision = Precision::bf16;
  auto backend = make_cpu_backend(options);
  const int n = 2, c = 32, cout = 48, h = 6, w = 9;
  Tensor x = Tensor::empty({n, c, h, w}), weight = Tensor::empty({cout, c, 3, 3}), bias = Tensor::empty({cout});
  for (auto [t, seed] : {std::pair{&x, 900u}, std::pair{&weight, 901u}, std::pair{&bias, 902u}}) {
    const auto values = random_values(t->numel(), seed, -0.5f, 0.5f);
    std::copy(values.begin(), values.end(), t->f32());
  }
  const auto prepared = backend->prepare_conv(weight, bias);
  ConvOptions opt;
  opt.lrelu = true, opt.lrelu_slope = 0.2f, opt.prepared = prepared.get();
  Tensor up = Tensor::empty({n, c, 2 * h, 2 * w}), expected = Tensor::empty({n, cout, 2 * h, 2 * w});
  backend->upsample_nearest2x(up, x);
  backend->conv2d(expected, up, weight, bias, opt);
  const Tensor fused = backend->fused_upsample2x_conv(x, opt);
  ASSERT_TRUE(fused.defined());
  ASSERT_EQ(fused.shape(), expected.shape());
  int64_t differing = 0;
  for (int64_t i = 0; i < fused.numel(); ++i) differing += fused.f32()[i] != expected.f32()[i];
  EXPECT_EQ(differing, 0);
  // With a second conv on its output (RRDBNet's conv_hr after conv_up2), kept in bf16 in between —
  // where the kernel does that; conv_v10's activations are fp32, and the backend refuses `then`.
  Tensor weight2 = Tensor::empty({16, cout, 3, 3}), bias2 = Tensor::empty({16});
  for (auto [t, seed] : {std::pair{&weight2, 903u}, std::pair{&bias2, 904u}}) {
    const auto values = random_values(t->numel(), seed, -0.5f, 0.5f);
    std::copy(values.begin(), values.end(), t->f32());
  }
  const auto prepared2 = backend->prepare_conv(weight2, bias2);
  ConvOptions opt2;
  opt2.lrelu = true, opt2.lrelu_slope = 0.2f, opt2.prepared = prepared2.get();
  Tensor expected2 = Tensor::empty({n, 16, 2 * h, 2 * w});
  backend->conv2d(expected2, expected, weight2, bias2, opt2);
  const Tensor fused2 = backend->fused_upsample2x_conv(x, opt, &opt2);
  if (!conv_bf16_pair_stays_bf16()) {
    EXPECT_FALSE(fused2.defined()) << conv_bf16_kernel_name();
    return;
  }
  ASSERT_TRUE(fused2.defined());
  ASSERT_EQ(fused2.shape(), expected2.shape());
  differing = 0;
  for (int64_t i = 0; i < fused2.numel(); ++i) differing += fused2.f32()[i] != expected2.f32()[i];
  EXPECT_EQ(differing, 0);
}

// The fused dense block (x1..x4 kept in bf16 only) against the same block as five
// conv2d_bf16_packed calls on an fp32 concatenation buffer (rrdbnet.cpp's rdb), which rounds the same
// values at the same points: the bits must be equal. Sizes change between calls and come back, so
// the block's reused buffer (re-zeroed on a new geometry, padding never written) is checked too;
// nf = 6, g = 4 has channel counts that are no multiple of the 32-channel blocks.
TEST(Bf16DenseBlock, SameBitsAsFiveConvolutions) {
  if (const char* why = conv_bf16_unavailable_reason()) GTEST_SKIP() << why;
  for (const std::string& kernel : conv_bf16_kernels()) {
    SCOPED_TRACE(kernel);
    const Bf16KernelScope scope(kernel);
    struct Case {
      int nf, g, h, w;
    };
    unsigned seed = 100;
    // 9x50 then 9x48: the same padded layout (wp 64), but column 48 is image in the first and
    // padding in the second, which must not keep the first block's values.
    for (const Case c : {Case{64, 32, 9, 40}, Case{6, 4, 13, 7}, Case{64, 32, 5, 33}, Case{64, 32, 9, 40},
                         Case{64, 32, 9, 50}, Case{64, 32, 9, 48}}) {
      SCOPED_TRACE("nf=" + std::to_string(c.nf) + " g=" + std::to_string(c.g) + " " + std::to_string(c.h) + "x" +
                   std::to_string(c.w));
      const int64_t pixels = static_cast<int64_t>(c.h) * c.w;
      const testing_bf16::DenseBlockLayers block(c.nf, c.g, seed);
      const PackedBf16ConvWeights* convs[5];
      block.pointers(convs);
      for (int round = 0; round < 2; ++round) {  // a second block through the same buffer
        const auto x = random_values(c.nf * pixels, seed++);
        const std::vector<float> expected = block.five_convs(x, c.h, c.w);
        std::vector<float> fused(c.nf * pixels);
        conv2d_bf16_dense_block(fused.data(), x.data(), convs, c.h, c.w, 0.2f, 0.2f);
        int64_t differing = 0, first = -1;
        for (int64_t i = 0; i < c.nf * pixels; ++i)
          if (fused[i] != expected[i]) differing++, first = first < 0 ? i : first;
        EXPECT_EQ(differing, 0) << "round " << round << ", first at " << first << ": "
                                << (first >= 0 ? fused[first] : 0) << " vs " << (first >= 0 ? expected[first] : 0);
      }
    }
  }
}

// With the RRDB's skip residual fused into conv5's epilogue: the same bits as the block followed by
// the reference scaled_add (out = skip + 0.2 · block), which RRDBNet runs when nothing is fused.
TEST(Bf16DenseBlock, SkipResidualSameBitsAsScaledAdd) {
  if (const char* why = conv_bf16_unavailable_reason()) GTEST_SKIP() << why;
  for (const std::string& kernel : conv_bf16_kernels()) {
    SCOPED_TRACE(kernel);
    const Bf16KernelScope scope(kernel);
    const int nf = 64, g = 32, h = 7, w = 45;
    const int64_t pixels = static_cast<int64_t>(h) * w;
    unsigned seed = 300;
    const testing_bf16::DenseBlockLayers layers(nf, g, seed);
    const PackedBf16ConvWeights* convs[5];
    layers.pointers(convs);
    const auto x = random_values(nf * pixels, seed++), skip = random_values(nf * pixels, seed++);
    std::vector<float> block(nf * pixels), expected(nf * pixels), fused(nf * pixels);
    conv2d_bf16_dense_block(block.data(), x.data(), convs, h, w, 0.2f, 0.2f);
    scaled_add_ref(expected.data(), block.data(), 0.2f, skip.data(), nf * pixels);
    conv2d_bf16_dense_block(fused.data(), x.data(), convs, h, w, 0.2f, 0.2f, skip.data());
    int64_t differing = 0, first = -1;
    for (int64_t i = 0; i < nf * pixels; ++i)
      if (fused[i] != expected[i]) differing++, first = first < 0 ? i : first;
    EXPECT_EQ(differing, 0) << "first at " << first << ": " << (first >= 0 ? fused[first] : 0) << " vs "
                            << (first >= 0 ? expected[first] : 0);
  }
}

// A block whose layers do not chain (conv2 takes the wrong channel count) is refused by name.
TEST(Bf16DenseBlock, RejectsLayersThatDoNotChain) {
  if (const char* why = conv_bf16_unavailable_reason()) GTEST_SKIP() << why;
  std::vector<PackedBf16ConvWeights> layers;
  for (int j = 0; j < 5; ++j) {
    const int cin = j == 1 ? 9 : 8 + j * 4, cout = j < 4 ? 4 : 8;
    const std::vector<float> w(static_cast<size_t>(cout) * cin * 9, 0.01f);
    layers.push_back(pack_conv_weights_bf16(w.data(), nullptr, cin, cout, 3));
  }
  const PackedBf16ConvWeights* convs[5] = {&layers[0], &layers[1], &layers[2], &layers[3], &layers[4]};
  std::vector<float> x(8 * 16, 1.0f), y(x.size());
  try {
    conv2d_bf16_dense_block(y.data(), x.data(), convs, 4, 4, 0.2f, 0.2f);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv2"), std::string::npos) << e.what();
  }
}

// The kernel table: v10 and v8 from avx512_bf16 up, the AMX kernels too on AMX (the tests above run each); a
// kernel named for a level above the active one, or an unknown name, is refused by name.
TEST(Bf16Conv, KernelTableAndRefusals) {
  if (const char* why = conv_bf16_unavailable_reason()) GTEST_SKIP() << why;
  const std::vector<std::string> kernels = conv_bf16_kernels();
  ASSERT_EQ(kernels.size(), cpu_isa_at_least(CpuIsa::kAmx) ? 5u : 2u);
  EXPECT_EQ(kernels.back(), "conv_v8_dpbf16_avx512bf16");
  EXPECT_EQ(std::count(kernels.begin(), kernels.end(), std::string(conv_bf16_kernel_name())), 1);
  try {
    select_conv_bf16_kernel("conv_v99");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv_v8_dpbf16_avx512bf16"), std::string::npos) << e.what();
  }
  {
    const Bf16KernelScope amx("conv_v6_implicit_gemm_amx");
    const CpuIsaScope lowered(CpuIsa::kAvx512Bf16);
    EXPECT_EQ(conv_bf16_kernels(),
              (std::vector<std::string>{"conv_v10_winograd23_dpbf16", "conv_v8_dpbf16_avx512bf16"}));
    try {
      conv_bf16_kernel_name();
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("amx"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(conv_bf16_kernel_name(), kernels.front());
}

// Below avx512_bf16 (simulated with the level lowered) the kernel refuses, naming the missing feature.
TEST(Bf16Conv, WithoutBf16InstructionsErrorsNamingThem) {
  const CpuIsaScope scope(CpuIsa::kAvx2 <= detected_cpu_isa() ? CpuIsa::kAvx2 : CpuIsa::kBaseline);
  ASSERT_NE(conv_bf16_unavailable_reason(), nullptr);
  EXPECT_STREQ(conv_bf16_kernel_name(), "none");
  std::vector<float> x(32, 1.0f), w(9, 1.0f), y(32);
  try {
    conv2d_bf16(y.data(), x.data(), w.data(), nullptr, 1, 1, 4, 8, 3, {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("AVX512_BF16 or AMX"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace microsr::kernels
