// The patch sampler (include/microsr/pairs.h: PatchSampler), on pairs whose LR is made from the
// HR by an exact s×s block mean (resize_planes, area_opencv), which commutes with aligned crops,
// flips and transposes: so the block mean of every HR patch must equal its LR patch, whatever crop
// and augmentation was drawn.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "microsr/pairs.h"
#include "synth/random.h"
#include "test_helpers.h"

namespace microsr {
namespace {

using namespace microsr::testing;
// ---- patch sampling -----------------------------------------------------------------------------

// Pairs of random HR images (sizes vary, none a multiple of anything in particular) whose LR is
// the exact s×s block mean of the HR.
PairSet block_mean_pairs(int count, int scale, int lr_min) {
  PairSet set;
  set.scale = scale;
  synth::Random rng(99);
  for (int i = 0; i < count; ++i) {
    TrainingPair p;
    p.name = "p" + std::to_string(i);
    p.lr.width = lr_min + i % 3, p.lr.height = lr_min + (i * 7) % 4, p.lr.channels = p.hr.channels = 3;
    p.hr.width = p.lr.width * scale, p.hr.height = p.lr.height * scale;
    p.hr.pixels.resize(std::size_t(3) * p.hr.width * p.hr.height);
    for (float& v : p.hr.pixels) v = float(rng.uniform());
    p.lr.pixels.resize(std::size_t(3) * p.lr.width * p.lr.height);
    resize_planes(p.lr.pixels.data(), p.lr.width, p.lr.height, p.hr.pixels.data(), p.hr.width, p.hr.height, 3,
                  ResizeFilter::area_opencv);
    set.pairs.push_back(std::move(p));
  }
  return set;
}

std::vector<float> batch_values(const Tensor& lr, const Tensor& hr) {
  std::vector<float> v = values(lr), h = values(hr);
  v.insert(v.end(), h.begin(), h.end());
  return v;
}

TEST(PatchSampler, HrPatchesAlignWithLrPatchesUnderEveryAugmentation) {
  const int scale = 4, p = 6;
  const PairSet set = block_mean_pairs(5, scale, p + 1);
  PatchOptions opt;
  opt.batch = 3, opt.lr_patch = p, opt.rotations = true, opt.seed = 5;
  PatchSampler sampler(set, opt);
  Tensor lr, hr;
  std::set<int> augmentations, xs;
  std::vector<float> mean(std::size_t(3) * p * p);
  for (int b = 0; b < 40; ++b) {
    sampler.next_batch(lr, hr);
    ASSERT_EQ(shape_str(lr.shape()), "[3, 3, 6, 6]");
    ASSERT_EQ(shape_str(hr.shape()), "[3, 3, 24, 24]");
    for (int j = 0; j < opt.batch; ++j) {
      const PatchDraw& d = sampler.last_draws()[j];
      augmentations.insert(d.hflip + 2 * d.vflip + 4 * d.transpose);
      xs.insert(d.x);
      resize_planes(mean.data(), p, p, hr.image(j), p * scale, p * scale, 3, ResizeFilter::area_opencv);
      for (std::size_t i = 0; i < mean.size(); ++i)
        ASSERT_NEAR(lr.image(j)[i], mean[i], 1e-6) << "batch " << b << " sample " << j << " element " << i;
      // And the LR patch is the drawn square of the pair's LR, flipped, then transposed.
      const Image& src = set.pairs[d.pair].lr;
      for (int oy = 0; oy < p; ++oy)
        for (int ox = 0; ox < p; ++ox) {
          int r = d.transpose ? ox : oy, c = d.transpose ? oy : ox;
          r = d.vflip ? p - 1 - r : r, c = d.hflip ? p - 1 - c : c;
          ASSERT_EQ(lr.image(j)[oy * p + ox], src.plane(0)[(d.y + r) * src.width + d.x + c]);
        }
    }
  }
  EXPECT_EQ(augmentations.size(), 8u);         // all flips × transpose were drawn
  EXPECT_EQ(xs, (std::set<int>{0, 1, 2, 3}));  // every crop position, edges included (widths 7, 8, 9)
  opt.flips = opt.rotations = false;
  PatchSampler plain(set, opt);
  for (int b = 0; b < 5; ++b) {
    plain.next_batch(lr, hr);
    for (const PatchDraw& d : plain.last_draws()) EXPECT_FALSE(d.hflip || d.vflip || d.transpose);
  }
}

TEST(PatchSampler, EpochsVisitPairsWithoutReplacementAndDropThePartialBatch) {
  const PairSet set = block_mean_pairs(10, 2, 4);
  PatchOptions opt;
  opt.batch = 3, opt.lr_patch = 4;
  PatchSampler sampler(set, opt);
  EXPECT_EQ(sampler.batches_per_epoch(), 3);
  Tensor lr, hr;
  std::vector<std::vector<int>> epochs;
  for (int b = 0; b < 12; ++b) {
    EXPECT_EQ(sampler.epoch(), b / 3);
    sampler.next_batch(lr, hr);
    if (b % 3 == 0) epochs.emplace_back();
    for (const PatchDraw& d : sampler.last_draws()) epochs.back().push_back(d.pair);
  }
  std::set<int> everyone;
  for (const auto& e : epochs) {
    EXPECT_EQ(std::set<int>(e.begin(), e.end()).size(), 9u);  // 9 distinct of 10, one sits out
    everyone.insert(e.begin(), e.end());
  }
  EXPECT_EQ(everyone.size(), 10u);
  EXPECT_NE(epochs[0], epochs[1]);  // reshuffled each epoch

  const PairSet eight = block_mean_pairs(8, 2, 4);
  opt.batch = 4;
  PatchSampler exact(eight, opt);
  std::vector<int> seen;
  for (int b = 0; b < 2; ++b) {
    exact.next_batch(lr, hr);
    for (const PatchDraw& d : exact.last_draws()) seen.push_back(d.pair);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(PatchSampler, SameSeedSameBatchesAndResumeContinuesExactly) {
  const PairSet set = block_mean_pairs(5, 4, 9);
  PatchOptions opt;
  opt.batch = 2, opt.lr_patch = 8, opt.seed = 1234;
  PatchSampler a(set, opt), b(set, opt);
  Tensor lr, hr, lr2, hr2;
  std::vector<std::vector<float>> first_run;
  std::string state_after_3;
  for (int i = 0; i < 7; ++i) {  // 2 batches per epoch: crosses three epoch boundaries
    if (i == 3) state_after_3 = a.save_state();
    a.next_batch(lr, hr);
    b.next_batch(lr2, hr2);
    first_run.push_back(batch_values(lr, hr));
    ASSERT_EQ(first_run.back(), batch_values(lr2, hr2)) << "batch " << i;
  }
  PatchSampler resumed(set, opt);
  resumed.load_state(state_after_3);
  EXPECT_EQ(resumed.batches_drawn(), 3);
  for (int i = 3; i < 7; ++i) {
    resumed.next_batch(lr, hr);
    ASSERT_EQ(batch_values(lr, hr), first_run[i]) << "resumed batch " << i;
  }
  opt.seed = 1235;
  PatchSampler other(set, opt);
  other.next_batch(lr, hr);
  EXPECT_NE(batch_values(lr, hr), first_run[0]);
  expect_error([&] { other.load_state(state_after_3); }, "saved with other data or settings");
  expect_error([&] { other.load_state("hello"); }, "not a patch sampler state");
  const PairSet changed = block_mean_pairs(5, 4, 10);
  opt.seed = 1234;
  PatchSampler on_other_pairs(changed, opt);
  expect_error([&] { on_other_pairs.load_state(state_after_3); }, "saved with other data or settings");
}

TEST(PatchSampler, RefusesPairsSmallerThanThePatchAndBatchesLargerThanTheSet) {
  const PairSet set = block_mean_pairs(4, 4, 7);  // LR widths 7, 8, 9, 7
  PatchOptions opt;
  opt.lr_patch = 8, opt.batch = 2;
  expect_error([&] { PatchSampler(set, opt); }, "smaller than the 8×8 LR patch: p0 (LR 7×");
  opt.lr_patch = 4, opt.batch = 5;
  expect_error([&] { PatchSampler(set, opt); }, "4 pairs, fewer than the batch 5");
}

}  // namespace
}  // namespace microsr
