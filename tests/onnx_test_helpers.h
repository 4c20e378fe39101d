// Helpers of the ONNX runtime tests: fixture folders of .npy files and value comparison scaled
// to the expected output's largest magnitude, printing the worst element.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include "microsr/npy.h"
#include "microsr/onnx_runtime.h"

namespace microsr::testing {

// Every <name>.npy in `folder`, by name.
inline std::map<std::string, OnnxValue> read_npy_folder(const std::string& folder) {
  std::map<std::string, OnnxValue> values;
  if (!std::filesystem::is_directory(folder)) return values;
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    if (entry.path().extension() == ".npy") values[entry.path().stem().string()] = read_npy(entry.path().string());
  return values;
}

struct ValueDifference {
  double max_abs = 0.0, scale = 0.0;
  int64_t worst = -1;
  double got = 0.0, expected = 0.0;
};

inline ValueDifference value_difference(const OnnxValue& got, const OnnxValue& expected) {
  ValueDifference d;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    const double e = expected.is_float() ? expected.floats[i] : static_cast<double>(expected.integers[i]);
    const double g = got.is_float() ? got.floats[i] : static_cast<double>(got.integers[i]);
    d.scale = std::max(d.scale, std::fabs(e));
    const double diff = std::fabs(g - e);
    if (!(diff <= d.max_abs)) d.max_abs = diff, d.worst = i, d.got = g, d.expected = e;
  }
  return d;
}

// Same shape, same kind (float or integer), and max |got - expected| <= relative · max |expected|
// (integers: exactly equal). Returns the difference for reports.
inline ValueDifference expect_value_close(const OnnxValue& got, const OnnxValue& expected, double relative,
                                          const std::string& what) {
  EXPECT_EQ(got.shape, expected.shape) << what << ": got " << got.describe() << ", expected " << expected.describe();
  EXPECT_EQ(got.is_float(), expected.is_float()) << what << ": got " << got.describe() << ", expected "
                                                 << expected.describe();
  if (got.shape != expected.shape || got.is_float() != expected.is_float()) return {};
  const ValueDifference d = value_difference(got, expected);
  const double tolerance = expected.is_float() ? relative * std::max(d.scale, 1e-30) : 0.0;
  EXPECT_LE(d.max_abs, tolerance) << what << ": worst element #" << d.worst << " is " << d.got << ", expected "
                                  << d.expected << " (scale " << d.scale << ")";
  return d;
}

}  // namespace microsr::testing
