#include "report/axis.h"

#include <algorithm>
#include <cmath>

namespace microsr::report {

Axis nice_axis(double low, double high, int intervals, bool integers) {
  if (!std::isfinite(low) || !std::isfinite(high)) low = 0, high = 1;
  if (high < low) std::swap(low, high);
  if (high == low) {
    const double pad = std::max(low == 0 ? 1.0 : std::fabs(low) * 0.1, integers ? 1.0 : 0.0);
    low -= pad, high += pad;
  }
  intervals = std::max(intervals, 1);
  // The smallest step of the form {1, 2, 5} × 10^k that needs no more than `intervals` steps.
  const double raw = (high - low) / intervals;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double normalized = raw / magnitude;
  double step = (normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10) * magnitude;
  if (integers) step = std::max(1.0, std::round(step));

  // Tolerances of 1e-9 steps keep a bound that is already round (0.3 = 3 × 0.1) from gaining a
  // tick through rounding error.
  const double first = std::floor(low / step + 1e-9), last = std::ceil(high / step - 1e-9);
  Axis axis;
  for (double i = first; i <= last; ++i) axis.ticks.push_back(i * step);
  axis.low = axis.ticks.front();
  axis.high = axis.ticks.back();
  axis.decimals = std::clamp(int(-std::floor(std::log10(step) + 1e-9)), 0, 10);
  return axis;
}

}  // namespace microsr::report
