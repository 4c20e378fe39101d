// conv_v10_winograd23_dpbf16 (kernels/cpu/conv/v10_winograd23_avx512bf16.cpp): the bf16 3x3
// convolution as Winograd F(2x2, 3x3). Checked three ways, with tolerances from the arithmetic:
//  * the packed weights: every U = bf16(fp32(G g G^T)) within a bf16 rounding (2^-8 relative: bf16
//    keeps 8 significant bits) plus the fp32 step of the exact transform computed here in double,
//    zeros past cin and cout;
//  * against a Winograd reference computed here: V = B^T d B in fp32 in the kernel's order
//    (rows, then columns), rounded to bf16 (nearest even), U read from the packed weights, then
//    Σ_ci U ⊙ V and A^T M A in double: only the kernel's fp32 summation differs, so
//    |y - ref| <= 2 n 2^-24 S,  S = Σ_ci Σ_ξ |a_ξ| |U_ξ| |V_ξ|,  n = the terms summed;
//  * against the fp32 direct reference conv2d_same_ref: each product U V carries two bf16
//    roundings (2^-8 each) of its exact factors, and V's fp32 sums ~2^-23 of its terms' magnitudes,
//    so |y - ref| <= (2^-7 + 2^-15 + 2 n 2^-24) T,  T = S with |V| replaced by (|B|^T |d| |B|) >= |V|.
// A wrong tap, channel, tile or packing offset is off by a whole term: far outside either bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bf16_dense_block_reference.h"
#include "cpu/conv/bf16.h"
#include "cpu/conv/bf16_kernels.h"
#include "cpu/conv/common.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_kernels.h"
#include "cpu/threads.h"
#include "dense_block_test_helpers.h"
#include "microsr/error.h"
#include "test_helpers.h"

namespace microsr::kernels {
namespace {

using testing::random_values;

constexpr const char* kV10 = "conv_v10_winograd23_dpbf16";

// Runs conv_v10 while it lives, then the default again.
struct V10Scope : testing_bf16::Bf16KernelScope {
  V10Scope() : Bf16KernelScope(kV10) {}
};

bool v10_runs() {
  const std::vector<std::string> kernels = conv_bf16_kernels();
  return std::find(kernels.begin(), kernels.end(), kV10) != kernels.end();
}

constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
constexpr double kAT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
constexpr double kBT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};

// U' (bf16, as float) for output channel co, input channel ci, position ξ, from the packed layout
// [16 ξ][co blocks of 8][channel pairs][8][2].
float packed_u(const PackedBf16ConvWeights& p, int co, int ci, int xi) {
  const int pairs = (p.cin + 1) / 2, co_blocks = (p.cout + 7) / 8;
  const int64_t per_position = static_cast<int64_t>(co_blocks) * pairs * 16;
  return bf16_to_float(
      p.winograd23[xi * per_position + (static_cast<int64_t>(co / 8) * pairs + ci / 2) * 16 + (co % 8) * 2 + ci % 2]);
}

// The 1D input transform o = B^T d in fp32, in the kernel's order of operations.
void transform_1d(float o[4], const float d[4]) {
  o[0] = d[0] - d[2];
  o[1] = d[1] + d[2];
  o[2] = d[2] - d[1];
  o[3] = d[1] - d[3];
}

struct Case {
  int cin, cout, h, w;
  bool bias, lrelu, residual;
  float scale;
};

std::string describe(const Case& c) {
  char text[128];
  std::snprintf(text, sizeof text, "cin=%d cout=%d h=%d w=%d bias=%d lrelu=%d residual=%d scale=%g", c.cin, c.cout, c.h,
                c.w, c.bias, c.lrelu, c.residual, c.scale);
  return text;
}

TEST(Bf16Winograd23, PackedWeightsAreRoundedTransforms) {
  if (!v10_runs()) GTEST_SKIP() << "conv_v10 needs avx512_bf16";
  const V10Scope scope;
  const int cin = 13, cout = 11;  // odd: a half-empty last pair, a partial co block
  const auto w = random_values(static_cast<size_t>(cout) * cin * 9, 3, -0.5f, 0.5f);
  const PackedBf16ConvWeights p = pack_conv_weights_bf16(w.data(), nullptr, cin, cout, 3);
  ASSERT_EQ(p.winograd23.size(), 16u * 2 * 7 * 16);  // 16 ξ, 2 co blocks, 7 pairs, 8 co x 2 ci
  int64_t nonzero = 0;
  for (int co = 0; co < 16; ++co)
    for (int ci = 0; ci < 14; ++ci)
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          const float got = packed_u(p, co, ci, 4 * i + j);
          if (co >= cout || ci >= cin) {
            EXPECT_EQ(got, 0.0f) << "padding at co " << co << " ci " << ci;
            continue;
          }
          double exact = 0;
          for (int a = 0; a < 3; ++a)
            for (int b = 0; b < 3; ++b) exact += kG[i][a] * w[(co * cin + ci) * 9 + a * 3 + b] * kG[j][b];
          EXPECT_LE(std::fabs(got - exact), (std::ldexp(1.0, -8) + std::ldexp(1.0, -23)) * std::fabs(exact))
              << "co " << co << " ci " << ci << " position " << 4 * i + j;
          nonzero += got != 0.0f;
        }
  EXPECT_GT(nonzero, cout * cin * 16 * 9 / 10);
}

// RRDBNet's shapes and odd ones: sizes that leave partial tiles and 16-tile groups, more than one
// group per row and batch, odd cin (a half-empty pair), cout not a multiple of 8, every epilogue.
std::vector<Case> cases() {
  return {{64, 32, 16, 16, true, true, false, 1.0f},  {96, 32, 13, 7, true, true, true, 0.2f},
          {192, 64, 6, 33, true, false, true, 0.2f},  {13, 67, 5, 3, false, true, true, 1.0f},
          {127, 16, 1, 1, true, true, false, 1.0f},   {32, 20, 9, 101, false, false, false, 1.0f},
          {160, 32, 2, 64, false, false, true, 0.2f}, {64, 64, 37, 70, true, true, false, 1.0f}};
}

TEST(Bf16Winograd23, MatchesRoundedWinogradAndExactWithinBounds) {
  if (!v10_runs()) GTEST_SKIP() << "conv_v10 needs avx512_bf16";
  const V10Scope scope;
  unsigned seed = 11;
  for (const Case& c : cases()) {
    SCOPED_TRACE(describe(c));
    const int64_t pixels = static_cast<int64_t>(c.h) * c.w;
    const auto x = random_values(c.cin * pixels, seed++);
    const auto w = random_values(static_cast<size_t>(c.cout) * c.cin * 9, seed++, -0.3f, 0.3f);
    const auto bias = random_values(c.cout, seed++);
    const auto residual = random_values(c.cout * pixels, seed++);
    const float* b = c.bias ? bias.data() : nullptr;
    ConvEpilogue epi;
    epi.has_lrelu = c.lrelu, epi.scale = c.scale;
    std::vector<float> y = c.residual ? residual : std::vector<float>(c.cout * pixels, 7.0f);  // residual aliases y
    epi.residual = c.residual ? y.data() : nullptr;
    const PackedBf16ConvWeights packed = pack_conv_weights_bf16(w.data(), b, c.cin, c.cout, 3);
    conv2d_bf16_packed(y.data(), x.data(), packed, c.h, c.w, epi);

    ConvEpilogue ref_epi = epi;
    ref_epi.residual = c.residual ? residual.data() : nullptr;
    std::vector<float> ref_exact(c.cout * pixels);
    conv2d_same_ref(ref_exact.data(), x.data(), w.data(), b, c.cin, c.cout, c.h, c.w, 3, ref_epi);

    // V' (bf16 values) and W = |B|^T |d| |B| per channel, tile and position.
    const int tile_rows = (c.h + 1) / 2, tile_cols = (c.w + 1) / 2;
    std::vector<float> v(static_cast<size_t>(c.cin) * tile_rows * tile_cols * 16);
    std::vector<double> magnitude(v.size());
    auto at = [&](int ci, int tr, int tc) {
      return ((static_cast<int64_t>(ci) * tile_rows + tr) * tile_cols + tc) * 16;
    };
    for (int ci = 0; ci < c.cin; ++ci)
      for (int tr = 0; tr < tile_rows; ++tr)
        for (int tc = 0; tc < tile_cols; ++tc) {
          float d[4][4];
          for (int r = 0; r < 4; ++r)
            for (int k = 0; k < 4; ++k) {
              const int iy = 2 * tr + r - 1, ix = 2 * tc + k - 1;
              d[r][k] = iy >= 0 && iy < c.h && ix >= 0 && ix < c.w ? x[ci * pixels + iy * c.w + ix] : 0.0f;
            }
          float rows[4][4];
          for (int r = 0; r < 4; ++r) transform_1d(rows[r], d[r]);
          for (int j = 0; j < 4; ++j) {
            const float column[4] = {rows[0][j], rows[1][j], rows[2][j], rows[3][j]};
            float out[4];
            transform_1d(out, column);
            for (int i = 0; i < 4; ++i) {
              v[at(ci, tr, tc) + 4 * i + j] = bf16_to_float(float_to_bf16(out[i]));
              double m = 0;
              for (int r = 0; r < 4; ++r)
                for (int k = 0; k < 4; ++k) m += std::fabs(kBT[i][r] * kBT[j][k]) * std::fabs(d[r][k]);
              magnitude[at(ci, tr, tc) + 4 * i + j] = m;
            }
          }
        }

    const double n = 2.0 * c.cin + 16;  // fp32 sums: the channel pairs, then the output transform
    const double sum_bound = 2 * n * std::ldexp(1.0, -24);
    double worst_rounded = 0, worst_exact = 0;
    for (int co = 0; co < c.cout; ++co)
      for (int tr = 0; tr < tile_rows; ++tr)
        for (int tc = 0; tc < tile_cols; ++tc) {
          double m[16] = {}, s[16] = {}, t[16] = {};  // M, and its magnitude sums with |V'| and W
          for (int ci = 0; ci < c.cin; ++ci)
            for (int xi = 0; xi < 16; ++xi) {
              const double u = packed_u(packed, co, ci, xi);
              m[xi] += u * v[at(ci, tr, tc) + xi];
              s[xi] += std::fabs(u * v[at(ci, tr, tc) + xi]);
              t[xi] += std::fabs(u) * magnitude[at(ci, tr, tc) + xi];
            }
          for (int oy = 0; oy < 2 && 2 * tr + oy < c.h; ++oy)
            for (int ox = 0; ox < 2 && 2 * tc + ox < c.w; ++ox) {
              double sum = 0, s_out = 0, t_out = 0;
              for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) {
                  const double a = kAT[oy][i] * kAT[ox][j];
                  sum += a * m[4 * i + j], s_out += std::fabs(a) * s[4 * i + j], t_out += std::fabs(a) * t[4 * i + j];
                }
              const int64_t index = co * pixels + (2 * tr + oy) * c.w + 2 * tc + ox;
              double value = sum + (b ? b[co] : 0.0);
              if (c.lrelu && value < 0) value *= epi.lrelu_slope;
              value = value * c.scale + (c.residual ? residual[index] : 0.0);
              const double slack = 1e-6 * (1 + std::fabs(value)), scale = std::fabs(c.scale);
              const double tol_rounded = sum_bound * scale * s_out + slack;
              const double tol_exact = (std::ldexp(1.0, -7) + std::ldexp(1.0, -15) + sum_bound) * scale * t_out + slack;
              worst_rounded = std::max(worst_rounded, std::fabs(y[index] - value) / tol_rounded);
              worst_exact = std::max(worst_exact, std::fabs(y[index] - ref_exact[index]) / tol_exact);
            }
        }
    EXPECT_LE(worst_rounded, 1.0) << "against the Winograd reference on bf16 U and V (error / tolerance)";
    EXPECT_LE(worst_exact, 1.0) << "against the fp32 direct reference (error / tolerance)";
  }
}

// The dense block as a wavefront over bands of tile rows (forced small here; by size in use): the
// same bits as five separate convolutions for band heights 1, 2 and 5 tile rows, a last band
// shorter than the others, widths of one and several 16-tile groups, 1 to 3 threads (each
// thread reads back only the transformed bands it wrote), and with the RRDB's skip residual.
TEST(Bf16Winograd23, DenseBlockWavefrontSameBitsAsFiveConvolutions) {
  if (!v10_runs()) GTEST_SKIP() << "conv_v10 needs avx512_bf16";
  const V10Scope scope;
  struct Case {
    int nf, g, h, w;
  };
  unsigned seed = 300;
  for (const Case c : {Case{64, 32, 23, 70}, Case{8, 6, 17, 9}, Case{16, 8, 40, 100}}) {
    const int64_t pixels = static_cast<int64_t>(c.h) * c.w;
    const testing_bf16::DenseBlockLayers block(c.nf, c.g, seed);
    const PackedBf16ConvWeights* convs[5];
    block.pointers(convs);
    const auto x = random_values(c.nf * pixels, seed++), skip = random_values(c.nf * pixels, seed++);
    testing_dense::expect_same_bits_for_every_band_height(
        "nf=" + std::to_string(c.nf) + " " + std::to_string(c.h) + "x" + std::to_string(c.w),
        block.five_convs(x, c.h, c.w), skip, [&](float* out, const float* skip_or_null) {
          conv2d_bf16_dense_block(out, x.data(), convs, c.h, c.w, 0.2f, 0.2f, skip_or_null);
        });
  }
}

// Weights packed while another kernel was selected lack the Winograd form: v10 says so instead of
// reading an empty buffer. (The other bf16 tests, tests/test_conv_bf16.cpp, run v10 too, through
// conv_bf16_kernels(): packed reuse, the upsampled forms, the dense block.)
TEST(Bf16Winograd23, WeightsPackedForAnotherKernelAreRefused) {
  if (!v10_runs()) GTEST_SKIP() << "conv_v10 needs avx512_bf16";
  select_conv_bf16_kernel("conv_v8_dpbf16_avx512bf16");
  const auto w = random_values(64 * 64 * 9, 5, -0.2f, 0.2f);
  const PackedBf16ConvWeights packed = pack_conv_weights_bf16(w.data(), nullptr, 64, 64, 3);
  select_conv_bf16_kernel("");
  EXPECT_TRUE(packed.winograd23.empty());
  const V10Scope scope;
  std::vector<float> x(64 * 8 * 8, 0.5f), y(x.size());
  try {
    conv2d_bf16_packed(y.data(), x.data(), packed, 8, 8, {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pack them again"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace microsr::kernels
