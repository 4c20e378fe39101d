// Mean, median, bootstrap intervals and paired comparisons (see include/microsr/statistics.h).
#include "microsr/statistics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "microsr/error.h"

namespace microsr {

namespace {

void check_series(const char* what, std::span<const double> values) {
  require(!values.empty(), std::string(what) + ": no values");
  for (std::size_t i = 0; i < values.size(); ++i)
    require(std::isfinite(values[i]), std::string(what) + ": value #" + std::to_string(i) + " is " +
                                          std::to_string(values[i]) + "; only finite values can be summarised");
}

void check_options(const BootstrapOptions& options) {
  require(options.resamples >= 1, "bootstrap: resamples must be ≥ 1, got " + std::to_string(options.resamples));
  require(options.confidence > 0 && options.confidence < 1,
          "bootstrap: confidence must lie in (0, 1), got " + std::to_string(options.confidence));
}

// The mean as reference + Σ(x − reference)/n, the reference being the first value: the sum of
// deviations loses less than the sum of values, and constant data gives that constant exactly.
double mean_around(double reference, std::span<const double> values) {
  double deviation = 0;
  for (double v : values) deviation += v - reference;
  return reference + deviation / double(values.size());
}

// An index in [0, n), every one equally likely: the lowest 2⁶⁴ mod n outputs of the generator are
// rejected so that the rest divide evenly among the n indices.
uint64_t draw_index(std::mt19937_64& rng, uint64_t n) {
  const uint64_t rejected = (0 - n) % n;  // 2⁶⁴ mod n, in unsigned arithmetic
  for (;;) {
    const uint64_t r = rng();
    if (r >= rejected) return r % n;
  }
}

// The means of options.resamples resamples of `values` (n draws with replacement each), in the
// order drawn.
std::vector<double> resampled_means(std::span<const double> values, const BootstrapOptions& options) {
  std::mt19937_64 rng(options.seed);
  const uint64_t n = values.size();
  const double reference = values[0];
  std::vector<double> means(options.resamples);
  for (double& mean : means) {
    double deviation = 0;
    for (uint64_t i = 0; i < n; ++i) deviation += values[draw_index(rng, n)] - reference;
    mean = reference + deviation / double(n);
  }
  return means;
}

// The q-quantile (q in [0, 1]) of sorted values, interpolating linearly between the order
// statistics at positions q·(m − 1): numpy.percentile's default ("linear").
double quantile_of_sorted(const std::vector<double>& sorted, double q) {
  const double position = q * double(sorted.size() - 1);
  const std::size_t below = std::size_t(std::floor(position));
  if (below + 1 >= sorted.size()) return sorted.back();
  const double fraction = position - double(below);
  return sorted[below] + fraction * (sorted[below + 1] - sorted[below]);
}

Interval percentile_interval(std::vector<double> means, double confidence) {
  std::sort(means.begin(), means.end());
  const double tail = (1 - confidence) / 2;
  return {quantile_of_sorted(means, tail), quantile_of_sorted(means, 1 - tail)};
}

int sign_of(double v) { return (v > 0) - (v < 0); }

}  // namespace

double mean_of(std::span<const double> values) {
  check_series("mean", values);
  return mean_around(values[0], values);
}

double median_of(std::span<const double> values) {
  check_series("median", values);
  std::vector<double> v(values.begin(), values.end());
  const std::size_t middle = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + middle, v.end());
  if (v.size() % 2 == 1) return v[middle];
  const double below = *std::max_element(v.begin(), v.begin() + middle);  // the other middle value
  return std::midpoint(below, v[middle]);
}

Interval bootstrap_mean_interval(std::span<const double> values, const BootstrapOptions& options) {
  check_series("bootstrap interval", values);
  check_options(options);
  return percentile_interval(resampled_means(values, options), options.confidence);
}

Summary summarize(std::span<const double> values, const BootstrapOptions& options) {
  return {values.size(), mean_of(values), median_of(values), bootstrap_mean_interval(values, options)};
}

const char* winner_name(Winner winner) {
  switch (winner) {
    case Winner::first:
      return "first";
    case Winner::second:
      return "second";
    case Winner::tie:
      return "tie";
  }
  return "?";
}

PairedComparison compare_paired(std::span<const double> first, std::span<const double> second, Better better,
                                const BootstrapOptions& options) {
  require(first.size() == second.size(), "paired comparison: " + std::to_string(first.size()) + " values against " +
                                             std::to_string(second.size()) + "; both must measure the same images");
  check_series("paired comparison (first)", first);
  check_series("paired comparison (second)", second);
  check_options(options);
  std::vector<double> differences(first.size());
  for (std::size_t i = 0; i < first.size(); ++i) differences[i] = second[i] - first[i];

  PairedComparison result;
  result.count = differences.size();
  result.mean_difference = mean_around(differences[0], differences);
  const std::vector<double> means = resampled_means(differences, options);
  const int observed = sign_of(result.mean_difference);
  result.certainty =
      double(std::count_if(means.begin(), means.end(), [&](double m) { return sign_of(m) == observed; })) /
      double(means.size());
  result.difference_interval = percentile_interval(means, options.confidence);
  const bool second_better = better == Better::higher ? observed > 0 : observed < 0;
  result.winner = observed == 0 ? Winner::tie : second_better ? Winner::second : Winner::first;
  return result;
}

}  // namespace microsr
