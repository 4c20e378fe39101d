// The fp32 dense block in one call (kernels/cpu/conv/variants.h: conv2d_dense_block_packed): each
// channel's Winograd transform made once, the block run as a wavefront over bands of tile rows
// (kernels/cpu/conv/dense_block_wavefront.h). It must give the same bits as the five separate
// conv2d_packed calls that rrdbnet.cpp runs otherwise, on every instruction set this machine runs,
// for every band height and thread count; and it must match a direct convolution written
// independently (conv2d_same_ref) to fp32 rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cpu/conv/common.h"
#include "cpu/conv/variants.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_kernels.h"
#include "cpu/threads.h"
#include "dense_block_test_helpers.h"
#include "microsr/error.h"
#include "test_helpers.h"

namespace microsr::kernels {
namespace {

using microsr::testing::random_values;

using testing_dense::Block;

// The instruction sets with a fused form that this machine runs.
std::vector<CpuIsa> fused_isas() { return testing_dense::avx2_and_avx512_isas(); }

TEST(DenseBlockFp32, SameBitsAsFiveConvolutionsForEveryBandHeightAndThreadCount) {
  ASSERT_FALSE(fused_isas().empty()) << "this test needs at least avx2";
  struct Case {
    int nf, g, h, w;
  };
  unsigned seed = 500;
  for (const CpuIsa isa : fused_isas()) {
    const CpuIsaScope scope(isa);
    // 23 rows: a last band shorter than the others; widths of one and several tile groups.
    for (const Case c : {Case{64, 32, 23, 70}, Case{8, 6, 17, 9}, Case{16, 8, 40, 100}}) {
      const int64_t pixels = static_cast<int64_t>(c.h) * c.w;
      const Block block(c.nf, c.g, seed);
      seed += 10;
      const PackedConvWeights* convs[5];
      block.pointers(convs);
      ASSERT_TRUE(dense_block_fusable(convs, c.h, c.w));
      const auto x = random_values(c.nf * pixels, seed++), skip = random_values(c.nf * pixels, seed++);
      const std::vector<float> expected =
          block.five_convs(x, c.h, c.w, [&](float* y, const float* in, int j, const ConvEpilogue& epi) {
            conv2d_packed(y, in, block.packed[j], c.h, c.w, epi);
          });
      testing_dense::expect_same_bits_for_every_band_height(
          std::string(cpu_isa_name(isa)) + " nf=" + std::to_string(c.nf) + " " + std::to_string(c.h) + "x" +
              std::to_string(c.w),
          expected, skip, [&](float* out, const float* skip_or_null) {
            conv2d_dense_block_packed(out, x.data(), convs, c.h, c.w, 0.2f, 0.2f, skip_or_null);
          });
    }
  }
}

// Against the direct convolution, computed independently of the Winograd code, at RRDBNet's
// widths and a size whose automatic band choice makes several bands (64 x 300: 10 MB of
// transformed tiles, above the one-band limit of 8 MB).
TEST(DenseBlockFp32, MatchesDirectConvolutionWithAutomaticBands) {
  ASSERT_FALSE(fused_isas().empty()) << "this test needs at least avx2";
  const int h = 64, w = 300;
  const int64_t pixels = static_cast<int64_t>(h) * w;
  const Block block(64, 32, 900);
  const PackedConvWeights* convs[5];
  block.pointers(convs);
  const auto x = random_values(64 * pixels, 7);
  const std::vector<float> reference =
      block.five_convs(x, h, w, [&](float* y, const float* in, int j, const ConvEpilogue& epi) {
        conv2d_same_ref(y, in, block.weights[j].data(), block.biases[j].data(), block.nf + j * block.g,
                        j < 4 ? block.g : block.nf, h, w, 3, epi);
      });
  const ThreadCount team(2);
  std::vector<float> fused(64 * pixels);
  conv2d_dense_block_packed(fused.data(), x.data(), convs, h, w, 0.2f, 0.2f);
  double worst = 0;
  for (int64_t i = 0; i < 64 * pixels; ++i) worst = std::max(worst, std::fabs(double(fused[i]) - reference[i]));
  // Values are O(1); Winograd F(4x4, 3x3) in fp32 differs from the direct sum by ~1e-6 per layer.
  EXPECT_LT(worst, 2e-5);
  EXPECT_GT(worst, 0.0);  // (the two really are different computations)
}

// Layers that do not form a dense block, or weights in a format without a fused form, are
// refused: the caller runs the five convolutions; and so are images too large for it to pay.
TEST(DenseBlockFp32, RefusesWhatItCannotRun) {
  const Block block(16, 8, 40);
  const PackedConvWeights* convs[5];
  block.pointers(convs);
  const PackedConvWeights* swapped[5] = {convs[1], convs[0], convs[2], convs[3], convs[4]};
  EXPECT_TRUE(dense_block_fusable(convs, 8, 8));
  EXPECT_FALSE(dense_block_fusable(swapped, 8, 8));
  std::vector<PackedConvWeights> direct;
  for (int j = 0; j < 5; ++j)
    direct.push_back(pack_conv_weights(block.weights[j].data(), block.biases[j].data(), 16 + 8 * j, j < 4 ? 8 : 16, 3,
                                       ConvWeightFormat::kDirect16));
  const PackedConvWeights* direct_convs[5] = {&direct[0], &direct[1], &direct[2], &direct[3], &direct[4]};
  EXPECT_FALSE(dense_block_fusable(direct_convs, 8, 8));
  const Block rrdb(64, 32, 60);
  const PackedConvWeights* rrdb_convs[5];
  rrdb.pointers(rrdb_convs);
  EXPECT_TRUE(dense_block_fusable(rrdb_convs, 64, 64));     // 7 MB of transformed tiles
  EXPECT_FALSE(dense_block_fusable(rrdb_convs, 128, 128));  // 28 MB
  std::vector<float> x(16 * 8 * 8), out(x.size());
  EXPECT_THROW(conv2d_dense_block_packed(out.data(), x.data(), direct_convs, 8, 8, 0.2f, 0.2f), Error);
}

}  // namespace
}  // namespace microsr::kernels
