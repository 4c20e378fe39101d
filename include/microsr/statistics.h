// Summaries of per-image metric values, and paired comparisons of two methods on the same images,
// with bootstrap confidence intervals.
//
// ---- The bootstrap, in brief ------------------------------------------------------------------------
// We have n per-image values (PSNR of each test crop, say) and want to know how far their mean
// could be from the mean over all images like these. The bootstrap treats the n values as the
// population: draw n of them *with replacement*, take the mean, and repeat B times (B = 2000 by
// default). The spread of those B means imitates the spread of the sample mean; the 95 %
// percentile interval is the 2.5th and 97.5th percentile of the B means. Its width shrinks like
// 1/√n, and constant data gives a zero-width interval. The percentiles interpolate linearly
// between order statistics, as numpy.percentile does by default.
//
// ---- Paired comparisons ------------------------------------------------------------------------------
// Two methods measured on the same images (pretrained against fine-tuned) are compared image by
// image: d_i = second_i − first_i. Pairing removes the variation between images (some crops are
// simply harder), so a small but consistent gain is seen as one. The bootstrap resamples images —
// the same index for both methods — so it is the bootstrap of the mean of d. The result says
//   * the mean difference and its interval;
//   * which side wins (for a metric where higher is better, `second` wins when mean d > 0);
//   * how sure: the fraction of resamples whose mean difference has the same sign as the observed
//     one (1.0: every resample agrees; 0.5: a coin toss). With a mean difference of exactly 0 the
//     result is a tie, and "how sure" is the fraction of resamples that are ties too.
//
// Determinism: the resampling uses std::mt19937_64 (its output is fixed by the C++ standard) seeded
// with BootstrapOptions::seed, and our own unbiased index draw (not std::uniform_int_distribution,
// whose algorithm differs between standard libraries), so the same data and seed give the same
// interval on every machine.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace microsr {

struct BootstrapOptions {
  int resamples = 2000;      // B
  double confidence = 0.95;  // the interval's coverage, in (0, 1)
  uint64_t seed = 14;
};

struct Interval {
  double low = 0, high = 0;
};

// Plain statistics of a non-empty series of finite values (Error otherwise).
double mean_of(std::span<const double> values);
double median_of(std::span<const double> values);  // the mean of the two middle values when n is even

// The bootstrap percentile interval for the mean of `values`.
Interval bootstrap_mean_interval(std::span<const double> values, const BootstrapOptions& options = {});

struct Summary {
  std::size_t count = 0;
  double mean = 0, median = 0;
  Interval mean_interval;  // bootstrap percentile interval of the mean
};
Summary summarize(std::span<const double> values, const BootstrapOptions& options = {});

enum class Better { higher, lower };  // which direction of the metric is an improvement
enum class Winner { first, second, tie };
const char* winner_name(Winner winner);  // "first", "second", "tie"

struct PairedComparison {
  std::size_t count = 0;
  double mean_difference = 0;    // mean of second_i − first_i
  Interval difference_interval;  // bootstrap percentile interval of that mean
  Winner winner = Winner::tie;
  double certainty = 0;  // fraction of resamples whose mean difference has the observed sign
};
// `first` and `second` are the same images measured two ways (same length, finite values).
PairedComparison compare_paired(std::span<const double> first, std::span<const double> second,
                                Better better = Better::higher, const BootstrapOptions& options = {});

}  // namespace microsr
