// Mean, median, bootstrap intervals and paired comparisons: checked on closed forms and on
// properties any correct bootstrap has (the resampling itself is deterministic given the seed).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "microsr/statistics.h"
#include "test_helpers.h"

namespace microsr {
namespace {

std::vector<double> normal_values(std::size_t n, unsigned seed, double mean = 0, double sd = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist(mean, sd);
  std::vector<double> v(n);
  for (double& x : v) x = dist(rng);
  return v;
}

double sample_sd(const std::vector<double>& v) {  // population form, as the bootstrap sees the data
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size()));
}

TEST(Statistics, MeanAndMedianOfKnownLists) {
  EXPECT_EQ(mean_of(std::vector<double>{1, 2, 3, 4}), 2.5);
  EXPECT_EQ(median_of(std::vector<double>{5, 1, 3}), 3.0);
  EXPECT_EQ(median_of(std::vector<double>{7, 1, 4, 2}), 3.0);  // (2 + 4) / 2
  EXPECT_EQ(median_of(std::vector<double>{9}), 9.0);
  EXPECT_EQ(median_of(std::vector<double>{3, 3, 1, 8, 3, 100}), 3.0);
  EXPECT_EQ(mean_of(std::vector<double>(7, 0.1)), 0.1);  // constant data: exactly the constant
  const Summary s = summarize(std::vector<double>{1, 2, 3, 4, 100});
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(s.mean, 22.0);
  EXPECT_EQ(s.median, 3.0);
}

TEST(Statistics, ConstantDataHasAZeroWidthInterval) {
  const Interval i = bootstrap_mean_interval(std::vector<double>(12, 24.93));
  EXPECT_EQ(i.low, 24.93);
  EXPECT_EQ(i.high, 24.93);
  const Interval one = bootstrap_mean_interval(std::vector<double>{0.787});
  EXPECT_EQ(one.low, 0.787);
  EXPECT_EQ(one.high, 0.787);
}

TEST(Statistics, IntervalContainsTheMeanAndIsDeterministic) {
  const std::vector<double> v = normal_values(50, 1, 30, 2);
  const Summary s = summarize(v);
  EXPECT_LT(s.mean_interval.low, s.mean);
  EXPECT_GT(s.mean_interval.high, s.mean);
  const Interval again = bootstrap_mean_interval(v);
  EXPECT_EQ(again.low, s.mean_interval.low);
  EXPECT_EQ(again.high, s.mean_interval.high);
  BootstrapOptions other;
  other.seed = 15;
  EXPECT_NE(bootstrap_mean_interval(v, other).low, s.mean_interval.low);
  // A wider confidence gives a wider interval.
  BootstrapOptions wide;
  wide.confidence = 0.99;
  const Interval w = bootstrap_mean_interval(v, wide);
  EXPECT_LT(w.low, s.mean_interval.low);
  EXPECT_GT(w.high, s.mean_interval.high);
}

// Two values 0 and 1: a resample's mean is 0, ½ or 1 with probabilities ¼, ½, ¼, so the 2.5th
// and 97.5th percentiles of 2000 resamples are exactly 0 and 1.
TEST(Statistics, IntervalOfTwoValuesIsTheirRange) {
  const Interval i = bootstrap_mean_interval(std::vector<double>{0, 1});
  EXPECT_EQ(i.low, 0.0);
  EXPECT_EQ(i.high, 1.0);
}

// For the mean of n values the bootstrap's spread is σ/√n (σ the population sd of the data), and
// the sampling distribution is near normal, so the 95 % interval is ≈ 2·1.96·σ/√n wide.
TEST(Statistics, IntervalWidthFollowsOneOverRootN) {
  const std::vector<double> small = normal_values(100, 2, 0, 3), large = normal_values(400, 3, 0, 3);
  const Interval a = bootstrap_mean_interval(small), b = bootstrap_mean_interval(large);
  const double width_small = a.high - a.low, width_large = b.high - b.low;
  EXPECT_NEAR(width_small, 2 * 1.96 * sample_sd(small) / 10.0, 0.1 * width_small);
  EXPECT_NEAR(width_large, 2 * 1.96 * sample_sd(large) / 20.0, 0.1 * width_large);
  EXPECT_NEAR(width_large / width_small * sample_sd(small) / sample_sd(large), 0.5, 0.05);
}

TEST(Statistics, PairedConstantShiftIsExact) {
  std::vector<double> first(9), second(9);
  for (int i = 0; i < 9; ++i) first[i] = 18 + 0.25 * i, second[i] = first[i] + 6.75;
  const PairedComparison up = compare_paired(first, second);
  EXPECT_EQ(up.count, 9u);
  EXPECT_EQ(up.mean_difference, 6.75);
  EXPECT_EQ(up.difference_interval.low, 6.75);
  EXPECT_EQ(up.difference_interval.high, 6.75);
  EXPECT_EQ(up.winner, Winner::second);
  EXPECT_EQ(up.certainty, 1.0);
  // The same numbers as a loss (say L1 error, where lower is better): the first side wins.
  const PairedComparison loss = compare_paired(first, second, Better::lower);
  EXPECT_EQ(loss.winner, Winner::first);
  EXPECT_EQ(loss.certainty, 1.0);
  EXPECT_EQ(compare_paired(second, first).winner, Winner::first);
  EXPECT_STREQ(winner_name(Winner::second), "second");
}

// Images differ far more from one another (sd 3 dB) than the two methods differ on any one image
// (+0.2 dB, sd 0.1): the separate intervals overlap, but pairing sees the gain with certainty.
TEST(Statistics, PairingSeesAConsistentGain) {
  const std::vector<double> first = normal_values(40, 4, 25, 3), noise = normal_values(40, 5, 0.2, 0.1);
  std::vector<double> second(first.size());
  for (std::size_t i = 0; i < first.size(); ++i) second[i] = first[i] + noise[i];
  const Interval a = bootstrap_mean_interval(first), b = bootstrap_mean_interval(second);
  EXPECT_LT(b.low, a.high);  // unpaired: the intervals overlap
  const PairedComparison p = compare_paired(first, second);
  EXPECT_EQ(p.winner, Winner::second);
  EXPECT_GT(p.difference_interval.low, 0.1);
  EXPECT_LT(p.difference_interval.high, 0.3);
  EXPECT_EQ(p.certainty, 1.0);
}

// Differences +1 and −1, ten of each: the mean is exactly 0 (a tie), and a resample ties only when
// it draws ten of each, with probability C(20, 10)/2²⁰ ≈ 0.176.
TEST(Statistics, PairedTieAndHowSureItIs) {
  std::vector<double> first(20, 30.0), second(20);
  for (int i = 0; i < 20; ++i) second[i] = i % 2 ? 31.0 : 29.0;
  const PairedComparison p = compare_paired(first, second);
  EXPECT_EQ(p.mean_difference, 0.0);
  EXPECT_EQ(p.winner, Winner::tie);
  EXPECT_NEAR(p.certainty, 184756.0 / 1048576.0, 0.03);
  EXPECT_LT(p.difference_interval.low, 0.0);
  EXPECT_GT(p.difference_interval.high, 0.0);
  // A small true gain drowned in noise: the winner is named, but without much certainty.
  const std::vector<double> noisy = normal_values(20, 6, 0.05, 1);
  std::vector<double> shifted(20);
  for (int i = 0; i < 20; ++i) shifted[i] = first[i] + noisy[i];
  const PairedComparison unsure = compare_paired(first, shifted);
  EXPECT_GT(unsure.certainty, 0.5);
  EXPECT_LT(unsure.certainty, 0.95);
}

TEST(Statistics, RefusesWhatItCannotSummarise) {
  testing::expect_error([] { mean_of(std::vector<double>{}); }, "no values");
  testing::expect_error(
      [] {
        median_of(std::vector<double>{1, std::numeric_limits<double>::infinity()});
      },
      "value #1 is inf");
  testing::expect_error([] { compare_paired(std::vector<double>{1, 2}, std::vector<double>{1}); }, "same images");
  BootstrapOptions none;
  none.resamples = 0;
  testing::expect_error([&] { bootstrap_mean_interval(std::vector<double>{1, 2}, none); }, "resamples must be");
  BootstrapOptions certain;
  certain.confidence = 1;
  testing::expect_error([&] { bootstrap_mean_interval(std::vector<double>{1, 2}, certain); }, "confidence must");
}

}  // namespace
}  // namespace microsr
