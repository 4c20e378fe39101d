// Chart axes: round tick values, and the map from data values to drawing coordinates.
#pragma once
#include <vector>

namespace microsr::report {

// An axis whose ends are round numbers: the ticks are 1, 2 or 5 × 10^k apart, the first tick is
// at or below the data's low end and the last at or above its high end, and the axis spans
// exactly from the first tick to the last (so the data never touches a frame that has no tick).
struct Axis {
  double low = 0, high = 1;
  std::vector<double> ticks;
  int decimals = 0;  // enough to tell the tick labels apart: 0 for a step of 5, 1 for 0.5, 2 for 0.02
};

// At most about `intervals` steps between ticks covering [low, high]. Equal ends are widened
// (±10 %, or ±1 around zero); non-finite ends give [0, 1]. `integers`: steps of at least 1 (epochs).
Axis nice_axis(double low, double high, int intervals = 5, bool integers = false);

// Linear map from the domain [d0, d1] onto the drawing range [r0, r1] (r0 > r1 for a y axis,
// whose drawing coordinates grow downwards).
struct LinearMap {
  double d0 = 0, d1 = 1, r0 = 0, r1 = 1;
  double operator()(double value) const { return r0 + (value - d0) * (r1 - r0) / (d1 - d0); }
};

}  // namespace microsr::report
